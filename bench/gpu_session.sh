#!/usr/bin/env bash
# The GPU session, in the order of ../shared/device/gpu-preflight.md, one
# device command (< 10 minutes) per stage; results and logs go to $OUT:
#   source .debs/env.sh && OUT=$OUT bench/gpu_session.sh build
#       versions, configure + build of c2am and the gpu tests, the ldd check
#   source .debs/env.sh && OUT=$OUT bench/gpu_session.sh test [BATCHES]
#       ctest -L gpu, then the trimmed benchmark: c2am bench train (C²AM
#       ResNet-50, 224², fp32 and bf16 + channels_last) and one PyTorch eager
#       run per precision at the largest batch (default BATCHES 128,256)
#   source .debs/env.sh && OUT=$OUT bench/gpu_session.sh extra [BATCHES]
#       CUDA graphs and the per-parameter optimiser against the default
#       step (bf16), and the end-to-end run from HDF5 shards
# `all` runs the three in a row.
set -uo pipefail
OUT=${OUT:-runs/gpu}
STAGE=${1:-all}
BATCHES=${2:-128,256}
BUILD=build-gpu
C2AM=$BUILD/src/cli/c2am
mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH  # the nvcc that matches /usr/local/cuda comes first

# The newest cmake on PATH or in the Python environment (pip's cmake knows
# CUDA 13's include/cccl from 3.31.9 on; Debian's 3.25 does not).
pick_cmake() {
  local best="" best_v=0 c v
  local scripts
  scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
  for c in $(which -a cmake 2>/dev/null) "$scripts/cmake"; do
    [ -x "$c" ] || continue
    v=$("$c" --version 2>/dev/null | awk 'NR == 1 {print $3}')
    [ -n "$v" ] || continue
    if [ "$(printf '%s\n%s\n' "$best_v" "$v" | sort -V | tail -1)" = "$v" ] && [ "$v" != "$best_v" ]; then
      best=$c best_v=$v
    fi
  done
  echo "${best:-cmake}"
}

build() {
  local cmake
  cmake=$(pick_cmake)
  {
    echo "cmake: $cmake ($("$cmake" --version | head -1)); ninja: $(ninja --version 2>/dev/null || echo missing)"
    echo "nvcc: $(command -v nvcc) ($(nvcc --version | grep -o 'release [0-9.]*')); others on PATH: $(which -a nvcc | tr '\n' ' ')"
    echo "g++: $(g++ --version | head -1)"
    ls -d "${NCCL_HOME:-NCCL_HOME-unset}/include/nccl.h" "${NCCL_HOME:-NCCL_HOME-unset}"/lib/libnccl.so* \
      /usr/local/cuda/include/cccl/nv 2>&1
    "$MPIEXEC_EXECUTABLE" --allow-run-as-root -np 1 hostname
  } 2>&1 | tee "$OUT/versions.txt"
  "$cmake" -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH" \
    -DMPIEXEC_EXECUTABLE="$MPIEXEC_EXECUTABLE" -DMPI_EXECUTABLE_SUFFIX=.openmpi \
    -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCUDAToolkit_ROOT=/usr/local/cuda -DTORCH_CUDA_ARCH_LIST=9.0 \
    > "$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; return 1; }
  grep -E "c2am:|Found CUDA|Found MPI|CMake Warning" "$OUT/configure.log"
  "$cmake" --build $BUILD -j "$(nproc)" --target c2am test_gpu -- -k 0 > "$OUT/build.log" 2>&1
  local rc=$?
  grep -E -m 40 "error|Error" "$OUT/build.log"
  tail -3 "$OUT/build.log"
  # Exactly one libcudart and one libnccl (the wheel's), fmt from the Debian package.
  ldd $C2AM 2>&1 | grep -E 'cudart|nccl|fmt|torch_cuda|not found' | tee "$OUT/ldd.txt"
  return $rc
}

tests() {
  (cd $BUILD && OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader NCCL_DEBUG=WARN ctest -L gpu --output-on-failure \
    --timeout 240) > "$OUT/ctest_gpu.log" 2>&1
  tail -15 "$OUT/ctest_gpu.log"
  grep -h "bit for bit on CUDA" $BUILD/Testing/Temporary/LastTest.log 2>/dev/null | head -2
}

# c2am bench train for the C²AM ResNet-50 at 224², into $OUT/c2am_<name>.json.
R50=(--set model.arch=resnet50 --set run.device=cuda --set train.optimizer=reference)
bench_c2am() {
  local name=$1
  shift
  "$C2AM" bench train "${R50[@]}" "$@" --batches "$BATCHES" --size 224 --steps 10 --warmup 5 \
    -o "$OUT/c2am_$name.json" 2> "$OUT/c2am_$name.log" | tail -3
}

bench() {
  local largest=${BATCHES##*,}
  bench_c2am fp32 --set run.precision=fp32
  bench_c2am bf16 --set run.precision=bf16 --set run.channels_last=true
  python3 bench/pytorch_train_step.py --device cuda --arch resnet50 --size 224 --batch "$largest" --steps 10 \
    --warmup 3 2> "$OUT/pytorch_fp32_$largest.log" | tail -1 | tee "$OUT/pytorch_fp32_$largest.json"
  python3 bench/pytorch_train_step.py --device cuda --arch resnet50 --size 224 --batch "$largest" --steps 10 \
    --warmup 3 --bf16 --channels-last 2> "$OUT/pytorch_bf16_$largest.log" | tail -1 |
    tee "$OUT/pytorch_bf16_$largest.json"
}

extra() {
  local BF16=(--set run.precision=bf16 --set run.channels_last=true)
  bench_c2am bf16_graphs "${BF16[@]}" --set run.cuda_graphs=true
  bench_c2am bf16_per_parameter_sgd "${BF16[@]}" --set train.fused_optimizer=false
  # End to end from shards: a synthetic ImageNet-layout train split at 256 -> 224 through the CPU loader.
  "$C2AM" synth imagenet "$OUT/raw" --train 3000 --test 10 --classes 10 --min-size 300 --max-size 500 --seed 1 \
    --threads "$(nproc)" > /dev/null 2>&1
  "$C2AM" pack "$OUT/raw" -o "$OUT/data/train" --layout imagenet --split train > /dev/null 2>&1
  "$C2AM" bench train -c configs/ilsvrc.toml --data "$OUT/data" "${R50[@]}" "${BF16[@]}" --batches "$BATCHES" \
    --steps 10 --warmup 5 --end-to-end -o "$OUT/c2am_e2e_bf16.json" 2> "$OUT/c2am_e2e.log" | tail -3
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
case $STAGE in
  build) build ;;
  test) tests; bench ;;
  extra) extra ;;
  all) build && { tests; bench; extra; } ;;
  *) echo "usage: $0 build|test|extra|all [BATCHES]" >&2; exit 2 ;;
esac
echo "results in $OUT"
