// Implements: the process's malloc policy for large, short-lived buffers.
#pragma once

namespace c2am::util {

// c2am pack allocates and frees buffers of megabytes all the time (a shard
// being assembled, HDF5's in-memory file, images read). By default glibc maps
// each one fresh and unmaps it on free, so every byte costs a page fault and
// a zeroing again: half of pack's time (perf, docs/benchmarks.md). This keeps
// freed blocks below 512 MiB in the heap for reuse (at most 1 GiB held free).
// Call it once, first thing in main(); a no-op outside glibc. (The loader's
// batch buffers are recycled by the loader itself: data/loader.cpp.)
void reuse_freed_memory();

}  // namespace c2am::util
