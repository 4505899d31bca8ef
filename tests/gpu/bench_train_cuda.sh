#!/usr/bin/env bash
# `c2am bench train` on the GPU, synthetic and end to end, fp32 and bf16 +
# channels_last: every point runs and reports a peak memory.
source "$(dirname "$0")/common.sh"
for prec in "fp32 false" "bf16 true"; do
  set -- $prec
  "$C2AM" bench train --set model.arch=resnet18 --set run.device=cuda --set run.precision=$1 \
    --set run.channels_last=$2 --batches 8,16 --size 64 --steps 3 --warmup 1 -o "$WORK/synthetic_$1.json" \
    > "$WORK/bench_$1.log" 2>&1 || { cat "$WORK/bench_$1.log"; die "bench $1"; }
done
"$C2AM" bench train "${TINY[@]}" --batches 8 --steps 3 --warmup 1 --end-to-end -o "$WORK/e2e.json" \
  > "$WORK/e2e.log" 2>&1 || { cat "$WORK/e2e.log"; die "bench end to end"; }
"$PY" - "$WORK"/synthetic_fp32.json "$WORK"/synthetic_bf16.json "$WORK"/e2e.json <<'PY'
import json, sys
for path in sys.argv[1:]:
    r = json.load(open(path))
    assert r["device"].startswith("cuda"), r
    for p in r["points"]:
        assert p["ok"] and p["images_per_second"] > 0 and p["peak_memory_mib"] > 0, (path, p)
PY
echo "PASS: bench train on CUDA"
