#!/usr/bin/env bash
# The WSSS stage end to end on synthetic VOC-layout data, on CPU: C2AM maps ->
# background cues (dense CRF) -> saliency refinement -> classifier CAMs ->
# pseudo masks, and their mIoU next to the same CAMs with the best constant
# background threshold.
# Usage: launch/wsss_demo.sh [RUN_DIR]   (default: runs/wsss; TRAIN=N images, default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
launch/setup.sh build
RUN=${1:-runs/wsss}
rm -rf "$RUN"
build/src/cli/c2am synth voc "$RUN/raw" --train "${TRAIN:-300}" --test 40 --classes 5 --seed 1 --threads "$(nproc)"
LAUNCH="launch/mpirun.sh -n 2 --" CLS_CONFIG=configs/synth_voc_classifier.toml SAL_CONFIG=configs/synth_voc_saliency.toml \
  launch/wsss.sh "$RUN/raw" "$RUN" configs/synth_voc.toml
