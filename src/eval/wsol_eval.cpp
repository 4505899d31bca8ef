#include "eval/wsol_eval.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "data/loader.h"
#include "eval/extract_boxes.h"
#include "eval/wsol_eval_net.h"
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

// CorLoc of one fixed box per image (the centred box of the mean gt size),
// over all ranks' images.
double centre_box_corloc(const std::vector<std::vector<data::Box>>& gts, int crop, dist::Communicator& comm) {
  torch::Tensor sums = torch::zeros({3}, torch::kDouble);  // width, height, boxes
  for (const auto& boxes : gts) {
    for (const data::Box& b : boxes) {
      sums[0] += b.x1 - b.x0;
      sums[1] += b.y1 - b.y0;
      sums[2] += 1;
    }
  }
  comm.allreduce(sums, dist::ReduceOp::kSum);
  const double n = sums[2].item<double>();
  const double w = n > 0 ? sums[0].item<double>() / n : 0.0;
  const double h = n > 0 ? sums[1].item<double>() / n : 0.0;
  const float c = static_cast<float>(crop) / 2.0f;
  const data::Box centred{c - static_cast<float>(w / 2), c - static_cast<float>(h / 2),
                          c + static_cast<float>(w / 2), c + static_cast<float>(h / 2)};
  torch::Tensor hits = torch::zeros({2}, torch::kLong);  // hits, images
  for (const auto& boxes : gts) {
    if (n > 0 && best_iou(centred, boxes) > kCorLocIou) hits[0] += 1;
    hits[1] += 1;
  }
  comm.allreduce(hits, dist::ReduceOp::kSum);
  const int64_t images = hits[1].item<int64_t>();
  return images == 0 ? 0.0 : 100.0 * static_cast<double>(hits[0].item<int64_t>()) / static_cast<double>(images);
}

// Sums integer counts over ranks.
std::vector<int64_t> sum_counts(dist::Communicator& comm, const std::vector<int64_t>& counts) {
  torch::Tensor t = torch::tensor(counts, torch::kLong);
  comm.allreduce(t, dist::ReduceOp::kSum);
  const int64_t* p = t.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

// name -> predicted class ids, best first.
std::map<std::string, std::vector<int>> read_predictions(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(fmt::format("cannot open class predictions '{}'", path));
  std::map<std::string, std::vector<int>> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    for (char& ch : line)
      if (ch == ',' || ch == '\t') ch = ' ';
    std::istringstream fields(line);
    std::string name;
    if (!(fields >> name) || name[0] == '#') continue;
    std::vector<int> classes;
    std::string token;
    while (fields >> token) {
      try {
        size_t used = 0;
        classes.push_back(std::stoi(token, &used));
        if (used != token.size()) throw std::invalid_argument(token);
      } catch (const std::exception&) {
        throw UsageError(fmt::format("{}:{}: '{}' is not a class id", path, lineno, token));
      }
    }
    if (classes.empty()) throw UsageError(fmt::format("{}:{}: no predicted class for '{}'", path, lineno, name));
    out[name] = std::move(classes);
  }
  return out;
}

// One image's CorLoc boxes (per tau), kept to write its box at the best tau.
struct ImageBoxes {
  int64_t index = 0;
  std::string name;
  std::array<int, 2> original{};
  std::vector<data::Box> boxes;
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
  if (r.topk.present) {
    j["top_k_loc"] = {{"top1_loc", r.topk.top1_at_best}, {"top5_loc", r.topk.top5_at_best},
                      {"top1_loc_per_threshold", r.topk.top1}, {"top5_loc_per_threshold", r.topk.top5},
                      {"top1_cls", r.topk.top1_cls}, {"top5_cls", r.topk.top5_cls},
                      {"at_threshold", r.corloc.best_threshold}};
  }
  return j;
}

// Rank 0 gathers every rank's box lines and writes them sorted by image index.
void write_boxes(const std::vector<ImageBoxes>& mine, size_t best, const data::Transform& tf,
                 const std::string& dir, dist::Communicator& comm) {
  std::string text;
  for (const ImageBoxes& ib : mine) {
    const data::Box& b = ib.boxes[best];
    const PixelBox o = crop_box_to_original(b, ib.original[0], ib.original[1], tf);
    nlohmann::json line = {{"index", ib.index},
                           {"name", ib.name},
                           {"box_crop", {b.x0, b.y0, b.x1, b.y1}},
                           {"box", o},
                           {"image_size", {ib.original[0], ib.original[1]}},
                           {"map", fmt::format("maps/{:07d}.png", ib.index)}};
    text += line.dump() + "\n";
  }
  torch::Tensor bytes = torch::from_blob(text.data(), {static_cast<int64_t>(text.size())}, torch::kByte).clone();
  const torch::Tensor all = comm.allgather(bytes);
  if (comm.rank() != 0) return;
  std::vector<std::pair<int64_t, std::string>> lines;
  std::istringstream in(std::string(reinterpret_cast<const char*>(all.data_ptr<uint8_t>()),
                                    static_cast<size_t>(all.numel())));
  std::string line;
  while (std::getline(in, line)) lines.emplace_back(nlohmann::json::parse(line)["index"].get<int64_t>(), line);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l.second + "\n";
  util::write_file_atomic(dir + "/boxes.jsonl", out);
}

}  // namespace

WsolEvalResult evaluate_wsol_net(model::C2amNetImpl& net, int polarity, const config::Config& cfg,
                                 const WsolEvalOptions& options, dist::Communicator& comm, const util::Logger& log) {
  const int threads = util::resolve_threads(cfg.run.threads);
  const int rank = comm.rank();
  WsolEvalResult result;
  result.checkpoint = options.checkpoint;
  result.polarity = polarity;
  result.world = comm.world();
  const bool was_training = net.is_training();
  net.eval();
  torch::NoGradGuard no_grad;

  data::LoaderOptions lopt;
  lopt.batch_per_rank = cfg.eval.batch_size;
  lopt.rank = rank;
  lopt.world = comm.world();
  lopt.threads = cfg.data.loader_threads > 0 ? cfg.data.loader_threads : threads;
  lopt.shuffle = false;
  lopt.drop_last = false;
  lopt.keep_crops = rank == 0 && options.heatmaps > 0;
  const data::Transform tf = data::test_transform(cfg.data);
  lopt.skip_bad = cfg.data.bad_sample == "skip";
  // CUB names its evaluation split "test"; ILSVRC and VOC name it "val".
  data::Loader loader(data::open_split(cfg.data, cfg.data.layout == "cub" ? "test" : "val"), tf, lopt);
  log.info("evaluating on {}{}", loader.dataset().description,
           comm.world() > 1 ? fmt::format(" ({} ranks)", comm.world()) : std::string());
  const std::map<std::string, std::vector<int>> predictions =
      options.class_predictions.empty() ? std::map<std::string, std::vector<int>>{}
                                        : read_predictions(options.class_predictions);
  const bool with_classes = !options.class_predictions.empty();
  std::vector<int64_t> topk_counts(2 * kCorLocThresholds + 2, 0);  // top1 per tau, top5 per tau, cls1, cls5
  const std::string maps_dir = options.save_maps.empty() ? "" : options.save_maps + "/maps";
  if (!maps_dir.empty()) util::make_dirs(maps_dir);
  loader.start_epoch(0);

  CorLocAccumulator corloc;
  MaxBoxAccAccumulator maxbox;
  std::vector<std::vector<data::Box>> all_gt;
  std::vector<Kept> kept;
  std::vector<ImageBoxes> image_boxes;
  int64_t done = 0;
  const auto total = static_cast<int64_t>(loader.samples().size());
  while (auto batch = loader.next()) {
    const torch::Tensor maps = model::oriented_map(net.forward(batch->images).map, polarity == 1).contiguous();
    const int mh = static_cast<int>(maps.size(2)), mw = static_cast<int>(maps.size(3));
    const Scale to_crop = map_to_crop(mw, mh, tf.crop, tf.crop);
    // MaxBoxAccV2 follows wsolevaluation: maps upsampled to the crop and
    // min-max normalised per image (CorLoc keeps the reference's map-resolution protocol).
    const torch::Tensor up = upsampled_normalised(maps, tf.crop);
    for (int64_t i = 0; i < maps.size(0); ++i) {
      const int64_t index = batch->sample_ids[static_cast<size_t>(i)];
      const data::Sample& s = loader.samples()[static_cast<size_t>(index)];
      const auto [ow, oh] = batch->original_sizes[static_cast<size_t>(i)];
      std::vector<data::Box> gt;
      for (const data::Box& b : s.boxes) gt.push_back(data::box_to_crop(b, ow, oh, tf));
      const float* m = maps[i][0].data_ptr<float>();
      const MapView view{m, mw, mh};
      std::vector<data::Box> boxes = corloc.add(view, to_crop, gt);
      maxbox.add(MapView{up[i][0].data_ptr<float>(), tf.crop, tf.crop}, Scale{}, gt);
      if (with_classes) {
        const auto it = predictions.find(s.name);
        if (it == predictions.end()) {
          throw UsageError(fmt::format("class predictions '{}' have no line for image '{}'",
                                       options.class_predictions, s.name));
        }
        const std::vector<int>& pred = it->second;
        const bool top1 = pred.front() == s.label;
        const bool top5 = std::find(pred.begin(), pred.begin() + std::min<size_t>(5, pred.size()), s.label) !=
                          pred.begin() + std::min<size_t>(5, pred.size());
        const std::vector<bool> hit = corloc_hits(boxes, gt);
        for (int t = 0; t < kCorLocThresholds; ++t) {
          if (hit[static_cast<size_t>(t)] && top1) ++topk_counts[static_cast<size_t>(t)];
          if (hit[static_cast<size_t>(t)] && top5) ++topk_counts[static_cast<size_t>(kCorLocThresholds + t)];
        }
        topk_counts[2 * kCorLocThresholds] += top1 ? 1 : 0;
        topk_counts[2 * kCorLocThresholds + 1] += top5 ? 1 : 0;
      }
      if (!maps_dir.empty()) {
        std::vector<std::uint16_t> grey(static_cast<size_t>(mw * mh));
        for (size_t k = 0; k < grey.size(); ++k) {
          grey[k] = static_cast<std::uint16_t>(std::lround(std::clamp(m[k], 0.0f, 1.0f) * 65535.0f));
        }
        data::write_png16(fmt::format("{}/{:07d}.png", maps_dir, index), mw, mh, grey);
        image_boxes.push_back(ImageBoxes{index, s.name, {ow, oh}, boxes});
      }
      if (static_cast<int>(kept.size()) < options.heatmaps && lopt.keep_crops) {
        kept.push_back(Kept{batch->crops[static_cast<size_t>(i)], std::vector<float>(m, m + mw * mh), mw, mh, gt});
      }
      all_gt.push_back(std::move(gt));
    }
    done += maps.size(0);
    log.progress(fmt::format("eval {}/{} images{}", done * comm.world(), total,
                             comm.world() > 1 ? " (estimated from rank 0)" : ""));
  }
  log.end_progress();
  if (loader.skipped() > 0) log.warn("{} undecodable images skipped (data.bad_sample = skip)", loader.skipped());
  result.corloc = CorLocAccumulator::from_counts(sum_counts(comm, corloc.counts())).result();
  result.maxboxacc = MaxBoxAccAccumulator::from_counts(sum_counts(comm, maxbox.counts())).result();
  result.centre_baseline = centre_box_corloc(all_gt, tf.crop, comm);
  if (with_classes) {
    const std::vector<int64_t> c = sum_counts(comm, topk_counts);
    const double n = static_cast<double>(std::max<int64_t>(result.corloc.total, 1));
    result.topk.present = true;
    size_t best = 0;
    for (size_t t = 0; t < result.corloc.thresholds.size(); ++t) {
      result.topk.top1.push_back(100.0 * static_cast<double>(c[t]) / n);
      result.topk.top5.push_back(100.0 * static_cast<double>(c[kCorLocThresholds + t]) / n);
      if (result.corloc.thresholds[t] == result.corloc.best_threshold) best = t;
    }
    result.topk.top1_at_best = result.topk.top1[best];
    result.topk.top5_at_best = result.topk.top5[best];
    result.topk.top1_cls = 100.0 * static_cast<double>(c[2 * kCorLocThresholds]) / n;
    result.topk.top5_cls = 100.0 * static_cast<double>(c[2 * kCorLocThresholds + 1]) / n;
  }
  if (!maps_dir.empty()) {
    size_t best = 0;
    for (size_t t = 0; t < result.corloc.thresholds.size(); ++t)
      if (result.corloc.thresholds[t] == result.corloc.best_threshold) best = t;
    write_boxes(image_boxes, best, tf, options.save_maps, comm);
  }

  if (rank == 0) {
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
    if (options.store_threshold && !options.checkpoint.empty()) {
      train::update_checkpoint_eval_keys(options.checkpoint, result.polarity, result.corloc.best_threshold);
    }
  }
  comm.barrier();  // rank 0's files are written before any rank returns
  if (was_training) net.train();
  return result;
}

LoadedNet load_checkpoint_net(const std::string& checkpoint_or_run, const util::Logger& log) {
  const auto found = train::resolve_checkpoint(checkpoint_or_run);
  if (!found) throw UsageError(fmt::format("no valid checkpoint in '{}'", checkpoint_or_run));
  const train::Checkpoint ckpt = train::load_checkpoint(*found);
  const config::Config saved = config::load_from_string(ckpt.config_toml, *found + " (saved config)");
  LoadedNet out;
  out.path = *found;
  out.net = model::C2amNet(model::ResNetOptions{saved.model.arch, saved.model.strides});
  const model::ImportReport rep = model::import_weights(*out.net, ckpt.model, *found);
  if (!rep.missing.empty()) throw Error(fmt::format("checkpoint '{}' lacks {} tensors", *found, rep.missing.size()));
  out.polarity = ckpt.polarity < 0 ? 0 : ckpt.polarity;
  if (ckpt.polarity < 0) log.warn("checkpoint {} has no polarity yet; assuming positive", *found);
  out.best_threshold = ckpt.best_threshold;
  return out;
}

WsolEvalResult evaluate_wsol(const config::Config& cfg, const WsolEvalOptions& options, dist::Communicator& comm,
                             const util::Logger& log) {
  torch::set_num_threads(util::resolve_threads(cfg.run.threads));
  LoadedNet loaded = load_checkpoint_net(options.checkpoint, log);
  WsolEvalOptions opts = options;
  opts.checkpoint = loaded.path;
  return evaluate_wsol_net(*loaded.net, loaded.polarity, cfg, opts, comm, log);
}

}  // namespace c2am::eval
