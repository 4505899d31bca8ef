#!/usr/bin/env bash
# `c2am bench train` on the CPU: synthetic tensors over two batch sizes (fp32,
# then bf16 autocast + channels_last) and end to end from a packed split; every
# point reports images/s and a peak memory; the JSON file matches stdout.
set -euo pipefail
C2AM=$1 WORK=$2
PY=/usr/bin/python3
rm -rf "$WORK" && mkdir -p "$WORK"
die() { echo "FAIL: $*" >&2; exit 1; }
"$C2AM" bench train --set model.arch=resnet18 --set run.precision=fp32 --set run.channels_last=false --batches 2,4 --size 64 --steps 2 --warmup 1 --threads 2 \
  -o "$WORK/fp32.json" > "$WORK/fp32.out" 2> "$WORK/fp32.log" || { cat "$WORK/fp32.log"; die "fp32"; }
"$C2AM" bench train --set model.arch=resnet18 --set run.precision=bf16 --set run.channels_last=true --batches 2 \
  --size 64 --steps 2 --warmup 1 --threads 2 -o "$WORK/bf16.json" > "$WORK/bf16.out" 2> "$WORK/bf16.log" ||
  { cat "$WORK/bf16.log"; die "bf16"; }
"$C2AM" synth cub "$WORK/raw" --train 24 --test 4 --seed 1 > /dev/null 2>&1
"$C2AM" pack "$WORK/raw" -o "$WORK/data/train" --layout cub --split train > /dev/null 2>&1
"$C2AM" bench train -c configs/synth_demo.toml --data "$WORK/data" --batches 4 --steps 2 --warmup 1 --threads 2 \
  --end-to-end -o "$WORK/e2e.json" > "$WORK/e2e.out" 2> "$WORK/e2e.log" || { cat "$WORK/e2e.log"; die "end to end"; }
cat "$WORK/fp32.out" "$WORK/e2e.out"
"$PY" - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
for name, batches in (("fp32", [2, 4]), ("bf16", [2]), ("e2e", [4])):
    r = json.load(open(f"{w}/{name}.json"))
    assert r["device"] == "cpu", r
    assert [p["batch"] for p in r["points"]] == batches, r
    for p in r["points"]:
        assert p["ok"] and p["images_per_second"] > 0 and p["peak_memory_mib"] > 0, p
    assert open(f"{w}/{name}.json").read().strip() == open(f"{w}/{name}.out").read().strip().splitlines()[-1], name
assert "bf16 channels_last" in json.load(open(f"{w}/bf16.json"))["description"]
assert "end to end" in json.load(open(f"{w}/e2e.json"))["description"]
PY
echo "PASS: bench train (synthetic fp32 and bf16 + channels_last, end to end)"
