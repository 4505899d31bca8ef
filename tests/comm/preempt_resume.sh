#!/usr/bin/env bash
# Preemption on 2 ranks: SIGUSR1 to one rank mid-run -> every rank stops at
# the same step, rank 0 checkpoints, the job exits 75; `--resume auto` then
# finishes, and the final parameters and momentum equal an uninterrupted
# run's bit for bit.
source "$(dirname "$0")/common.sh"
RUN=(--set train.epochs=2 --set train.checkpoint_every=100)
mpirun2 "$C2AM" train "${TINY[@]}" "${RUN[@]}" -o "$WORK/full" > "$WORK/full.log" 2>&1 ||
  { cat "$WORK/full.log"; die "uninterrupted run"; }

mpirun2 "$C2AM" train "${TINY[@]}" "${RUN[@]}" -o "$WORK/pre" > "$WORK/pre.log" 2>&1 &
job=$!
wait_for_step "$WORK/pre/metrics.jsonl" 240 3
victim=$(pgrep -f "c2am train .*$WORK/pre" | grep -v "^$job\$" | tail -n 1)
echo "sending SIGUSR1 to rank process $victim"
kill -USR1 "$victim"
status=0; wait "$job" || status=$?
cat "$WORK/pre.log" | grep -E "preempt|checkpoint" || true
[ "$status" -eq 75 ] || { cat "$WORK/pre.log"; die "the preempted job exited $status, not 75"; }
ls "$WORK"/pre/checkpoints/ckpt-*.pt >/dev/null || die "no checkpoint after preemption"
mpirun2 "$C2AM" train "${TINY[@]}" "${RUN[@]}" -o "$WORK/pre" --resume auto > "$WORK/resume.log" 2>&1 ||
  { cat "$WORK/resume.log"; die "resumed run"; }
grep -q "resumed from" "$WORK/resume.log" || die "the second run did not resume"
last() { ls "$1"/checkpoints/ckpt-*.pt | tail -n 1; }
"$PY" "$SRC/tests/comm/compare_checkpoints.py" "$(last "$WORK/full")" "$(last "$WORK/pre")" --exact --optim ||
  die "resumed run differs from the uninterrupted one"
echo "PASS: preempted (exit 75), resumed, identical to the uninterrupted run"
