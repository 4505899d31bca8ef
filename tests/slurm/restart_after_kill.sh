#!/usr/bin/env bash
# SLURM test RestartAfterKillMatchesUninterruptedRun: a 2-task training job
# submitted with C2AM_RESTARTS=3 loses one task to SIGKILL three times (once
# before any checkpoint exists, twice at random steps after); each time srun
# ends the step and the batch script runs it again in the same allocation,
# from scratch and then from the newest checkpoint. The job COMPLETES (0:0)
# after 3 logged restarts, without a requeue, and its final model tensors and
# momentum buffers are bit-identical to those of the same job run without kills
# (submitted alongside). The kill steps and victims come from a printed seed;
# C2AM_TEST_SEED=S replays them.
# Usage: restart_after_kill.sh C2AM_BINARY REPO WORK_DIR   (the local SLURM running)
set -euo pipefail
c2am=$1 repo=$2 work=$3
source "$repo/tests/slurm/common.sh"
make_data
seed=${C2AM_TEST_SEED:-$((($(date +%s%N) / 1000) % 100000))}
RANDOM=$seed
# 3 epochs x 8 steps, a checkpoint every 4, all kept; kill steps as in tests/comm/restart_after_kill.sh.
long=("${tiny[@]}" --set train.epochs=3 --set train.checkpoint_every=4 --set train.keep_checkpoints=100
      --set train.log_every=1)
k1=$((1 + RANDOM % 2)) k2=$((5 + RANDOM % 6))
k3=$((k2 + 3 + RANDOM % 6))
echo "seed $seed: SIGKILL at steps $k1, $k2, $k3"
ref=$(submit "$work/ref.out" "${long[@]}" -o "$work/ref")
job=$(C2AM_RESTARTS=3 submit "$work/job.out" "${long[@]}" -o "$work/run")
echo "job $job (C2AM_RESTARTS=3, to lose tasks) and job $ref (uninterrupted): 2 tasks, 24 steps each"

wait_for() {  # SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds while the job is queued
  local i
  for ((i = 0; i < $1 * 5; i++)); do
    "${@:3}" && return 0
    [[ -n $(squeue -h -j "$job" -o %i) ]] || fail "job $job ended before $2" "$work/job.out"
    sleep 0.2
  done
  fail "no $2 after $1 s" "$work/job.out"
}
attempt=0
for step in "$k1" "$k2" "$k3"; do
  attempt=$((attempt + 1))
  wait_for 240 "step $step" grep -qs "\"step\":$step," "$work/run/metrics.jsonl"
  mapfile -t tasks < <(pgrep -f "^$c2am train .* -o $work/run( |\$)")
  ((${#tasks[@]} == 2)) || fail "expected 2 task processes at step $step, found ${#tasks[*]}" "$work/job.out"
  victim=${tasks[RANDOM % 2]}
  echo "step $step: kill -9 task $victim (newest checkpoint: $(basename "$(newest_ckpt "$work/run")"))"
  kill -9 "$victim"
  wait_for 120 "restart $attempt" grep -q "restart $attempt/3 after exit" "$work/job.out"
done
"$slurm_local" wait "$job" 300 || fail "job $job did not complete" "$work/job.out"
"$slurm_local" wait "$ref" 300 || fail "the uninterrupted job $ref did not complete" "$work/ref.out"
grep -hE "restart [0-9]|resumed from|status" "$work/job.out"
(($(grep -c "restart [0-9]/3 after exit" "$work/job.out") == 3)) || fail "expected 3 restarts" "$work/job.out"
grep -q "restart 1/3 after exit .*; no checkpoint in $work/run/checkpoints yet" "$work/job.out" ||
  fail "restart 1 (before the first checkpoint) did not start from scratch" "$work/job.out"
for n in 2 3; do
  grep -qE "restart $n/3 after exit .*; resuming from $work/run/checkpoints/ckpt-[0-9]+\.pt$" "$work/job.out" ||
    fail "restart $n did not resume from a checkpoint" "$work/job.out"
done
[[ $(job_field "$job" Restarts) == 0 ]] || fail "job $job was requeued: the restarts belong in its allocation" "$work/job.out"
final=$(newest_ckpt "$work/run") final_ref=$(newest_ckpt "$work/ref")
[[ $final == */ckpt-*24.pt && $(basename "$final") == $(basename "$final_ref") ]] ||
  fail "final checkpoints: $final, $final_ref" "$work/job.out" "$work/ref.out"
echo "comparing $final with $final_ref"
/usr/bin/python3 "$repo/tests/comm/compare_checkpoints.py" --exact --optim "$final" "$final_ref" ||
  fail "the run with 3 restarts does not match the uninterrupted one" "$work/job.out" "$work/ref.out"
echo "PASS: 3 kills (steps $k1, $k2, $k3; seed $seed), 3 restarts in one allocation, identical to the uninterrupted run"
