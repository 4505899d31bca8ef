#!/usr/bin/env bash
# The data-parallel contract, end to end through `c2am train`: 2 ranks x 4
# images = 1 process x 8 images (same global batch, same images), BatchNorm
# synchronised. float32 training (lr 0.002): losses agree to 1e-4 relative at
# every step, parameters and BatchNorm statistics after 3 steps to 1e-3 relative +
# 1e-4 absolute (tests/comm/test_comm.cpp shows 1e-9 in float64).
source "$(dirname "$0")/common.sh"
STEPS=(--set train.max_steps=3 --set dist.sync_batchnorm=all --set train.lr=0.002)
"$C2AM" train "${TINY[@]}" "${STEPS[@]}" -o "$WORK/one" > "$WORK/one.log" 2>&1 || { cat "$WORK/one.log"; die "1 process"; }
mpirun2 "$C2AM" train "${TINY[@]}" "${STEPS[@]}" -o "$WORK/two" > "$WORK/two.log" 2>&1 ||
  { cat "$WORK/two.log"; die "2 ranks"; }
grep -q "world: 2 ranks (mpi backend" "$WORK/two.log" || die "the run does not name its world size"
grep -q "per rank" "$WORK/two.log" || die "the run does not report per-rank throughput"
[ "$(wc -l < "$WORK/two/metrics.jsonl")" -eq 3 ] || die "metrics.jsonl has $(wc -l < "$WORK/two/metrics.jsonl") lines, not 3 (only rank 0 writes)"
"$PY" - "$WORK/one/metrics.jsonl" "$WORK/two/metrics.jsonl" <<'PY'
import json, sys
one = [json.loads(l) for l in open(sys.argv[1])]
two = [json.loads(l) for l in open(sys.argv[2])]
assert len(one) == len(two) == 3, (len(one), len(two))
for a, b in zip(one, two):
    for k in ("loss", "pos_bg", "neg", "pos_fg"):
        rel = abs(a[k] - b[k]) / abs(a[k])
        print(f"step {a['step']} {k}: 1 process {a[k]:.7f}, 2 ranks {b[k]:.7f}, rel {rel:.1e}")
        assert rel < 1e-4, "loss differs"
    assert b["world"] == 2
PY
"$PY" "$SRC/tests/comm/compare_checkpoints.py" "$WORK"/one/checkpoints/ckpt-*.pt "$WORK"/two/checkpoints/ckpt-*.pt \
  --rtol 1e-3 --atol 1e-4 || die "parameters differ"
# dist.negatives = local (the reference's per-GPU contrast) trains too; its gradient rule is
# checked exactly in test_comm.cpp (LocalNegatives).
mpirun2 "$C2AM" train "${TINY[@]}" "${STEPS[@]}" --set dist.negatives=local -o "$WORK/local" > "$WORK/local.log" 2>&1 ||
  { cat "$WORK/local.log"; die "2 ranks with local negatives"; }
grep -q "local negatives" "$WORK/local.log" || die "the run does not say its negatives are local"
echo "PASS: 2 ranks x 4 = 1 process x 8"
