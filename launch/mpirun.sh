#!/usr/bin/env bash
# Runs a command on N MPI ranks (Open MPI) with sane mapping, binding and
# environment, and prints the mpirun line it runs.
# Usage: launch/mpirun.sh -n N [--hostfile FILE] [--oversubscribe] -- COMMAND...
# Example: launch/mpirun.sh -n 2 -- build/src/cli/c2am train -c configs/synth_demo.toml \
#            --data runs/demo/data -o runs/ddp --resume auto
# Each rank gets PE = cores per node / ranks per node cores and is bound to
# them (OMP_NUM_THREADS defaults to PE); with fewer cores than ranks, no binding.
set -euo pipefail
usage() { echo "usage: $0 -n N [--hostfile FILE] [--oversubscribe] [--restarts R] -- COMMAND..." >&2; exit 2; }

ranks="" hostfile="" restarts=0 extra=()
while (($#)); do
  case $1 in
    -n | -np) ranks=${2:?}; shift 2 ;;
    --hostfile) hostfile=${2:?}; extra+=(--hostfile "$2"); shift 2 ;;
    --oversubscribe) extra+=(--oversubscribe); shift ;;
    --restarts) restarts=${2:?}; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[[ $ranks =~ ^[1-9][0-9]*$ && $restarts =~ ^[0-9]+$ && $# -gt 0 ]] || usage
# shellcheck source=launch/restarts.sh
source "$(dirname "$0")/restarts.sh"
((restarts == 0)) || restart_check "$@"

# Ranks per node: all here, or spread evenly over the hostfile's hosts (same cores assumed).
hosts=1
if [[ -n $hostfile ]]; then
  hosts=$(grep -cEv '^[[:space:]]*(#|$)' "$hostfile") || { echo "no hosts in $hostfile" >&2; exit 2; }
fi
per_node=$(((ranks + hosts - 1) / hosts))
pe=$(($(nproc) / per_node))
if ((pe >= 1)); then
  extra+=(--map-by "slot:PE=$pe" --bind-to core)
else
  extra+=(--bind-to none)
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$((pe > 0 ? pe : 1))}
[[ $(id -u) -eq 0 ]] && extra+=(--allow-run-as-root)

for name in PATH LD_LIBRARY_PATH OMP_NUM_THREADS CUDA_VISIBLE_DEVICES $(compgen -e | grep -E '^(C2AM|NCCL)_' || true); do
  [[ -n ${!name+set} ]] && extra+=(-x "$name")
done

cmd=(mpirun -np "$ranks" "${extra[@]}")
echo "+ ${cmd[*]} $*" >&2
((restarts > 0)) || exec "${cmd[@]}" "$@"

# With restarts: mpirun runs as a child; a signal to this script goes on to it
# (USR1: the ranks checkpoint and exit 75) and ends the restarts. INT goes on
# as TERM: a background child of a script ignores INT.
stop="" job=""
forward() { stop=$1; [[ -z $job ]] || kill -"$1" "$job" 2>/dev/null || true; }
trap 'forward TERM' INT
# shellcheck disable=SC2064  # $sig is meant to expand now
for sig in TERM HUP USR1 USR2; do trap "forward $sig" "$sig"; done
attempt=0 run=("$@")
while :; do
  "${cmd[@]}" "${run[@]}" &
  job=$!
  [[ -z $stop ]] || kill -"$stop" "$job" 2>/dev/null || true  # a signal before job was set
  while :; do
    status=0
    wait "$job" || status=$?
    kill -0 "$job" 2>/dev/null || break  # else a caught signal ended the wait, not mpirun
  done
  job=""
  if ! restart_wanted "$status" || [[ -n $stop ]] || ((attempt == restarts)); then exit "$status"; fi
  attempt=$((attempt + 1))
  restart_plan "$@"
  run=("${RESTART_COMMAND[@]}")
  echo "restart $attempt/$restarts after exit $status ($(restart_reason "$status")); $RESTART_NOTE" >&2
  echo "+ ${cmd[*]} ${run[*]}" >&2
done
