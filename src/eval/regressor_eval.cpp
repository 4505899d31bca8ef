#include "eval/regressor_eval.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "checkpoint/trained.h"
#include "data/loader.h"
#include "eval/corloc.h"
#include "eval/eval_common.h"
#include "eval/extract_boxes.h"
#include "eval/heatmap.h"
#include "image/png.h"
#include "model/network.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"

namespace c2am::eval {

namespace {

constexpr std::array<double, 3> kIous = {0.3, 0.5, 0.7};

// Counts of one rank: hits per IoU, top-1/5 Loc and classification, images;
// the IoU sum in millionths (exactly summable over ranks).
struct Counts {
  std::vector<int64_t> v = std::vector<int64_t>(9, 0);
  enum : size_t { kHit03, kHit05, kHit07, kTop1Loc, kTop5Loc, kTop1Cls, kTop5Cls, kImages, kIouMicro };
};

// A regressed (x, y, w, h) / side as a box in pixels of the side x side crop;
// the authors' inference_CUB.py: x1 = w * side + x0, y1 = h * side + y0.
image::Box regressed_box(const float* xywh, int side) {
  const auto s = static_cast<float>(side);
  const float x0 = xywh[0] * s, y0 = xywh[1] * s;
  return image::Box{x0, y0, xywh[2] * s + x0, xywh[3] * s + y0};
}

struct Picture {
  image::Image crop;
  image::Box box;
  std::vector<image::Box> gt;
};

// Rank 0: the kept crops with the regressed (red) and ground-truth (green) boxes.
std::vector<std::string> draw_pictures(const std::vector<Picture>& pics, int crop,
                                       const std::string& out_dir) {
  std::vector<image::Image> pictures;
  for (const Picture& p : pics) {
    image::Image img = p.crop;
    for (const image::Box& g : p.gt) draw_box(img, g, {0, 255, 0}, 1);
    draw_box(img, p.box, {255, 0, 0}, 1);
    pictures.push_back(std::move(img));
  }
  return write_pictures(pictures, crop, out_dir);
}

nlohmann::ordered_json to_json(const RegressorEvalResult& r) {
  nlohmann::ordered_json j;
  j["kind"] = "regressor";
  j["checkpoint"] = r.checkpoint;
  j["images"] = r.images;
  j["ranks"] = r.world;
  j["gt_known_loc"] = r.gt_known_loc;
  for (size_t k = 0; k < kIous.size(); ++k) j["box_acc"][fmt::format("iou_{:.1f}", kIous[k])] = r.box_acc[k];
  j["box_acc_mean"] = r.box_acc_mean;
  j["mean_iou"] = r.mean_iou;
  j["centre_box_baseline_corloc"] = r.centre_baseline;
  if (r.with_classes) {
    j["top_k_loc"] = {{"top1_loc", r.top1_loc},
                      {"top5_loc", r.top5_loc},
                      {"top1_cls", r.top1_cls},
                      {"top5_cls", r.top5_cls}};
  }
  return j;
}

}  // namespace

RegressorEvalResult evaluate_regressor(const config::Config& cfg, const RegressorEvalOptions& options,
                                       comm::Communicator& comm, const util::Logger& log) {
  torch::set_num_threads(util::resolve_threads(cfg.run.threads));
  checkpoint::Trained trained = checkpoint::load_trained(options.checkpoint, "regressor");
  model::RegressorNetImpl& net = model::RegressorNetwork::of(*trained.net, trained.path).regressor();
  torch::NoGradGuard no_grad;
  RegressorEvalResult r;
  r.checkpoint = trained.path;
  r.world = comm.world();
  r.with_classes = !options.class_predictions.empty();
  const auto predictions = r.with_classes ? read_class_predictions(options.class_predictions)
                                          : std::map<std::string, std::vector<int>>{};
  const data::Transform tf = data::test_transform(cfg.data);
  const bool keep_crops = comm.rank() == 0 && options.heatmaps > 0;
  data::Loader loader = make_eval_loader(cfg, tf, keep_crops, comm);
  log.info("evaluating the box regressor {} on {}{}", trained.path, loader.dataset().description,
           comm.world() > 1 ? fmt::format(" ({} ranks)", comm.world()) : std::string());
  Counts counts;
  std::vector<std::vector<image::Box>> all_gt;
  std::vector<Picture> pictures;
  std::string lines;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const torch::Tensor out = net.forward(batch->images).contiguous();
    for (int64_t i = 0; i < out.size(0); ++i) {
      const auto k = static_cast<size_t>(i);
      const data::Sample& s = loader.samples()[static_cast<size_t>(batch->sample_ids[k])];
      const auto [ow, oh] = batch->original_sizes[k];
      const image::Box box = regressed_box(out[i].data_ptr<float>(), tf.crop);
      std::vector<image::Box> gt;
      for (const image::Box& b : s.boxes) gt.push_back(data::box_to_crop(b, ow, oh, tf));
      const double iou = gt.empty() ? 0.0 : best_iou(box, gt);
      for (size_t t = 0; t < kIous.size(); ++t) counts.v[t] += iou > kIous[t] ? 1 : 0;
      if (r.with_classes) {
        const TopK hit = top_k(predictions, options.class_predictions, s);
        counts.v[Counts::kTop1Loc] += hit.top1 && iou > kCorLocIou ? 1 : 0;
        counts.v[Counts::kTop5Loc] += hit.top5 && iou > kCorLocIou ? 1 : 0;
        counts.v[Counts::kTop1Cls] += hit.top1 ? 1 : 0;
        counts.v[Counts::kTop5Cls] += hit.top5 ? 1 : 0;
      }
      counts.v[Counts::kImages] += 1;
      counts.v[Counts::kIouMicro] += std::llround(iou * 1e6);
      const PixelBox o = crop_box_to_original(box, ow, oh, tf);
      lines += nlohmann::json({{"index", batch->sample_ids[k]},
                               {"name", s.name},
                               {"box_crop", {box.x0, box.y0, box.x1, box.y1}},
                               {"box", o},
                               {"image_size", {ow, oh}},
                               {"iou", iou}})
                   .dump() +
               "\n";
      if (keep_crops && static_cast<int>(pictures.size()) < options.heatmaps)
        pictures.push_back(Picture{batch->crops[k], box, gt});
      all_gt.push_back(std::move(gt));
    }
    log.progress(fmt::format("eval {}/{} images{}", counts.v[Counts::kImages] * comm.world(),
                             loader.samples().size(), comm.world() > 1 ? " (estimated from rank 0)" : ""));
  }
  log.end_progress();
  if (loader.skipped() > 0)
    log.warn("{} undecodable images skipped (data.bad_sample = skip)", loader.skipped());
  const std::vector<int64_t> c = sum_counts(comm, counts.v);
  r.images = c[Counts::kImages];
  const double n = static_cast<double>(std::max<int64_t>(r.images, 1));
  for (size_t t = 0; t < kIous.size(); ++t) r.box_acc[t] = 100.0 * static_cast<double>(c[t]) / n;
  r.gt_known_loc = r.box_acc[1];
  r.box_acc_mean = (r.box_acc[0] + r.box_acc[1] + r.box_acc[2]) / 3.0;
  r.mean_iou = static_cast<double>(c[Counts::kIouMicro]) / 1e6 / n;
  r.top1_loc = 100.0 * static_cast<double>(c[Counts::kTop1Loc]) / n;
  r.top5_loc = 100.0 * static_cast<double>(c[Counts::kTop5Loc]) / n;
  r.top1_cls = 100.0 * static_cast<double>(c[Counts::kTop1Cls]) / n;
  r.top5_cls = 100.0 * static_cast<double>(c[Counts::kTop5Cls]) / n;
  r.centre_baseline = centre_box_corloc(all_gt, tf.crop, comm);
  if (comm.rank() == 0) util::make_dirs(options.out_dir);
  write_lines_by_index(lines, options.out_dir + "/boxes.jsonl", comm);
  if (comm.rank() == 0) {
    if (!pictures.empty()) r.heatmap_files = draw_pictures(pictures, tf.crop, options.out_dir);
    util::write_file_atomic(options.out_dir + "/metrics.json", to_json(r).dump(2) + "\n");
  }
  comm.barrier();  // rank 0's files are written before any rank returns
  return r;
}

}  // namespace c2am::eval
