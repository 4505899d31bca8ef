#!/usr/bin/env bash
# WSOL evaluation over ranks: 2 ranks training with periodic evaluation
# (eval.every_epochs = 1) log one "eval" metrics line per epoch; then
# `c2am eval-wsol` on 2 ranks gives exactly the figures of 1 process
# (CorLoc per tau, MaxBoxAccV2 curves, centred baseline, Top-1/Top-5 Loc from a
# class prediction file), and --save-maps writes the same boxes.jsonl and maps.
source "$(dirname "$0")/common.sh"
"$C2AM" pack "$WORK/raw" -o "$WORK/data/test" --layout cub --split test >/dev/null 2>&1
mpirun2 "$C2AM" train "${TINY[@]}" --set train.epochs=2 --set data.test_resize=64 --set data.test_crop=64 \
  --set eval.every_epochs=1 --set eval.heatmaps=4 -o "$WORK/run" > "$WORK/train.log" 2>&1 ||
  { cat "$WORK/train.log"; die "training with periodic evaluation"; }
[ "$(grep -c '"kind":"eval"' "$WORK/run/metrics.jsonl")" -eq 2 ] || die "expected 2 eval lines in metrics.jsonl"
[ -f "$WORK/run/eval/epoch-002/metrics.json" ] || die "no eval/epoch-002/metrics.json"
grep "eval after epoch" "$WORK/train.log"

# Class predictions: the true class for even-numbered images, a wrong one (then the true one) for odd.
"$PY" - "$WORK/data/test" "$WORK/pred.csv" <<'PY'
import glob, sys
import h5py
out = open(sys.argv[2], "w")
k = 0
for shard in sorted(glob.glob(sys.argv[1] + "/*.h5")):
    with h5py.File(shard, "r") as f:
        nb, no = f["images/name_bytes"][()].tobytes(), f["images/name_offsets"][()]
        names = [nb[no[i]:no[i + 1]].decode("utf-8") for i in range(len(no) - 1)]
        for name, label in zip(names, f["images/label"][()]):
            first = [int(label)] if k % 2 == 0 else [int(label) + 1, int(label)]
            out.write(name + "," + ",".join(map(str, first)) + "\n")
            k += 1
print(f"{k} predictions")
PY
EVAL=(-c "$SRC/configs/synth_demo.toml" --data "$WORK/data" --set data.test_resize=64 --set data.test_crop=64
      --set run.threads=1 --set eval.batch_size=4 --ckpt "$WORK/run" --heatmaps 2 --class-predictions "$WORK/pred.csv")
"$C2AM" eval-wsol "${EVAL[@]}" -o "$WORK/one" --save-maps "$WORK/one/saved" > "$WORK/one.log" 2>&1 ||
  { cat "$WORK/one.log"; die "eval on 1 process"; }
mpirun2 "$C2AM" eval-wsol "${EVAL[@]}" -o "$WORK/two" --save-maps "$WORK/two/saved" > "$WORK/two.log" 2>&1 ||
  { cat "$WORK/two.log"; die "eval on 2 ranks"; }
cat "$WORK/two.log" | grep -E "CorLoc|MaxBox|Top-1|ranks"
"$PY" - "$WORK/one/metrics.json" "$WORK/two/metrics.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["ranks"] == 2 and a["ranks"] == 1, (a["ranks"], b["ranks"])
for k in ("corloc", "maxboxacc", "centre_box_baseline_corloc", "images", "top_k_loc"):
    assert a[k] == b[k], f"{k} differs: {a[k]} vs {b[k]}"
t = a["top_k_loc"]
assert abs(t["top1_cls"] - 50.0) < 1e-9 and t["top5_cls"] == 100.0, t
assert t["top1_loc"] <= a["corloc"]["best_accuracy"] and t["top5_loc"] == a["corloc"]["best_accuracy"], t
print(f"identical: {a['images']} images, CorLoc {a['corloc']['best_accuracy']}, "
      f"MaxBoxAccV2 {a['maxboxacc']['max_box_acc_v2']}, Top-1 Loc {t['top1_loc']}")
PY
cmp "$WORK/one/saved/boxes.jsonl" "$WORK/two/saved/boxes.jsonl" || die "boxes.jsonl differs between 1 and 2 ranks"
[ "$(wc -l < "$WORK/one/saved/boxes.jsonl")" -eq 16 ] || die "boxes.jsonl should have 16 lines"
diff -r "$WORK/one/saved/maps" "$WORK/two/saved/maps" || die "saved maps differ"
echo "PASS: 2-rank evaluation = 1 process; periodic evaluation logged"
