#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and fuzzes each one.
# Usage: launch/fuzz.sh [--seconds N | --runs N] [--seed S] [--fresh] [--timeout S] [--build DIR] [--build-only | --no-build] [HARNESS...]
#   HARNESS: jpeg png config pickle npy manifest shard (default: all)
#   --seconds N   fuzz each harness for N seconds (default 60)
#   --runs N      or for N executions (with --seed and --fresh: the same inputs every time)
#   --seed S      libFuzzer's random seed (default: chosen by libFuzzer)
#   --fresh       start from the seed corpus only, keep nothing (CTest's smoke runs)
#   --timeout S   an input running longer than S seconds is a finding (default 1)
#   --build DIR   where to build and keep the grown corpora (default build-fuzz)
#   --build-only  build, fuzz nothing;  --no-build  fuzz with what DIR holds (CTest's smoke runs, which
#                 run in parallel after one build: two builds of one folder at once could collide)
# Each harness starts from its seed corpus (tests/fuzz/corpus/HARNESS, which
# holds the regression inputs of every bug found) and grows DIR/corpus/HARNESS.
# Findings go to DIR/artifacts/HARNESS/. Prints one line per harness:
# executions, executions per second, findings. Exit 1 when any harness found
# something (a crash, a sanitizer report, a leak, a timeout, an allocation
# over 2 GiB), 2 for usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '3,10p' "$0" | sed 's/^# //' >&2; exit 2; }
seconds=60 runs="" seed="" fresh=0 timeout=1 build="$root/build-fuzz" build_only=0 no_build=0 harnesses=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=${2:?}; runs=""; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --fresh) fresh=1; shift ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --build) build=${2:?}; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --no-build) no_build=1; shift ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
all=(jpeg png config pickle npy manifest shard)
((${#harnesses[@]})) || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  [[ " ${all[*]} " == *" $h "* ]] || { echo "fuzz.sh: no harness '$h' (have: ${all[*]})" >&2; exit 2; }
done
[[ $seconds =~ ^[1-9][0-9]*$ && ( -z $runs || $runs =~ ^[1-9][0-9]*$ ) && ( -z $seed || $seed =~ ^[0-9]+$ ) && $timeout =~ ^[1-9][0-9]*$ ]] ||
  usage
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

((build_only + no_build < 2)) || usage
if ((!no_build)); then
  if [[ ! -f $build/build.ninja ]]; then
    cmake -S "$root/tests/fuzz/harnesses" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  fi
  # Progress lines dropped; compiler errors (ninja prints them on stdout) kept.
  cmake --build "$build" -j "$(nproc)" -- -l "$(nproc)" | { grep -v '^\[[0-9]*/[0-9]*\] ' || true; }
fi
((build_only)) && exit 0
for h in "${harnesses[@]}"; do
  [[ -x $build/fuzz_$h ]] || { echo "fuzz.sh: no $build/fuzz_$h (build it: launch/fuzz.sh --build $build --build-only)" >&2; exit 1; }
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0}
limit=(-timeout="$timeout" -rss_limit_mb=4096 -malloc_limit_mb=2048 -print_final_stats=1)
if [[ -n $runs ]]; then limit+=(-runs="$runs"); else limit+=(-max_total_time="$seconds"); fi
[[ -z $seed ]] || limit+=(-seed="$seed")
failed=0
printf '%-9s %12s %10s %9s  %s\n' harness executions exec/s findings log
for h in "${harnesses[@]}"; do
  corpus=$build/corpus/$h art=$build/artifacts/$h log=$build/logs/$h.log
  if ((fresh)); then
    corpus=$build/fresh/$h
    rm -rf "$corpus" "$art"
  fi
  mkdir -p "$corpus" "$art" "$(dirname "$log")"
  started=$build/logs/.started-$h  # findings of this run only: files newer than it
  touch "$started"
  scratch=$build/tmp/$h  # the harnesses' scratch files; a crashed harness cannot remove its own
  rm -rf "$scratch" && mkdir -p "$scratch"
  rc=0
  (cd "$art" && TMPDIR=$scratch ASAN_OPTIONS=$ASAN_OPTIONS "$build/fuzz_$h" "${limit[@]}" -artifact_prefix="$art/" "$corpus" "$root/tests/fuzz/corpus/$h") \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  found=$(find "$art" -type f -newer "$started" | wc -l)
  printf '%-9s %12s %10s %9s  %s\n' "$h" "${execs:-?}" "${rate:-?}" "$found" "$log"
  ((fresh == 0)) || rm -rf "$corpus"
  rm -rf "$scratch"
  if ((rc != 0 || found > 0)); then
    failed=1
    echo "fuzz.sh: harness $h exited $rc; findings in $art; the report:" >&2
    grep -m1 -A12 -E '^==[0-9]+==ERROR|runtime error|ERROR: libFuzzer' "$log" >&2 || tail -20 "$log" >&2
  fi
done
exit $failed
