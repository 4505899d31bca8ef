// Implements: run_ordered (bounded, order-preserving producer pool).
#include "data_prep/ordered_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace c2am::data_prep {

namespace {

struct Slot {
  bool ready = false;
  data::PackedSample sample;
  std::exception_ptr error;
};

}  // namespace

void run_ordered(std::size_t n, int threads, std::size_t window,
                 const std::function<data::PackedSample(std::size_t)>& produce,
                 const std::function<void(std::size_t, data::PackedSample&&)>& consume) {
  if (n == 0) return;
  window = std::max<std::size_t>(window, 1);
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::vector<Slot> slots(window);
  std::size_t next_claim = 0, next_consume = 0;
  bool stop = false;

  auto worker = [&] {
    for (;;) {
      std::size_t i = 0;
      {
        std::unique_lock<std::mutex> lock(mu);
        // Slot i % window is free once the consumer has taken item i - window.
        work_cv.wait(lock, [&] { return stop || next_claim >= n || next_claim < next_consume + window; });
        if (stop || next_claim >= n) return;
        i = next_claim++;
      }
      Slot result;
      try {
        result.sample = produce(i);
      } catch (...) {
        result.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        result.ready = true;
        slots[i % window] = std::move(result);
      }
      done_cv.notify_one();
    }
  };

  std::vector<std::thread> pool;
  // Stops and joins the workers on every exit path, including exceptions.
  struct Joiner {
    std::vector<std::thread>& pool;
    std::mutex& mu;
    bool& stop;
    std::condition_variable& cv;
    ~Joiner() {
      {
        std::lock_guard<std::mutex> lock(mu);
        stop = true;
      }
      cv.notify_all();
      for (auto& t : pool) t.join();
    }
  } joiner{pool, mu, stop, work_cv};
  const std::size_t workers = std::min<std::size_t>(std::max(threads, 1), n);
  for (std::size_t t = 0; t < workers; ++t) pool.emplace_back(worker);

  for (std::size_t i = 0; i < n; ++i) {
    Slot s;
    {
      std::unique_lock<std::mutex> lock(mu);
      done_cv.wait(lock, [&] { return slots[i % window].ready; });
      s = std::move(slots[i % window]);
      slots[i % window] = Slot();
      next_consume = i + 1;
    }
    work_cv.notify_all();
    if (s.error) std::rethrow_exception(s.error);
    consume(i, std::move(s.sample));
  }
}

}  // namespace c2am::data_prep
