// Implements: the settings signature of a resumable output folder. Its parts
// folder holds run.json, what the parts were computed with; a rerun with other
// settings is refused (a UsageError naming the folder and both settings) unless
// forced, which deletes the parts folder and starts over.
#pragma once
#include <string>

namespace c2am::util {

// Creates `parts_dir` if needed. `run_json`: a JSON object (text) of the
// settings; compared as parsed JSON with an existing run.json.
void claim_parts_dir(const std::string& parts_dir, const std::string& run_json, bool force);

}  // namespace c2am::util
