#!/usr/bin/env bash
# CLI test PackAndVerifyRefuseHostileInputCleanly: the attacks of
# docs/reliability.md that need whole processes. Each must end in a clean
# error naming the culprit with the documented exit status, never a crash:
#  - a second pack into a folder another pack holds (flock(1), then a real
#    c2am pack stopped with SIGSTOP so it holds the lock for certain): exit 2;
#  - --shard-size 0 / negative / absurd: exit 2 with a plain message;
#  - a write failure mid-shard (file size limit; a full tmpfs when mount is
#    permitted): exit 1 naming the shard, no segfault at exit, no manifest;
#  - verify on a manifest naming '../' and on a shard with an external link: exit 1.
# Usage: pack_hostile.sh C2AM_BINARY WORK_DIR
set -uo pipefail
c2am=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
# expect STATUS PATTERN CMD...: runs CMD, checks its exit status and that stderr matches PATTERN.
expect() {
  local want=$1 pattern=$2; shift 2
  "$@" >"$work/out.txt" 2>"$work/err.txt"
  local rc=$?
  [[ $rc -eq $want ]] || { cat "$work/err.txt"; fail "'$*' exited $rc, expected $want"; }
  grep -Eq -- "$pattern" "$work/err.txt" || { cat "$work/err.txt"; fail "'$*': stderr lacks /$pattern/"; }
  echo "ok ($rc): $(head -c 300 "$work/err.txt" | tr '\n' ' ')"
}
"$c2am" synth imagenet "$work/raw" --train 300 --test 4 --classes 5 --min-size 200 --max-size 300 --seed 7 \
  --threads 2 >/dev/null || fail "synth"
args=(--layout imagenet --split train --shard-size 20)

# 1. The lock held by another process (flock(1) on the lock file).
mkdir -p "$work/held"
exec 9>"$work/held/.pack.lock"
flock -n 9 || fail "flock(1) could not take the lock"
expect 2 "another c2am pack \(.*\) holds $work/held/\.pack\.lock" "$c2am" pack "$work/raw" "${args[@]}" -o "$work/held"
exec 9>&-
[[ ! -e "$work/held/manifest.json" ]] || fail "the refused pack wrote a manifest"

# 2. Two real packs: A is stopped while it holds the lock; B must refuse, naming A.
"$c2am" pack "$work/raw" "${args[@]}" --max-side 160 --threads 1 -o "$work/two" >/dev/null 2>"$work/a.log" &
a=$!
for ((i = 0; i < 3000; i++)); do
  grep -q "pid $a" "$work/two/.pack.lock" 2>/dev/null && break
  sleep 0.01
done
kill -STOP "$a" || fail "pack A ended before it could be stopped"
grep -q "pid $a" "$work/two/.pack.lock" || { kill -CONT "$a"; fail "pack A never wrote the lock"; }
expect 2 "another c2am pack \(pid $a, host [^,]+, started [0-9T:Z-]+\) holds $work/two/\.pack\.lock" \
  "$c2am" pack "$work/raw" "${args[@]}" --max-side 160 -o "$work/two"
kill -CONT "$a"
wait "$a" || { cat "$work/a.log"; fail "pack A failed after B was refused"; }
"$c2am" verify "$work/two" >/dev/null || fail "verify after the concurrent packs"

# 3. Option values a shard plan cannot use.
for bad in 0 -5 1000001 99999999999 abc; do
  expect 2 "shard-size" "$c2am" pack "$work/raw" --layout imagenet --split train --shard-size "$bad" -o "$work/x"
done
[[ ! -e "$work/x" ]] || fail "a refused option created the output folder"

# 4. A write that fails mid-shard: EFBIG under a 24 KiB file size limit (SIGXFSZ ignored).
expect 1 "$work/full/shard-00000\.h5.*(File too large|file write failed)" \
  bash -c "trap '' XFSZ; ulimit -f 24; exec \"\$0\" pack \"\$1\" --layout imagenet --split train --shard-size 20 -o \"\$2\"" \
  "$c2am" "$work/raw" "$work/full"
[[ ! -e "$work/full/manifest.json" ]] || fail "a failed pack wrote a manifest"
! ls "$work/full"/*.tmp >/dev/null 2>&1 || fail "a failed pack left a temporary file"
# A really full disk, where mounting a small tmpfs is permitted (root); skipped otherwise.
mkdir -p "$work/tmpfs"
if mount -t tmpfs -o size=256k tmpfs "$work/tmpfs" 2>/dev/null; then
  expect 1 "No space left on device" "$c2am" pack "$work/raw" "${args[@]}" -o "$work/tmpfs/out"
  [[ ! -e "$work/tmpfs/out/manifest.json" ]] || { umount "$work/tmpfs"; fail "manifest on a full disk"; }
  umount "$work/tmpfs"
else
  echo "skipped: the full-tmpfs case (mount -t tmpfs is not permitted here); the file size limit case ran"
fi

# 5. verify: a manifest naming a shard outside its folder, and a shard with an external link.
"$c2am" pack "$work/raw" --layout imagenet --split val -o "$work/val" >/dev/null 2>&1 || fail "pack val"
cp -r "$work/val" "$work/escape"
sed -i 's|"shard-00000.h5"|"../val/shard-00000.h5"|' "$work/escape/manifest.json"
expect 1 "manifest.json: key 'shards\[0\]\.file': '\.\./val/shard-00000\.h5' has a '\.\.' component" \
  "$c2am" verify "$work/escape"
if python3 -c 'import h5py' 2>/dev/null; then
  cp -r "$work/val" "$work/elink"
  python3 - "$work/elink/shard-00000.h5" <<'PY' || fail "h5py could not plant the external link"
import sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    del f["images/label"]
    f["images/label"] = h5py.ExternalLink("/etc/hostname", "/x")
PY
  expect 1 "'/images/label' is an external link to '/x' in file '/etc/hostname'" "$c2am" verify "$work/elink"
else
  echo "skipped: the external-link case (no h5py)"
fi
echo "PASS"
