// Implements: `c2am convert-cams` (convert_cams.h): one .npy CAM dict into
// ClassCams (key convention, CAM key, value checks), and the parallel,
// resumable conversion of a folder with progress and a summary.
#include "cams/convert_cams.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>

#include "cams/npy.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/pickle.h"
#include "util/threads.h"

namespace c2am::cams {

namespace fs = std::filesystem;
namespace pk = util::pickle;

namespace {

using Clock = std::chrono::steady_clock;
constexpr float kClipSlack = 1e-3f;

std::string quoted_keys(const pk::Value& dict) {
  std::vector<std::string> keys = pk::str_keys(dict);
  for (std::string& k : keys) k = "'" + k + "'";
  return keys.empty() ? "none" : fmt::format("{}", fmt::join(keys, ", "));
}

// The key of the CAM entry: the one asked for, or high_res, else hr_cam.
std::string pick_cam_key(const pk::Value& dict, const std::string& path, const std::string& cam_key) {
  if (cam_key != "auto") {
    if (!pk::find(dict, cam_key)) {
      throw Error(fmt::format("{}: no '{}' entry (the dict holds {})", path, cam_key, quoted_keys(dict)));
    }
    return cam_key;
  }
  for (const char* k : {"high_res", "hr_cam"}) {
    if (pk::find(dict, k)) return k;
  }
  throw Error(
      fmt::format("{}: no 'high_res' or 'hr_cam' entry (the dict holds {}); choose one with --cam-key", path,
                  quoted_keys(dict)));
}

// The class indices (1..255) of the maps from the file's keys.
std::vector<int> class_keys(const std::vector<std::int64_t>& keys, std::int64_t maps, const std::string& path,
                            const std::string& convention) {
  const auto n = static_cast<std::int64_t>(keys.size());
  const bool padded_fits = n == maps + 1 && keys[0] == 0;
  std::string use = convention;
  if (use == "auto") {
    if (padded_fits) {
      use = "padded";
    } else if (n == maps) {
      use = "zero-based";
    } else {
      throw Error(fmt::format(
          "{}: {} keys [{}] for {} maps fit neither convention (zero-based, IRN: one key per map; padded, "
          "C²AM / PuzzleCAM: [0, k1 + 1, ...], one more); check the file or choose --keys",
          path, n, fmt::join(keys, ", "), maps));
    }
  }
  std::vector<int> out;
  if (use == "padded") {
    if (!padded_fits) {
      throw Error(
          fmt::format("{}: --keys padded needs {} keys starting with 0 for {} maps, the file has {} [{}]",
                      path, maps + 1, maps, n, fmt::join(keys, ", ")));
    }
    for (std::int64_t i = 1; i < n; ++i)
      out.push_back(static_cast<int>(std::clamp<std::int64_t>(keys[i], -1, 1000)));
  } else {
    if (n != maps) {
      throw Error(fmt::format("{}: --keys zero-based needs one key per map ({}), the file has {} [{}]", path,
                              maps, n, fmt::join(keys, ", ")));
    }
    for (std::int64_t k : keys) out.push_back(static_cast<int>(std::clamp<std::int64_t>(k, -2, 1000) + 1));
  }
  std::set<int> seen;
  for (int k : out) {
    if (k < 1 || k > cams::kMaxCamKey) {
      throw Error(fmt::format("{}: keys [{}] ({}) give class index {}, outside 1..{}", path,
                              fmt::join(keys, ", "), use, k, cams::kMaxCamKey));
    }
    if (!seen.insert(k).second)
      throw Error(fmt::format("{}: class index {} appears twice in the keys", path, k));
  }
  return out;
}

// Removes temporary files that killed runs left behind (their process is gone).
void remove_stale_temporaries(const std::string& out) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".h5.tmp.");
    if (at == std::string::npos) continue;
    const std::string pid_text = name.substr(at + 8);
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(pid_text);
    if (pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      fs::remove(entry.path(), ec);
  }
}

std::string duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

void validate(const ConvertCamsOptions& o) {
  if (o.source.empty()) throw UsageError("convert-cams: the source folder is empty");
  if (o.out.empty()) throw UsageError("convert-cams: the output folder (-o, --out) is empty");
  const std::set<std::string> keys = {"auto", "zero-based", "padded"},
                              cams = {"auto", "high_res", "hr_cam", "cam"};
  if (keys.count(o.keys) == 0)
    throw UsageError(fmt::format("convert-cams: --keys '{}' (auto | zero-based | padded)", o.keys));
  if (cams.count(o.cam_key) == 0) {
    throw UsageError(fmt::format("convert-cams: --cam-key '{}' (auto | high_res | hr_cam | cam)", o.cam_key));
  }
  if (o.threads < 0) throw UsageError(fmt::format("convert-cams: --threads must be >= 0, got {}", o.threads));
  std::error_code ec;
  if (!fs::is_directory(o.source, ec))
    throw UsageError(fmt::format("convert-cams: '{}' is not a folder", o.source));
  if (fs::exists(o.out, ec) && !fs::is_directory(o.out, ec)) {
    throw UsageError(fmt::format("convert-cams: output '{}' exists and is not a folder", o.out));
  }
}

}  // namespace

cams::ClassCams cams_from_npy(const std::string& path, const std::string& stem, const std::string& keys,
                              const std::string& cam_key, std::int64_t* clipped) {
  const NpyArray file = read_npy(path, /*allow_pickle=*/true);
  if (file.dtype != DType::kObject || file.objects.size() != 1) {
    throw Error(fmt::format("{}: a {}, not a dict saved with np.save", path, file.describe()));
  }
  const pk::Value& dict = *file.objects[0];
  if (dict.kind != pk::Kind::kDict) {
    throw Error(fmt::format("{}: holds a Python {}, not a dict", path,
                            dict.kind == pk::Kind::kObject ? dict.text : pk::kind_name(dict.kind)));
  }
  const std::string key = pick_cam_key(dict, path, cam_key);
  const pk::ValuePtr keys_value = pk::find(dict, "keys");
  if (!keys_value)
    throw Error(fmt::format("{}: no 'keys' entry (the dict holds {})", path, quoted_keys(dict)));

  const std::string cam_what = fmt::format("{}: '{}'", path, key);
  const NpyArray cam = array_from_value(*pk::find(dict, key), cam_what);
  if (cam.shape.size() != 3 || cam.shape[1] <= 0 || cam.shape[2] <= 0 || cam.dtype == DType::kObject) {
    throw Error(fmt::format("{} is a {}, expected a numeric (C, H, W) array", cam_what, cam.describe()));
  }
  if (cam.shape[1] > 65536 || cam.shape[2] > 65536)
    throw Error(fmt::format("{} is a {}: too large", cam_what, cam.describe()));
  const std::string keys_what = fmt::format("{}: 'keys'", path);
  const NpyArray keys_array = array_from_value(*keys_value, keys_what);
  if (keys_array.shape.size() != 1 || !is_integer(keys_array.dtype)) {
    throw Error(fmt::format("{} is a {}, expected a 1-D integer array", keys_what, keys_array.describe()));
  }
  cams::ClassCams c;
  c.keys = class_keys(keys_array.to_int64(keys_what), cam.shape[0], path, keys);
  c.height = static_cast<int>(cam.shape[1]);
  c.width = static_cast<int>(cam.shape[2]);
  c.image = stem;
  c.values = cam.to_float(cam_what);
  std::int64_t bad = 0, far = 0;
  for (float& v : c.values) {
    if (!std::isfinite(v)) {
      ++bad;
      continue;
    }
    if (v < -kClipSlack || v > 1.0f + kClipSlack) ++far;
    v = std::clamp(v, 0.0f, 1.0f);
  }
  if (bad > 0) throw Error(fmt::format("{} holds {} non-finite values (NaN or infinity)", cam_what, bad));
  if (clipped != nullptr) *clipped = far;
  return c;
}

ConvertCamsResult convert_cams(const ConvertCamsOptions& o, const util::Logger& log) {
  validate(o);
  const auto start = Clock::now();
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(o.source, ec)) {
    if (entry.path().extension() == ".npy" && entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  if (ec) throw IoError(fmt::format("cannot list folder '{}': {}", o.source, ec.message()));
  if (files.empty()) throw Error(fmt::format("convert-cams: no .npy files in '{}'", o.source));
  std::sort(files.begin(), files.end());
  util::make_dirs(o.out);
  remove_stale_temporaries(o.out);

  ConvertCamsResult r;
  std::mutex mu;  // guards r, first_error, progress
  std::atomic<bool> stop{false};
  std::string first_error;
  size_t first_error_index = files.size();
  std::string first_clipped;
  std::int64_t done = 0, worked = 0;
  auto last = start;
  const auto total = static_cast<std::int64_t>(files.size());

  util::parallel_for(files.size(), util::resolve_threads(o.threads), [&](size_t i) {
    if (stop) return;
    const std::string src = files[i].string();
    const std::string stem = files[i].stem().string();
    const std::string dst = cams::class_cams_path(o.out, stem);
    bool skipped = false, failed = false;
    std::int64_t clipped = 0;
    std::string error;
    try {
      if (!o.force && fs::exists(dst)) {
        try {
          cams::read_class_cams_header(dst);
          skipped = true;
        } catch (const Error&) {  // torn or foreign: convert again
        }
      }
      if (!skipped)
        cams::write_class_cams(dst, cams_from_npy(src, stem, o.keys, o.cam_key, &clipped), !o.float32);
    } catch (const std::exception& e) {
      failed = true;
      error = e.what();
    }
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    if (failed) {
      ++r.failed;
      if (o.skip_bad) {
        log.warn("convert-cams: skipping {}", error);
        r.failures.push_back(error);
      } else if (i < first_error_index) {
        first_error_index = i;
        first_error = error;
        stop = true;
      }
    } else if (skipped) {
      ++r.skipped;
    } else {
      ++r.converted;
      ++worked;
      if (clipped > 0) {
        if (r.clipped_files++ == 0) first_clipped = src;
        r.clipped_values += clipped;
      }
    }
    const auto now = Clock::now();
    if (now - last >= std::chrono::seconds(2) || done == total) {
      last = now;
      const double s = std::chrono::duration<double>(now - start).count();
      const double rate = s > 0 ? static_cast<double>(worked) / s : 0.0;
      log.progress(fmt::format(
          "convert-cams: {}/{} files ({} converted, {} skipped, {} failed), {:.1f} images/s, ETA {}", done,
          total, r.converted, r.skipped, r.failed, rate,
          done == total ? duration(0)
          : rate > 0    ? duration(static_cast<double>(total - done) / rate)
                        : std::string("?")));
    }
  });
  log.end_progress();
  if (!first_error.empty()) throw Error(first_error);
  if (r.clipped_values > 0) {
    log.warn(
        "convert-cams: {} values in {} file(s) lay outside [0, 1] by more than {} and were clipped (first: "
        "{})",
        r.clipped_values, r.clipped_files, kClipSlack, first_clipped);
  }
  std::sort(r.failures.begin(), r.failures.end());
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

}  // namespace c2am::cams
