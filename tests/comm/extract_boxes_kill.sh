#!/usr/bin/env bash
# `c2am extract-boxes` killed with kill -9 mid-run on 2 ranks, a torn line
# appended to a part, then rerun on 1 process: the rerun skips what is done,
# cuts the torn line off, and ends with the same boxes.jsonl and
# pseudo_boxes.json as an uninterrupted run.
source "$(dirname "$0")/common.sh"
"$C2AM" train "${TINY[@]}" --set train.max_steps=4 -o "$WORK/run" > "$WORK/train.log" 2>&1 ||
  { cat "$WORK/train.log"; die "training"; }
EXTRACT=(extract-boxes "${TINY[@]}" --ckpt "$WORK/run" --threshold 0.9 --set data.test_resize=256
         --set data.test_crop=224 --set eval.batch_size=2)
"$C2AM" "${EXTRACT[@]}" -o "$WORK/full" > "$WORK/full.log" 2>&1 || { cat "$WORK/full.log"; die "uninterrupted run"; }

mpirun2 "$C2AM" "${EXTRACT[@]}" -o "$WORK/cut" > "$WORK/cut.log" 2>&1 &
job=$!
kill9_when "cat \"$WORK\"/cut/parts/boxes-rank*.jsonl | wc -l" 60 12 "c2am extract-boxes .*$WORK/cut"
wait "$job" 2>/dev/null || true
done_lines=$(cat "$WORK"/cut/parts/boxes-rank*.jsonl | wc -l)
echo "killed with $done_lines boxes written"
[ "$done_lines" -lt 64 ] || die "the run finished before the kill: a weak test"
[ ! -e "$WORK/cut/boxes.jsonl" ] || die "a killed run wrote boxes.jsonl"
printf '{"index":63,"name":"images/' >> "$WORK/cut/parts/boxes-rank0.jsonl"  # a torn write
"$C2AM" "${EXTRACT[@]}" -o "$WORK/cut" > "$WORK/resume.log" 2>&1 || { cat "$WORK/resume.log"; die "rerun"; }
cat "$WORK/resume.log"
grep -q "resuming: " "$WORK/resume.log" || die "the rerun did not resume"
grep -q "computed now" "$WORK/resume.log" || die "no summary"
cmp "$WORK/full/boxes.jsonl" "$WORK/cut/boxes.jsonl" || die "boxes.jsonl after kill + rerun != uninterrupted"
cmp "$WORK/full/pseudo_boxes.json" "$WORK/cut/pseudo_boxes.json" || die "pseudo_boxes.json differs"
if grep -qv '}$' "$WORK/cut/parts/boxes-rank0.jsonl"; then die "the torn line was not cut off"; fi
echo "PASS: kill -9 mid-run (2 ranks) + rerun (1 process) = uninterrupted run"
