#!/usr/bin/env bash
# Builds the unit tests of c2am's torch-free modules with clang, ASan + UBSan
# (tests/sanitize/unit_tests, one binary per module) and runs them.
# Usage: launch/sanitize.sh [--build DIR] [--build-only | --no-build] [MODULE...]
#   MODULE        util config image data cams synth data_prep eval monitor wsss (default: all)
#   --build DIR   where to build (default build-sanitize)
#   --build-only  build, run nothing;  --no-build  run what DIR holds (CTest's label sanitize)
# A failed test, an ASan error, a leak or any UBSan report fails the module.
# Prints one line per module: tests, seconds, result (the log is
# DIR/logs/MODULE.log). Exit 1 when any module failed, 2 for usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '4,7p' "$0" | sed 's/^# //' >&2; exit 2; }
build="$root/build-sanitize" build_only=0 no_build=0 modules=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=${2:?}; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --no-build) no_build=1; shift ;;
    -h|--help) usage ;;
    -*) echo "sanitize.sh: unknown option $1" >&2; usage ;;
    *) modules+=("$1"); shift ;;
  esac
done
read -ra all < <(sed -n 's/^set(C2AM_SANITIZED_MODULES \(.*\))$/\1/p' "$root/tests/sanitize/unit_tests.cmake")
((${#modules[@]})) || modules=("${all[@]}")
for m in "${modules[@]}"; do
  [[ " ${all[*]} " == *" $m "* ]] || { echo "sanitize.sh: no module '$m' (have: ${all[*]})" >&2; exit 2; }
done
((build_only + no_build < 2)) || usage
command -v clang++ >/dev/null || { echo "sanitize.sh: clang++ is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

if ((!no_build)); then
  if [[ ! -f $build/build.ninja ]]; then
    cmake -S "$root/tests/sanitize/unit_tests" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  fi
  cmake --build "$build" -j "$(nproc)" -- -l "$(nproc)" | { grep -v '^\[[0-9]*/[0-9]*\] ' || true; }
fi
((build_only)) && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0}
failed=0
printf '%-10s %6s %8s  %s\n' module tests seconds result
for m in "${modules[@]}"; do
  bin=$build/sanitized_$m log=$build/logs/$m.log scratch=$build/tmp/$m
  [[ -x $bin ]] || { echo "sanitize.sh: no $bin (build it: launch/sanitize.sh --build $build --build-only)" >&2; exit 1; }
  rm -rf "$scratch" && mkdir -p "$scratch" "$(dirname "$log")"
  start=$EPOCHREALTIME rc=0
  # The tests' scratch folders go to DIR/tmp/MODULE, removed afterwards even when a test crashed.
  (cd "$scratch" && TMPDIR=$scratch TEST_TMPDIR=$scratch "$bin") >"$log" 2>&1 || rc=$?
  seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  tests=$(sed -n 's/^\[==========\] \([0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$log")
  rm -rf "$scratch"
  if ((rc == 0)); then
    printf '%-10s %6s %8s  %s\n' "$m" "${tests:-?}" "$seconds" passed
  else
    failed=1
    printf '%-10s %6s %8s  %s\n' "$m" "${tests:-?}" "$seconds" "FAILED (exit $rc, $log)"
    grep -E '^\[  FAILED  \]' "$log" >&2 || true
    grep -m1 -A30 -E '^==[0-9]+==ERROR|runtime error' "$log" >&2 || tail -30 "$log" >&2
  fi
done
exit $failed
