#!/usr/bin/env bash
# `mpirun -np 2 c2am pack` with one rank alone killed by SIGKILL after its
# first shard: the launcher ends the job, no manifest is written; a 2-rank
# rerun keeps the complete shards of both ranks and ends with the shards and
# manifest.json of an uninterrupted one-process pack, byte for byte.
# KILL_RANK (5th argument, default 1) picks the rank: 1, or 0, which holds
# OUT/.pack.lock and would write the manifest (the rerun must find no stale lock).
# Usage: pack_ranks_kill.sh MPIRUN C2AM SOURCE_DIR WORK_DIR [KILL_RANK]
KILL_RANK=${5:-1}
source "$(dirname "$0")/common.sh"
case $KILL_RANK in
  0) mine='shard-*[02468].h5' ;;  # rank 0 of 2 packs the even shards
  1) mine='shard-*[13579].h5' ;;  # rank 1 the odd ones
  *) die "KILL_RANK must be 0 or 1, not '$KILL_RANK'" ;;
esac
"$C2AM" synth imagenet "$WORK/src" --train 400 --test 4 --classes 5 --min-size 200 --max-size 300 --seed 7 \
  --threads 2 >/dev/null
# Re-encoding on one thread a rank: 40 shards of 10 images take a few seconds,
# so the kill after the rank's first shard lands with most shards left.
ARGS=(pack "$WORK/src" --layout imagenet --split train --shard-size 10 --max-side 160)
SHARDS=40
"$C2AM" "${ARGS[@]}" -o "$WORK/full" --threads 2 > "$WORK/full.log" 2>&1 || { cat "$WORK/full.log"; die "uninterrupted"; }

mpirun2 "$C2AM" "${ARGS[@]}" -o "$WORK/cut" --threads 1 > "$WORK/cut.log" 2>&1 &
job=$!
# The rank's process is found first, so the kill follows its first shard within one poll.
victim=""
for ((t = 0; ; t++)); do
  for pid in $(pgrep -f "c2am pack .*$WORK/cut"); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$KILL_RANK"; then victim=$pid; fi
  done
  [ -z "$victim" ] || break
  ((t < 600)) || die "no process of rank $KILL_RANK found within 30 s"
  sleep 0.05
done
my_shards() { find "$WORK/cut" -maxdepth 1 -name "$mine" 2>/dev/null | wc -l; }
for ((t = 0; $(my_shards) < 1; t++)); do
  ((t < 1200)) || die "rank $KILL_RANK wrote no shard within 60 s"
  sleep 0.02
done
kill -9 "$victim"
for ((t = 0; t < 600; t++)); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
kill -0 "$job" 2>/dev/null && { kill -9 "$job"; die "the job still runs 60 s after rank $KILL_RANK was killed"; }
wait "$job" && die "the job exited 0 although rank $KILL_RANK was killed"
cut=$(find "$WORK/cut" -maxdepth 1 -name 'shard-*.h5' | wc -l)
echo "rank $KILL_RANK killed; the job ended with $cut of $SHARDS shards"
[ "$cut" -lt $((SHARDS - 4)) ] || die "the run (nearly) finished before the kill: a weak test"
[ ! -e "$WORK/cut/manifest.json" ] || die "a killed job wrote the manifest"

mpirun2 "$C2AM" "${ARGS[@]}" -o "$WORK/cut" > "$WORK/resume.log" 2>&1 || { cat "$WORK/resume.log"; die "rerun"; }
cat "$WORK/resume.log"
grep -Eq "\(([0-9]+) written, $cut already complete\)" "$WORK/resume.log" ||
  die "the rerun did not keep the $cut complete shards"
for f in "$WORK"/full/shard-*.h5 "$WORK/full/manifest.json"; do
  cmp "$f" "$WORK/cut/$(basename "$f")" || die "$(basename "$f") after kill + rerun != uninterrupted"
done
[ "$(find "$WORK/cut" -maxdepth 1 -name 'shard-*.h5' | wc -l)" -eq $SHARDS ] || die "not $SHARDS shards"
echo "PASS: kill -9 of rank $KILL_RANK + 2-rank rerun = uninterrupted one-process pack"
