#!/usr/bin/env bash
# The built-in end-to-end demo on CPU: a synthetic CUB-layout dataset packed
# into HDF5 shards, C²AM training from the shards with 2 MPI ranks
# (ResNet-18, small images, negatives contrasted across both ranks),
# CorLoc / MaxBoxAccV2 on its test split, heatmap overlays, the HTML report.
# Usage: launch/demo.sh [RUN_DIR]   (default: runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
launch/setup.sh build
RUN=${1:-runs/demo}
C2AM=build/src/cli/c2am
rm -rf "$RUN"
$C2AM synth cub "$RUN/raw" --train 600 --test 200 --seed 1 --threads "$(nproc)"
$C2AM pack "$RUN/raw" -o "$RUN/data/train" --layout cub --split train --shard-size 200
$C2AM pack "$RUN/raw" -o "$RUN/data/test" --layout cub --split test --shard-size 200
$C2AM verify "$RUN/data/train" --decode
launch/mpirun.sh -n 2 -- $C2AM train -c configs/synth_demo.toml --data "$RUN/data" -o "$RUN"
$C2AM eval-wsol -c configs/synth_demo.toml --data "$RUN/data" --ckpt "$RUN" -o "$RUN/eval" --heatmaps 32
$C2AM report "$RUN"
echo "demo: raw dataset $RUN/raw | packed shards $RUN/data/{train,test} | run $RUN (config.toml, metrics.jsonl, checkpoints/) | evaluation $RUN/eval"
echo "demo: report $RUN/report.html (open it in a browser) | TensorBoard: tensorboard --logdir $RUN (runs tb/ and eval/tb/)"
