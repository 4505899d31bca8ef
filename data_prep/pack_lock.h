// Implements: the lock that keeps two `c2am pack` runs out of one output
// folder: an exclusive flock(2) on OUT/.pack.lock, held for the whole run and
// released by the kernel when the process ends, however it ends (kill -9
// included), so a stale lock cannot exist. The file records who holds it.
#pragma once
#include <string>

namespace c2am::data_prep {

inline constexpr const char* kPackLockName = ".pack.lock";

class PackLock {
 public:
  // Takes the lock on `out`/.pack.lock (the folder must exist) without
  // waiting. Held by another process: c2am::UsageError "another c2am pack
  // (pid N, host H, started T) holds <out>/.pack.lock; wait for it to end or
  // pack into another folder". Other failures: c2am::IoError naming the file.
  explicit PackLock(const std::string& out);
  ~PackLock();  // releases (closes); the file stays, empty of meaning once unlocked
  PackLock(const PackLock&) = delete;
  PackLock& operator=(const PackLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace c2am::data_prep
