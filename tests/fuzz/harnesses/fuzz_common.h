// Implements: what every fuzz harness shares: a scratch file per process for
// readers that take a path (removed at exit), and the rule for outcomes. A
// harness returns normally for any input; a clean error (a std::exception,
// as every c2am reader throws) is an accepted outcome. What libFuzzer reports
// (a crash, an ASan/UBSan finding, a leak, a timeout, an allocation past
// -malloc_limit_mb) is a bug.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace c2am::fuzz {

// A folder of this process under $TMPDIR (or /tmp), removed at exit.
inline const std::string& scratch_dir() {
  struct Scratch {
    std::string dir;
    Scratch() {
      const char* tmp = std::getenv("TMPDIR");
      dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/c2am_fuzz_" + std::to_string(::getpid());
      std::filesystem::create_directories(dir);
    }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  static const Scratch scratch;
  return scratch.dir;
}

// Writes `size` bytes to scratch_dir()/name and returns the path.
inline std::string write_scratch(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::perror(path.c_str());
    std::abort();  // the harness cannot work: not the input's fault
  }
  return path;
}

}  // namespace c2am::fuzz
