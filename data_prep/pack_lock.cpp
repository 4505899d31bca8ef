// Implements: PackLock (see pack_lock.h).
#include "data_prep/pack_lock.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "util/clock.h"
#include "util/error.h"

namespace c2am::data_prep {
namespace {

// What the holder wrote: "pid N, host H, started T" (best effort; a holder
// that has not written yet, or an old file, gives what is there).
std::string read_holder(int fd) {
  char buf[512] = {0};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "pid unknown: it has not written its name yet" : s;
}

}  // namespace

PackLock::PackLock(const std::string& out) : path_((std::filesystem::path(out) / kPackLockName).string()) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno("cannot open the pack lock", path_);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? read_holder(fd_) : "";
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) {
      errno = err;
      throw_errno("cannot lock", path_);
    }
    throw UsageError(fmt::format(
        "another c2am pack ({}) holds {}; wait for it to end or pack into another folder", holder, path_));
  }
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  const std::string who =
      fmt::format("pid {}, host {}, started {}\n", static_cast<long>(::getpid()), host,
                  util::iso8601_now(/*utc=*/true));
  // Under the lock: nobody else writes the file now. Best effort: the lock works without it.
  if (::ftruncate(fd_, 0) == 0) {
    const ssize_t w = ::pwrite(fd_, who.data(), who.size(), 0);
    (void)w;
  }
}

PackLock::~PackLock() {
  if (fd_ >= 0) {
    if (::ftruncate(fd_, 0) != 0) {
      // best effort: an unlocked file should name nobody, but the lock is what counts
    }
    ::close(fd_);  // releases the flock
  }
}

}  // namespace c2am::data_prep
