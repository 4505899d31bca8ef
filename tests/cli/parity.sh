#!/usr/bin/env bash
# CLI test: `c2am parity` on weights and a batch written by PyTorch equals the
# PyTorch reference (tests/fixtures/c2am_reference.py) within tolerance.
# Usage: parity.sh C2AM_BINARY SOURCE_DIR WORK_DIR ARCH
set -euo pipefail
c2am=$1 src=$2 work=$3 arch=$4
rm -rf "$work" && mkdir -p "$work"
/usr/bin/python3 "$src/tests/fixtures/make_parity_inputs.py" "$arch" "$work" --size 64 --batch 4 --seed 0 --alpha 0.05
"$c2am" parity --weights "$work/weights.pth" --batch "$work/batch.pt" --alpha 0.05 -o "$work/actual.pt" --threads 1
/usr/bin/python3 "$src/tests/fixtures/compare_parity.py" "$work/expected.pt" "$work/actual.pt" --rtol 1e-4 --atol 1e-5
