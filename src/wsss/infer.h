// Implements: the inference commands of the WSSS stage, each a trained network
// run over every image of a split with the multi-scale path (multiscale.h),
// split over the ranks of a launcher and resumable by chunks (jobs/image_jobs.h):
//   infer-maps        C²AM maps at image resolution: OUT/<stem>.png (8-bit,
//                     round(255 m)) and/or OUT/maps.h5 (float16, map_store.h)
//   infer-cams        the classifier's CAMs of the classes present in the
//                     image (its mask's labels): OUT/<stem>.h5 (cam_store.h)
//   predict-saliency  the saliency network's probability: OUT/<stem>.png
//                     (round(255 p), 255 = foreground), refined background cues
// Formats and the pipeline: docs/wsss.md.
#pragma once
#include <string>
#include <vector>

#include "config/config.h"
#include "comm/communicator.h"
#include "util/log.h"

namespace c2am::wsss {

struct InferOptions {
  std::string checkpoint;  // file or run folder
  std::string out_dir;
  std::string split = "train";
  bool force = false;          // discard earlier parts and start over
  bool png = true;             // infer-maps: 8-bit PNGs
  bool h5 = true;              // infer-maps: float16 HDF5
  std::vector<double> scales;  // empty: cfg.wsss.scales (predict-saliency: {1.0})
  int local_rank = 0;          // this process's rank on its node: picks its GPU (run.device)
};

struct InferResult {
  std::string checkpoint;
  int polarity = -1;
  std::int64_t total = 0, resumed = 0, processed = 0;
  double seconds = 0.0;
};

// Every rank calls these (identical call sites); rank 0 writes the index files.
InferResult infer_maps(const config::Config& cfg, const InferOptions& options, comm::Communicator& comm,
                       const util::Logger& log);
InferResult infer_cams(const config::Config& cfg, const InferOptions& options, comm::Communicator& comm,
                       const util::Logger& log);
InferResult predict_saliency(const config::Config& cfg, const InferOptions& options, comm::Communicator& comm,
                             const util::Logger& log);

// A map in [0, 1] as 8-bit grey: round(255 v), clamped.
std::vector<std::uint8_t> to_8bit(const float* values, std::size_t n);

}  // namespace c2am::wsss
