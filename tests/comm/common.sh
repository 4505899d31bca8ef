# Shared by the mpi shell tests: arguments, a tiny packed dataset, the tiny
# training settings (ResNet-18 at 64 px, global batch 8, one thread a rank).
# Usage (sourced): common.sh MPIRUN C2AM SOURCE_DIR WORK_DIR
set -euo pipefail
MPIRUN=$1 C2AM=$2 SRC=$3 WORK=$4
PY=/usr/bin/python3  # Debian's python3-torch; a pyenv python3 on PATH has no torch
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$WORK"
mkdir -p "$WORK"
"$C2AM" synth cub "$WORK/raw" --train 64 --test 16 --seed 1 >/dev/null 2>&1
"$C2AM" pack "$WORK/raw" -o "$WORK/data/train" --layout cub --split train >/dev/null 2>&1
TINY=(-c "$SRC/configs/synth_demo.toml" --data "$WORK/data" --set data.train_resize=72 --set data.train_crop=64
      --set train.batch_size=8 --set run.threads=1 --set train.log_every=1
      --set run.precision=fp32 --set run.channels_last=false)  # the contracts compare world sizes in fp32
mpirun2() { "$MPIRUN" -np 2 --bind-to none "$@"; }
die() { echo "FAIL: $*" >&2; exit 1; }
# Waits (up to $2 s) until the command $1 prints a number >= $3, then kill -9s
# every process whose command line matches the pattern $4 (all ranks and mpirun).
kill9_when() {
  local t=0
  until [ "$(eval "$1" 2>/dev/null)" -ge "$3" ]; do
    sleep 0.1; t=$((t + 1)); [ $t -lt $(($2 * 10)) ] || die "'$1' did not reach $3 within $2 s"
  done
  for pid in $(pgrep -f "$4"); do kill -9 "$pid" 2>/dev/null || true; done
}
# Waits (up to $2 s) until metrics file $1 has a line for step >= $3.
wait_for_step() {
  local t=0
  until [ -f "$1" ] && grep -q "\"step\":$3," "$1"; do
    sleep 0.2; t=$((t + 1)); [ $t -lt $(($2 * 5)) ] || die "no step $3 in $1 after $2 s"
  done
}
