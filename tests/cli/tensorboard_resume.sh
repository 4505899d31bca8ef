#!/usr/bin/env bash
# TensorBoard event files across a stop and a resume, read back by an
# independent reader (tests/monitor/read_tfevents.py: hand-decoded TFRecord
# framing, both CRC-32C checked, python3-protobuf parsing Event messages
# declared with TensorBoard's field numbers). A tiny run trains 3 steps
# (evaluating at the end of epoch 1), loses its newest checkpoint (as if
# killed after logging step 3), resumes from step 2 and finishes 6 steps.
# Every numeric field of every metrics line must be a scalar "<kind>/<field>"
# at its step, once, with the resumed session's value; the heatmap sheet of
# each evaluation an image; the config a text summary. Then eval-wsol's
# threshold sweeps, and `c2am report` on the run (kept for report_browser.sh).
set -euo pipefail
C2AM=$1 SRC=$2 WORK=$3
PY=/usr/bin/python3  # Debian's python3-protobuf; a pyenv python3 on PATH has none
die() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK"
"$C2AM" synth cub "$WORK/raw" --train 16 --test 8 --seed 1 > /dev/null 2>&1
"$C2AM" pack "$WORK/raw" -o "$WORK/data/train" --layout cub --split train > /dev/null 2>&1
"$C2AM" pack "$WORK/raw" -o "$WORK/data/test" --layout cub --split test > /dev/null 2>&1
RUN=$WORK/run
TINY=(-c "$SRC/configs/synth_demo.toml" --data "$WORK/data" -o "$RUN" --set data.train_resize=72
      --set data.train_crop=64 --set data.test_resize=64 --set data.test_crop=64 --set train.batch_size=8
      --set train.epochs=3 --set train.log_every=1 --set eval.every_epochs=1 --set eval.heatmaps=4
      --set train.keep_checkpoints=5 --threads 2)
"$C2AM" train "${TINY[@]}" --set train.max_steps=3 > "$WORK/first.out" 2> "$WORK/first.log" ||
  { cat "$WORK/first.log"; die "first training session"; }
rm "$RUN/checkpoints/ckpt-000000003.pt"  # killed after logging step 3, before checkpointing it
"$C2AM" train "${TINY[@]}" --resume auto > "$WORK/second.out" 2> "$WORK/second.log" ||
  { cat "$WORK/second.log"; die "resumed training session"; }
grep -q "resumed from .*ckpt-000000002.pt at step 2" "$WORK/second.log" || die "did not resume from step 2"
grep -q "tensorboard: dropped .* earlier records at steps >= 3" "$WORK/second.log" || die "no purge reported"
grep -q "tensorboard --logdir $RUN/tb" "$WORK/second.log" || die "no tensorboard hint"
"$C2AM" eval-wsol "${TINY[@]:0:4}" --set data.test_resize=64 --set data.test_crop=64 --ckpt "$RUN" \
  -o "$RUN/eval_final" --heatmaps 4 > "$WORK/eval.out" 2> "$WORK/eval.log" || { cat "$WORK/eval.log"; die "eval-wsol"; }
grep -q "tensorboard     $RUN/eval_final/tb" "$WORK/eval.out" || die "eval-wsol does not name its tb folder"
"$C2AM" report "$RUN" > "$WORK/report.out" 2>&1 || { cat "$WORK/report.out"; die "report"; }
cat "$WORK/report.out"

"$PY" - "$SRC/tests/monitor" "$RUN" <<'PY'
import json, struct, sys
sys.path.insert(0, sys.argv[1])
import read_tfevents as rt
run = sys.argv[2]
tb = run + "/tb"

files = rt.event_files(tb)
assert len(files) == 2, files  # one per session
for f in files:
    first = rt.Event()
    first.ParseFromString(next(rt.records(f)))  # checksums are checked as records are read
    assert first.file_version == "brain.Event:2", (f, first)
starts = [e.step for _, e in rt.events(tb) if e.HasField("session_log") and e.session_log.status == 1]
assert starts == [0, 3], starts

# The resumed session's metrics lines (sessions.jsonl: start step and metrics offset).
sessions = [json.loads(l) for l in open(run + "/sessions.jsonl")]
assert [s["start_step"] for s in sessions] == [0, 3], sessions
assert all(s["world"] == 1 and s["host"] and s["logical_cpus"] > 0 for s in sessions), sessions
text = open(run + "/metrics.jsonl", "rb").read()
lines = []
at = 0
for raw in text.split(b"\n")[:-1]:
    lines.append((at, json.loads(raw)))
    at += len(raw) + 1
live = [j for off, j in lines
        if not any(off < s["metrics_offset"] and j["step"] >= s["start_step"] for s in sessions)]
assert len(live) < len(lines), "the first session's step 3 should be superseded"

loaded = rt.load(tb)  # TensorBoard's restart rule applied
raw_points = {}
for _, e in rt.events(tb):  # and on disk: no step twice even without the rule
    if e.HasField("summary"):
        for v in e.summary.value:
            raw_points.setdefault(v.tag, []).append(e.step)
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
expected = {}
for j in live:
    for k, v in j.items():
        if k not in ("kind", "step") and isinstance(v, (int, float)):
            expected.setdefault(f"{j['kind']}/{k}", []).append((j["step"], v))
for tag in ["train/" + t for t in ("loss", "pos_bg", "neg", "pos_fg", "lr", "img_per_s")] + \
           ["eval/corloc", "eval/max_box_acc_v2", "eval/best_threshold"]:
    assert tag in expected, f"{tag} is not in metrics.jsonl"
for tag, want in expected.items():
    got = [(s, v) for s, kind, v in loaded.get(tag, []) if kind == "scalar"]
    assert [s for s, _ in got] == [s for s, _ in want], (tag, got, want)
    for (_, g), (_, w) in zip(got, want):
        assert abs(g - f32(w)) <= 1e-6 * max(1, abs(w)), (tag, g, w)
    assert sorted(raw_points[tag]) == sorted(set(raw_points[tag])), (tag, raw_points[tag])
assert [s for s, _ in expected["train/loss"]] == [1, 2, 3, 4, 5, 6], expected["train/loss"]
assert [s for s, _ in expected["eval/corloc"]] == [2, 4, 6], expected["eval/corloc"]

images = loaded["eval/heatmaps"]
assert [s for s, _, _ in images] == [2, 4, 6], [s for s, _, _ in images]
for _, kind, im in images:
    png = im.encoded_image_string
    assert kind == "image" and png[:8] == b"\x89PNG\r\n\x1a\n", kind
    assert struct.unpack(">II", png[16:24]) == (im.width, im.height), (im.width, im.height)
config = loaded["config"]
assert [(s, k) for s, k, _ in config] == [(0, "text:text"), (3, "text:text")], [(s, k) for s, k, _ in config]
assert "[model]" in config[-1][2] and 'arch = "resnet18"' in config[-1][2]

ev = rt.load(run + "/eval_final/tb")
assert [s for s, _, _ in ev["eval_sweep/corloc"]] == list(range(5, 100, 5)), ev["eval_sweep/corloc"]
assert len(ev["eval_sweep/box_acc_iou_0.5"]) == 1000
metrics = json.load(open(run + "/eval_final/metrics.json"))
assert [s for s, _, _ in ev["eval/corloc"]] == [6]
assert abs(ev["eval/corloc"][0][2] - metrics["corloc"]["best_accuracy"]) < 1e-4
assert [s for s, _, _ in ev["eval/heatmaps"]] == [6]
n = sum(1 for _ in rt.events(tb)) + sum(1 for _ in rt.events(run + "/eval_final/tb"))
print(f"read {n} events from {len(files)} + {len(rt.event_files(run + '/eval_final/tb'))} files, every CRC checked; "
      f"{len(expected)} scalar tags at the right steps across the resume")
PY
grep -q "section  training: \." "$WORK/report.out" || die "report: no training section"
grep -q "section  WSOL evaluation: eval_final" "$WORK/report.out" || die "report: no WSOL section"
test -s "$RUN/report.html" || die "no report.html"
echo "PASS: TensorBoard events across a resume, read back independently; eval sweeps; report"
