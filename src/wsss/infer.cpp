#include "wsss/infer.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cams/cam_store.h"
#include "cams/map_store.h"
#include "checkpoint/trained.h"
#include "data/loader.h"
#include "image/png.h"
#include "jobs/image_jobs.h"
#include "model/network.h"
#include "model/precision.h"
#include "util/error.h"
#include "util/threads.h"
#include "wsss/multiscale.h"

namespace c2am::wsss {

namespace {

namespace fs = std::filesystem;

// What the three commands share: the trained network, the split, the job.
struct Inference {
  checkpoint::Trained trained;
  data::Dataset dataset;
  MultiScaleOptions ms;
  jobs::ImageJobOptions job;
};

Inference prepare(const config::Config& cfg, const InferOptions& o, const std::string& command,
                  const std::string& kind, const util::Logger& log) {
  torch::set_num_threads(util::resolve_threads(cfg.run.threads));
  Inference in{checkpoint::load_trained(o.checkpoint, kind), data::open_split(cfg.data, o.split), {}, {}};
  const config::Config& trained_cfg = in.trained.cfg;
  in.ms.scales = o.scales.empty() ? cfg.wsss.scales : o.scales;
  in.ms.device = model::resolve_device(cfg.run.device, o.local_rank);
  const model::Precision precision = model::resolve_precision(cfg.run, in.ms.device);
  in.trained.net->set_precision(precision);
  model::place(in.trained.net->module(), in.ms.device, precision.channels_last);
  in.ms.mean = cfg.data.mean;
  in.ms.std = cfg.data.std;
  in.ms.stride = 4;  // layer1
  for (int s : trained_cfg.model.strides) in.ms.stride *= s;
  if (kind == "c2am") {
    if (in.trained.polarity < 0) {
      log.warn(
          "{}: polarity unknown (training stopped before the first epoch ended); using P as the foreground",
          in.trained.path);
    }
    in.ms.negate = in.trained.polarity == 1;
  }
  log.info("{}: {} ({} {}, polarity {}) on {} ({} images), scales {}, device {}", command, in.trained.path,
           kind, trained_cfg.model.arch, in.trained.polarity, in.dataset.description,
           in.dataset.samples.size(), fmt::join(in.ms.scales, ", "), in.ms.device.str());
  nlohmann::json run = {{"command", command},
                        {"checkpoint", fs::absolute(in.trained.path).lexically_normal().string()},
                        {"split", o.split},
                        {"scales", in.ms.scales},
                        {"data", fs::absolute(cfg.data.root).lexically_normal().string()}};
  if (command == "infer-maps") run["formats"] = {{"png", o.png}, {"h5", o.h5}};
  in.job.command = command;
  in.job.out_dir = o.out_dir;
  in.job.run_json = run.dump();
  in.job.force = o.force;
  in.job.threads =
      cfg.data.loader_threads > 0 ? cfg.data.loader_threads : util::resolve_threads(cfg.run.threads);
  return in;
}

InferResult finish(const Inference& in, const jobs::ImageJobResult& r) {
  return InferResult{in.trained.path, in.trained.polarity, r.total, r.resumed, r.processed, r.seconds};
}

MapFn map_fn(model::Network& net) {
  return [&net](const torch::Tensor& x) { return net.maps(x); };
}

void write_grey_png(const std::string& path, int width, int height, std::vector<std::uint8_t> pixels) {
  image::Image img(width, height, 1);
  img.pixels = std::move(pixels);
  image::write_png(path, img);
}

}  // namespace

std::vector<std::uint8_t> to_8bit(const float* values, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = std::round(std::clamp(values[i], 0.0f, 1.0f) * 255.0f);
    out[i] = static_cast<std::uint8_t>(v);
  }
  return out;
}

InferResult infer_maps(const config::Config& cfg, const InferOptions& o, comm::Communicator& comm,
                       const util::Logger& log) {
  if (!o.png && !o.h5) throw UsageError("infer-maps: choose at least one output format (PNG or HDF5)");
  Inference in = prepare(cfg, o, "infer-maps", "c2am", log);
  const MapFn fn = map_fn(*in.trained.net);
  const jobs::ImageJobResult r = jobs::run_image_job(
      in.dataset, in.job, comm, log, [&](std::int64_t chunk, std::vector<jobs::JobImage>& images) {
        cams::MapChunkWriter writer(jobs::chunk_file(o.out_dir, "maps", chunk, "h5"));
        for (jobs::JobImage& im : images) {
          const torch::Tensor m = multiscale_maps(fn, im.rgb, in.ms);
          const float* v = m.data_ptr<float>();
          const size_t n = static_cast<size_t>(im.rgb.width) * static_cast<size_t>(im.rgb.height);
          if (o.png)
            write_grey_png(o.out_dir + "/" + im.stem + ".png", im.rgb.width, im.rgb.height, to_8bit(v, n));
          if (o.h5)
            writer.add(im.stem, cams::ScoreMap{im.rgb.width, im.rgb.height, std::vector<float>(v, v + n)});
        }
        if (o.h5) writer.finish();
      });
  if (o.h5 && comm.rank() == 0) {
    std::vector<std::pair<std::string, std::string>> links;
    const std::vector<std::string> stems = jobs::unique_stems(in.dataset);
    for (size_t i = 0; i < stems.size(); ++i) {
      const std::int64_t chunk = static_cast<std::int64_t>(i) / in.job.chunk_size;
      links.emplace_back(stems[i],
                         fs::relative(jobs::chunk_file(o.out_dir, "maps", chunk, "h5"), o.out_dir).string());
    }
    cams::write_map_index(o.out_dir, links);
  }
  return finish(in, r);
}

InferResult infer_cams(const config::Config& cfg, const InferOptions& o, comm::Communicator& comm,
                       const util::Logger& log) {
  Inference in = prepare(cfg, o, "infer-cams", "classifier", log);
  const MapFn fn = map_fn(*in.trained.net);
  const int num_classes = in.trained.cfg.model.num_classes;
  const jobs::ImageJobResult r = jobs::run_image_job(
      in.dataset, in.job, comm, log, [&](std::int64_t, std::vector<jobs::JobImage>& images) {
        for (jobs::JobImage& im : images) {
          // The image-level labels: the classes of its mask (the CAMs WSSS refines are those of the present
          // classes).
          const image::Image mask = in.dataset.mask(*im.sample);
          std::vector<bool> present(static_cast<size_t>(num_classes) + 1, false);
          for (std::uint8_t v : mask.pixels) {
            if (v >= 1 && v <= num_classes) present[v] = true;
          }
          cams::ClassCams cams;
          cams.width = im.rgb.width;
          cams.height = im.rgb.height;
          cams.image = im.sample->name;
          const torch::Tensor m = multiscale_maps(fn, im.rgb, in.ms);  // num_classes x H x W
          const size_t plane = static_cast<size_t>(cams.width) * static_cast<size_t>(cams.height);
          for (int k = 1; k <= num_classes; ++k) {
            if (!present[static_cast<size_t>(k)]) continue;
            cams.keys.push_back(k);
            const float* v = m[k - 1].data_ptr<float>();
            cams.values.insert(cams.values.end(), v, v + plane);
          }
          cams::write_class_cams(cams::class_cams_path(o.out_dir, im.stem), cams);
        }
      });
  return finish(in, r);
}

InferResult predict_saliency(const config::Config& cfg, const InferOptions& options, comm::Communicator& comm,
                             const util::Logger& log) {
  InferOptions o = options;
  if (o.scales.empty()) o.scales = {1.0};
  Inference in = prepare(cfg, o, "predict-saliency", "saliency", log);
  in.ms.activation = Activation::kSigmoid;
  in.ms.normalise = Normalise::kMean;
  in.ms.stride = 1;  // the network predicts at the input's resolution
  const MapFn fn = map_fn(*in.trained.net);
  const jobs::ImageJobResult r = jobs::run_image_job(
      in.dataset, in.job, comm, log, [&](std::int64_t, std::vector<jobs::JobImage>& images) {
        for (jobs::JobImage& im : images) {
          const torch::Tensor m = multiscale_maps(fn, im.rgb, in.ms);
          const size_t n = static_cast<size_t>(im.rgb.width) * static_cast<size_t>(im.rgb.height);
          write_grey_png(o.out_dir + "/" + im.stem + ".png", im.rgb.width, im.rgb.height,
                         to_8bit(m.data_ptr<float>(), n));
        }
      });
  return finish(in, r);
}

}  // namespace c2am::wsss
