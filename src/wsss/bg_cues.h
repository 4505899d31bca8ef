// Implements: `c2am bg-cues` (method doc §8 step 3): for every image of a
// split, its C²AM map (from `c2am infer-maps`: maps.h5, or the 8-bit PNGs)
// thresholded into foreground (map > wsss.cue_threshold) and background, the
// two-label map refined by the dense CRF over the image (dense_crf.h, with the
// wsss.crf_* parameters), written as OUT/<stem>.png (8-bit grey, 255 =
// foreground, 0 = background). Images are split over the ranks of a launcher
// and over threads; resumable by chunks (jobs/image_jobs.h).
#pragma once
#include <string>

#include "config/config.h"
#include "comm/communicator.h"
#include "util/log.h"
#include "wsss/dense_crf.h"

namespace c2am::wsss {

struct BgCuesOptions {
  std::string maps_dir;  // the folder infer-maps wrote
  std::string out_dir;
  std::string split = "train";
  bool force = false;
};

struct BgCuesResult {
  std::int64_t total = 0, resumed = 0, processed = 0;
  double seconds = 0.0;
  double foreground_before =
      0.0;                        // mean fraction of foreground pixels after thresholding (this run's images)
  double foreground_after = 0.0;  // ... after the CRF
  std::string maps_source;        // maps.h5 or the PNG folder
};

// The CRF parameters of a configuration (wsss.crf_*), with `threads`.
CrfParams crf_params(const config::WsssConfig& w, int threads);

// Foreground (1) where value > threshold, else background (0).
std::vector<std::uint8_t> threshold_labels(const float* values, std::size_t n, double threshold);

BgCuesResult bg_cues(const config::Config& cfg, const BgCuesOptions& options, comm::Communicator& comm,
                     const util::Logger& log);

}  // namespace c2am::wsss
