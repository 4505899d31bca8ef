// Implements: tiny string helpers shared by modules (C++17 lacks starts_with).
#pragma once
#include <string_view>

namespace c2am::util {

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace c2am::util
