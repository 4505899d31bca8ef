// Implements: the one reading of a configured thread count (0 = all cores).
#pragma once
#include <algorithm>
#include <thread>

namespace c2am::util {

inline int resolve_threads(int configured) {
  if (configured > 0) return configured;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace c2am::util
