// Implements: the test helpers for scratch folders: a folder for the running
// test, removed afterwards (TempDir), and a fresh path under gtest's temporary
// folder (fresh_dir). Both names carry the process id: ctest runs the tests of
// one file in parallel processes, and other checkouts may run the same tests.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace c2am::testing_util {

// <temp>/c2am_<suite>_<test>_<pid> for the running test ('/' of parameterised
// names turned into '_'), empty when made and removed with the object.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("c2am_") + info->test_suite_name() + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = (std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name.
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Removes the folders it was given when the test process exits normally
// (static destruction, after gtest's last test). Only in the process that
// registered them: a forked child that exits must not take its parent's data.
inline void remove_at_exit(const std::string& path) {
  struct Registry {
    pid_t owner = ::getpid();
    std::vector<std::string> paths;
    ~Registry() {
      if (::getpid() != owner) return;
      for (const auto& p : paths) {
        std::error_code ec;
        std::filesystem::remove_all(p, ec);
      }
    }
  };
  static Registry registry;
  registry.paths.push_back(path);
}

// <gtest's TempDir()>/<name>_<pid>, with nothing there (a leftover of an
// earlier run is removed); the caller, or the code under test, creates it.
// For folders that outlive one test (a dataset shared by a file's tests) or
// that a test hands on by name. Removed when the test process exits, so a
// suite run leaves nothing behind in the temporary folder.
inline std::string fresh_dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "/" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(d);
  remove_at_exit(d);
  return d;
}

}  // namespace c2am::testing_util
