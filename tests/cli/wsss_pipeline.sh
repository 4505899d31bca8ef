#!/usr/bin/env bash
# The WSSS stage end to end on synthetic VOC-layout data (launch/wsss.sh with
# the synthetic configs, 2 MPI ranks): C2AM maps -> background cues (dense
# CRF) -> saliency refinement -> classifier CAMs -> pseudo masks. The pseudo
# masks refined with the cues must beat the same CAMs with the best constant
# background threshold of the sweep (both are printed; docs/benchmarks.md has
# the figures). Also: one pseudo mask per image, VOC palette PNGs that PIL reads.
set -euo pipefail
C2AM=$1 SRC=$2 WORK=$3 MPIRUN=$4
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
die() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$SRC"
"$C2AM" synth voc "$WORK/raw" --train "${TRAIN:-300}" --test 20 --classes 5 --seed 1 --threads 2 > /dev/null 2>&1
PATH="$(dirname "$MPIRUN"):$PATH" C2AM="$C2AM" LAUNCH="launch/mpirun.sh -n 2 --" \
  CLS_CONFIG=configs/synth_voc_classifier.toml SAL_CONFIG=configs/synth_voc_saliency.toml \
  launch/wsss.sh "$WORK/raw" "$WORK/run" configs/synth_voc.toml > "$WORK/pipeline.log" 2>&1 ||
  { tail -40 "$WORK/pipeline.log"; die "the pipeline failed"; }
grep -E "mIoU" "$WORK/pipeline.log" | grep -v "^  " || true
"$PY" - "$WORK" <<'PY'
import json, glob, os, sys
import numpy as np
from PIL import Image
w = sys.argv[1]
m = json.load(open(f"{w}/run/eval/metrics.json"))
cues, best = m["cues"]["scores"]["miou"], m["sweep"]["best"]["scores"]["miou"]
print(f"pseudo masks with background cues: mIoU {100 * cues:.2f}%; "
      f"best constant background {m['sweep']['best']['bg_threshold']}: {100 * best:.2f}%")
masks = sorted(glob.glob(f"{w}/run/pseudo_masks/*.png"))
assert len(masks) == m["images"] == len(glob.glob(f"{w}/run/cams/*.h5")), (len(masks), m["images"])
im = Image.open(masks[0])
assert im.mode == "P" and im.getpalette()[3:6] == [128, 0, 0], (im.mode, im.getpalette()[:6])
labels = set(np.unique(np.array(im)).tolist())
assert labels <= set(range(21)), labels
assert cues > best, "background cues do not beat the best constant threshold"
PY
echo "PASS: WSSS pipeline; cues beat the best constant background threshold"
