#!/usr/bin/env bash
# What `launch/mpirun.sh --restarts N` does not restart, on 2 ranks:
# - --restarts 0 is the plain launcher: a rank killed with SIGKILL fails the job (137);
# - --restarts 1 and two kills: one restart, then the last failure's status (137);
# - a usage/config error (exit 2) and a preemption (USR1 to the launcher: the
#   ranks checkpoint and exit 75) end the job at once with their status;
# - a command that cannot resume (eval-wsol), and --resume PATH without -o, are
#   refused with status 2 before anything starts.
source "$(dirname "$0")/common.sh"
LAUNCH=$SRC/launch/mpirun.sh
LONG=(--set train.epochs=100 --set train.checkpoint_every=2)

# Starts a training job with restarts $1 into $WORK/$2 in the background (pid in $job).
start() { "$LAUNCH" -n 2 --restarts "$1" -- "$C2AM" train "${TINY[@]}" "${LONG[@]}" -o "$WORK/$2" >"$WORK/$2.log" 2>&1 & job=$!; }
# Waits for step $2 of run $1, then kill -9s one of its ranks.
kill_rank_at() {
  wait_for_step "$WORK/$1/metrics.jsonl" 240 "$2"
  local victim; victim=$(pgrep -f "^$C2AM train .* -o $WORK/$1( |\$)" | tail -n 1)
  [ -n "$victim" ] || die "no rank process of $1"
  kill -9 "$victim"
}
# Waits (up to 120 s) for the job to end; checks its status is $1 and its log has $2 restart lines.
expect_end() {
  local t=0 status=0
  while kill -0 "$job" 2>/dev/null; do
    sleep 0.1; t=$((t + 1))
    [ $t -lt 1200 ] || { kill -9 "$job"; pkill -9 -f "^$C2AM train .* -o $WORK/$3( |\$)" || true; die "$3: the job still runs after 120 s"; }
  done
  wait "$job" || status=$?
  [ "$status" -eq "$1" ] || { tail -n 20 "$WORK/$3.log"; die "$3: exit $status, expected $1"; }
  [ "$(grep -c '^restart ' "$WORK/$3.log")" -eq "$2" ] || { grep '^restart ' "$WORK/$3.log"; die "$3: expected $2 restarts"; }
  echo "ok: $3 exited $1 after $2 restarts"
}

start 0 none
kill_rank_at none 2
expect_end 137 0 none

start 1 once
kill_rank_at once 2
until grep -q "^restart 1/1 after exit 137" "$WORK/once.log"; do kill -0 "$job" || die "once: no restart"; sleep 0.1; done
kill_rank_at once 5  # >= 2 steps past the first kill: only the second attempt logs it
expect_end 137 1 once

"$LAUNCH" -n 2 --restarts 3 -- "$C2AM" train "${TINY[@]}" --set train.no_such_key=1 -o "$WORK/usage" \
  >"$WORK/usage.log" 2>&1 & job=$!
expect_end 2 0 usage

start 3 preempt
wait_for_step "$WORK/preempt/metrics.jsonl" 240 2
kill -USR1 "$job"
expect_end 75 0 preempt
grep -q "preempt" "$WORK/preempt.log" || die "preempt: the ranks did not checkpoint on USR1"

status=0
"$LAUNCH" -n 2 --restarts 3 -- "$C2AM" eval-wsol --ckpt "$WORK/none" --data "$WORK/data" -o "$WORK/eval" \
  2>"$WORK/refused.log" || status=$?
[ "$status" -eq 2 ] && grep -q "'eval-wsol' cannot resume" "$WORK/refused.log" || die "eval-wsol with --restarts: exit $status"
status=0
"$LAUNCH" -n 2 --restarts 3 -- "$C2AM" train "${TINY[@]}" --resume "$WORK/none" 2>"$WORK/refused.log" || status=$?
[ "$status" -eq 2 ] && grep -q "needs -o RUN" "$WORK/refused.log" || die "--resume PATH without -o: exit $status"
pgrep -f "^$C2AM " -a | grep -F "$WORK/" && die "a c2am process was left running"
echo "PASS: no restart on --restarts 0, usage errors or preemption; the last failure's status after N restarts; refusals exit 2"
