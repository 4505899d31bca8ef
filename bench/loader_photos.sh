#!/usr/bin/env bash
# The loader on real-sized photographs (issue 12): c2am's train transform from
# shards (pil and fast resampling, float32 and uint8 batches) against PyTorch's
# DataLoader + torchvision on the same JPEG files and against a bare decode
# (tjbench, libjpeg-turbo-progs), 1 and 2 threads/workers, batches of 64,
# resize 256x256, random crop 224, flip. Results: docs/benchmarks.md.
# Usage: bench/loader_photos.sh [WORK]   (default /tmp/c2am_photos; reuses the set when present)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/c2am_photos}
C2AM=build/src/cli/c2am
LOADER=build/bench/c2am_bench_loader
PY=/usr/bin/python3
if [ ! -f "$WORK/raw/.photos_done" ]; then
  rm -rf "$WORK" && mkdir -p "$WORK"
  $C2AM synth cub "$WORK/raw" --train 480 --test 20 --seed 3 --min-size 375 --max-size 500 --threads "$(nproc)" > /dev/null
  $PY bench/make_photos.py "$WORK/raw"
  touch "$WORK/raw/.photos_done"
fi
[ -f "$WORK/packed/manifest.json" ] || $C2AM pack "$WORK/raw" -o "$WORK/packed" --layout cub --split train > /dev/null
cat "$WORK"/raw/images/*/* > /dev/null  # warm page cache for every contender
echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for t in 1 2; do
  for mode in pil fast; do
    $LOADER --data "$WORK/packed" --threads $t --resample $mode --epochs 3 | sed -n 1p | sed "s/^/[$mode float32] /"
    $LOADER --data "$WORK/packed" --threads $t --resample $mode --epochs 3 --uint8 | sed -n 1p | sed "s/^/[$mode uint8] /"
  done
  $PY bench/pytorch_loader.py "$WORK/raw" --workers $t --epochs 3 | sed -n 1p
done
# A bare decode of the same files, one thread: tjbench on every 20th file, full size and at the
# DCT scale the loader uses for 500x375 -> 256 (3/4).
for scale in 1/1 3/4; do
  ls "$WORK"/raw/images/*/*.jpg | awk 'NR % 20 == 1' | while read -r f; do
    tjbench "$f" -benchtime 0.5 -warmup 0.2 -scale "$scale" 2>&1 | sed -n 's/.*Frame rate: *\([0-9.]*\) fps.*/\1/p'
  done | awk -v s="$scale" '{ sum += 1 / $1; n++ } END { printf "tjbench decode (scale %s, 1 thread): %.1f img/s over %d files\n", s, n / sum, n }'
done
