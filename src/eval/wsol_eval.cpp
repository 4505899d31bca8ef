#include "eval/wsol_eval.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "data/loader.h"
#include "eval/eval_common.h"
#include "eval/extract_boxes.h"
#include "eval/heatmap.h"
#include "eval/wsol_eval_net.h"
#include "image/png.h"
#include "model/c2am_net.h"
#include "model/network.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"

namespace c2am::eval {

namespace {

struct Kept {
  image::Image crop;
  std::vector<float> map;
  int map_w = 0, map_h = 0;
  std::vector<image::Box> gt;
  std::vector<image::Box> boxes;  // the protocol's box per tau (crop coordinates)
};

// One image's CorLoc boxes (per tau), kept to write its box at the best tau.
struct ImageBoxes {
  int64_t index = 0;
  std::string name;
  std::array<int, 2> original{};
  std::vector<image::Box> boxes;
};

torch::Tensor upsampled_normalised(const torch::Tensor& maps, int side) {
  namespace F = torch::nn::functional;
  torch::Tensor up = F::interpolate(maps, F::InterpolateFuncOptions()
                                              .size(std::vector<int64_t>{side, side})
                                              .mode(torch::kBicubic)
                                              .align_corners(false));
  const torch::Tensor flat = up.flatten(1);
  const torch::Tensor lo = std::get<0>(flat.min(1, /*keepdim=*/true));
  const torch::Tensor hi = std::get<0>(flat.max(1, /*keepdim=*/true));
  return ((flat - lo) / (hi - lo).clamp_min(1e-12)).clamp(0.0, 1.0).reshape_as(up).contiguous();
}

nlohmann::json to_json(const WsolEvalResult& r) {
  nlohmann::json j;
  j["checkpoint"] = r.checkpoint;
  j["polarity"] = r.polarity;
  j["images"] = r.corloc.total;
  j["ranks"] = r.world;
  j["protocol"] = r.protocol;
  j["corloc"] = {{"best_accuracy", r.corloc.best_accuracy},
                 {"best_threshold", r.corloc.best_threshold},
                 {"thresholds", r.corloc.thresholds},
                 {"accuracy", r.corloc.accuracy}};
  for (const auto& [name, c] : r.corloc_by_protocol) {
    j["corloc_by_protocol"][name] = {{"best_accuracy", c.best_accuracy},
                                     {"best_threshold", c.best_threshold},
                                     {"accuracy", c.accuracy}};
  }
  nlohmann::json m;
  m["max_box_acc_v2"] = r.maxboxacc.max_box_acc_v2;
  for (size_t d = 0; d < r.maxboxacc.deltas.size(); ++d) {
    const std::string key = fmt::format("iou_{:.1f}", r.maxboxacc.deltas[d]);
    m["max_box_acc"][key] = r.maxboxacc.max_box_acc[d];
    m["best_threshold"][key] = r.maxboxacc.best_threshold[d];
    m["curves"][key] = r.maxboxacc.curves[d];
  }
  j["maxboxacc"] = m;
  j["centre_box_baseline_corloc"] = r.centre_baseline;
  if (r.topk.present) {
    j["top_k_loc"] = {{"top1_loc", r.topk.top1_at_best},
                      {"top5_loc", r.topk.top5_at_best},
                      {"top1_loc_per_threshold", r.topk.top1},
                      {"top5_loc_per_threshold", r.topk.top5},
                      {"top1_cls", r.topk.top1_cls},
                      {"top5_cls", r.topk.top5_cls},
                      {"at_threshold", r.corloc.best_threshold}};
  }
  return j;
}

// Rank 0 gathers every rank's box lines and writes them sorted by image index.
void write_boxes(const std::vector<ImageBoxes>& mine, size_t best, const data::Transform& tf,
                 const std::string& dir, comm::Communicator& comm) {
  std::string text;
  for (const ImageBoxes& ib : mine) {
    const image::Box& b = ib.boxes[best];
    const PixelBox o = crop_box_to_original(b, ib.original[0], ib.original[1], tf);
    nlohmann::json line = {{"index", ib.index},
                           {"name", ib.name},
                           {"box_crop", {b.x0, b.y0, b.x1, b.y1}},
                           {"box", o},
                           {"image_size", {ib.original[0], ib.original[1]}},
                           {"map", fmt::format("maps/{:07d}.png", ib.index)}};
    text += line.dump() + "\n";
  }
  write_lines_by_index(text, dir + "/boxes.jsonl", comm);
}

}  // namespace

namespace {

// What one rank gathers over its share of the split: the metric counts, the
// ground truth (for the centred-box baseline), the images kept for heatmaps,
// and, with --save-maps, every map and its boxes.
class RankPass {
 public:
  // `protocol`: eval.protocol, the one whose boxes count (the others are computed for comparison).
  RankPass(const WsolEvalOptions& o, const data::Transform& tf, bool keep_crops, const std::string& protocol,
           const std::string& layout)
      : o_(o), tf_(tf), keep_crops_(keep_crops), maps_dir_(o.save_maps.empty() ? "" : o.save_maps + "/maps") {
    if (!o.class_predictions.empty()) predictions_ = read_class_predictions(o.class_predictions);
    if (!maps_dir_.empty()) util::make_dirs(maps_dir_);
    const std::vector<std::string>& names = corloc_protocol_names();
    for (size_t p = 0; p < names.size(); ++p) {
      corlocs.emplace_back(corloc_protocol(names[p], layout));
      if (names[p] == protocol) chosen = p;
    }
    if (chosen == names.size()) throw UsageError(fmt::format("eval.protocol = '{}' is not a protocol", protocol));
  }

  // `maps`: the batch's oriented maps (N x 1 x h x w, map resolution).
  void add_batch(const data::Batch& batch, const torch::Tensor& maps, const data::Loader& loader) {
    const int mh = static_cast<int>(maps.size(2)), mw = static_cast<int>(maps.size(3));
    const Scale to_crop = map_to_crop(mw, mh, tf_.crop, tf_.crop);
    // MaxBoxAccV2 follows wsolevaluation: maps upsampled to the crop and
    // min-max normalised per image (CorLoc keeps the reference's map-resolution protocol).
    const torch::Tensor up = upsampled_normalised(maps, tf_.crop);
    for (int64_t i = 0; i < maps.size(0); ++i) {
      const auto k = static_cast<size_t>(i);
      const int64_t index = batch.sample_ids[k];
      const data::Sample& s = loader.samples()[static_cast<size_t>(index)];
      const auto [ow, oh] = batch.original_sizes[k];
      std::vector<image::Box> gt, gt_unclipped;
      for (const image::Box& b : s.boxes) {
        gt.push_back(data::box_to_crop(b, ow, oh, tf_));
        gt_unclipped.push_back(data::box_to_crop(b, ow, oh, tf_, /*clip=*/false));
      }
      const MapView view{maps[i][0].data_ptr<float>(), mw, mh};
      std::vector<image::Box> boxes;
      for (size_t p = 0; p < corlocs.size(); ++p) {
        const bool unclipped = corlocs[p].protocol().unclipped_ground_truth;
        std::vector<image::Box> b = corlocs[p].add(view, to_crop, unclipped ? gt_unclipped : gt);
        if (p == chosen) boxes = std::move(b);
      }
      const std::vector<image::Box>& chosen_gt = corlocs[chosen].protocol().unclipped_ground_truth ? gt_unclipped : gt;
      maxbox.add(MapView{up[i][0].data_ptr<float>(), tf_.crop, tf_.crop}, Scale{}, gt);
      if (!o_.class_predictions.empty()) add_topk(s, boxes, chosen_gt);
      if (!maps_dir_.empty()) {
        save_map(view, index);
        image_boxes.push_back(ImageBoxes{index, s.name, {ow, oh}, boxes});
      }
      if (static_cast<int>(kept.size()) < o_.heatmaps && keep_crops_) {
        kept.push_back(Kept{batch.crops[k], std::vector<float>(view.data, view.data + mw * mh), mw, mh, gt, boxes});
      }
      all_gt.push_back(std::move(gt));
    }
  }

  std::vector<CorLocAccumulator> corlocs;  // one per corloc_protocol_names()
  size_t chosen = corloc_protocol_names().size();
  MaxBoxAccAccumulator maxbox;
  std::vector<std::vector<image::Box>> all_gt;
  std::vector<Kept> kept;
  std::vector<ImageBoxes> image_boxes;
  std::vector<int64_t> topk_counts =
      std::vector<int64_t>(2 * kCorLocThresholds + 2, 0);  // top1, top5 per tau; cls1, cls5

 private:
  void add_topk(const data::Sample& s, const std::vector<image::Box>& boxes,
                const std::vector<image::Box>& gt) {
    const auto [top1, top5] = top_k(predictions_, o_.class_predictions, s);
    const std::vector<bool> hit = corloc_hits(boxes, gt, corlocs[chosen].protocol().unclamped_intersection);
    for (int t = 0; t < kCorLocThresholds; ++t) {
      if (hit[static_cast<size_t>(t)] && top1) ++topk_counts[static_cast<size_t>(t)];
      if (hit[static_cast<size_t>(t)] && top5) ++topk_counts[static_cast<size_t>(kCorLocThresholds + t)];
    }
    topk_counts[2 * kCorLocThresholds] += top1 ? 1 : 0;
    topk_counts[2 * kCorLocThresholds + 1] += top5 ? 1 : 0;
  }

  void save_map(const MapView& view, int64_t index) const {
    std::vector<std::uint16_t> grey(static_cast<size_t>(view.width * view.height));
    for (size_t k = 0; k < grey.size(); ++k) {
      grey[k] = static_cast<std::uint16_t>(std::lround(std::clamp(view.data[k], 0.0f, 1.0f) * 65535.0f));
    }
    image::write_png16(fmt::format("{}/{:07d}.png", maps_dir_, index), view.width, view.height, grey);
  }

  const WsolEvalOptions& o_;
  const data::Transform& tf_;
  bool keep_crops_;
  std::string maps_dir_;
  std::map<std::string, std::vector<int>> predictions_;
};

size_t best_threshold_index(const CorLocResult& c) {
  size_t best = 0;
  for (size_t t = 0; t < c.thresholds.size(); ++t)
    if (c.thresholds[t] == c.best_threshold) best = t;
  return best;
}

// The job's metrics from every rank's counts (exact sums), written into `r`.
void reduce_metrics(RankPass& pass, int crop, bool with_classes, comm::Communicator& comm,
                    WsolEvalResult& r) {
  for (size_t p = 0; p < pass.corlocs.size(); ++p) {
    const CorLocAccumulator& acc = pass.corlocs[p];
    const CorLocResult c = CorLocAccumulator::from_counts(sum_counts(comm, acc.counts()), acc.protocol()).result();
    r.corloc_by_protocol.emplace_back(corloc_protocol_names()[p], c);
    if (p == pass.chosen) {
      r.corloc = c;
      r.protocol = corloc_protocol_names()[p];
    }
  }
  r.maxboxacc = MaxBoxAccAccumulator::from_counts(sum_counts(comm, pass.maxbox.counts())).result();
  r.centre_baseline = centre_box_corloc(pass.all_gt, crop, comm);
  if (!with_classes) return;
  const std::vector<int64_t> c = sum_counts(comm, pass.topk_counts);
  const double n = static_cast<double>(std::max<int64_t>(r.corloc.total, 1));
  r.topk.present = true;
  for (size_t t = 0; t < r.corloc.thresholds.size(); ++t) {
    r.topk.top1.push_back(100.0 * static_cast<double>(c[t]) / n);
    r.topk.top5.push_back(100.0 * static_cast<double>(c[kCorLocThresholds + t]) / n);
  }
  const size_t best = best_threshold_index(r.corloc);
  r.topk.top1_at_best = r.topk.top1[best];
  r.topk.top5_at_best = r.topk.top5[best];
  r.topk.top1_cls = 100.0 * static_cast<double>(c[2 * kCorLocThresholds]) / n;
  r.topk.top5_cls = 100.0 * static_cast<double>(c[2 * kCorLocThresholds + 1]) / n;
}

// Rank 0: overlays of the kept images (green: ground truth, red: boxes at the
// best tau), one file each and a contact sheet.
void write_heatmaps(const std::vector<Kept>& kept, size_t best, int crop, const std::string& out_dir,
                    WsolEvalResult& r) {
  std::vector<image::Image> pictures;
  for (const Kept& k : kept) {
    image::Image img = overlay_heatmap(k.crop, MapView{k.map.data(), k.map_w, k.map_h}, 0.5);
    for (const image::Box& g : k.gt) draw_box(img, g, {0, 255, 0}, 1);
    draw_box(img, k.boxes[best], {255, 0, 0}, 1);
    pictures.push_back(std::move(img));
  }
  r.heatmap_files = write_pictures(pictures, crop, out_dir);
}

}  // namespace

WsolEvalResult evaluate_wsol_net(model::C2amNetImpl& net, int polarity, const config::Config& cfg,
                                 const WsolEvalOptions& options, comm::Communicator& comm,
                                 const util::Logger& log) {
  WsolEvalResult result;
  result.checkpoint = options.checkpoint;
  result.polarity = polarity;
  result.world = comm.world();
  const bool was_training = net.is_training();
  net.eval();
  torch::NoGradGuard no_grad;
  const data::Transform tf = data::test_transform(cfg.data);
  const bool keep_crops = comm.rank() == 0 && options.heatmaps > 0;
  data::Loader loader = make_eval_loader(cfg, tf, keep_crops, comm);
  log.info("evaluating on {}{}", loader.dataset().description,
           comm.world() > 1 ? fmt::format(" ({} ranks)", comm.world()) : std::string());
  RankPass pass(options, tf, keep_crops, cfg.eval.protocol, cfg.data.layout);
  loader.start_epoch(0);
  int64_t done = 0;
  const auto total = static_cast<int64_t>(loader.samples().size());
  while (auto batch = loader.next()) {
    const torch::Tensor maps =
        model::oriented_map(net.forward(batch->images).map, polarity == 1).contiguous();
    pass.add_batch(*batch, maps, loader);
    done += maps.size(0);
    log.progress(fmt::format("eval {}/{} images{}", done * comm.world(), total,
                             comm.world() > 1 ? " (estimated from rank 0)" : ""));
  }
  log.end_progress();
  if (loader.skipped() > 0)
    log.warn("{} undecodable images skipped (data.bad_sample = skip)", loader.skipped());
  reduce_metrics(pass, tf.crop, !options.class_predictions.empty(), comm, result);
  if (!options.save_maps.empty()) {
    write_boxes(pass.image_boxes, best_threshold_index(result.corloc), tf, options.save_maps, comm);
  }
  if (comm.rank() == 0) {
    util::make_dirs(options.out_dir);
    if (!pass.kept.empty())
      write_heatmaps(pass.kept, best_threshold_index(result.corloc), tf.crop, options.out_dir, result);
    util::write_file_atomic(options.out_dir + "/metrics.json", to_json(result).dump(2) + "\n");
    if (options.store_threshold && !options.checkpoint.empty()) {
      checkpoint::update_checkpoint_eval_keys(options.checkpoint, result.polarity,
                                              result.corloc.best_threshold);
    }
  }
  comm.barrier();  // rank 0's files are written before any rank returns
  if (was_training) net.train();
  return result;
}

LoadedNet load_checkpoint_net(const std::string& checkpoint_or_run, const util::Logger& log) {
  LoadedNet out;
  out.trained = checkpoint::load_trained(checkpoint_or_run, "c2am");
  out.net = &model::C2amNetwork::of(*out.trained.net, out.trained.path).c2am();
  out.polarity = out.trained.polarity < 0 ? 0 : out.trained.polarity;
  if (out.trained.polarity < 0)
    log.warn("checkpoint {} has no polarity yet; assuming positive", out.trained.path);
  out.best_threshold = out.trained.best_threshold;
  return out;
}

WsolEvalResult evaluate_wsol(const config::Config& cfg, const WsolEvalOptions& options,
                             comm::Communicator& comm, const util::Logger& log) {
  torch::set_num_threads(util::resolve_threads(cfg.run.threads));
  LoadedNet loaded = load_checkpoint_net(options.checkpoint, log);
  WsolEvalOptions opts = options;
  opts.checkpoint = loaded.path();
  return evaluate_wsol_net(*loaded.net, loaded.polarity, cfg, opts, comm, log);
}

}  // namespace c2am::eval
