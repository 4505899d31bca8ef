#!/usr/bin/env bash
# `mpirun -np 2 c2am pack` (shard k on rank k % 2, rank 0 writes the manifest)
# gives byte for byte the shards and manifest.json of a one-process pack, with
# and without re-encoding; rerun on the finished folder it writes nothing new.
source "$(dirname "$0")/common.sh"
"$C2AM" synth imagenet "$WORK/src" --train 150 --test 4 --classes 5 --min-size 64 --max-size 160 --seed 7 \
  --threads 2 >/dev/null
same_pack() {  # same_pack A B: every file of A is in B with the same bytes, and the other way round
  (cd "$1" && ls shard-*.h5 manifest.json) > "$WORK/a.list"
  (cd "$2" && ls shard-*.h5 manifest.json) > "$WORK/b.list"
  cmp "$WORK/a.list" "$WORK/b.list" || die "$1 and $2 hold other files"
  while read -r f; do cmp "$1/$f" "$2/$f" || die "$f differs between $1 and $2"; done < "$WORK/a.list"
}
for opts in "--shard-size 20" "--shard-size 7 --max-side 96"; do
  name=${opts//[ -]/}
  # shellcheck disable=SC2086
  "$C2AM" pack "$WORK/src" -o "$WORK/$name-1" --layout imagenet --split train $opts > "$WORK/$name-1.log" 2>&1 ||
    { cat "$WORK/$name-1.log"; die "one-process pack ($opts)"; }
  # shellcheck disable=SC2086
  mpirun2 "$C2AM" pack "$WORK/src" -o "$WORK/$name-2" --layout imagenet --split train $opts --threads 1 \
    > "$WORK/$name-2.log" 2>&1 || { cat "$WORK/$name-2.log"; die "2-rank pack ($opts)"; }
  cat "$WORK/$name-2.log"
  grep -q "by 2 ranks" "$WORK/$name-2.log" || die "the 2-rank summary does not say 'by 2 ranks'"
  [ "$(grep -c ' images in .* shard(s) (' "$WORK/$name-2.log")" -eq 1 ] || die "not one summary line (rank 0's)"
  same_pack "$WORK/$name-1" "$WORK/$name-2"
done
# Finished: a 2-rank rerun keeps every shard and rewrites the same manifest.
cp "$WORK/shardsize20-2/manifest.json" "$WORK/manifest.before"
mpirun2 "$C2AM" pack "$WORK/src" -o "$WORK/shardsize20-2" --layout imagenet --split train --shard-size 20 \
  > "$WORK/again.log" 2>&1 || { cat "$WORK/again.log"; die "2-rank rerun"; }
grep -q "(0 written, 8 already complete)" "$WORK/again.log" || { cat "$WORK/again.log"; die "the rerun wrote shards"; }
cmp "$WORK/manifest.before" "$WORK/shardsize20-2/manifest.json" || die "the rerun changed the manifest"
"$C2AM" verify "$WORK/shardsize7maxside96-2" --decode --threads 2
echo "PASS: 2 ranks = 1 process, byte for byte (plain and re-encoded); a rerun writes nothing"
