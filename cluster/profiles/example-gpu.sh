# Cluster profile, an example to copy: a multi-node GPU cluster with 8 GPUs
# and 96 cores per node, Lmod modules, InfiniBand. One task (rank) per GPU.
# Sourced by launch/slurm/submit.sh and launch/slurm/train.sbatch (format: cluster/README.md).
# Usage: launch/slurm/submit.sh cluster/profiles/example-gpu.sh --nodes=4 -- \
#          -c configs/ilsvrc.toml --data /data/ilsvrc-packed -o runs/ilsvrc
# shellcheck shell=bash disable=SC2034
PARTITION=gpu            # sinfo -s lists the partitions
NODES=1                  # default; --nodes=N on the submit line overrides it
GPUS_PER_NODE=8
TASKS_PER_NODE=$GPUS_PER_NODE
CPUS_PER_TASK=12         # cores per node / GPUs per node: intra-op and loader threads
TIME_LIMIT=24:00:00      # the partition's limit; the job requeues itself to go on
SIGNAL_SECONDS=600       # time to finish the step and write a checkpoint (and slack)
SBATCH_FLAGS=(--account=my-project --exclusive --mem=0)

profile_env() {          # runs in the batch script, before srun
  module purge
  module load gcc/12 cuda/12.1 openmpi/4.1
  export OMP_NUM_THREADS=$CPUS_PER_TASK
  export NCCL_IB_HCA=mlx5            # the InfiniBand adapters NCCL may use
  export NCCL_SOCKET_IFNAME=ib0      # NCCL's bootstrap network
  export NCCL_DEBUG=WARN
  export C2AM_BIN=$HOME/c2am/build/src/cli/c2am   # a build for this cluster's CUDA
}
