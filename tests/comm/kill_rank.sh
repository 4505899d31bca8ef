#!/usr/bin/env bash
# kill -9 of one rank mid-training ends the whole job with a non-zero status
# within 60 s (mpirun notices the dead rank and ends the others; a rank left
# waiting in a collective would end itself after dist.timeout_s).
source "$(dirname "$0")/common.sh"
mpirun2 "$C2AM" train "${TINY[@]}" --set train.epochs=100 -o "$WORK/run" > "$WORK/run.log" 2>&1 &
job=$!
wait_for_step "$WORK/run/metrics.jsonl" 240 2
victim=$(pgrep -f "c2am train .*$WORK/run" | grep -v "^$job\$" | tail -n 1)
[ -n "$victim" ] || die "no rank process found"
echo "killing rank process $victim with SIGKILL"
start=$SECONDS
kill -9 "$victim"
for _ in $(seq 600); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$job" 2>/dev/null; then
  kill -9 "$job"; pkill -9 -f "c2am train .*$WORK/run" || true
  die "the job still runs 60 s after a rank was killed"
fi
status=0; wait "$job" || status=$?
elapsed=$((SECONDS - start))
tail -n 5 "$WORK/run.log"
[ "$status" -ne 0 ] || die "the job ended with status 0"
pgrep -f "c2am train .*$WORK/run" >/dev/null && die "a rank survived"
echo "PASS: job ended with status $status ${elapsed} s after kill -9 of one rank"
