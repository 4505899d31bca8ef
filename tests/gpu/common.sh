# Shared by the gpu shell tests: arguments, a tiny packed dataset, tiny
# training settings on the GPU (ResNet-18 at 64 px, global batch 8).
# Usage (sourced): common.sh MPIRUN C2AM SOURCE_DIR WORK_DIR
set -euo pipefail
MPIRUN=$1 C2AM=$2 SRC=$3 WORK=$4
PY=${PYTHON:-python3}
rm -rf "$WORK"
mkdir -p "$WORK"
die() { echo "FAIL: $*" >&2; exit 1; }
"$C2AM" synth cub "$WORK/raw" --train 64 --test 16 --seed 1 >/dev/null 2>&1
"$C2AM" pack "$WORK/raw" -o "$WORK/data/train" --layout cub --split train >/dev/null 2>&1
TINY=(-c "$SRC/configs/synth_demo.toml" --data "$WORK/data" --set data.train_resize=72 --set data.train_crop=64
      --set train.batch_size=8 --set train.log_every=1 --set run.device=cuda)
