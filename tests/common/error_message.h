// Implements: the one test helper for error messages: what a call throws.
#pragma once
#include <functional>
#include <string>

#include "util/error.h"

namespace c2am::testing_util {

// The message of the c2am::Error (or subclass E) that `fn` throws; `none` when it throws nothing.
template <typename E = c2am::Error>
std::string error_message(const std::function<void()>& fn, const std::string& none = "(no error)") {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return none;
}

}  // namespace c2am::testing_util
