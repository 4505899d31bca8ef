// Implements: `c2am extract-boxes` (see extract_boxes.h): records and their
// JSON lines, reading and repairing part files, the PSOL export, and the
// distributed, resumable driver.
#include "eval/extract_boxes.h"
#include "eval/wsol_eval_net.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/boxes.h"
#include "model/c2am_net.h"
#include "model/weights.h"
#include "checkpoint/checkpoint.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/run_signature.h"
#include "util/threads.h"

namespace c2am::eval {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPartsDir = "parts";
constexpr const char* kPartPrefix = "boxes-rank";
constexpr const char* kPartSuffix = ".jsonl";

double round_milli(double v) { return std::round(v * 1000.0) / 1000.0; }

std::string part_path(const std::string& out_dir, int rank) {
  return fmt::format("{}/{}/{}{}{}", out_dir, kPartsDir, kPartPrefix, rank, kPartSuffix);
}

// Cuts an unterminated last line off `path` (left by a kill mid-write), so
// that appended lines start on a line of their own.
void cut_torn_tail(const std::string& path) {
  std::error_code ec;
  const auto size = static_cast<std::int64_t>(fs::file_size(path, ec));
  if (ec || size == 0) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno("cannot open part file", path);
  std::int64_t keep = 0;  // bytes up to and including the last '\n'
  std::vector<char> block(64 * 1024);
  for (std::int64_t end = size; end > 0 && keep == 0;) {
    const std::int64_t begin = std::max<std::int64_t>(0, end - static_cast<std::int64_t>(block.size()));
    in.seekg(begin);
    in.read(block.data(), end - begin);
    for (std::int64_t i = end - begin - 1; i >= 0; --i) {
      if (block[static_cast<size_t>(i)] == '\n') {
        keep = begin + i + 1;
        break;
      }
    }
    end = begin;
  }
  if (keep == size) return;
  if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0) throw_errno("cannot truncate part file", path);
}

// Appends whole batches of lines with one write() each: a kill leaves at most
// one torn line at the end.
class PartWriter {
 public:
  explicit PartWriter(std::string path) : path_(std::move(path)) {
    cut_torn_tail(path_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw_errno("cannot open part file", path_);
  }
  ~PartWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  void append(const std::string& lines) {
    size_t done = 0;
    while (done < lines.size()) {
      const ssize_t n = ::write(fd_, lines.data() + done, lines.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot write part file", path_);
      }
      done += static_cast<size_t>(n);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Rank 0: start over (--force), or check that earlier parts were computed
// with the same checkpoint, threshold, split and transform.
void prepare_out_dir(const std::string& out_dir, const nlohmann::json& run, bool force) {
  if (force) {
    std::error_code ec;
    fs::remove(out_dir + "/boxes.jsonl", ec);
    fs::remove(out_dir + "/pseudo_boxes.json", ec);
  }
  util::claim_parts_dir(out_dir + "/" + kPartsDir, run.dump(), force);
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

std::vector<BoxRecord> read_parts(const std::string& out_dir) {
  const fs::path dir = fs::path(out_dir) / kPartsDir;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string f = it->path().filename().string();
    if (f.rfind(kPartPrefix, 0) == 0 && f.size() > std::string(kPartSuffix).size() &&
        f.compare(f.size() - std::string(kPartSuffix).size(), std::string::npos, kPartSuffix) == 0) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<BoxRecord> records;
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_errno("cannot open part file", path);
    std::string line;
    std::int64_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      const bool terminated = !in.eof();
      if (!terminated) break;  // a torn last line (kill mid-write): redone
      std::optional<BoxRecord> r = parse_box_record(line);
      if (!r) {
        throw Error(fmt::format("{}:{}: not a box record ('{}'); rerun with --force to start over", path, number,
                                line.substr(0, 80)));
      }
      records.push_back(std::move(*r));
    }
  }
  std::stable_sort(records.begin(), records.end(),
                   [](const BoxRecord& a, const BoxRecord& b) { return a.index < b.index; });
  records.erase(std::unique(records.begin(), records.end(),
                            [](const BoxRecord& a, const BoxRecord& b) { return a.index == b.index; }),
                records.end());
  return records;
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

ExtractBoxesResult extract_boxes(const config::Config& cfg, const ExtractBoxesOptions& options,
                                 comm::Communicator& comm, const util::Logger& log) {
  const auto start = std::chrono::steady_clock::now();
  const int threads = util::resolve_threads(cfg.run.threads);
  torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  ExtractBoxesResult result;

  LoadedNet loaded = load_checkpoint_net(options.checkpoint, log);
  loaded.net->eval();
  result.checkpoint = loaded.path();
  result.polarity = loaded.polarity;
  result.threshold = options.threshold ? *options.threshold : loaded.best_threshold;
  if (!options.threshold && std::isnan(loaded.best_threshold)) {
    throw UsageError(fmt::format("checkpoint '{}' has no best_threshold (run 'c2am eval-wsol' on it first, "
                                 "or give --threshold TAU)",
                                 loaded.path()));
  }
  if (!(result.threshold >= 0.0 && result.threshold <= 1.0)) {
    throw UsageError(fmt::format("threshold {} is outside [0, 1]", result.threshold));
  }
  const double tau = result.threshold;

  const data::Transform tf = data::test_transform(cfg.data);
  const data::Dataset all = data::open_split(cfg.data, options.split);
  result.total = static_cast<std::int64_t>(all.samples.size());
  log.info("extracting boxes of {} ({} images) at tau {} with {} (polarity {}), {} rank(s)", all.description,
           result.total, tau, loaded.path(), loaded.polarity ? "negative" : "positive", comm.world());

  const nlohmann::json run = {{"checkpoint", fs::absolute(loaded.path()).lexically_normal().string()},
                              {"polarity", loaded.polarity},
                              {"threshold", tau},
                              {"split", options.split},
                              {"samples", result.total},
                              {"test_resize", tf.resize},
                              {"test_crop", tf.crop}};
  if (comm.rank() == 0) prepare_out_dir(options.out_dir, run, options.force);
  comm.barrier();

  // What earlier runs finished (every rank reads the same files, so every
  // rank derives the same list of what is left).
  const std::vector<BoxRecord> done = read_parts(options.out_dir);
  std::vector<char> is_done(all.samples.size(), 0);
  for (const BoxRecord& r : done) {
    if (r.index >= result.total || r.name != all.samples[static_cast<size_t>(r.index)].name) {
      throw UsageError(fmt::format("{}: sample {} ('{}') does not match the dataset {}; rerun with --force",
                                   options.out_dir, r.index, r.name, all.description));
    }
    is_done[static_cast<size_t>(r.index)] = 1;
  }
  result.resumed = static_cast<std::int64_t>(done.size());
  data::Dataset todo;
  todo.description = all.description;
  todo.shards = all.shards;
  std::vector<std::int64_t> global_index;
  for (size_t i = 0; i < all.samples.size(); ++i) {
    if (is_done[i]) continue;
    todo.samples.push_back(all.samples[i]);
    global_index.push_back(static_cast<std::int64_t>(i));
  }
  if (result.resumed > 0) log.info("resuming: {} boxes already done, {} to go", result.resumed, todo.samples.size());
  comm.barrier();  // every rank has read the parts before any rank repairs its own

  {
    PartWriter part(part_path(options.out_dir, comm.rank()));
    data::LoaderOptions lopt;
    lopt.batch_per_rank = cfg.eval.batch_size;
    lopt.rank = comm.rank();
    lopt.world = comm.world();
    lopt.threads = cfg.data.loader_threads > 0 ? cfg.data.loader_threads : threads;
    lopt.shuffle = false;
    lopt.drop_last = false;
    lopt.skip_bad = cfg.data.bad_sample == "skip";
    const auto left = static_cast<std::int64_t>(todo.samples.size());
    data::Loader loader(std::move(todo), tf, lopt);
    loader.start_epoch(0);
    // This rank's share: rows [rank*n, (rank+1)*n) of each global batch.
    const std::int64_t global = static_cast<std::int64_t>(lopt.batch_per_rank) * lopt.world;
    std::int64_t share = 0;
    for (std::int64_t b = 0; b * global < left; ++b) {
      const std::int64_t begin = b * global + static_cast<std::int64_t>(lopt.rank) * lopt.batch_per_rank;
      share += std::clamp<std::int64_t>(left - begin, 0, lopt.batch_per_rank);
    }

    std::int64_t mine = 0;
    const auto t0 = std::chrono::steady_clock::now();
    auto last_report = t0;
    while (auto batch = loader.next()) {
      const int64_t n = batch->images.size(0);
      if (n == 0) continue;
      const torch::Tensor maps =
          model::oriented_map(loaded.net->forward(batch->images).map, loaded.polarity == 1).contiguous();
      const int mh = static_cast<int>(maps.size(2)), mw = static_cast<int>(maps.size(3));
      const Scale to_crop = map_to_crop(mw, mh, tf.crop, tf.crop);
      std::string lines;
      for (int64_t i = 0; i < n; ++i) {
        const auto local = static_cast<size_t>(batch->sample_ids[static_cast<size_t>(i)]);
        const auto [ow, oh] = batch->original_sizes[static_cast<size_t>(i)];
        const MapView view{maps[i][0].data_ptr<float>(), mw, mh};
        const image::Box crop_box = scale_box(boxes_at_threshold(view, tau)[0], to_crop);
        BoxRecord r;
        r.index = global_index[local];
        r.name = loader.samples()[local].name;
        r.box = crop_box_to_original(crop_box, ow, oh, tf);
        r.image_size = {ow, oh};
        r.map_size = {mw, mh};
        r.threshold = tau;
        lines += box_record_to_json(r);
        lines += '\n';
      }
      part.append(lines);
      mine += n;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_report >= std::chrono::seconds(2) || mine + static_cast<std::int64_t>(loader.skipped()) >= share) {
        last_report = now;
        const double s = std::chrono::duration<double>(now - t0).count();
        const double rate = s > 0 ? static_cast<double>(mine) / s : 0.0;
        // Rank 0's own share; the job's rate assumes every rank runs as fast.
        log.progress(fmt::format("extract-boxes {}/{} images on rank 0 of {}, {:.1f} images/s, ETA {}", mine, share,
                                 comm.world(), rate * comm.world(),
                                 util::format_duration(rate > 0 ? static_cast<double>(share - mine) / rate : NAN)));
      }
    }
    log.end_progress();
    if (loader.skipped() > 0) {
      log.warn("{} undecodable images skipped (data.bad_sample = skip); a rerun retries them", loader.skipped());
    }
  }
  comm.barrier();  // every part is complete

  result.boxes_file = options.out_dir + "/boxes.jsonl";
  result.psol_file = options.out_dir + "/pseudo_boxes.json";
  if (comm.rank() == 0) {
    const std::vector<BoxRecord> records = read_parts(options.out_dir);
    std::string text;
    text.reserve(records.size() * 160);
    for (const BoxRecord& r : records) {
      text += box_record_to_json(r);
      text += '\n';
    }
    util::write_file_atomic(result.boxes_file, text);
    util::write_file_atomic(result.psol_file, psol_json(records, options.split, options.psol_root));
    result.written = static_cast<std::int64_t>(records.size());
    result.processed = result.written - result.resumed;
    if (result.written < result.total) {
      log.warn("{} of {} images have no box (skipped as undecodable)", result.total - result.written,
               result.total);
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace c2am::eval
