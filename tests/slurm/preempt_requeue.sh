#!/usr/bin/env bash
# SLURM test PreemptRequeueResumeMatchesUninterruptedRun: a 2-task training job
# gets USR1 in its batch shell mid-run (`scancel --signal=USR1 --batch`, as
# --signal=B:USR1@N does before a time limit); the trainer checkpoints and exits
# 75, the job requeues itself, resumes from that checkpoint and completes. Its
# final model tensors are bit-identical to those of the same job run without a
# signal (submitted alongside), and so are its momentum buffers.
# Usage: preempt_requeue.sh C2AM_BINARY REPO WORK_DIR   (the local SLURM running)
set -euo pipefail
c2am=$1 repo=$2 work=$3
source "$repo/tests/slurm/common.sh"
make_data
# 4 epochs x 8 steps, a checkpoint every 4 steps, all kept (they show the resume did not start over).
long=("${tiny[@]}" --set train.epochs=4 --set train.checkpoint_every=4 --set train.keep_checkpoints=100)
ref=$(submit "$work/ref.out" "${long[@]}" -o "$work/ref")
job=$(submit "$work/job.out" "${long[@]}" -o "$work/run")
echo "job $job (to be preempted) and job $ref (uninterrupted): 2 tasks, 32 steps each"

for ((i = 0; i < 180; i++)); do
  [[ -n $(newest_ckpt "$work/run") ]] && break
  [[ -n $(squeue -h -j "$job" -o %i) ]] || fail "job $job ended before its first checkpoint" "$work/job.out"
  sleep 1
done
[[ -n $(newest_ckpt "$work/run") ]] || fail "no checkpoint after 180 s" "$work/job.out"
scancel --signal=USR1 --batch "$job"
echo "first checkpoint written; sent USR1 to the batch shell of job $job"

for ((i = 0; i < 120; i++)); do
  state=$(job_field "$job" JobState)
  [[ $state == PENDING && $(job_field "$job" Restarts) -ge 1 ]] && break
  [[ $state =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT)$ ]] && break
  sleep 1
done
[[ $(job_field "$job" JobState) == PENDING ]] ||
  fail "job $job was not requeued: $(job_field "$job" JobState), Restarts=$(job_field "$job" Restarts)" "$work/job.out"
preempted=$(newest_ckpt "$work/run")
stat -c '%n %i' "$work"/run/checkpoints/ckpt-*.pt >"$work/requeued.txt"
# SLURM holds a requeued job for cred_expire + 1 s (15 + 1 in cluster/slurm-local.sh)
# so that slurmd has dropped the old instance's revoked credential; releasing it
# earlier (scontrol update StartTime=now) raced that and failed the job now and
# then ("Job credential revoked"). So the test just waits.
echo "requeued; newest checkpoint $(basename "$preempted"); waiting out the requeue delay"
"$slurm_local" wait "$job" 300 || fail "the requeued job $job did not complete" "$work/job.out"
"$slurm_local" wait "$ref" 120 || fail "the uninterrupted job $ref did not complete" "$work/ref.out"
grep -q "restart 1:" "$work/job.out" || fail "job $job did not log its restart 1" "$work/job.out"
# A fresh start instead of a resume would rewrite the checkpoints already there (new inodes).
cut -d' ' -f1 "$work/requeued.txt" | xargs stat -c '%n %i' | diff "$work/requeued.txt" - ||
  fail "checkpoints from before the requeue were rewritten: the job started over" "$work/job.out"
final=$(newest_ckpt "$work/run") final_ref=$(newest_ckpt "$work/ref")
[[ $final == */ckpt-*32.pt && $preempted != "$final" ]] ||
  fail "expected the final checkpoint at step 32 after the preemption checkpoint: $final" "$work/job.out"
[[ $(basename "$final") == $(basename "$final_ref") ]] || fail "final checkpoints differ: $final, $final_ref" "$work/ref.out"
grep -hE "restart [0-9]|caught|preemption requested|resumed from|status" "$work/job.out"
echo "comparing $final with $final_ref"
/usr/bin/python3 "$repo/tests/comm/compare_checkpoints.py" --exact --optim "$final" "$final_ref" ||
  fail "the preempted run does not match the uninterrupted one" "$work/job.out" "$work/ref.out"
echo "PASS"
