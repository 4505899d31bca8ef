// Implements: the one reading of a configured thread count (0 = the cores
// this process may run on: its CPU affinity, so a rank bound to cores by
// mpirun or SLURM uses its own cores, not the whole machine's).
#pragma once
#include <sched.h>

#include <algorithm>
#include <thread>

namespace c2am::util {

inline int resolve_threads(int configured) {
  if (configured > 0) return configured;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace c2am::util
