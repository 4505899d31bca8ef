// Implements: the pack run: validate → scan the layout → plan (fingerprint) →
// check the output folder (resume / refuse / --force) → read and encode on a
// worker pool, write shards in order on this thread → manifest last.
#include "data_prep/pack.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <thread>
#include <utility>

#include "data/shards.h"
#include "data_prep/ordered_pool.h"
#include "data_prep/pack_lock.h"
#include "data_prep/pack_output.h"
#include "data_prep/pack_plan.h"
#include "data_prep/pack_sample.h"
#include "data_prep/sources.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::data_prep {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void validate(const PackOptions& o) {
  check_layout_split(o.layout, o.split);
  if (o.source.empty()) throw UsageError("pack: the source folder is empty");
  if (o.out.empty()) throw UsageError("pack: the output folder (-o, --out) is empty");
  if (o.shard_size < 1 || o.shard_size > kMaxShardSize)
    throw UsageError(
        fmt::format("pack: --shard-size must be in [1, {}] images (a shard is built in memory), got {}",
                    kMaxShardSize, o.shard_size));
  if (o.threads < 0 || o.threads > kMaxThreads)
    throw UsageError(
        fmt::format("pack: --threads must be in [0, {}] (0 = all cores), got {}", kMaxThreads, o.threads));
  if (o.reencode_max_side < 0 || o.reencode_max_side > kMaxSide)
    throw UsageError(fmt::format("pack: --max-side must be in [0, {}] pixels (0 = keep bytes), got {}",
                                 kMaxSide, o.reencode_max_side));
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100)
    throw UsageError(fmt::format("pack: --quality must be in [1, 100], got {}", o.jpeg_quality));
  std::error_code ec;
  if (!fs::is_directory(o.source, ec))  // before OUT is created and locked
    throw UsageError(fmt::format("source '{}' is not a folder", o.source));
  if (fs::exists(o.out, ec) && !fs::is_directory(o.out, ec))
    throw UsageError(fmt::format("pack: output '{}' exists and is not a folder", o.out));
  if (fs::exists(o.out, ec) && fs::exists(o.source, ec) && fs::equivalent(o.out, o.source, ec))
    throw UsageError(fmt::format("pack: the output folder '{}' is the source folder", o.out));
  if (o.layout == "folder") {  // OUT inside SRC would become a class on the rerun, changing the plan
    const std::string src = fs::weakly_canonical(fs::absolute(o.source), ec).generic_string() + "/";
    const std::string out = fs::weakly_canonical(fs::absolute(o.out), ec).generic_string() + "/";
    if (out.compare(0, src.size(), src) == 0)
      throw UsageError(
          fmt::format("pack: with --layout folder the output folder '{}' must not be inside the "
                      "source folder '{}' (it would be scanned as a class)",
                      o.out, o.source));
  }
}

std::string duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

// The progress line, at most once per second (and on the last image).
class Progress {
 public:
  Progress(const util::Logger& log, std::int64_t total, std::int64_t already_done)
      : log_(log), total_(total), done_(already_done), start_(Clock::now()), last_(start_) {}
  void add(std::uint64_t bytes) {
    ++processed_;
    ++done_;
    bytes_ += bytes;
    const auto now = Clock::now();
    if (done_ < total_ && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    const double rate = s > 0 ? processed_ / s : 0;
    log_.progress(fmt::format("pack: {}/{} images ({:.1f}%), {:.1f} MB/s, {:.0f} img/s, ETA {}", done_,
                              total_, 100.0 * done_ / std::max<std::int64_t>(total_, 1),
                              s > 0 ? bytes_ / 1e6 / s : 0.0, rate,
                              rate > 0 ? duration((total_ - done_) / rate) : std::string("?")));
  }

 private:
  const util::Logger& log_;
  std::int64_t total_, done_, processed_ = 0;
  std::uint64_t bytes_ = 0;
  Clock::time_point start_, last_;
};

}  // namespace

std::string shard_file_name(int index) { return fmt::format("shard-{:05d}.h5", index); }

struct Packer::State {
  State(PackOptions options, const util::Logger& logger) : o(std::move(options)), log(logger) {}
  PackOptions o;
  const util::Logger& log;
  int threads = 1;
  SourceListing listing;
  ShardPlan plan;
  std::unique_ptr<PackLock> lock;
  // Per shard, its manifest entry once known complete (prepared, found or written here).
  std::vector<std::optional<data::ManifestShard>> shards;
  bool prepared = false;  // `shards` holds prepare_output's answer for every shard
};

Packer::Packer(PackOptions options, const util::Logger& log)
    : s_(std::make_unique<State>(std::move(options), log)) {
  const PackOptions& o = s_->o;
  validate(o);
  s_->threads =
      o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  log.info("pack: scanning {} ({} layout, {} split)", o.source, o.layout, o.split);
  s_->listing = scan_source(o.layout, o.split, o.source);
  const auto& records = s_->listing.records;
  const auto n = static_cast<std::int64_t>(records.size());
  const std::int64_t per_shard = o.shard_size;
  ShardPlan& plan = s_->plan;
  plan.plan_id = compute_plan_id(o, s_->listing, s_->threads);
  plan.options_json = pack_options_json(o);
  plan.num_shards = static_cast<int>((n + per_shard - 1) / per_shard);
  plan.names.resize(static_cast<std::size_t>(plan.num_shards));
  for (std::int64_t i = 0; i < n; ++i)
    plan.names[static_cast<std::size_t>(i / per_shard)].push_back(records[static_cast<std::size_t>(i)].name);
  s_->shards.resize(static_cast<std::size_t>(plan.num_shards));
}

Packer::~Packer() = default;

void Packer::prepare_output() {
  util::make_dirs(s_->o.out);
  s_->lock = std::make_unique<PackLock>(s_->o.out);  // one pack per output folder, until this run ends
  s_->shards = data_prep::prepare_output(s_->o, s_->plan, s_->log);
  s_->prepared = true;
}

PackResult Packer::write_shards(int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw UsageError(fmt::format("pack: rank {} of a world of {} ranks", rank, world));
  const auto start = Clock::now();
  const PackOptions& o = s_->o;
  const util::Logger& log = s_->log;
  const ShardPlan& plan = s_->plan;
  const auto& records = s_->listing.records;
  const auto n = static_cast<std::int64_t>(records.size());
  const std::int64_t per_shard = o.shard_size;
  const auto mine = [rank, world](int k) { return k % world == rank; };
  if (!s_->prepared) s_->shards = find_complete_shards(o, plan, mine, log);
  auto& shards = s_->shards;

  std::vector<std::size_t> todo;  // record indices to pack, shard by shard
  PackResult result;
  result.out = o.out;
  result.plan_id = plan.plan_id;
  result.images = n;
  result.shards = plan.num_shards;
  std::int64_t my_images = 0;
  int my_shards = 0;
  for (int k = 0; k < plan.num_shards; ++k) {
    if (!mine(k)) continue;
    ++my_shards;
    my_images += std::min(n, (k + 1) * per_shard) - k * per_shard;
    if (shards[static_cast<std::size_t>(k)]) {
      ++result.shards_skipped;
      continue;
    }
    for (std::int64_t i = k * per_shard; i < std::min(n, (k + 1) * per_shard); ++i)
      todo.push_back(static_cast<std::size_t>(i));
  }
  result.images_written = static_cast<std::int64_t>(todo.size());
  log.info(
      "pack: {} images in {} shard(s) of {}, plan {}; {}{} shard(s) complete from an earlier run, {} to "
      "write "
      "with {} thread(s)",
      n, plan.num_shards, per_shard, plan.plan_id,
      world == 1 ? std::string() : fmt::format("rank {} of {} packs {} shard(s): ", rank, world, my_shards),
      result.shards_skipped, my_shards - result.shards_skipped, s_->threads);

  // Workers read (and re-encode); this thread writes the shards in order.
  const SampleOptions sample_options{o.reencode_max_side, o.jpeg_quality};
  Progress progress(log, my_images, my_images - result.images_written);
  std::unique_ptr<data::ShardWriter> writer;
  std::int64_t in_shard = 0;
  run_ordered(
      todo.size(), s_->threads, std::max<std::size_t>(16, 8 * static_cast<std::size_t>(s_->threads)),
      [&](std::size_t j) { return prepare_sample(records[todo[j]], sample_options); },
      [&](std::size_t j, data::PackedSample&& s) {
        const auto i = static_cast<std::int64_t>(todo[j]);
        const int k = static_cast<int>(i / per_shard);
        const std::string file = shard_file_name(k);
        if (!writer) {
          writer = std::make_unique<data::ShardWriter>(
              (fs::path(o.out) / file).string(),
              data::ShardInfo{o.layout, o.split, k, plan.num_shards, plan.plan_id});
          in_shard = 0;
        }
        const std::uint64_t bytes = s.bytes.size() + s.mask.size();
        writer->add(s);
        ++in_shard;
        result.bytes += bytes;
        if (i + 1 == std::min(n, (k + 1) * per_shard)) {
          writer->finish();
          // The header (data ranges, structure checksum) as a reader will find it.
          const data::ShardReader written((fs::path(o.out) / file).string());
          shards[static_cast<std::size_t>(k)] = data::ManifestShard{file, in_shard, writer->checksum(), written.header()};
          writer.reset();
          ++result.shards_written;
        }
        progress.add(bytes);
      });
  log.end_progress();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

void Packer::write_manifest() {
  const PackOptions& o = s_->o;
  auto& shards = s_->shards;
  const auto missing = [&shards](int k) { return !shards[static_cast<std::size_t>(k)]; };
  const std::vector<std::optional<data::ManifestShard>> found =
      find_complete_shards(o, s_->plan, missing, s_->log);  // those other ranks wrote
  for (std::size_t k = 0; k < shards.size(); ++k) {
    if (!shards[k]) shards[k] = found[k];
    if (!shards[k])
      throw Error(fmt::format("pack: shard {} ('{}') is not complete in '{}'; no manifest written", k,
                              shard_file_name(static_cast<int>(k)), o.out));
  }
  data::Manifest m;
  m.layout = o.layout;
  m.split = o.split;
  m.source = fs::absolute(o.source).lexically_normal().generic_string();
  m.plan_id = s_->plan.plan_id;
  m.classes = s_->listing.classes;
  m.options_json = s_->plan.options_json;
  m.count = static_cast<std::int64_t>(s_->listing.records.size());
  for (const auto& s : shards) m.shards.push_back(*s);
  data::write_manifest(o.out, m);
}

PackResult pack(const PackOptions& o, const util::Logger& log) {
  const auto start = Clock::now();
  Packer packer(o, log);
  packer.prepare_output();
  PackResult result = packer.write_shards(/*rank=*/0, /*world=*/1);
  packer.write_manifest();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace c2am::data_prep
