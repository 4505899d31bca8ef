#include "util/error.h"

#include <cerrno>
#include <cstring>

namespace c2am {

void throw_errno(const std::string& what, const std::string& path) {
  const int err = errno;
  throw IoError(what + " '" + path + "': " + std::strerror(err));
}

}  // namespace c2am
