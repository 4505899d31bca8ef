#!/usr/bin/env bash
# The paper's whole WSOL pipeline in one command: raw CUB -> packed shards ->
# C²AM (MPI ranks) -> CorLoc of its maps under the three protocols -> pseudo
# boxes of the training split (extract-boxes) -> PSOL's box regressor trained
# on them (train-regressor) -> GT-known Loc of the regressed boxes on the test
# split (eval-wsol --regressor), and a summary side by side (docs/wsol.md).
# Usage: launch/wsol.sh [RUN_DIR] [CUB_ROOT]
#   without CUB_ROOT: the demo's synthetic CUB (600 train / 200 test images), configs/synth_demo.toml
#   and configs/synth_psol.toml (ResNet-18 from scratch, minutes on a CPU);
#   with CUB_ROOT (CUB_200_2011/): configs/cub.toml and configs/cub_psol.toml (the paper's recipes;
#   set model.pretrained in both, or pass --set lines through C2AM_SET / PSOL_SET).
# Environment: RANKS (default 2) MPI ranks for the training steps; C2AM_SET, PSOL_SET: extra
# "--set key=value" arguments for the C²AM and the regressor stages.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/setup.sh build
RUN=${1:-runs/wsol}
ROOT=${2:-}
RANKS=${RANKS:-2}
C2AM=build/src/cli/c2am
read -r -a C2AM_EXTRA <<< "${C2AM_SET:-}"
read -r -a PSOL_EXTRA <<< "${PSOL_SET:-}"
if [ -z "$ROOT" ]; then
  CFG=configs/synth_demo.toml PSOL=configs/synth_psol.toml
  [ -f "$RUN/raw/.done" ] || { rm -rf "$RUN/raw"; $C2AM synth cub "$RUN/raw" --train 600 --test 200 --seed 1 \
    --threads "$(nproc)" && touch "$RUN/raw/.done"; }
  ROOT=$RUN/raw
else
  CFG=configs/cub.toml PSOL=configs/cub_psol.toml
fi
step() { echo; echo "== wsol: $*"; }
step "pack $ROOT"
for split in train test; do
  $C2AM pack "$ROOT" -o "$RUN/data/$split" --layout cub --split "$split" --shard-size 200
done
step "train C²AM ($RANKS ranks)"
launch/mpirun.sh -n "$RANKS" -- $C2AM train -c "$CFG" --data "$RUN/data" -o "$RUN/c2am" --resume auto \
  "${C2AM_EXTRA[@]}"
step "CorLoc of the maps (test split; stores the best tau in the checkpoint)"
$C2AM eval-wsol -c "$CFG" --data "$RUN/data" --ckpt "$RUN/c2am" -o "$RUN/c2am/eval" --heatmaps 16 "${C2AM_EXTRA[@]}"
step "pseudo boxes of the training split at that tau"
launch/mpirun.sh -n "$RANKS" -- $C2AM extract-boxes -c "$CFG" --data "$RUN/data" --ckpt "$RUN/c2am" \
  --split train -o "$RUN/boxes" "${C2AM_EXTRA[@]}"
step "train the box regressor on them ($RANKS ranks)"
launch/mpirun.sh -n "$RANKS" -- $C2AM train-regressor -c "$PSOL" --data "$RUN/data" --boxes "$RUN/boxes" \
  -o "$RUN/psol" --resume auto "${PSOL_EXTRA[@]}"
step "GT-known Loc of the regressed boxes (test split)"
$C2AM eval-wsol -c "$PSOL" --data "$RUN/data" --regressor "$RUN/psol" -o "$RUN/psol/eval" --heatmaps 16 \
  "${PSOL_EXTRA[@]}"
step "summary"
/usr/bin/env python3 - "$RUN" <<'PY'
import json, sys
run = sys.argv[1]
maps = json.load(open(f"{run}/c2am/eval/metrics.json"))
reg = json.load(open(f"{run}/psol/eval/metrics.json"))
by = maps["corloc_by_protocol"]
rows = [(f"C²AM maps, CorLoc, {p} protocol (best tau {by[p]['best_threshold']:.2f})", by[p]["best_accuracy"])
        for p in ("paper", "reference", "aligned")]
rows.append(("PSOL regressor on the pseudo boxes, GT-known Loc (IoU > 0.5)", reg["gt_known_loc"]))
rows.append(("centred box of the mean ground-truth size", maps["centre_box_baseline_corloc"]))
print(f"wsol summary ({maps['images']} test images; {run})")
for name, v in rows:
    print(f"  {v:6.2f} %  {name}")
print(f"  regressor: BoxAcc 0.3/0.5/0.7 {reg['box_acc']['iou_0.3']:.2f} / {reg['box_acc']['iou_0.5']:.2f} / "
      f"{reg['box_acc']['iou_0.7']:.2f}, mean IoU {reg['mean_iou']:.3f}")
PY
echo "wsol: maps $RUN/c2am/eval | pseudo boxes $RUN/boxes/boxes.jsonl | regressor $RUN/psol | its evaluation $RUN/psol/eval"
