#include "wsss/bg_cues.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cams/map_store.h"
#include "data/loader.h"
#include "image/png.h"
#include "jobs/image_jobs.h"
#include "util/error.h"
#include "util/threads.h"

namespace c2am::wsss {

namespace fs = std::filesystem;

CrfParams crf_params(const config::WsssConfig& w, int threads) {
  CrfParams p;
  p.iterations = w.crf_iterations;
  p.gt_prob = w.crf_gt_prob;
  p.gauss_sxy = static_cast<float>(w.crf_gauss_sxy);
  p.gauss_compat = static_cast<float>(w.crf_gauss_compat);
  p.bilateral_sxy = static_cast<float>(w.crf_bilateral_sxy);
  p.bilateral_srgb = static_cast<float>(w.crf_bilateral_srgb);
  p.bilateral_compat = static_cast<float>(w.crf_bilateral_compat);
  p.threads = threads;
  p.validate();
  return p;
}

std::vector<std::uint8_t> threshold_labels(const float* values, std::size_t n, double threshold) {
  std::vector<std::uint8_t> labels(n);
  const auto t = static_cast<float>(threshold);
  for (std::size_t i = 0; i < n; ++i) labels[i] = values[i] > t ? 1 : 0;
  return labels;
}

BgCuesResult bg_cues(const config::Config& cfg, const BgCuesOptions& o, comm::Communicator& comm,
                     const util::Logger& log) {
  const int threads = util::resolve_threads(cfg.run.threads);
  torch::set_num_threads(1);
  const data::Dataset dataset = data::open_split(cfg.data, o.split);
  BgCuesResult result;
  const std::string index = o.maps_dir + "/maps.h5";
  std::unique_ptr<cams::MapReader> reader;
  if (fs::exists(index)) {
    reader = std::make_unique<cams::MapReader>(index);
    result.maps_source = index;
  } else if (fs::is_directory(o.maps_dir)) {
    result.maps_source = o.maps_dir + "/<stem>.png";
  } else {
    throw UsageError(fmt::format("--maps '{}' is not a folder written by c2am infer-maps", o.maps_dir));
  }
  const CrfParams params = crf_params(cfg.wsss, 1);
  nlohmann::json run = {
      {"command", "bg-cues"},
      {"maps", result.maps_source},
      {"split", o.split},
      {"threshold", cfg.wsss.cue_threshold},
      {"crf",
       {{"iterations", params.iterations},
        {"gt_prob", params.gt_prob},
        {"gauss", {params.gauss_sxy, params.gauss_compat}},
        {"bilateral", {params.bilateral_sxy, params.bilateral_srgb, params.bilateral_compat}}}}};
  jobs::ImageJobOptions job;
  job.command = "bg-cues";
  job.out_dir = o.out_dir;
  job.run_json = run.dump();
  job.force = o.force;
  job.threads = threads;
  log.info("bg-cues: maps {} -> cues in {}; foreground where map > {}, CRF {} iterations ({} threads)",
           result.maps_source, o.out_dir, cfg.wsss.cue_threshold, params.iterations, threads);

  std::atomic<std::int64_t> fg_before{0}, fg_after{0}, pixels{0};
  auto one = [&](const jobs::JobImage& im) {
    const int w = im.rgb.width, h = im.rgb.height;
    cams::ScoreMap map;
    if (reader) {
      map = reader->read(im.stem);
    } else {
      const image::Image png = image::read_png(o.maps_dir + "/" + im.stem + ".png");
      map.width = png.width;
      map.height = png.height;
      for (std::uint8_t v : png.pixels) map.values.push_back(static_cast<float>(v) / 255.0f);
      if (png.channels != 1) throw Error(fmt::format("{}/{}.png is not a grey map", o.maps_dir, im.stem));
    }
    if (map.width != w || map.height != h) {
      throw Error(fmt::format("the map of '{}' is {}x{} but the image {} is {}x{}", im.stem, map.width,
                              map.height, dataset.where(*im.sample), w, h));
    }
    const size_t n = static_cast<size_t>(w) * static_cast<size_t>(h);
    std::vector<std::uint8_t> labels = threshold_labels(map.values.data(), n, cfg.wsss.cue_threshold);
    std::int64_t before = 0;
    for (std::uint8_t v : labels) before += v;
    if (params.iterations > 0)
      labels = crf_refine_labels(im.rgb.pixels.data(), w, h, labels.data(), 2, params);
    image::Image cue(w, h, 1);
    std::int64_t after = 0;
    for (size_t i = 0; i < n; ++i) {
      cue.pixels[i] = labels[i] ? 255 : 0;
      after += labels[i];
    }
    image::write_png(o.out_dir + "/" + im.stem + ".png", cue);
    fg_before += before;
    fg_after += after;
    pixels += static_cast<std::int64_t>(n);
  };
  const jobs::ImageJobResult r =
      jobs::run_image_job(dataset, job, comm, log, [&](std::int64_t, std::vector<jobs::JobImage>& images) {
        util::parallel_for(images.size(), threads, [&](size_t i) { one(images[i]); });
      });
  result.total = r.total;
  result.resumed = r.resumed;
  result.processed = r.processed;
  result.seconds = r.seconds;
  if (pixels > 0) {
    result.foreground_before = static_cast<double>(fg_before) / static_cast<double>(pixels.load());
    result.foreground_after = static_cast<double>(fg_after) / static_cast<double>(pixels.load());
  }
  return result;
}

}  // namespace c2am::wsss
