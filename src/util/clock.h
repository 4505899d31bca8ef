// Implements: the wall-clock time as ISO 8601 text, for files people read
// (a lock's holder line, the session log).
#pragma once
#include <string>

namespace c2am::util {

// Now, to the second: "2026-12-05T23:40:00Z" in UTC, or
// "2026-12-06T00:40:00+0100" in local time with its offset.
std::string iso8601_now(bool utc);

}  // namespace c2am::util
