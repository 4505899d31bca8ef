#include "util/run_signature.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/fs.h"

namespace c2am::util {

void claim_parts_dir(const std::string& parts_dir, const std::string& run_json, bool force) {
  namespace fs = std::filesystem;
  const nlohmann::json run = nlohmann::json::parse(run_json);
  if (force) {
    std::error_code ec;
    fs::remove_all(parts_dir, ec);
  }
  make_dirs(parts_dir);
  const std::string run_file = parts_dir + "/run.json";
  if (fs::exists(run_file)) {
    const nlohmann::json before =
        nlohmann::json::parse(read_file(run_file), nullptr, /*allow_exceptions=*/false);
    if (before != run) {
      throw UsageError(fmt::format(
          "'{}' holds parts computed with other settings ({} now: {}); rerun with --force to start over, "
          "or choose another -o",
          parts_dir, before.is_discarded() ? std::string("unreadable") : before.dump(), run.dump()));
    }
    return;
  }
  write_file_atomic(run_file, run.dump(2) + "\n");
}

}  // namespace c2am::util
