// Implements: `c2am extract-boxes` (see extract_boxes.h): records and their
// JSON lines, the chunk files and their merge, the PSOL export, and the
// driver: one resumable job (jobs/image_jobs.h) whose chunks run the network.
#include "eval/extract_boxes.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "eval/boxes.h"
#include "eval/corloc.h"
#include "eval/wsol_eval_net.h"
#include "jobs/image_jobs.h"
#include "model/c2am_net.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"

namespace c2am::eval {

namespace fs = std::filesystem;

namespace {

double round_milli(double v) { return std::round(v * 1000.0) / 1000.0; }

// The text of a chunk file or of boxes.jsonl: one JSON line per record.
std::string jsonl(const std::vector<BoxRecord>& records) {
  std::string text;
  text.reserve(records.size() * 160);
  for (const BoxRecord& r : records) {
    text += box_record_to_json(r);
    text += '\n';
  }
  return text;
}

// Checks record `r`, line `line` of the chunk file `path` that holds samples
// [begin, end): the next sample after `previous`, under the dataset's name.
void check_chunk_record(const BoxRecord& r, const std::string& path, std::int64_t line, std::int64_t begin,
                        std::int64_t end, std::int64_t previous, const data::Dataset& dataset) {
  if (r.index < begin || r.index >= end || r.index <= previous) {
    throw Error(
        fmt::format("{}:{}: sample {} is not the next of this chunk's samples [{}, {}); rerun with "
                    "--force to start over",
                    path, line, r.index, begin, end));
  }
  const std::string& name = dataset.samples[static_cast<size_t>(r.index)].name;
  if (r.name != name) {
    throw UsageError(fmt::format("{}:{}: sample {} is '{}' there but '{}' in {}; rerun with --force", path,
                                 line, r.index, r.name, name, dataset.description));
  }
}

}  // namespace

PixelBox crop_box_to_original(const image::Box& crop_box, int orig_w, int orig_h, const data::Transform& t) {
  const double off = data::centre_offset(t.resize, t.crop);
  const double sx = static_cast<double>(orig_w) / t.resize;
  const double sy = static_cast<double>(orig_h) / t.resize;
  auto map = [off](double v, double s, int lim) {
    return round_milli(std::clamp((v + off) * s, 0.0, static_cast<double>(lim)));
  };
  return {map(crop_box.x0, sx, orig_w), map(crop_box.y0, sy, orig_h), map(crop_box.x1, sx, orig_w),
          map(crop_box.y1, sy, orig_h)};
}

std::string box_record_to_json(const BoxRecord& r) {
  nlohmann::ordered_json j;
  j["index"] = r.index;
  j["name"] = r.name;
  j["box"] = r.box;
  j["image_size"] = r.image_size;
  j["map_size"] = r.map_size;
  j["threshold"] = r.threshold;
  return j.dump();
}

std::optional<BoxRecord> parse_box_record(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    BoxRecord r;
    r.index = j.at("index").get<std::int64_t>();
    r.name = j.at("name").get<std::string>();
    r.box = j.at("box").get<PixelBox>();
    r.image_size = j.at("image_size").get<std::array<int, 2>>();
    r.map_size = j.at("map_size").get<std::array<int, 2>>();
    r.threshold = j.at("threshold").get<double>();
    if (r.index < 0) return std::nullopt;
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::int64_t box_chunk_size(int batch_size) { return kBoxBatchesPerChunk * std::max(batch_size, 1); }

std::string box_chunk_file(const std::string& out_dir, std::int64_t chunk) {
  return jobs::chunk_file(out_dir, "boxes", chunk, "jsonl");
}

void write_box_chunk(const std::string& path, const std::vector<BoxRecord>& records) {
  util::write_file_atomic(path, jsonl(records));
}

std::vector<BoxRecord> read_box_chunk(const std::string& path) {
  const std::string text = util::read_file(path);
  std::vector<BoxRecord> records;
  std::int64_t number = 0;
  for (size_t at = 0; at < text.size();) {
    ++number;
    const size_t eol = text.find('\n', at);
    const std::string line = text.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    std::optional<BoxRecord> r = eol == std::string::npos ? std::nullopt : parse_box_record(line);
    if (!r) {
      throw Error(fmt::format("{}:{}: not a box record ('{}'); rerun with --force to start over", path,
                              number, line.substr(0, 80)));
    }
    records.push_back(std::move(*r));
    at = eol + 1;
  }
  return records;
}

std::vector<BoxRecord> merge_box_chunks(const std::string& out_dir, const data::Dataset& dataset,
                                        std::int64_t chunk_size) {
  const auto n = static_cast<std::int64_t>(dataset.samples.size());
  std::vector<BoxRecord> merged;
  merged.reserve(static_cast<size_t>(n));
  for (std::int64_t chunk = 0; chunk < jobs::chunk_count(n, chunk_size); ++chunk) {
    const std::string path = box_chunk_file(out_dir, chunk);
    if (!fs::exists(jobs::done_marker(out_dir, chunk))) {
      throw Error(fmt::format("{}: chunk {} is not done (no {}); rerun to finish it", out_dir, chunk,
                              jobs::done_marker(out_dir, chunk)));
    }
    const std::int64_t begin = chunk * chunk_size, end = std::min(n, begin + chunk_size);
    std::int64_t previous = begin - 1, line = 0;
    for (BoxRecord& r : read_box_chunk(path)) {
      check_chunk_record(r, path, ++line, begin, end, previous, dataset);
      previous = r.index;
      merged.push_back(std::move(r));
    }
  }
  return merged;
}

std::array<double, 4> psol_value(const BoxRecord& r) {
  const double w = r.image_size[0], h = r.image_size[1];
  return {r.box[0] / w, r.box[1] / h, (r.box[2] - r.box[0]) / w, (r.box[3] - r.box[1]) / h};
}

PixelBox psol_to_original(const std::array<double, 4>& v, int orig_w, int orig_h) {
  return {v[0] * orig_w, v[1] * orig_h, (v[0] + v[2]) * orig_w, (v[1] + v[3]) * orig_h};
}

std::string psol_key(const std::string& name, const std::string& split, const std::string& root) {
  const fs::path p(name);
  const std::string file = p.filename().string();
  const std::string folder = p.parent_path().filename().string();
  std::string key = root.empty() ? split : root + "/" + split;
  if (!folder.empty()) key += "/" + folder;
  key += "/" + file;
  // The reference collapses doubled slashes (key.replace('//', '/')).
  for (size_t at; (at = key.find("//")) != std::string::npos;) key.erase(at, 1);
  return key;
}

std::string psol_json(const std::vector<BoxRecord>& records, const std::string& split, const std::string& root) {
  // Written by hand: an ordered JSON object of a million keys would be quadratic.
  std::string out = "{";
  for (size_t i = 0; i < records.size(); ++i) {
    const std::array<double, 4> v = psol_value(records[i]);
    out += fmt::format("{}\n  {}: [{}, {}, {}, {}]", i == 0 ? "" : ",",
                       nlohmann::json(psol_key(records[i].name, split, root)).dump(), nlohmann::json(v[0]).dump(),
                       nlohmann::json(v[1]).dump(), nlohmann::json(v[2]).dump(), nlohmann::json(v[3]).dump());
  }
  out += records.empty() ? "}\n" : "\n}\n";
  return out;
}

namespace {

// --threshold, else the checkpoint's best_threshold; a UsageError when there
// is neither or tau lies outside [0, 1].
double resolve_threshold(const ExtractBoxesOptions& options, const LoadedNet& loaded) {
  if (!options.threshold && std::isnan(loaded.best_threshold)) {
    throw UsageError(fmt::format("checkpoint '{}' has no best_threshold (run 'c2am eval-wsol' on it first, "
                                 "or give --threshold TAU)",
                                 loaded.path()));
  }
  const double tau = options.threshold ? *options.threshold : loaded.best_threshold;
  if (!(tau >= 0.0 && tau <= 1.0)) throw UsageError(fmt::format("threshold {} is outside [0, 1]", tau));
  return tau;
}

// What the chunks are computed with (OUT/parts/run.json): a rerun with other
// settings is refused unless --force.
nlohmann::json run_signature(const config::Config& cfg, const LoadedNet& loaded, double tau,
                             const std::string& split, std::int64_t samples, const data::Transform& tf,
                             std::int64_t chunk_size) {
  nlohmann::json j = {{"command", "extract-boxes"},
                      {"checkpoint", fs::absolute(loaded.path()).lexically_normal().string()},
                      {"polarity", loaded.polarity},
                      {"threshold", tau},
                      {"data", fs::absolute(cfg.data.root).lexically_normal().string()},
                      {"split", split},
                      {"samples", samples},
                      {"test_resize", tf.resize},
                      {"test_crop", tf.crop},
                      {"chunk_size", chunk_size}};
  // Only when not the default, so that a folder begun before protocols existed still resumes.
  if (cfg.eval.protocol != "paper") j["protocol"] = cfg.eval.protocol;
  return j;
}

// One chunk through data::Loader: one rank's view (the chunk is this rank's
// already), in index order, the last batch short, the skip policy of data.
data::LoaderOptions chunk_loader_options(const config::Config& cfg, int threads) {
  data::LoaderOptions o;
  o.batch_per_rank = cfg.eval.batch_size;
  o.rank = 0;
  o.world = 1;
  o.threads = cfg.data.loader_threads > 0 ? cfg.data.loader_threads : threads;
  o.shuffle = false;
  o.drop_last = false;
  o.skip_bad = cfg.data.bad_sample == "skip";
  return o;
}

// What the boxes of a chunk need.
struct ChunkBoxer {
  model::C2amNetImpl& net;
  int polarity = 0;
  data::Transform tf;
  double tau = 0.0;
  CorLocProtocol protocol;  // eval.protocol
  data::LoaderOptions loader;
  const util::Logger& log;
};

// Appends the records of one batch of the chunk whose images are `images`.
void add_batch_records(const ChunkBoxer& b, const data::Batch& batch,
                       const std::vector<jobs::JobImage>& images, std::vector<BoxRecord>& out) {
  const torch::Tensor maps =
      model::oriented_map(b.net.forward(batch.images).map, /*negative=*/b.polarity == 1).contiguous();
  const int mh = static_cast<int>(maps.size(2)), mw = static_cast<int>(maps.size(3));
  const Scale to_crop = map_to_crop(mw, mh, b.tf.crop, b.tf.crop);
  for (size_t i = 0; i < batch.sample_ids.size(); ++i) {
    const jobs::JobImage& im = images[static_cast<size_t>(batch.sample_ids[i])];
    const auto [ow, oh] = batch.original_sizes[i];
    const MapView view{maps[static_cast<int64_t>(i)][0].data_ptr<float>(), mw, mh};
    const image::Box crop_box = corloc_boxes(view, to_crop, {b.tau}, b.protocol)[0];
    BoxRecord r;
    r.index = im.index;
    r.name = im.sample->name;
    r.box = crop_box_to_original(crop_box, ow, oh, b.tf);
    r.image_size = {ow, oh};
    r.map_size = {mw, mh};
    r.threshold = b.tau;
    out.push_back(std::move(r));
  }
}

// The boxes of chunk `chunk` (its samples `images`), in index order; an image
// dropped under the skip policy has none (a warning names it).
std::vector<BoxRecord> boxes_of_chunk(const ChunkBoxer& b, const data::Dataset& all, std::int64_t chunk,
                                      const std::vector<jobs::JobImage>& images) {
  data::Dataset part;
  part.description = all.description;
  part.shards = all.shards;
  for (const jobs::JobImage& im : images) part.samples.push_back(*im.sample);
  data::Loader loader(std::move(part), b.tf, b.loader);
  loader.start_epoch(0);
  std::vector<BoxRecord> records;
  while (auto batch = loader.next()) {
    for (const std::string& why : batch->skipped) {
      b.log.warn("extract-boxes: chunk {}: no box for an undecodable image (data.bad_sample = skip): {}",
                 chunk, why);
    }
    if (!batch->sample_ids.empty()) add_batch_records(b, *batch, images, records);
  }
  return records;
}

// Rank 0, after every chunk is done: boxes.jsonl and pseudo_boxes.json, and a
// warning naming the chunks whose skipped images have no box.
void write_outputs(const data::Dataset& all, std::int64_t chunk_size, const ExtractBoxesOptions& options,
                   ExtractBoxesResult& result, const util::Logger& log) {
  const std::vector<BoxRecord> records = merge_box_chunks(options.out_dir, all, chunk_size);
  util::write_file_atomic(result.boxes_file, jsonl(records));
  util::write_file_atomic(result.psol_file, psol_json(records, options.split, options.psol_root));
  result.written = static_cast<std::int64_t>(records.size());
  if (result.written == result.total) return;
  std::vector<std::int64_t> boxes(static_cast<size_t>(jobs::chunk_count(result.total, chunk_size)), 0);
  for (const BoxRecord& r : records) ++boxes[static_cast<size_t>(r.index / chunk_size)];
  std::vector<std::int64_t> short_chunks;
  for (size_t c = 0; c < boxes.size(); ++c) {
    const std::int64_t want = std::min(chunk_size, result.total - static_cast<std::int64_t>(c) * chunk_size);
    if (boxes[c] < want) short_chunks.push_back(static_cast<std::int64_t>(c));
  }
  log.warn(
      "{} of {} images have no box (undecodable, skipped under data.bad_sample = skip) in chunk(s) {}; "
      "those chunks are done, so a rerun keeps them without a box: to retry them, delete their "
      "{}/parts/chunk-<k>.done and rerun, or rerun with --force",
      result.total - result.written, result.total, fmt::join(short_chunks, ", "), options.out_dir);
}

}  // namespace

ExtractBoxesResult extract_boxes(const config::Config& cfg, const ExtractBoxesOptions& options,
                                 comm::Communicator& comm, const util::Logger& log) {
  const auto start = std::chrono::steady_clock::now();
  const int threads = util::resolve_threads(cfg.run.threads);
  torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  LoadedNet loaded = load_checkpoint_net(options.checkpoint, log);
  loaded.net->eval();
  ExtractBoxesResult result;
  result.checkpoint = loaded.path();
  result.polarity = loaded.polarity;
  result.threshold = resolve_threshold(options, loaded);
  result.boxes_file = options.out_dir + "/boxes.jsonl";
  result.psol_file = options.out_dir + "/pseudo_boxes.json";

  const data::Transform tf = data::test_transform(cfg.data);
  const data::Dataset all = data::open_split(cfg.data, options.split);
  result.total = static_cast<std::int64_t>(all.samples.size());
  const std::int64_t chunk_size = box_chunk_size(cfg.eval.batch_size);
  log.info("extracting boxes of {} ({} images) at tau {} with {} (polarity {}), {} rank(s), chunks of {}",
           all.description, result.total, result.threshold, loaded.path(),
           loaded.polarity ? "negative" : "positive", comm.world(), chunk_size);
  if (options.force && comm.rank() == 0) {
    std::error_code ec;
    fs::remove(result.boxes_file, ec);
    fs::remove(result.psol_file, ec);
  }

  jobs::ImageJobOptions job;
  job.command = "extract-boxes";
  job.out_dir = options.out_dir;
  job.run_json =
      run_signature(cfg, loaded, result.threshold, options.split, result.total, tf, chunk_size).dump();
  job.force = options.force;
  job.decode = false;        // the loader decodes, at the test transform
  job.name_by_stem = false;  // one file per chunk, none per image
  job.chunk_size = chunk_size;
  const ChunkBoxer boxer{
      *loaded.net,
      loaded.polarity,
      tf,
      result.threshold,
      corloc_protocol(cfg.eval.protocol, cfg.data.layout),
      chunk_loader_options(cfg, threads),
      log};
  const jobs::ImageJobResult r =
      jobs::run_image_job(all, job, comm, log, [&](std::int64_t chunk, std::vector<jobs::JobImage>& images) {
        write_box_chunk(box_chunk_file(options.out_dir, chunk), boxes_of_chunk(boxer, all, chunk, images));
      });
  result.resumed = r.resumed;
  result.processed = r.processed;
  if (comm.rank() == 0) write_outputs(all, chunk_size, options, result, log);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace c2am::eval
