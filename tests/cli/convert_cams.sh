#!/usr/bin/env bash
# CLI test ConvertCamsMatchesNumpyAndResumes: `c2am convert-cams` on .npy CAM
# dicts written by numpy and torch (IRN style: zero-based keys, high_res, a
# torch tensor under "cam"; C²AM / PuzzleCAM style: padded keys, hr_cam) gives
# files whose keys and maps h5py reads back equal to numpy's (float16 within
# half precision, --float32 exactly); a rerun skips every file; a wrong key
# convention exits 1 naming the file; --skip-bad reports it and goes on; a bad
# option exits 2.
# Usage: convert_cams.sh C2AM_BINARY WORK_DIR
set -euo pipefail
c2am=$1 work=$2
PY=/usr/bin/python3  # Debian's python3-numpy, python3-torch, python3-h5py
rm -rf "$work" && mkdir -p "$work/src"
fail() { echo "FAIL: $*"; exit 1; }

"$PY" - "$work/src" <<'EOF'
import sys
import numpy as np, torch
out = sys.argv[1]
rng = np.random.default_rng(1)
for i, keys in enumerate([[3, 14], [0], [7, 11, 19]]):  # IRN: keys = 0-based foreground classes
    hr = rng.uniform(0, 1, (len(keys), 20 + i, 30)).astype(np.float32)
    np.save(f'{out}/2007_00000{i}.npy', {'keys': np.array(keys), 'cam': torch.from_numpy(hr[:, ::4, ::4].copy()),
                                         'high_res': hr})
for i, keys in enumerate([[1], [4, 5]]):  # C²AM / PuzzleCAM: keys = np.pad(keys + 1, (1, 0))
    hr = rng.uniform(0, 1, (len(keys), 17, 23)).astype(np.float32)
    np.save(f'{out}/2008_00000{i}.npy', {'keys': np.pad(np.array(keys) + 1, (1, 0), mode='constant'),
                                         'cam': torch.from_numpy(hr), 'hr_cam': hr})
EOF

# Compares every OUT/<stem>.h5 with SRC/<stem>.npy; $3: the largest allowed difference.
check() {
  "$PY" - "$work/src" "$1" "$2" "$3" <<'EOF'
import glob, os, sys
import h5py, numpy as np
src, out, dtype, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
files = sorted(glob.glob(f'{src}/*.npy'))
assert len(files) == 5, files
for path in files:
    stem = os.path.basename(path)[:-4]
    d = np.load(path, allow_pickle=True).item()
    keys = np.asarray(d['keys'])
    want_keys, maps = (keys[1:], d['hr_cam']) if 'hr_cam' in d else (keys + 1, d['high_res'])
    with h5py.File(f'{out}/{stem}.h5', 'r') as f:
        assert f.attrs['format'] == 'c2am-cams' and f.attrs['version'] == 1 and f.attrs['image'] == stem, dict(f.attrs)
        assert f['keys'].dtype == np.int32 and f['keys'][:].tolist() == want_keys.tolist(), (stem, f['keys'][:])
        assert f['cams'].dtype == dtype and f['cams'].shape == maps.shape, (stem, f['cams'].dtype, f['cams'].shape)
        diff = np.abs(f['cams'][:].astype(np.float64) - maps).max()
        assert diff <= tol, (stem, diff)
print('h5py: all 5 files match numpy')
EOF
}

"$c2am" convert-cams "$work/src" -o "$work/out" --threads 2 >"$work/first.txt" 2>"$work/first.err" ||
  { cat "$work/first.err"; fail "the first run failed"; }
cat "$work/first.txt"
grep -q "5 converted, 0 skipped (already converted), 0 failed" "$work/first.txt" || fail "expected 5 converted"
check "$work/out" float16 2.5e-4

# A rerun skips everything and leaves the files as they are.
before=$(md5sum "$work"/out/*.h5)
"$c2am" convert-cams "$work/src" -o "$work/out" >"$work/second.txt" 2>"$work/second.err"
grep -q "0 converted, 5 skipped (already converted), 0 failed" "$work/second.txt" ||
  { cat "$work/second.txt"; fail "the rerun did not skip every file"; }
[[ "$before" == "$(md5sum "$work"/out/*.h5)" ]] || fail "the rerun changed the files"
[[ -z "$(find "$work/out" -name '*.tmp.*')" ]] || fail "temporary files left behind"

# float32, exact; --force converts again.
"$c2am" convert-cams "$work/src" -o "$work/out" --float32 --force >"$work/third.txt" 2>"$work/third.err"
grep -q "5 converted, 0 skipped" "$work/third.txt" || fail "--force did not convert again"
check "$work/out" float32 0

# A wrong key convention is an error naming the file: exit 1.
set +e
"$c2am" convert-cams "$work/src" -o "$work/bad" --keys padded --threads 1 >"$work/bad.txt" 2>"$work/bad.err"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "--keys padded on IRN files exited $rc, not 1"
grep -q "src/2007_00000[0-2].npy: --keys padded needs" "$work/bad.err" || { cat "$work/bad.err"; fail "no file named"; }

# --skip-bad: the bad file is reported and counted, the others converted.
"$PY" -c "import numpy as np; np.save('$work/src/2009_000000.npy', {'keys': np.array([1, 2, 3]), 'high_res': np.zeros((2, 4, 4), np.float32)})"
set +e
"$c2am" convert-cams "$work/src" -o "$work/skip" >"$work/noskip.txt" 2>"$work/noskip.err"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "a bad file without --skip-bad exited $rc, not 1"
grep -q "2009_000000.npy: 3 keys \[1, 2, 3\] for 2 maps" "$work/noskip.err" || { cat "$work/noskip.err"; fail "no file named"; }
"$c2am" convert-cams "$work/src" -o "$work/skip" --skip-bad >"$work/skip.txt" 2>"$work/skip.err"
grep -q "skipping .*2009_000000.npy" "$work/skip.err" || { cat "$work/skip.err"; fail "the bad file was not reported"; }
grep -Eq "[0-9]+ converted, [0-9]+ skipped \(already converted\), 1 failed" "$work/skip.txt" || fail "no failed count"
[[ $(find "$work/skip" -name '*.h5' | wc -l) -eq 5 ]] || fail "expected 5 files next to the bad one"

# Bad usage exits 2.
set +e
"$c2am" convert-cams "$work/src" -o "$work/x" --keys one-based >/dev/null 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--keys one-based exited $rc, not 2"
echo "PASS"
