#!/usr/bin/env bash
# A rank that fails ends the whole `mpirun -np 2 c2am pack` job non-zero,
# within a timeout (no rank waits forever), with its error: a file only rank
# 1 packs is not an image; rank 0 names rank 1 and its error; no manifest.
# Also a failure of rank 0's first step (OUT holds another plan) ends both.
source "$(dirname "$0")/common.sh"
"$C2AM" synth imagenet "$WORK/src" --train 60 --test 4 --classes 3 --min-size 64 --max-size 96 --seed 3 \
  --threads 2 >/dev/null
# The 11th image in name order opens shard 1, which rank 1 packs.
bad=$(cd "$WORK/src" && find train -name '*.JPEG' | LC_ALL=C sort | sed -n 11p)
echo "this is not an image" > "$WORK/src/$bad"
ARGS=(pack "$WORK/src" -o "$WORK/out" --layout imagenet --split train --shard-size 10 --threads 1)
status=0
timeout 60 "$MPIRUN" -np 2 --bind-to none "$C2AM" "${ARGS[@]}" > "$WORK/fail.log" 2>&1 || status=$?
cat "$WORK/fail.log"
[ "$status" -ne 124 ] || die "the job hung (still running after 60 s)"
[ "$status" -ne 0 ] || die "the job exited 0 with a broken image"
grep -q "rank 1 failed to write its shards: .*$(basename "$bad")" "$WORK/fail.log" ||
  die "no rank names rank 1 and the broken file"
[ ! -e "$WORK/out/manifest.json" ] || die "a failed job wrote the manifest"

# Another plan in OUT (other shard size): rank 0 refuses, both ranks end, exit 2.
"$C2AM" synth imagenet "$WORK/src2" --train 30 --test 4 --classes 3 --min-size 64 --max-size 96 --seed 3 \
  --threads 2 >/dev/null
"$C2AM" pack "$WORK/src2" -o "$WORK/out2" --layout imagenet --split train --shard-size 10 >/dev/null 2>&1
status=0
timeout 60 "$MPIRUN" -np 2 --bind-to none "$C2AM" pack "$WORK/src2" -o "$WORK/out2" --layout imagenet \
  --split train --shard-size 5 > "$WORK/plan.log" 2>&1 || status=$?
cat "$WORK/plan.log"
[ "$status" -ne 124 ] || die "the job hung on a refused plan"
[ "$status" -ne 0 ] || die "the job exited 0 on a folder of another plan"
grep -q "rank 0 failed to prepare the output folder: source or options changed" "$WORK/plan.log" ||
  die "rank 1 does not name rank 0's refusal"
echo "PASS: a failed rank fails the job with its error, exit $status, no hang"
