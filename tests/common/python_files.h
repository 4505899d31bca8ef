// Implements: the test helper for files that Python writes at test time
// (/usr/bin/python3 with numpy, torch, ...): a script run once per version of
// its text, its files kept in the build folder and shared by the processes
// that run a test file's tests (ctest runs each test in its own process).
#pragma once
#include <fmt/format.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <system_error>

#include "util/fs.h"

namespace c2am::testing_util {

// Runs `script` with /usr/bin/python3 and a folder as its one argument, into
// which it writes its files, and returns that folder:
// <build>/tests/<cache>/<hash of script>, reused while the script is unchanged
// (a "done" file marks it complete; the first of several processes to finish
// it wins). When the script fails: returns "" and sets *error to what the
// test needs (`needs`: "numpy and torch (Debian: ...)") and the script's output.
inline std::string python_files(const std::string& cache, const std::string& script, const std::string& needs,
                                std::string* error) {
  namespace fs = std::filesystem;
  const std::string root = std::string(C2AM_BINARY_DIR) + "/tests/" + cache;
  const std::string dir = fmt::format("{}/{:016x}", root, std::hash<std::string>{}(script));
  if (fs::exists(dir + "/done")) return dir;
  fs::create_directories(root);
  std::string tmp = root + "/tmp_XXXXXX";
  if (mkdtemp(tmp.data()) == nullptr) {
    *error = "cannot create a folder under " + root;
    return "";
  }
  std::ofstream(tmp + "/make_files.py") << script;
  const std::string log = tmp + "/make_files.log";
  if (std::system(fmt::format("/usr/bin/python3 {0}/make_files.py {0} > {1} 2>&1", tmp, log).c_str()) != 0) {
    *error =
        fmt::format("this test needs /usr/bin/python3 with {} to write its files; the script failed:\n{}",
                    needs, util::read_file(log));
    fs::remove_all(tmp);
    return "";
  }
  std::ofstream(tmp + "/done") << "ok\n";
  std::error_code ec;
  fs::rename(tmp, dir, ec);  // fails when another test process was first: its files are the same
  if (ec) fs::remove_all(tmp);
  return dir;
}

}  // namespace c2am::testing_util
