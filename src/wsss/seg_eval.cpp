#include "wsss/seg_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cams/cam_store.h"
#include "data/loader.h"
#include "image/png.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"
#include "wsss/refine.h"

namespace c2am::wsss {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

image::Image read_label_png(const std::string& path, int width, int height, const std::string& what) {
  image::Image m = image::read_png(path);
  if (m.channels != 1) throw Error(fmt::format("{} '{}' is not a 1-channel label PNG", what, path));
  if (width > 0 && (m.width != width || m.height != height)) {
    throw Error(
        fmt::format("{} '{}' is {}x{} but the image is {}x{}", what, path, m.width, m.height, width, height));
  }
  return m;
}

// The ground truth of an image by its stem.
class GroundTruth {
 public:
  explicit GroundTruth(const EvalSegOptions& o) : dir_(o.gt_dir) {
    if (!o.gt_dir.empty()) {
      if (!fs::is_directory(o.gt_dir)) throw UsageError(fmt::format("--gt '{}' is not a folder", o.gt_dir));
      source_ = o.gt_dir + "/<stem>.png";
      return;
    }
    if (!o.data)
      throw UsageError(
          "eval-seg needs the ground truth: --gt DIR (label PNGs) or --data DIR (a packed VOC split)");
    dataset_ = std::make_unique<data::Dataset>(data::open_split(*o.data, o.split));
    for (size_t i = 0; i < dataset_->samples.size(); ++i)
      by_stem_[data::sample_stem(dataset_->samples[i])] = i;
    source_ = dataset_->description + " masks";
  }
  image::Image get(const std::string& stem) const {
    if (dataset_) {
      const auto it = by_stem_.find(stem);
      if (it == by_stem_.end())
        throw Error(fmt::format("image '{}' is not in {}", stem, dataset_->description));
      return dataset_->mask(dataset_->samples[it->second]);
    }
    return read_label_png(dir_ + "/" + stem + ".png", 0, 0, "ground truth");
  }
  const std::string& source() const { return source_; }

 private:
  std::string dir_;
  std::string source_;
  std::unique_ptr<data::Dataset> dataset_;
  std::map<std::string, size_t> by_stem_;
};

std::string json_number(double v) { return std::isnan(v) ? "null" : fmt::format("{}", v); }
std::string json_string(const std::string& v) { return nlohmann::json(v).dump(); }

}  // namespace

std::vector<std::string> image_ids(const std::string& list_file, const std::string& dir,
                                   const std::string& ext) {
  std::vector<std::string> ids;
  if (!list_file.empty()) {
    std::istringstream in(util::read_file(list_file));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream tokens(line);
      std::string first;
      if (tokens >> first) ids.push_back(fs::path(first).stem().string());
    }
    if (ids.empty()) throw UsageError(fmt::format("list '{}' names no image", list_file));
    return ids;
  }
  if (!fs::is_directory(dir)) throw UsageError(fmt::format("'{}' is not a folder", dir));
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == "." + ext) ids.push_back(e.path().stem().string());
  }
  std::sort(ids.begin(), ids.end());
  if (ids.empty()) throw UsageError(fmt::format("'{}' holds no .{} file", dir, ext));
  return ids;
}

RefineCamsResult refine_cams(const RefineCamsOptions& o, const util::Logger& log) {
  const auto t0 = Clock::now();
  const std::vector<std::string> ids = image_ids(o.list_file, o.cams_dir, "h5");
  util::make_dirs(o.out_dir);
  log.info(
      "refine-cams: {} images, background = {}", ids.size(),
      o.cues_dir.empty() ? fmt::format("constant {}", o.bg_threshold) : "1 - cue/255 from " + o.cues_dir);
  const image::Palette palette = image::voc_palette();
  util::parallel_for(ids.size(), o.threads, [&](size_t i) {
    const std::string& stem = ids[i];
    const cams::ClassCams c = cams::read_class_cams(cams::class_cams_path(o.cams_dir, stem));
    image::Image cue;
    if (!o.cues_dir.empty()) cue = read_label_png(o.cues_dir + "/" + stem + ".png", c.width, c.height, "cue");
    image::Image mask(c.width, c.height, 1);
    mask.pixels = pseudo_mask(CamView{c.keys, c.width, c.height, c.values},
                              cue.pixels.empty() ? nullptr : cue.pixels.data(), o.bg_threshold, stem);
    image::write_png_palette(o.out_dir + "/" + stem + ".png", mask, palette);
  });
  return RefineCamsResult{static_cast<std::int64_t>(ids.size()),
                          std::chrono::duration<double>(Clock::now() - t0).count()};
}

EvalSegResult eval_seg(const EvalSegOptions& o, const util::Logger& log) {
  const bool from_cams = !o.cams_dir.empty();
  if (from_cams == !o.pred_dir.empty()) throw UsageError("eval-seg scores either --pred DIR or --cams DIR");
  if (!from_cams && (o.sweep || !o.cues_dir.empty()))
    throw UsageError("--cues and --sweep score CAMs: use --cams DIR");
  const GroundTruth truth(o);
  const std::vector<std::string> ids =
      image_ids(o.list_file, from_cams ? o.cams_dir : o.pred_dir, from_cams ? "h5" : "png");
  const std::vector<double> thresholds =
      o.sweep ? (o.thresholds.empty() ? default_bg_thresholds() : o.thresholds) : std::vector<double>{};
  const bool constant = from_cams && !o.sweep && o.cues_dir.empty();
  log.info("eval-seg: {} images against {}", ids.size(), truth.source());

  struct Counts {
    explicit Counts(int c, size_t sweep) : pred(c), cues(c), constant(c), sweep(sweep, SegCounts(c)) {}
    SegCounts pred, cues, constant;
    std::vector<SegCounts> sweep;
  };
  const int threads = std::max(1, std::min<int>(o.threads, static_cast<int>(ids.size())));
  std::vector<Counts> per_thread(static_cast<size_t>(threads), Counts(o.num_classes, thresholds.size()));
  util::run_threads(threads, [&](int t) {
    Counts& c = per_thread[static_cast<size_t>(t)];
    for (size_t i = static_cast<size_t>(t); i < ids.size(); i += static_cast<size_t>(threads)) {
      const std::string& stem = ids[i];
      const image::Image gt = truth.get(stem);
      const size_t n = gt.pixels.size();
      if (!from_cams) {
        const image::Image p =
            read_label_png(o.pred_dir + "/" + stem + ".png", gt.width, gt.height, "prediction");
        c.pred.add(p.pixels.data(), gt.pixels.data(), n, stem);
        continue;
      }
      const cams::ClassCams cams = cams::read_class_cams(cams::class_cams_path(o.cams_dir, stem));
      if (cams.width != gt.width || cams.height != gt.height) {
        throw Error(fmt::format("the CAMs of '{}' are {}x{} but its ground truth is {}x{}", stem, cams.width,
                                cams.height, gt.width, gt.height));
      }
      const CamView view{cams.keys, cams.width, cams.height, cams.values};
      if (!o.cues_dir.empty()) {
        const image::Image cue = read_label_png(o.cues_dir + "/" + stem + ".png", gt.width, gt.height, "cue");
        const auto m = pseudo_mask(view, cue.pixels.data(), o.bg_threshold, stem);
        c.cues.add(m.data(), gt.pixels.data(), n, stem);
      }
      if (constant) {
        const auto m = pseudo_mask(view, nullptr, o.bg_threshold, stem);
        c.constant.add(m.data(), gt.pixels.data(), n, stem);
      }
      if (!thresholds.empty()) add_threshold_sweep(view, gt.pixels.data(), thresholds, c.sweep, stem);
    }
  });
  Counts total(o.num_classes, thresholds.size());
  for (const Counts& c : per_thread) {
    total.pred.merge(c.pred);
    total.cues.merge(c.cues);
    total.constant.merge(c.constant);
    for (size_t j = 0; j < thresholds.size(); ++j) total.sweep[j].merge(c.sweep[j]);
  }

  EvalSegResult r;
  r.images = static_cast<std::int64_t>(ids.size());
  r.gt_source = truth.source();
  const std::vector<std::string>& names = voc_class_names();
  std::vector<std::string> parts;
  if (!from_cams) {
    r.pred = score(total.pred);
    parts.push_back(fmt::format(R"("pred":{{"dir":{},"scores":{}}})", json_string(o.pred_dir),
                                scores_json(*r.pred, total.pred, names)));
  }
  if (!o.cues_dir.empty()) {
    r.cues = score(total.cues);
    parts.push_back(fmt::format(R"("cues":{{"dir":{},"scores":{}}})", json_string(o.cues_dir),
                                scores_json(*r.cues, total.cues, names)));
  }
  if (constant) {
    r.constant = score(total.constant);
    parts.push_back(fmt::format(R"("constant":{{"bg_threshold":{},"scores":{}}})", o.bg_threshold,
                                scores_json(*r.constant, total.constant, names)));
  }
  if (!thresholds.empty()) {
    std::vector<std::string> points;
    for (size_t j = 0; j < thresholds.size(); ++j) {
      r.sweep.push_back(SweepPoint{thresholds[j], score(total.sweep[j])});
      if (!r.best || r.sweep.back().scores.miou > r.best->scores.miou) r.best = r.sweep.back();
      const SegScores& s = r.sweep.back().scores;
      points.push_back(fmt::format(R"({{"bg_threshold":{},"miou":{},"fp":{},"fn":{}}})", thresholds[j],
                                   json_number(s.miou), json_number(s.fp), json_number(s.fn)));
    }
    const size_t best = static_cast<size_t>(
        std::find_if(r.sweep.begin(), r.sweep.end(),
                     [&](const SweepPoint& p) { return p.threshold == r.best->threshold; }) -
        r.sweep.begin());
    parts.push_back(fmt::format(R"("sweep":{{"points":[{}],"best":{{"bg_threshold":{},"scores":{}}}}})",
                                fmt::join(points, ","), r.best->threshold,
                                scores_json(r.best->scores, total.sweep[best], names)));
  }
  if (!o.out_dir.empty()) {
    util::make_dirs(o.out_dir);
    r.metrics_file = o.out_dir + "/metrics.json";
    util::write_file_atomic(r.metrics_file, fmt::format(R"({{"images":{},"ground_truth":{},{}}})", r.images,
                                                        json_string(r.gt_source), fmt::join(parts, ",")) +
                                                "\n");
  }
  return r;
}

}  // namespace c2am::wsss
