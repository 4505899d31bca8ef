#!/usr/bin/env bash
# Submits data-parallel training to SLURM: the cluster profile sets partition,
# nodes, tasks (one per GPU), CPUs, time limit and the USR1 warning; sbatch
# flags given here override it. Prints the sbatch line it runs.
# Usage: launch/slurm/submit.sh PROFILE [SBATCH FLAGS...] -- C2AM TRAIN ARGS...
# Example: launch/slurm/submit.sh cluster/profiles/local.sh --output=runs/demo.out -- \
#            -c configs/synth_demo.toml --data runs/demo/data -o runs/demo-slurm
# C2AM_BIN picks the c2am binary (default: this checkout's build/src/cli/c2am);
# C2AM_RESTARTS=N restarts a failed step up to N times in the allocation (train.sbatch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
profile=$(realpath "${1:?usage: $0 PROFILE [SBATCH FLAGS...] -- C2AM TRAIN ARGS...}")
shift
flags=()
while (($#)) && [[ $1 != -- ]]; do flags+=("$1"); shift; done
(($#)) && shift

# shellcheck source=/dev/null
source "$profile"
sbatch=(sbatch --partition="$PARTITION" --nodes="$NODES" --ntasks-per-node="$TASKS_PER_NODE"
        --cpus-per-task="$CPUS_PER_TASK" --time="$TIME_LIMIT" --signal="B:USR1@$SIGNAL_SECONDS")
((GPUS_PER_NODE > 0)) && sbatch+=(--gpus-per-node="$GPUS_PER_NODE")
sbatch+=("${SBATCH_FLAGS[@]}" "${flags[@]}" "$here/train.sbatch" "$profile" "$@")

export C2AM_BIN=${C2AM_BIN:-$(realpath "$here/../../build/src/cli/c2am")}
export C2AM_LAUNCH_DIR=${C2AM_LAUNCH_DIR:-$(realpath "$here/..")}  # the batch script's launch/restarts.sh
echo "+ ${sbatch[*]}" >&2
exec "${sbatch[@]}"
