#!/usr/bin/env bash
# The per-image WSSS commands split over ranks and resume: infer-maps,
# bg-cues and infer-cams on 1 process and on 2 ranks write the same files
# (maps.h5 values, PNGs, CAM files); infer-maps killed with kill -9 mid-run on
# 2 ranks and rerun on 1 process ends with the uninterrupted run's outputs; a
# rerun on a finished folder computes nothing; other settings need --force.
source "$(dirname "$0")/common.sh"  # arguments, die, mpirun2, kill9_when (its CUB set is not used here)
"$C2AM" synth voc "$WORK/voc_raw" --train 70 --test 4 --classes 4 --min-size 64 --max-size 112 --seed 2 >/dev/null 2>&1
"$C2AM" pack "$WORK/voc_raw" -o "$WORK/voc_data/train" --layout voc --split train >/dev/null 2>&1
TINY=(-c "$SRC/configs/synth_voc.toml" --data "$WORK/voc_data" --set data.train_resize=72 --set data.train_crop=64
      --set train.batch_size=8 --set run.threads=1 --set "wsss.scales=[0.5, 1.0]")
"$C2AM" train "${TINY[@]}" --set train.max_steps=4 -o "$WORK/c2am" > "$WORK/train.log" 2>&1 ||
  { cat "$WORK/train.log"; die "training C2AM"; }
"$C2AM" train-classifier "${TINY[@]}" -c "$SRC/configs/synth_voc_classifier.toml" --set train.batch_size=8 \
  --set train.max_steps=4 -o "$WORK/cls" > "$WORK/cls.log" 2>&1 || { cat "$WORK/cls.log"; die "training the classifier"; }

same_maps() {  # the float16 maps of two infer-maps folders, and their PNGs
  "$PY" - "$1" "$2" <<'PY' || die "maps.h5: $1 != $2"
import sys, h5py, numpy as np
a, b = (h5py.File(p + "/maps.h5", "r")["maps"] for p in sys.argv[1:3])
assert sorted(a) == sorted(b) and len(a) == 70, (len(a), len(b))
for k in a:
    assert np.array_equal(a[k][()], b[k][()]), k
PY
  for f in "$1"/*.png; do cmp "$f" "$2/$(basename "$f")" || die "$(basename "$f"): $1 != $2"; done
}
MAPS=(infer-maps "${TINY[@]}" --ckpt "$WORK/c2am")
"$C2AM" "${MAPS[@]}" -o "$WORK/maps1" > "$WORK/maps1.log" 2>&1 || { cat "$WORK/maps1.log"; die "infer-maps, 1 process"; }
mpirun2 "$C2AM" "${MAPS[@]}" -o "$WORK/maps2" > "$WORK/maps2.log" 2>&1 || { cat "$WORK/maps2.log"; die "infer-maps, 2 ranks"; }
cat "$WORK/maps2.log"
same_maps "$WORK/maps1" "$WORK/maps2"
[ "$(ls "$WORK"/maps1/*.png | wc -l)" -eq 70 ] || die "not one PNG per image"

CUES=(bg-cues "${TINY[@]}" --maps "$WORK/maps1")
"$C2AM" "${CUES[@]}" -o "$WORK/cues1" > "$WORK/cues1.log" 2>&1 || { cat "$WORK/cues1.log"; die "bg-cues, 1 process"; }
mpirun2 "$C2AM" "${CUES[@]}" -o "$WORK/cues2" > "$WORK/cues2.log" 2>&1 || { cat "$WORK/cues2.log"; die "bg-cues, 2 ranks"; }
for f in "$WORK"/cues1/*.png; do cmp "$f" "$WORK/cues2/$(basename "$f")" || die "cue $(basename "$f") differs"; done
[ "$(ls "$WORK"/cues2/*.png | wc -l)" -eq 70 ] || die "not one cue per image"

CAMS=(infer-cams "${TINY[@]}" --ckpt "$WORK/cls")
"$C2AM" "${CAMS[@]}" -o "$WORK/cams1" > "$WORK/cams1.log" 2>&1 || { cat "$WORK/cams1.log"; die "infer-cams, 1 process"; }
mpirun2 "$C2AM" "${CAMS[@]}" -o "$WORK/cams2" > "$WORK/cams2.log" 2>&1 || { cat "$WORK/cams2.log"; die "infer-cams, 2 ranks"; }
"$PY" - "$WORK/cams1" "$WORK/cams2" "$WORK/voc_raw" <<'PY' || die "CAM files differ between 1 process and 2 ranks"
import sys, glob, os, h5py, numpy as np
from PIL import Image
files = sorted(glob.glob(sys.argv[1] + "/*.h5"))
assert len(files) == 70, len(files)
for f in files:
    a, b = h5py.File(f, "r"), h5py.File(sys.argv[2] + "/" + os.path.basename(f), "r")
    assert np.array_equal(a["keys"][()], b["keys"][()]) and np.array_equal(a["cams"][()], b["cams"][()]), f
    # the keys are the classes of the image's mask
    m = np.array(Image.open(sys.argv[3] + "/SegmentationClassAug/" + os.path.basename(f)[:-3] + ".png"))
    want = sorted(set(np.unique(m).tolist()) - {0, 255})
    assert a["keys"][()].tolist() == want, (f, a["keys"][()], want)
PY

# kill -9 on 2 ranks mid-run, then resume on 1 process.
mpirun2 "$C2AM" "${MAPS[@]}" -o "$WORK/cut" > "$WORK/cut.log" 2>&1 &
job=$!
kill9_when "ls \"$WORK\"/cut/parts/chunk-*.done | wc -l" 120 1 "c2am infer-maps .*$WORK/cut"
wait "$job" 2>/dev/null || true
done_chunks=$(ls "$WORK"/cut/parts/chunk-*.done | wc -l)
echo "killed with $done_chunks of 5 chunks done"
[ "$done_chunks" -lt 5 ] || die "the run finished before the kill: a weak test"
[ ! -e "$WORK/cut/maps.h5" ] || die "a killed run wrote maps.h5"
"$C2AM" "${MAPS[@]}" -o "$WORK/cut" > "$WORK/resume.log" 2>&1 || { cat "$WORK/resume.log"; die "rerun"; }
grep -q "resuming" "$WORK/resume.log" || { cat "$WORK/resume.log"; die "the rerun did not resume"; }
same_maps "$WORK/maps1" "$WORK/cut"

"$C2AM" "${MAPS[@]}" -o "$WORK/maps1" > "$WORK/again.log" 2>&1 || { cat "$WORK/again.log"; die "rerun on a finished folder"; }
grep -q "70 resumed, 0 computed now" "$WORK/again.log" || { cat "$WORK/again.log"; die "the rerun recomputed"; }
"$C2AM" "${MAPS[@]}" --scales 1.0 -o "$WORK/maps1" > "$WORK/other.log" 2>&1 && die "other scales reused the parts"
grep -q "with --force" "$WORK/other.log" || { cat "$WORK/other.log"; die "no hint to --force"; }
echo "PASS: infer-maps, bg-cues, infer-cams: 1 process = 2 ranks; kill -9 + resume = uninterrupted; settings checked"
