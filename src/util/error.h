// Implements: the one exception family of c2am and the exit statuses.
// Every error that reaches `main` derives from c2am::Error; its message names
// the file, key, sample or rank at fault.
#pragma once
#include <stdexcept>
#include <string>

namespace c2am {

// Process exit statuses, documented in docs/cli.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;       // bad command line or config
inline constexpr int kExitPreempted = 75;  // checkpointed on preemption: requeue me (EX_TEMPFAIL)

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad usage or configuration: exit status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// An I/O failure: names the path and the OS reason.
class IoError : public Error {
 public:
  using Error::Error;
};

// Throws IoError "<what> '<path>': <strerror(errno)>".
[[noreturn]] void throw_errno(const std::string& what, const std::string& path);

}  // namespace c2am
