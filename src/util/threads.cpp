#include "util/threads.h"

#include <fmt/format.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <vector>

#include "util/error.h"

namespace c2am::util {

void run_threads(int threads, const std::function<void(int)>& body) {
  if (threads <= 1) {
    body(0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        body(t);
      } catch (...) {
        errors[static_cast<std::size_t>(t)] = std::current_exception();
      }
    });
  }
  try {
    body(0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (std::thread& th : pool) th.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

void parallel_ranges(std::size_t n, int threads, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (threads < 1) throw UsageError(fmt::format("parallel_ranges: threads must be >= 1, got {}", threads));
  const int used =
      static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads), std::max<std::size_t>(n, 1)));
  run_threads(used, [&](int t) { fn(slice_begin(n, t, used), slice_begin(n, t + 1, used)); });
}

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& body) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::size_t first_bad = n;
  std::exception_ptr error;
  const int used = static_cast<int>(
      std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), n)));
  run_threads(used, [&](int) {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (i < first_bad) first_bad = i, error = std::current_exception();
      }
    }
  });
  if (error) std::rethrow_exception(error);
}

}  // namespace c2am::util
