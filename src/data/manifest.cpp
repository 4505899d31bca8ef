// Implements: the packed dataset's manifest.json and `verify_packed`.
#include <fmt/format.h>
#include <xxhash.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/jpeg.h"
#include "data/shards.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::data {

namespace {

std::string hex64(std::uint64_t v) { return fmt::format("{:016x}", v); }

template <typename T>
T get(const nlohmann::json& j, const char* key, const std::string& file) {
  if (!j.contains(key)) throw Error(fmt::format("{}: key '{}' is missing", file, key));
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: key '{}': {}", file, key, e.what()));
  }
}

}  // namespace

void write_manifest(const std::string& dir, const Manifest& m) {
  nlohmann::json j;
  j["format"] = m.format;
  j["version"] = m.version;
  j["layout"] = m.layout;
  j["split"] = m.split;
  j["source"] = m.source;
  j["plan_id"] = m.plan_id;
  j["classes"] = m.classes;
  j["count"] = m.count;
  j["options"] = m.options_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(m.options_json);
  j["shards"] = nlohmann::json::array();
  for (const ManifestShard& s : m.shards) {
    j["shards"].push_back({{"file", s.file}, {"count", s.count}, {"checksum", hex64(s.checksum)}});
  }
  util::write_file_atomic((std::filesystem::path(dir) / kManifestName).string(), j.dump(2) + "\n");
}

Manifest read_manifest(const std::string& dir) {
  const std::string file = (std::filesystem::path(dir) / kManifestName).string();
  if (!std::filesystem::exists(file)) throw IoError(fmt::format("'{}' has no {} (not a packed dataset)", dir, kManifestName));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(util::read_file(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", file, e.what()));
  }
  Manifest m;
  m.format = get<std::string>(j, "format", file);
  if (m.format != kShardFormat) throw Error(fmt::format("{}: format '{}' is not {}", file, m.format, kShardFormat));
  m.version = get<int>(j, "version", file);
  if (m.version > kShardFormatVersion) {
    throw Error(fmt::format("{}: version {} is newer than this c2am reads ({})", file, m.version, kShardFormatVersion));
  }
  m.layout = get<std::string>(j, "layout", file);
  m.split = get<std::string>(j, "split", file);
  m.source = get<std::string>(j, "source", file);
  m.plan_id = get<std::string>(j, "plan_id", file);
  m.classes = get<std::vector<std::string>>(j, "classes", file);
  m.count = get<std::int64_t>(j, "count", file);
  m.options_json = j.contains("options") ? j["options"].dump() : "{}";
  const auto shards = get<nlohmann::json>(j, "shards", file);
  std::int64_t total = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string where = fmt::format("{} shards[{}]", file, i);
    ManifestShard s;
    s.file = get<std::string>(shards[i], "file", where);
    s.count = get<std::int64_t>(shards[i], "count", where);
    const std::string hex = get<std::string>(shards[i], "checksum", where);
    try {
      s.checksum = std::stoull(hex, nullptr, 16);
    } catch (const std::exception&) {
      throw Error(fmt::format("{}: checksum '{}' is not hexadecimal", where, hex));
    }
    total += s.count;
    m.shards.push_back(s);
  }
  if (total != m.count) throw Error(fmt::format("{}: shard counts add up to {}, not count = {}", file, total, m.count));
  return m;
}

VerifyReport verify_packed(const std::string& dir, bool decode, int threads) {
  const Manifest m = read_manifest(dir);
  VerifyReport report;
  std::mutex mu;
  auto problem = [&](const std::string& s) {
    std::lock_guard<std::mutex> lock(mu);
    report.problems.push_back(s);
  };
  for (size_t k = 0; k < m.shards.size(); ++k) {
    const ManifestShard& ms = m.shards[k];
    const std::string path = (std::filesystem::path(dir) / ms.file).string();
    std::unique_ptr<ShardReader> r;
    try {
      r = std::make_unique<ShardReader>(path);
    } catch (const Error& e) {
      problem(e.what());
      continue;
    }
    const ShardInfo& info = r->info();
    if (info.layout != m.layout || info.split != m.split || info.plan_id != m.plan_id ||
        info.shard_index != static_cast<int>(k)) {
      problem(fmt::format("{}: attributes (layout {}, split {}, plan {}, index {}) disagree with the manifest", path,
                          info.layout, info.split, info.plan_id, info.shard_index));
    }
    if (r->size() != ms.count) {
      problem(fmt::format("{}: holds {} images, the manifest says {}", path, r->size(), ms.count));
    }
    std::vector<std::uint64_t> sums(static_cast<size_t>(r->size()));
    std::atomic<std::int64_t> next{0};
    std::atomic<std::int64_t> decoded{0};
    auto work = [&] {
      for (std::int64_t i = next++; i < r->size(); i = next++) {
        try {
          const std::vector<std::uint8_t> bytes = r->image_bytes(i);
          const std::uint64_t sum = checksum64(bytes.data(), bytes.size());
          sums[static_cast<size_t>(i)] = r->stored_checksum(i);
          if (sum != r->stored_checksum(i)) {
            problem(fmt::format("{}[{}] ({}): checksum mismatch (stored {}, bytes hash to {})", path, i, r->name(i),
                                hex64(r->stored_checksum(i)), hex64(sum)));
          }
          if (decode) {
            decode_jpeg(bytes.data(), bytes.size(), fmt::format("{}[{}] ({})", path, i, r->name(i)));
            ++decoded;
          }
        } catch (const Error& e) {
          problem(fmt::format("{}[{}] ({}): {}", path, i, r->name(i), e.what()));
        }
      }
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
    if (XXH64(sums.data(), sums.size() * sizeof(std::uint64_t), 0) != ms.checksum) {
      problem(fmt::format("{}: shard checksum differs from the manifest's {}", path, hex64(ms.checksum)));
    }
    report.images += r->size();
    report.decoded += decoded;
  }
  if (report.images != m.count && report.problems.empty()) {
    report.problems.push_back(fmt::format("{}: {} images found, the manifest says {}", dir, report.images, m.count));
  }
  return report;
}

}  // namespace c2am::data
