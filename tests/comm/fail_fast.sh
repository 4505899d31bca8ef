#!/usr/bin/env bash
# Fail fast: an exception on one rank, or a rank that never joins a
# collective, ends the whole 2-rank job with a non-zero status and a message
# naming the rank, within 60 s.
# Usage: fail_fast.sh MPIRUN DIST_FAULT
set -euo pipefail
MPIRUN=$1 FAULT=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
check() {  # mode, expected regex
  local start=$SECONDS status=0 out
  out=$(timeout 90 "$MPIRUN" -np 2 --bind-to none "$FAULT" "$1" 2>&1) || status=$?
  local elapsed=$((SECONDS - start))
  echo "--- $1: status $status after $elapsed s"; echo "$out" | grep -v "^\s*$" | head -n 12
  [ "$status" -ne 0 ] || { echo "FAIL: $1 ended with status 0"; exit 1; }
  [ "$status" -ne 124 ] && [ "$elapsed" -lt 60 ] || { echo "FAIL: $1 took $elapsed s"; exit 1; }
  grep -Eq "$2" <<<"$out" || { echo "FAIL: $1: no message matching '$2'"; exit 1; }
}
check throw "error on rank 1 of 2 .*injected failure on purpose"
check hang "error on rank 0 of 2 .*rank 0: all-reduce \(sum\) of .* did not finish within 3 s"
echo "PASS: both faults ended the job"
