#!/usr/bin/env bash
# `c2am extract-boxes` on 1 process and on 2 ranks (two chunks of 48 and 16
# images, one per rank; short last batches) writes the same chunk files,
# boxes.jsonl and pseudo_boxes.json; a rerun on a finished folder computes
# nothing and changes nothing; --force starts over; another tau is refused.
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
[ "$(ls "$WORK"/two/parts/chunk-*.done | wc -l)" -eq 2 ] || die "not 2 done chunks (8 x eval.batch_size = 48 images each)"
for k in 000000 000001; do
  cmp "$WORK/one/parts/boxes-$k.jsonl" "$WORK/two/parts/boxes-$k.jsonl" || die "chunk $k: 1 process != 2 ranks"
done
cmp "$WORK/one/boxes.jsonl" "$WORK/two/boxes.jsonl" || die "boxes.jsonl: 1 process != 2 ranks"
cmp "$WORK/one/pseudo_boxes.json" "$WORK/two/pseudo_boxes.json" || die "pseudo_boxes.json: 1 process != 2 ranks"
cp "$WORK/two/boxes.jsonl" "$WORK/before.jsonl"
touch "$WORK/two/parts/stale"
mpirun2 "$C2AM" "${EXTRACT[@]}" -o "$WORK/two" > "$WORK/again.log" 2>&1 || { cat "$WORK/again.log"; die "rerun"; }
grep -q "64 resumed, 0 computed now" "$WORK/again.log" || { cat "$WORK/again.log"; die "the rerun recomputed"; }
cmp "$WORK/before.jsonl" "$WORK/two/boxes.jsonl" || die "a rerun on a finished folder changed boxes.jsonl"
"$C2AM" "${EXTRACT[@]}" -o "$WORK/two" --force > "$WORK/force.log" 2>&1 || { cat "$WORK/force.log"; die "--force"; }
grep -q "0 resumed, 64 computed now" "$WORK/force.log" || { cat "$WORK/force.log"; die "--force did not start over"; }
[ ! -e "$WORK/two/parts/stale" ] || die "--force kept the old parts folder"
cmp "$WORK/before.jsonl" "$WORK/two/boxes.jsonl" || die "--force gave other boxes"
"$C2AM" "${EXTRACT[@]}" -o "$WORK/two" --threshold 0.8 > "$WORK/other.log" 2>&1 && die "another tau reused the parts"
grep -q "with --force" "$WORK/other.log" || { cat "$WORK/other.log"; die "no hint to --force"; }
echo "PASS: 1 process = 2 ranks (boxes.jsonl, pseudo_boxes.json); rerun computes nothing; --force starts over"
