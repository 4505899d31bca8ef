#!/usr/bin/env bash
# Everything the GPU issue measures, in one call on the GPU machine (docs/gpu.md):
# build against PyTorch's CUDA LibTorch + NCCL from the carried .debs, the gpu
# tests, then c2am vs PyTorch eager training throughput and peak memory for
# the C²AM ResNet-50 at 224² over batch sizes, fp32 and bf16 + channels_last,
# and the end-to-end run from HDF5 shards. Results (JSON, logs) go to $OUT.
# Usage (device tool): source .debs/env.sh && bench/gpu_session.sh [BATCHES]   (default 64,128,256)
set -uo pipefail
OUT=${OUT:-runs/gpu}
BATCHES=${1:-64,128,256}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH" \
  -DMPIEXEC_EXECUTABLE="$MPIEXEC_EXECUTABLE" > "$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; exit 1; }
cmake --build build-gpu -j "$(nproc)" > "$OUT/build.log" 2>&1 || { grep -E "error|Error" "$OUT/build.log" | head -40; exit 1; }
(cd build-gpu && ctest -L gpu --output-on-failure --timeout 600) > "$OUT/ctest_gpu.log" 2>&1
tail -15 "$OUT/ctest_gpu.log"
C2AM=build-gpu/src/cli/c2am
R50=(--set model.arch=resnet50 --set run.device=cuda --set train.optimizer=reference)
for prec in "fp32 false" "bf16 true"; do
  set -- $prec
  "$C2AM" bench train "${R50[@]}" --set run.precision=$1 --set run.channels_last=$2 --batches "$BATCHES" \
    --size 224 --steps 20 --warmup 5 -o "$OUT/c2am_$1.json" 2> "$OUT/c2am_$1.log" | tail -5
  IFS=, read -ra bs <<< "$BATCHES"
  for b in "${bs[@]}"; do
    extra=(); [ "$1" = bf16 ] && extra=(--bf16 --channels-last)
    python3 bench/pytorch_train_step.py --device cuda --arch resnet50 --size 224 --batch "$b" --steps 20 --warmup 5 \
      "${extra[@]}" 2> "$OUT/pytorch_$1_$b.log" | tail -1 > "$OUT/pytorch_$1_$b.json"
    cat "$OUT/pytorch_$1_$b.json"
  done
done
# End to end from shards: a synthetic ImageNet-layout train split at 256 -> 224 through the CPU loader.
"$C2AM" synth imagenet "$OUT/raw" --train 3000 --test 10 --classes 10 --min-size 300 --max-size 500 --seed 1 \
  --threads "$(nproc)" > /dev/null 2>&1
"$C2AM" pack "$OUT/raw" -o "$OUT/data/train" --layout imagenet --split train > /dev/null 2>&1
"$C2AM" bench train -c configs/ilsvrc.toml --data "$OUT/data" "${R50[@]}" --set run.precision=bf16 \
  --set run.channels_last=true --batches "$BATCHES" --steps 20 --warmup 5 --end-to-end -o "$OUT/c2am_e2e_bf16.json" \
  2> "$OUT/c2am_e2e.log" | tail -5
echo "results in $OUT"
