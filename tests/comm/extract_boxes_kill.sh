#!/usr/bin/env bash
# `c2am extract-boxes` killed with kill -9 mid-run on 2 ranks, a partly
# written chunk file planted (no done marker), then rerun on 1 process: the
# rerun skips the done chunks, computes only the others (the planted one
# included) and ends with the same chunk files, boxes.jsonl and
# pseudo_boxes.json as an uninterrupted run.
source "$(dirname "$0")/common.sh"
"$C2AM" train "${TINY[@]}" --set train.max_steps=4 -o "$WORK/run" > "$WORK/train.log" 2>&1 ||
  { cat "$WORK/train.log"; die "training"; }
# eval.batch_size=1: chunks of 8 images, 8 chunks of the 64, 4 per rank; a chunk
# takes a fraction of a second or more, so the kill at the first done marker
# lands with several chunks left on each rank.
EXTRACT=(extract-boxes "${TINY[@]}" --ckpt "$WORK/run" --threshold 0.9 --set data.test_resize=256
         --set data.test_crop=224 --set eval.batch_size=1)
CHUNKS=8
"$C2AM" "${EXTRACT[@]}" -o "$WORK/full" > "$WORK/full.log" 2>&1 || { cat "$WORK/full.log"; die "uninterrupted run"; }
[ "$(ls "$WORK"/full/parts/boxes-*.jsonl | wc -l)" -eq $CHUNKS ] || die "not $CHUNKS chunk files"

mpirun2 "$C2AM" "${EXTRACT[@]}" -o "$WORK/cut" > "$WORK/cut.log" 2>&1 &
job=$!
kill9_when "ls \"$WORK\"/cut/parts/chunk-*.done | wc -l" 120 1 "c2am extract-boxes .*$WORK/cut"
wait "$job" 2>/dev/null || true
done_chunks=$(ls "$WORK"/cut/parts/chunk-*.done | wc -l)
echo "killed with $done_chunks of $CHUNKS chunks done"
[ "$done_chunks" -lt $((CHUNKS - 1)) ] || die "the run (nearly) finished before the kill: a weak test"
[ ! -e "$WORK/cut/boxes.jsonl" ] || die "a killed run wrote boxes.jsonl"
# A chunk not done gets a partly written boxes file (as if killed mid-write).
for k in $(seq 0 $((CHUNKS - 1))); do
  torn=$(printf '%s/cut/parts/boxes-%06d.jsonl' "$WORK" "$k")
  [ -e "$(printf '%s/cut/parts/chunk-%06d.done' "$WORK" "$k")" ] || break
done
head -c 150 "$WORK/full/parts/$(basename "$torn")" > "$torn"
"$C2AM" "${EXTRACT[@]}" -o "$WORK/cut" > "$WORK/resume.log" 2>&1 || { cat "$WORK/resume.log"; die "rerun"; }
cat "$WORK/resume.log"
grep -q "resuming: " "$WORK/resume.log" || die "the rerun did not resume"
resumed=$((done_chunks * 64 / CHUNKS))
grep -q "64 ($resumed resumed, $((64 - resumed)) computed now" "$WORK/resume.log" ||
  die "the rerun did not compute exactly the $((CHUNKS - done_chunks)) chunks left"
for f in "$WORK"/full/parts/boxes-*.jsonl; do
  cmp "$f" "$WORK/cut/parts/$(basename "$f")" || die "$(basename "$f") after kill + rerun != uninterrupted"
done
cmp "$WORK/full/boxes.jsonl" "$WORK/cut/boxes.jsonl" || die "boxes.jsonl after kill + rerun != uninterrupted"
cmp "$WORK/full/pseudo_boxes.json" "$WORK/cut/pseudo_boxes.json" || die "pseudo_boxes.json differs"
echo "PASS: kill -9 mid-run (2 ranks) + a torn chunk + rerun (1 process) = uninterrupted run"
