#!/usr/bin/env bash
# `c2am extract-boxes` on 1 process and on 2 ranks (uneven tail: rank 1's
# last batch is empty) writes the same boxes.jsonl and pseudo_boxes.json;
# each rank streamed its own part file; a rerun on a finished folder computes
# nothing and changes nothing; --force starts over.
source "$(dirname "$0")/common.sh"
"$C2AM" train "${TINY[@]}" --set train.max_steps=4 -o "$WORK/run" > "$WORK/train.log" 2>&1 ||
  { cat "$WORK/train.log"; die "training"; }
# tau 0.9 and a 14 x 14 map give boxes that differ from image to image.
EXTRACT=(extract-boxes "${TINY[@]}" --ckpt "$WORK/run" --threshold 0.9 --set data.test_resize=256
         --set data.test_crop=224 --set eval.batch_size=6)
"$C2AM" "${EXTRACT[@]}" -o "$WORK/one" > "$WORK/one.log" 2>&1 || { cat "$WORK/one.log"; die "1 process"; }
mpirun2 "$C2AM" "${EXTRACT[@]}" -o "$WORK/two" > "$WORK/two.log" 2>&1 || { cat "$WORK/two.log"; die "2 ranks"; }
cat "$WORK/two.log"
[ "$(wc -l < "$WORK/one/boxes.jsonl")" -eq 64 ] || die "1 process: $(wc -l < "$WORK/one/boxes.jsonl") boxes, 64 expected"
[ "$(cut -d'[' -f2 "$WORK/one/boxes.jsonl" | sort -u | wc -l)" -gt 8 ] || die "boxes hardly vary: a weak test"
for r in 0 1; do
  [ -s "$WORK/two/parts/boxes-rank$r.jsonl" ] || die "rank $r wrote no part file"
done
cmp "$WORK/one/boxes.jsonl" "$WORK/two/boxes.jsonl" || die "boxes.jsonl: 1 process != 2 ranks"
cmp "$WORK/one/pseudo_boxes.json" "$WORK/two/pseudo_boxes.json" || die "pseudo_boxes.json: 1 process != 2 ranks"
cp "$WORK/two/boxes.jsonl" "$WORK/before.jsonl"
mpirun2 "$C2AM" "${EXTRACT[@]}" -o "$WORK/two" > "$WORK/again.log" 2>&1 || { cat "$WORK/again.log"; die "rerun"; }
grep -q "64 resumed, 0 computed now" "$WORK/again.log" || { cat "$WORK/again.log"; die "the rerun recomputed"; }
cmp "$WORK/before.jsonl" "$WORK/two/boxes.jsonl" || die "a rerun on a finished folder changed boxes.jsonl"
"$C2AM" "${EXTRACT[@]}" -o "$WORK/two" --force > "$WORK/force.log" 2>&1 || { cat "$WORK/force.log"; die "--force"; }
grep -q "0 resumed, 64 computed now" "$WORK/force.log" || { cat "$WORK/force.log"; die "--force did not start over"; }
[ ! -e "$WORK/two/parts/boxes-rank1.jsonl" ] || die "--force kept rank 1's old part"
cmp "$WORK/before.jsonl" "$WORK/two/boxes.jsonl" || die "--force gave other boxes"
"$C2AM" "${EXTRACT[@]}" -o "$WORK/two" --threshold 0.8 > "$WORK/other.log" 2>&1 && die "another tau reused the parts"
grep -q "with --force" "$WORK/other.log" || { cat "$WORK/other.log"; die "no hint to --force"; }
echo "PASS: 1 process = 2 ranks (boxes.jsonl, pseudo_boxes.json); rerun computes nothing; --force starts over"
