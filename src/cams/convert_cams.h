// Implements: `c2am convert-cams`: the per-image CAM .npy files of Python
// WSSS code bases (np.save of {"keys", "high_res" | "hr_cam", "cam"}: IRN,
// PuzzleCAM, the C²AM authors' code) into our class-CAM files
// (data/cam_store.h, docs/cams.md), in parallel and resumable.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cams/cam_store.h"
#include "util/log.h"

namespace c2am::cams {

struct ConvertCamsOptions {
  std::string source;            // folder of <stem>.npy
  std::string out;               // folder of <stem>.h5 (created)
  std::string keys = "auto";     // auto | zero-based | padded
  std::string cam_key = "auto";  // auto | high_res | hr_cam | cam
  bool float32 = false;          // store float32 instead of float16
  int threads = 0;               // 0 = the cores this process may use
  bool force = false;            // reconvert files whose output exists and is valid
  bool skip_bad = false;         // report bad files and go on instead of stopping
};

struct ConvertCamsResult {
  std::int64_t converted = 0;         // written by this run
  std::int64_t skipped = 0;           // valid outputs already there
  std::int64_t failed = 0;            // bad files passed over (--skip-bad; else the run throws)
  std::vector<std::string> failures;  // their errors, sorted by file
  std::int64_t clipped_values = 0;    // values outside [0, 1] by more than 1e-3, clipped
  std::int64_t clipped_files = 0;
  double seconds = 0;
};

// The class CAMs of one .npy file (`stem` names the image). `keys` and
// `cam_key` as in ConvertCamsOptions. auto keys: len(keys) == C + 1 with
// keys[0] == 0 is padded (C²AM / PuzzleCAM: drop the 0, keep the rest as
// class indices), len(keys) == C is zero-based (IRN: + 1); auto cam key:
// high_res, else hr_cam. Values must be finite; values outside [0, 1] are
// clipped and counted in *clipped when farther than 1e-3. Throws c2am::Error
// naming the file and what is wrong.
cams::ClassCams cams_from_npy(const std::string& path, const std::string& stem, const std::string& keys,
                              const std::string& cam_key, std::int64_t* clipped);

// Converts every <stem>.npy of options.source into options.out/<stem>.h5.
// Outputs that exist and read back valid are skipped unless options.force.
// Progress (count, images/s, ETA) goes to `log` every ~2 s. A bad file throws
// c2am::Error naming it, unless options.skip_bad (then each is warned about
// and counted). Bad options throw c2am::UsageError.
ConvertCamsResult convert_cams(const ConvertCamsOptions& options, const util::Logger& log);

}  // namespace c2am::cams
