#!/usr/bin/env bash
# CLI test ResumeAfterKillMatchesUninterruptedRun: `c2am pack` killed with
# SIGKILL after its first shards, then rerun, gives exactly the shards (and
# manifest) of an uninterrupted run; both pass `c2am verify --decode`.
# Usage: pack_kill.sh C2AM_BINARY WORK_DIR
set -euo pipefail
c2am=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
"$c2am" synth imagenet "$work/raw" --train 300 --test 4 --classes 5 --min-size 200 --max-size 300 --seed 7 \
  --threads 2 >/dev/null
# Re-encoding on one thread keeps the first run slow enough (~1 s) to be killed midway.
args=(--layout imagenet --split train --shard-size 20 --max-side 160)
count_shards() { find "$1" -maxdepth 1 -name 'shard-*.h5' 2>/dev/null | wc -l; }

"$c2am" pack "$work/raw" "${args[@]}" -o "$work/a" --threads 1 >/dev/null 2>"$work/first.log" &
pid=$!
for ((i = 0; $(count_shards "$work/a") < 2; i++)); do
  if ((i > 3000)); then
    kill -9 "$pid"
    echo "FAIL: no 2 shards after 60 s"; cat "$work/first.log"; exit 1
  fi
  sleep 0.02
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true  # the c2am process itself (no subshell in between)
if [[ -e "$work/a/manifest.json" ]]; then
  echo "FAIL: the first run finished before the kill, so nothing was resumed"; exit 1
fi
echo "killed after $(count_shards "$work/a") of 15 shards"

"$c2am" pack "$work/raw" "${args[@]}" -o "$work/a" --threads 2 | tee "$work/resume.txt"
grep -Eq '\([0-9]+ written, ([2-9]|1[0-4]) already complete\)' "$work/resume.txt" ||
  { echo "FAIL: the rerun did not keep the shards of the killed run"; exit 1; }
"$c2am" pack "$work/raw" "${args[@]}" -o "$work/b" --threads 2 >/dev/null 2>&1

# Same source and options: the manifests (plan, shard checksums) must be byte-identical.
cmp "$work/a/manifest.json" "$work/b/manifest.json" || { echo "FAIL: manifests differ"; exit 1; }
grep -c '"file"' "$work/a/manifest.json" | grep -qx 15 || { echo "FAIL: expected 15 shards"; exit 1; }
"$c2am" verify "$work/a" --decode --threads 2
"$c2am" verify "$work/b" --decode --threads 2
echo "PASS"
