#!/usr/bin/env bash
# SLURM test: `c2am pack` as a 2-task batch job (srun --mpi=pmix, shard k on
# task k % 2) gives byte for byte the shards and manifest.json of a
# one-process pack: the job COMPLETED with 0:0, its output says the pack ran
# on 2 ranks, and both folders hold the same files with the same bytes.
# Usage: pack_two_tasks.sh C2AM_BINARY REPO WORK_DIR   (the local SLURM running)
set -euo pipefail
c2am=$(realpath "$1") repo=$2 work=$3
source "$repo/tests/slurm/common.sh"
source "$repo/cluster/profiles/local.sh"  # partition and time limit of the local SLURM
rm -rf "$work" && mkdir -p "$work"
"$c2am" synth imagenet "$work/src" --train 150 --test 4 --classes 5 --min-size 64 --max-size 160 --seed 7 \
  --threads 2 >/dev/null
# Re-encoding (--max-side) so every task decodes and encodes, 22 shards of 7.
args=(pack "$work/src" --layout imagenet --split train --shard-size 7 --max-side 96)
"$c2am" "${args[@]}" -o "$work/one" > "$work/one.log" 2>&1 || fail "one-process pack" "$work/one.log"

job=$(sbatch --parsable --job-name="test-$(basename "$work")" --partition="$PARTITION" --nodes=1 --ntasks=2 \
  --cpus-per-task=1 --time="$TIME_LIMIT" --output="$work/job.out" \
  --wrap="srun --mpi=pmix --kill-on-bad-exit=1$(printf ' %q' "$c2am" "${args[@]}" -o "$work/two" --threads 1)")
echo "job $job: pack on 2 tasks"
"$slurm_local" wait "$job" 120 || fail "job $job did not complete" "$work/job.out"
cat "$work/job.out"
grep -q "by 2 ranks" "$work/job.out" || fail "the job's summary does not say 'by 2 ranks'" "$work/job.out"
grep -q "rank 0 of 2 packs" "$work/job.out" || fail "the tasks did not pack as one 2-rank world" "$work/job.out"
(cd "$work/one" && ls shard-*.h5 manifest.json) > "$work/one.list"
(cd "$work/two" && ls shard-*.h5 manifest.json) > "$work/two.list" || fail "no pack in $work/two" "$work/job.out"
cmp "$work/one.list" "$work/two.list" || fail "the 2-task pack holds other files than the one-process pack"
[ "$(wc -l < "$work/one.list")" -eq 23 ] || fail "not 22 shards + manifest.json: $(wc -l < "$work/one.list") files"
while read -r f; do
  cmp "$work/one/$f" "$work/two/$f" || fail "$f differs between the one-process and the 2-task pack"
done < "$work/one.list"
echo "PASS: 2 SLURM tasks = 1 process, byte for byte ($(wc -l < "$work/one.list") files)"
