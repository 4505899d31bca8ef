#!/usr/bin/env bash
# RestartAfterKillMatchesUninterruptedRun: `launch/mpirun.sh -n 2 --restarts 3`
# trains while one rank (chosen at random) is killed with SIGKILL three times:
# once before any checkpoint exists (the restart starts from scratch) and twice
# at random steps after checkpoints exist (the restarts resume from the newest
# with --resume auto). The job ends with status 0 after 3 logged restarts, and
# its final parameters and momentum equal an uninterrupted run's bit for bit.
# The kill steps and victims come from a seed that is printed;
# C2AM_TEST_SEED=S replays them.
source "$(dirname "$0")/common.sh"
seed=${C2AM_TEST_SEED:-$((($(date +%s%N) / 1000) % 100000))}
RANDOM=$seed
# 3 epochs x 8 steps = 24 steps, a checkpoint every 4, all kept.
RUN=(--set train.epochs=3 --set train.checkpoint_every=4 --set train.keep_checkpoints=100)
# Kill steps: 1-2 (before the first checkpoint, at step 4), then two later
# ones, each >= 2 steps after the previous so that only the newest attempt can
# have logged it (a killed attempt logs at most one more step).
k1=$((1 + RANDOM % 2)) k2=$((5 + RANDOM % 6))
k3=$((k2 + 3 + RANDOM % 6))
echo "seed $seed: SIGKILL at steps $k1, $k2, $k3"

mpirun2 "$C2AM" train "${TINY[@]}" "${RUN[@]}" -o "$WORK/full" >"$WORK/full.log" 2>&1 ||
  { tail -n 30 "$WORK/full.log"; die "uninterrupted run"; }

"$SRC/launch/mpirun.sh" -n 2 --restarts 3 -- "$C2AM" train "${TINY[@]}" "${RUN[@]}" -o "$WORK/run" \
  >"$WORK/run.log" 2>&1 &
job=$!
# Waits (up to $1 s) until the launcher's log has a line matching the pattern $2.
wait_for_log() {
  local t=0
  until grep -qE "$2" "$WORK/run.log"; do
    kill -0 "$job" 2>/dev/null || { tail -n 30 "$WORK/run.log"; die "the launcher ended before logging '$2'"; }
    sleep 0.1; t=$((t + 1)); [ $t -lt $(($1 * 10)) ] || { tail -n 30 "$WORK/run.log"; die "no '$2' in $1 s"; }
  done
}
attempt=0
for step in "$k1" "$k2" "$k3"; do
  attempt=$((attempt + 1))
  wait_for_step "$WORK/run/metrics.jsonl" 240 "$step"
  mapfile -t ranks < <(pgrep -f "^$C2AM train .*$WORK/run")
  [ "${#ranks[@]}" -eq 2 ] || die "expected 2 rank processes at step $step, found ${#ranks[*]}"
  victim=${ranks[RANDOM % 2]}
  echo "step $step: kill -9 $victim (newest checkpoint: $(find "$WORK/run" -name 'ckpt-*.pt' | sort | tail -n 1))"
  kill -9 "$victim"
  wait_for_log 120 "^restart $attempt/3 after exit"
done
status=0; wait "$job" || status=$?
grep -E "^restart |resumed from" "$WORK/run.log"
[ "$status" -eq 0 ] || { tail -n 30 "$WORK/run.log"; die "the job with restarts exited $status"; }
[ "$(grep -c '^restart ' "$WORK/run.log")" -eq 3 ] || die "expected 3 restarts in the log"
grep -q "^restart 1/3 after exit 137 (a rank killed by signal 9, SIGKILL); no checkpoint in $WORK/run/checkpoints yet" \
  "$WORK/run.log" || die "restart 1 (before the first checkpoint) did not start from scratch"
for n in 2 3; do
  grep -qE "^restart $n/3 after exit 137 .*; resuming from $WORK/run/checkpoints/ckpt-[0-9]+\.pt$" "$WORK/run.log" ||
    die "restart $n did not resume from a checkpoint"
done
[ "$(grep -c "resumed from" "$WORK/run.log")" -eq 2 ] || die "expected 2 resumed attempts"
last() { ls "$1"/checkpoints/ckpt-*.pt | tail -n 1; }
[ "$(basename "$(last "$WORK/run")")" = ckpt-000000024.pt ] || die "no final checkpoint at step 24"
"$PY" "$SRC/tests/comm/compare_checkpoints.py" --exact --optim "$(last "$WORK/full")" "$(last "$WORK/run")" ||
  die "the run with 3 restarts differs from the uninterrupted one"
echo "PASS: 3 kills (steps $k1, $k2, $k3; seed $seed), 3 restarts, identical to the uninterrupted run"
