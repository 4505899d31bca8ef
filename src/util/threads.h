// Implements: the one reading of a configured thread count (0 = the cores
// this process may run on: its CPU affinity, so a rank bound to cores by
// mpirun or SLURM uses its own cores, not the whole machine's), and the one
// fork-join helper that runs a body on that many threads.
#pragma once
#include <sched.h>

#include <algorithm>
#include <functional>
#include <thread>

namespace c2am::util {

inline int resolve_threads(int configured) {
  if (configured > 0) return configured;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Runs body(t) for t in [0, threads), t = 0 on the calling thread; rethrows
// the first exception (by thread index) after all have finished.
void run_threads(int threads, const std::function<void(int)>& body);

// The first index of slice t of [0, n) cut into `threads` contiguous slices.
inline std::size_t slice_begin(std::size_t n, int t, int threads) {
  return n * static_cast<std::size_t>(t) / static_cast<std::size_t>(threads);
}

// Calls fn(begin, end) on min(threads, n) contiguous, disjoint slices of
// [0, n) covering it, the first on the calling thread; returns when all are
// done (rethrowing the first exception by slice). The slices depend on n and
// threads only. Ranges, not indices, so per-pixel loops pay no call per pixel.
// threads < 1 is a UsageError.
void parallel_ranges(std::size_t n, int threads, const std::function<void(std::size_t, std::size_t)>& fn);

// body(i) for every i in [0, n) on min(threads, n) threads, each taking the
// next index not yet taken (so uneven items balance out). Every index runs
// even after a failure; the exception of the lowest failing index is
// rethrown, so the error reported does not depend on the timing.
void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& body);

}  // namespace c2am::util
