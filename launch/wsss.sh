#!/usr/bin/env bash
# The WSSS refinement stage (method doc section 8), raw VOC2012 -> pseudo masks
# and their mIoU, one c2am command per step (docs/wsss.md explains each).
# Usage: launch/wsss.sh VOC2012_DIR RUN_DIR [CONFIG]   (CONFIG default: configs/voc.toml)
#   CLS_CONFIG / SAL_CONFIG: the classifier and saliency layers (default: configs/voc_{classifier,saliency}.toml)
#   LAUNCH: prefix of the distributed steps, e.g. LAUNCH="launch/mpirun.sh -n 8 --"
#   SALIENCY=0 skips the saliency refinement; C2AM: the executable (default build/src/cli/c2am)
set -euo pipefail
VOC=${1:?usage: launch/wsss.sh VOC2012_DIR RUN_DIR [CONFIG]}
RUN=${2:?usage: launch/wsss.sh VOC2012_DIR RUN_DIR [CONFIG]}
CFG=${3:-configs/voc.toml}
CLS=${CLS_CONFIG:-configs/voc_classifier.toml}
SAL=${SAL_CONFIG:-configs/voc_saliency.toml}
C2AM=${C2AM:-build/src/cli/c2am}
LAUNCH=${LAUNCH:-}
D="$RUN/data"
$C2AM pack "$VOC" -o "$D/train" --layout voc --split train   # train_aug when its list exists
$C2AM pack "$VOC" -o "$D/val" --layout voc --split val
$LAUNCH $C2AM train -c "$CFG" --data "$D" -o "$RUN/c2am" --resume auto
$LAUNCH $C2AM infer-maps -c "$CFG" --data "$D" --ckpt "$RUN/c2am" -o "$RUN/maps"
$LAUNCH $C2AM bg-cues -c "$CFG" --data "$D" --maps "$RUN/maps" -o "$RUN/cues"
CUES="$RUN/cues"
if [ "${SALIENCY:-1}" != 0 ]; then
  $LAUNCH $C2AM train-saliency -c "$CFG" -c "$SAL" --data "$D" --cues "$RUN/cues" -o "$RUN/sal" --resume auto
  $LAUNCH $C2AM predict-saliency -c "$CFG" --data "$D" --ckpt "$RUN/sal" -o "$RUN/cues_sal"
  CUES="$RUN/cues_sal"
fi
$LAUNCH $C2AM train-classifier -c "$CFG" -c "$CLS" --data "$D" -o "$RUN/cls" --resume auto
$LAUNCH $C2AM infer-cams -c "$CFG" --data "$D" --ckpt "$RUN/cls" -o "$RUN/cams"
$C2AM refine-cams --cams "$RUN/cams" --cues "$CUES" -o "$RUN/pseudo_masks"
$C2AM eval-seg --cams "$RUN/cams" --cues "$CUES" --sweep --data "$D" --split train -o "$RUN/eval"
echo "wsss: cues $CUES | CAMs $RUN/cams | pseudo masks $RUN/pseudo_masks | scores $RUN/eval/metrics.json"
