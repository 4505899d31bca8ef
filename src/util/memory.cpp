#include "util/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace c2am::util {

void reuse_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace c2am::util
