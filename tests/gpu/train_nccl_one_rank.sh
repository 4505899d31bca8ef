#!/usr/bin/env bash
# The NCCL communicator runs the real training loop on one rank, without a
# launcher and under mpirun -np 1 (NCCL id over MPI), in bf16 autocast with
# channels_last: the run completes, logs finite losses and resumes.
source "$(dirname "$0")/common.sh"
GPU=(--set dist.backend=nccl --set run.precision=bf16 --set run.channels_last=true --set train.max_steps=6)
"$C2AM" train "${TINY[@]}" "${GPU[@]}" -o "$WORK/solo" > "$WORK/solo.log" 2>&1 || { cat "$WORK/solo.log"; die "one process"; }
grep -q "device cuda:0, bf16, channels_last" "$WORK/solo.log" || { cat "$WORK/solo.log"; die "not on the GPU in bf16"; }
"$MPIRUN" -np 1 "$C2AM" train "${TINY[@]}" "${GPU[@]}" -o "$WORK/mpi1" > "$WORK/mpi1.log" 2>&1 ||
  { cat "$WORK/mpi1.log"; die "mpirun -np 1"; }
"$PY" - "$WORK/solo/metrics.jsonl" "$WORK/mpi1/metrics.jsonl" <<'PY'
import json, math, sys
for path in sys.argv[1:]:
    rows = [json.loads(l) for l in open(path) if '"kind":"train"' in l]
    assert len(rows) == 6, (path, len(rows))
    assert all(math.isfinite(r["loss"]) for r in rows), path
PY
"$C2AM" train "${TINY[@]}" "${GPU[@]}" --set train.max_steps=9 -o "$WORK/solo" --resume auto > "$WORK/resume.log" 2>&1 ||
  { cat "$WORK/resume.log"; die "resume on the GPU"; }
grep -q "resumed from" "$WORK/resume.log" || die "did not resume"
echo "PASS: NCCL, one rank, bf16 + channels_last: trains and resumes"
