// Implements: prepare_output (see pack_output.h).
#include "data_prep/pack_output.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <regex>

#include "util/error.h"
#include "util/fs.h"

namespace c2am::data_prep {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void changed(const std::string& what) {
  throw UsageError(
      fmt::format("source or options changed since the first run: {}; use --force to repack", what));
}

// What differs between the manifest found and this run (the plan fingerprint covers all of it).
std::string diagnose(const data::Manifest& m, const PackOptions& o, const ShardPlan& plan) {
  if (m.layout != o.layout || m.split != o.split)
    return fmt::format("it holds the {} {} split, this run packs {} {}", m.layout, m.split, o.layout,
                       o.split);
  if (m.options_json != plan.options_json)
    return fmt::format("its options were {}, this run's are {}", m.options_json, plan.options_json);
  return "the source's images, masks or annotations (names, sizes, modification times, labels or boxes) "
         "differ";
}

struct FoundFiles {
  std::vector<std::pair<int, std::string>> shards;  // (index, path)
  std::vector<std::string> temporaries;
};

FoundFiles scan_out(const std::string& out) {
  static const std::regex kShard(R"(shard-(\d{5,})\.h5)");
  static const std::regex kTemp(R"(shard-\d{5,}\.h5\.tmp|manifest\.json\.tmp\.\d+)");
  FoundFiles f;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    std::smatch m;
    if (std::regex_match(n, m, kShard))
      f.shards.emplace_back(std::stoi(m[1].str()), e.path().string());
    else if (std::regex_match(n, kTemp))
      f.temporaries.push_back(e.path().string());
  }
  std::sort(f.shards.begin(), f.shards.end());
  return f;
}

void remove_file(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) throw IoError(fmt::format("cannot remove '{}': {}", path, ec.message()));
}

// Per shard of `plan` that `wanted` selects, the manifest entry of the shard
// file found there when it is complete (same plan, index, count and names).
std::vector<std::optional<data::ManifestShard>> check_shards(
    const PackOptions& o, const ShardPlan& plan, const std::vector<std::pair<int, std::string>>& shard_files,
    const std::function<bool(int)>& wanted, const util::Logger& log) {
  std::vector<std::optional<data::ManifestShard>> complete(static_cast<std::size_t>(plan.num_shards));
  for (const auto& [index, path] : shard_files) {
    if (index < plan.num_shards && !wanted(index)) continue;
    std::unique_ptr<data::ShardReader> r;
    try {
      r = std::make_unique<data::ShardReader>(path);
    } catch (const Error& e) {
      log.warn("{}: cannot be read ({}); it will be written again", path, e.what());
      continue;
    }
    const data::ShardInfo& info = r->info();
    if (info.plan_id != plan.plan_id)
      changed(fmt::format("shard '{}' has plan {}, this run's plan is {}", path, info.plan_id, plan.plan_id));
    if (index >= plan.num_shards || info.shard_index != index || info.num_shards != plan.num_shards ||
        info.layout != o.layout || info.split != o.split) {
      log.warn("{}: attributes (index {} of {}) do not fit this plan; it will be written again", path,
               info.shard_index, info.num_shards);
      continue;
    }
    const auto& names = plan.names[static_cast<std::size_t>(index)];
    bool same = r->size() == static_cast<std::int64_t>(names.size());
    for (std::int64_t i = 0; same && i < r->size(); ++i)
      same = r->name(i) == names[static_cast<std::size_t>(i)];
    if (!same) {
      log.warn("{}: holds other images than this plan puts there; it will be written again", path);
      continue;
    }
    std::vector<std::uint64_t> sums(static_cast<std::size_t>(r->size()));
    for (std::int64_t i = 0; i < r->size(); ++i) sums[static_cast<std::size_t>(i)] = r->stored_checksum(i);
    complete[static_cast<std::size_t>(index)] =
        data::ManifestShard{fs::path(path).filename().string(), r->size(), data::shard_checksum(sums), r->header()};
  }
  return complete;
}

}  // namespace

std::vector<std::optional<data::ManifestShard>> prepare_output(const PackOptions& o, const ShardPlan& plan,
                                                               const util::Logger& log) {
  util::make_dirs(o.out);
  FoundFiles found = scan_out(o.out);
  for (const std::string& t : found.temporaries) remove_file(t);  // an interrupted run's partial writes

  const std::string manifest_path = (fs::path(o.out) / data::kManifestName).string();
  bool other_plan = false;
  if (fs::exists(manifest_path)) {
    try {
      const data::Manifest m = data::read_manifest(o.out);
      if (m.plan_id != plan.plan_id) {
        if (!o.force)
          changed(fmt::format("'{}' has plan {}, this run's plan is {} ({})", manifest_path, m.plan_id,
                              plan.plan_id, diagnose(m, o, plan)));
        other_plan = true;
      }
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      if (!o.force) changed(fmt::format("'{}' cannot be read ({})", manifest_path, e.what()));
      other_plan = true;
    }
  }
  // --force repacks from scratch, whatever plan the old files have.
  const bool had_manifest = fs::exists(manifest_path);
  if (o.force && (had_manifest || !found.shards.empty())) {
    if (had_manifest) remove_file(manifest_path);
    for (const auto& [index, path] : found.shards) remove_file(path);
    log.info("pack: --force: removed {} old shard file(s){} from {}{}", found.shards.size(),
             had_manifest ? " and the manifest" : "", o.out, other_plan ? " (they had another plan)" : "");
    found.shards.clear();
  }

  const auto every_shard = [](int) { return true; };
  return check_shards(o, plan, found.shards, every_shard, log);
}

std::vector<std::optional<data::ManifestShard>> find_complete_shards(const PackOptions& o,
                                                                     const ShardPlan& plan,
                                                                     const std::function<bool(int)>& wanted,
                                                                     const util::Logger& log) {
  return check_shards(o, plan, scan_out(o.out).shards, wanted, log);
}

}  // namespace c2am::data_prep
