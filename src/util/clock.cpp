// Implements: iso8601_now (see clock.h).
#include "util/clock.h"

#include <ctime>

namespace c2am::util {

std::string iso8601_now(bool utc) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  if (utc) {
    gmtime_r(&t, &tm);
  } else {
    localtime_r(&t, &tm);
  }
  char buf[64];
  std::strftime(buf, sizeof buf, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%S%z", &tm);
  return buf;
}

}  // namespace c2am::util
