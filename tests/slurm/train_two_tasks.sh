#!/usr/bin/env bash
# SLURM test: launch/slurm/submit.sh with the local profile trains the
# synthetic demo on 2 tasks (srun --mpi=pmix) to completion: the job
# COMPLETED with 0:0, the tasks formed one 2-rank world and the run holds the
# final checkpoint (2 epochs x 8 steps).
# Usage: train_two_tasks.sh C2AM_BINARY REPO WORK_DIR   (the local SLURM running)
set -euo pipefail
c2am=$1 repo=$2 work=$3
source "$repo/tests/slurm/common.sh"
make_data
job=$(submit "$work/job.out" "${tiny[@]}" --set train.epochs=2 -o "$work/run")
echo "job $job: 2 tasks, 2 epochs x 8 steps of 8 images"
"$slurm_local" wait "$job" 300 || fail "job $job did not complete" "$work/job.out"
grep -q "world: 2 ranks" "$work/job.out" || fail "the 2 tasks did not train as one 2-rank world" "$work/job.out"
ckpt=$(newest_ckpt "$work/run")
[[ $ckpt == */ckpt-*16.pt ]] || fail "no final checkpoint (step 16) in $work/run: '$ckpt'" "$work/job.out"
echo "final checkpoint $ckpt"
echo "PASS"
