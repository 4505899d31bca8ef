# Cluster profile: the single-node test SLURM of cluster/slurm-local.sh, CPU only.
# Sourced by launch/slurm/submit.sh and launch/slurm/train.sbatch (format: cluster/README.md).
# shellcheck shell=bash disable=SC2034
PARTITION=debug
NODES=1
GPUS_PER_NODE=0          # no GPUs: TASKS_PER_NODE CPU tasks instead
TASKS_PER_NODE=2         # ranks per node
CPUS_PER_TASK=1
TIME_LIMIT=00:30:00
SIGNAL_SECONDS=60        # USR1 to the batch shell this long before the time limit
SBATCH_FLAGS=()

profile_env() {          # runs in the batch script, before srun
  export OMP_NUM_THREADS=$CPUS_PER_TASK
}
