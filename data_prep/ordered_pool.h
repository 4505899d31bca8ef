// Implements: the packer's thread structure: a pool of workers producing
// samples out of order, handed to ONE consumer (the shard writer) strictly in
// index order through a bounded window, so memory stays bounded and the
// output does not depend on the number of threads.
#pragma once
#include <cstddef>
#include <functional>

#include "data/shards.h"

namespace c2am::data_prep {

// Runs produce(i) for every i in [0, n) on `threads` worker threads and calls
// consume(i, sample) on the calling thread for i = 0, 1, ... in order. At most
// `window` produced samples wait at any time. An exception from produce(i) is
// rethrown when the consumer reaches i (so the error reported is the first in
// order, whatever the timing); one from consume stops the workers and is
// rethrown. Workers are always joined before returning.
void run_ordered(std::size_t n, int threads, std::size_t window,
                 const std::function<data::PackedSample(std::size_t)>& produce,
                 const std::function<void(std::size_t, data::PackedSample&&)>& consume);

}  // namespace c2am::data_prep
