// Fuzz harness: the TOML configuration (config::load_from_string: toml++
// parse, typed keys, validation) and, when it loads, to_toml and a reload,
// which must give the same text (the round trip checkpoints rely on).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "config/config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string saved;
  try {
    saved = c2am::config::to_toml(c2am::config::load_from_string(text, "fuzz.toml"));
  } catch (const std::exception&) {
    return 0;
  }
  try {
    if (c2am::config::to_toml(c2am::config::load_from_string(saved, "saved.toml")) != saved) std::abort();
  } catch (const std::exception&) {
    std::abort();  // a loaded config whose saved form does not load
  }
  return 0;
}
