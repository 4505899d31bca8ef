#include "eval/wsol_eval.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "data/loader.h"
#include "data/png.h"
#include "eval/heatmap.h"
#include "model/c2am_net.h"
#include "train/checkpoint.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"

namespace c2am::eval {

namespace {

struct Kept {
  data::Image crop;
  std::vector<float> map;
  int map_w = 0, map_h = 0;
  std::vector<data::Box> gt;
};

// CorLoc of one fixed box per image (the centred box of the mean gt size).
double centre_box_corloc(const std::vector<std::vector<data::Box>>& gts, int crop) {
  double w = 0, h = 0;
  int64_t n = 0;
  for (const auto& boxes : gts) {
    for (const data::Box& b : boxes) {
      w += b.x1 - b.x0;
      h += b.y1 - b.y0;
      ++n;
    }
  }
  if (n == 0) return 0.0;
  w /= static_cast<double>(n);
  h /= static_cast<double>(n);
  const float c = static_cast<float>(crop) / 2.0f;
  const data::Box centred{c - static_cast<float>(w / 2), c - static_cast<float>(h / 2),
                          c + static_cast<float>(w / 2), c + static_cast<float>(h / 2)};
  int64_t hits = 0;
  for (const auto& boxes : gts) hits += best_iou(centred, boxes) > kCorLocIou ? 1 : 0;
  return 100.0 * static_cast<double>(hits) / static_cast<double>(gts.size());
}

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
  j["corloc"] = {{"best_accuracy", r.corloc.best_accuracy},
                 {"best_threshold", r.corloc.best_threshold},
                 {"thresholds", r.corloc.thresholds},
                 {"accuracy", r.corloc.accuracy}};
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
  return j;
}

}  // namespace

WsolEvalResult evaluate_wsol(const config::Config& cfg, const WsolEvalOptions& options, const util::Logger& log) {
  const int threads = util::resolve_threads(cfg.run.threads);
  torch::set_num_threads(threads);
  WsolEvalResult result;
  const auto found = train::resolve_checkpoint(options.checkpoint);
  if (!found) throw UsageError(fmt::format("no valid checkpoint in '{}'", options.checkpoint));
  result.checkpoint = *found;
  const train::Checkpoint ckpt = train::load_checkpoint(*found);
  const config::Config saved = config::load_from_string(ckpt.config_toml, *found + " (saved config)");
  model::C2amNet net(model::ResNetOptions{saved.model.arch, saved.model.strides});
  const model::ImportReport rep = model::import_weights(*net, ckpt.model, *found);
  if (!rep.missing.empty()) throw Error(fmt::format("checkpoint '{}' lacks {} tensors", *found, rep.missing.size()));
  result.polarity = ckpt.polarity < 0 ? 0 : ckpt.polarity;
  if (ckpt.polarity < 0) log.warn("checkpoint {} has no polarity yet; assuming positive", *found);
  net->eval();
  torch::NoGradGuard no_grad;

  data::LoaderOptions lopt;
  lopt.batch_per_rank = cfg.eval.batch_size;
  lopt.threads = cfg.data.loader_threads > 0 ? cfg.data.loader_threads : threads;
  lopt.shuffle = false;
  lopt.drop_last = false;
  lopt.keep_crops = options.heatmaps > 0;
  const data::Transform tf = data::test_transform(cfg.data);
  lopt.skip_bad = cfg.data.bad_sample == "skip";
  // CUB names its evaluation split "test"; ILSVRC and VOC name it "val".
  data::Loader loader(data::open_split(cfg.data, cfg.data.layout == "cub" ? "test" : "val"), tf, lopt);
  log.info("evaluating on {}", loader.dataset().description);
  loader.start_epoch(0);

  CorLocAccumulator corloc;
  MaxBoxAccAccumulator maxbox;
  std::vector<std::vector<data::Box>> all_gt;
  std::vector<Kept> kept;
  int64_t done = 0;
  const auto total = static_cast<int64_t>(loader.samples().size());
  while (auto batch = loader.next()) {
    const torch::Tensor maps =
        model::oriented_map(net->forward(batch->images).map, result.polarity == 1).contiguous();
    const int mh = static_cast<int>(maps.size(2)), mw = static_cast<int>(maps.size(3));
    const Scale to_crop = map_to_crop(mw, mh, tf.crop, tf.crop);
    // MaxBoxAccV2 follows wsolevaluation: maps upsampled to the crop and
    // min-max normalised per image (CorLoc keeps the reference's map-resolution protocol).
    const torch::Tensor up = upsampled_normalised(maps, tf.crop);
    for (int64_t i = 0; i < maps.size(0); ++i) {
      const data::Sample& s = loader.samples()[static_cast<size_t>(batch->sample_ids[static_cast<size_t>(i)])];
      const auto [ow, oh] = batch->original_sizes[static_cast<size_t>(i)];
      std::vector<data::Box> gt;
      for (const data::Box& b : s.boxes) gt.push_back(data::box_to_crop(b, ow, oh, tf));
      const float* m = maps[i][0].data_ptr<float>();
      const MapView view{m, mw, mh};
      corloc.add(view, to_crop, gt);
      maxbox.add(MapView{up[i][0].data_ptr<float>(), tf.crop, tf.crop}, Scale{}, gt);
      if (static_cast<int>(kept.size()) < options.heatmaps) {
        kept.push_back(Kept{batch->crops[static_cast<size_t>(i)], std::vector<float>(m, m + mw * mh), mw, mh, gt});
      }
      all_gt.push_back(std::move(gt));
    }
    done += maps.size(0);
    log.progress(fmt::format("eval {}/{} images", done, total));
  }
  log.end_progress();
  if (loader.skipped() > 0) log.warn("{} undecodable images skipped (data.bad_sample = skip)", loader.skipped());
  result.corloc = corloc.result();
  result.maxboxacc = maxbox.result();
  result.centre_baseline = centre_box_corloc(all_gt, tf.crop);

  util::make_dirs(options.out_dir);
  if (!kept.empty()) {
    const std::string dir = options.out_dir + "/heatmaps";
    util::make_dirs(dir);
    std::vector<data::Image> tiles;
    for (size_t k = 0; k < kept.size(); ++k) {
      const MapView view{kept[k].map.data(), kept[k].map_w, kept[k].map_h};
      data::Image img = overlay_heatmap(kept[k].crop, view, 0.5);
      for (const data::Box& g : kept[k].gt) draw_box(img, g, {0, 255, 0}, 1);
      for (const data::Box& p : boxes_at_threshold(view, result.corloc.best_threshold)) {
        draw_box(img, scale_box(p, map_to_crop(view.width, view.height, tf.crop, tf.crop)), {255, 0, 0}, 1);
      }
      const std::string path = fmt::format("{}/{:04d}.png", dir, k);
      data::write_png(path, img);
      result.heatmap_files.push_back(path);
      tiles.push_back(std::move(img));
    }
    const std::string sheet = options.out_dir + "/heatmaps.png";
    data::write_png(sheet, contact_sheet(tiles, 8, std::max(96, tf.crop)));
    result.heatmap_files.push_back(sheet);
  }
  util::write_file_atomic(options.out_dir + "/metrics.json", to_json(result).dump(2) + "\n");
  if (options.store_threshold) {
    train::update_checkpoint_eval_keys(*found, result.polarity, result.corloc.best_threshold);
  }
  return result;
}

}  // namespace c2am::eval
