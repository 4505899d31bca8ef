// Implements: the packed dataset's manifest.json (write_manifest /
// read_manifest) and verify_packed (docs/data-format.md).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "image/jpeg.h"
#include "image/png.h"
#include "data/shards.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::data {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string hex64(std::uint64_t v) { return fmt::format("{:016x}", v); }

// j[key] as T; errors name the file and the key path (`prefix` + key).
template <typename T>
T get(const json& j, const char* key, const std::string& file, const std::string& prefix = "") {
  if (!j.is_object() || !j.contains(key))
    throw Error(fmt::format("{}: key '{}{}' is missing", file, prefix, key));
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: key '{}{}' has the wrong type ({}): {}", file, prefix, key,
                            j.at(key).type_name(), e.what()));
  }
}

std::uint64_t parse_hex64(const std::string& s, const std::string& file, const std::string& key) {
  if (s.empty() || s.size() > 16 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    throw Error(fmt::format("{}: key '{}': '{}' is not a 64-bit hexadecimal checksum", file, key, s));
  }
  return std::stoull(s, nullptr, 16);
}

// shards[k].header: {"checksum": hex, "data": [[offset, size], ...]} with
// ascending, non-overlapping, non-empty ranges (ShardHeader).
ShardHeader parse_header(const json& h, const std::string& file, const std::string& prefix) {
  ShardHeader out;
  out.checksum = parse_hex64(get<std::string>(h, "checksum", file, prefix), file, prefix + "checksum");
  const json data = get<json>(h, "data", file, prefix);
  if (!data.is_array()) throw Error(fmt::format("{}: key '{}data' is not an array", file, prefix));
  std::uint64_t end = 0;
  for (size_t r = 0; r < data.size(); ++r) {
    const json& range = data[r];
    if (!range.is_array() || range.size() != 2 || !range[0].is_number_unsigned() || !range[1].is_number_unsigned())
      throw Error(fmt::format("{}: key '{}data[{}]' is not a pair of byte counts [offset, size]", file, prefix, r));
    const auto offset = range[0].get<std::uint64_t>(), size = range[1].get<std::uint64_t>();
    if (size == 0 || offset < end || size > UINT64_MAX - offset)
      throw Error(fmt::format("{}: key '{}data[{}]' ([{}, {}]) is empty, overlaps the range before it or overflows",
                              file, prefix, r, offset, size));
    end = offset + size;
    out.data.emplace_back(offset, size);
  }
  return out;
}

// A shard file must stay inside the manifest's folder: relative, no '..'
// component, no backslash (a Windows separator that would hide one). The
// check is textual: a symbolic link inside the folder is followed (see docs/reliability.md).
void check_shard_file(const std::string& f, const std::string& file, const std::string& prefix) {
  const fs::path p(f);
  std::string why;
  if (f.empty())
    why = "is empty";
  else if (p.is_absolute() || f.front() == '/')
    why = "is an absolute path";
  else if (f.find('\\') != std::string::npos)
    why = "contains a backslash";
  else if (f.find('\0') != std::string::npos)
    why = "contains a NUL character";
  else {
    for (const fs::path& part : p)
      if (part == "..") why = "has a '..' component (it would leave the dataset folder)";
    if (why.empty() && (p.filename().empty() || p.filename() == ".")) why = "is not a file name";
  }
  if (!why.empty()) {
    throw Error(fmt::format(
        "{}: key '{}file': '{}' {}; a shard must be a file relative to the manifest's folder, inside it",
        file, prefix, f, why));
  }
}

}  // namespace

void write_manifest(const std::string& dir, const Manifest& m) {
  json options = json::object();
  if (!m.options_json.empty()) {
    try {
      options = json::parse(m.options_json);
    } catch (const json::parse_error& e) {
      throw Error(fmt::format("manifest for '{}': the pack options are not valid JSON: {}", dir, e.what()));
    }
    if (!options.is_object())
      throw Error(fmt::format("manifest for '{}': the pack options are not a JSON object", dir));
  }
  json j;
  j["format"] = m.format;
  j["version"] = m.version;
  j["layout"] = m.layout;
  j["split"] = m.split;
  j["source"] = m.source;
  j["plan_id"] = m.plan_id;
  j["classes"] = m.classes;
  j["count"] = m.count;
  j["options"] = std::move(options);
  j["shards"] = json::array();
  for (const ManifestShard& s : m.shards) {
    json e = {{"file", s.file}, {"count", s.count}, {"checksum", hex64(s.checksum)}};
    if (s.header) {
      json ranges = json::array();
      for (const auto& [offset, size] : s.header->data) ranges.push_back({offset, size});
      e["header"] = {{"checksum", hex64(s.header->checksum)}, {"data", std::move(ranges)}};
    }
    j["shards"].push_back(std::move(e));
  }
  util::write_file_atomic((fs::path(dir) / kManifestName).string(), j.dump(2) + "\n");
}

Manifest read_manifest(const std::string& dir) {
  const std::string file = (fs::path(dir) / kManifestName).string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw IoError(fmt::format("packed dataset folder '{}' does not exist", dir));
  if (!fs::exists(file, ec)) {
    throw IoError(fmt::format("'{}' has no {} (not a packed dataset; run c2am pack)", dir, kManifestName));
  }
  json j;
  try {
    j = json::parse(util::read_file(file));
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", file, e.what()));
  }
  if (!j.is_object()) throw Error(fmt::format("{}: not a JSON object", file));
  Manifest m;
  m.format = get<std::string>(j, "format", file);
  if (m.format != kShardFormat) {
    throw Error(fmt::format("{}: key 'format' is '{}', expected '{}'", file, m.format, kShardFormat));
  }
  m.version = get<int>(j, "version", file);
  if (m.version > kShardFormatVersion) {
    throw Error(fmt::format("{}: key 'version' is {}, newer than this c2am reads ({}); update c2am", file,
                            m.version, kShardFormatVersion));
  }
  if (m.version < 1)
    throw Error(fmt::format("{}: key 'version' is {}, not a valid version", file, m.version));
  m.layout = get<std::string>(j, "layout", file);
  m.split = get<std::string>(j, "split", file);
  m.source = get<std::string>(j, "source", file);
  m.plan_id = get<std::string>(j, "plan_id", file);
  m.classes = get<std::vector<std::string>>(j, "classes", file);
  m.count = get<std::int64_t>(j, "count", file);
  if (m.count < 0) throw Error(fmt::format("{}: key 'count' is negative ({})", file, m.count));
  if (j.contains("options")) {
    if (!j["options"].is_object()) throw Error(fmt::format("{}: key 'options' is not an object", file));
    m.options_json = j["options"].dump();
  } else {
    m.options_json = "{}";
  }
  const json shards = get<json>(j, "shards", file);
  if (!shards.is_array()) throw Error(fmt::format("{}: key 'shards' is not an array", file));
  std::int64_t total = 0;
  std::unordered_map<std::string, size_t> listed;  // normalised file -> index in 'shards'
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string prefix = fmt::format("shards[{}].", i);
    ManifestShard s;
    s.file = get<std::string>(shards[i], "file", file, prefix);
    check_shard_file(s.file, file, prefix);
    const std::string key = fs::path(s.file).lexically_normal().generic_string();
    const auto [first, fresh] = listed.emplace(key, i);
    if (!fresh) {
      throw Error(
          fmt::format("{}: key '{}file': shard '{}' is listed twice (also shards[{}]); a shard's "
                      "images would be read twice",
                      file, prefix, s.file, first->second));
    }
    s.count = get<std::int64_t>(shards[i], "count", file, prefix);
    if (s.count < 0) throw Error(fmt::format("{}: key '{}count' is negative ({})", file, prefix, s.count));
    s.checksum =
        parse_hex64(get<std::string>(shards[i], "checksum", file, prefix), file, prefix + "checksum");
    if (shards[i].contains("header")) s.header = parse_header(shards[i]["header"], file, prefix + "header.");
    total += s.count;
    m.shards.push_back(std::move(s));
  }
  if (total != m.count) {
    throw Error(
        fmt::format("{}: key 'count' is {} but the shards' counts add up to {}", file, m.count, total));
  }
  return m;
}

std::vector<std::string> shard_manifest_mismatches(const Manifest& m, std::size_t k, const ShardReader& r,
                                                   const std::string& manifest_path) {
  std::vector<std::string> out;
  auto same = [&](const char* key, const auto& have, const auto& want) {
    if (have != want) {
      out.push_back(fmt::format("{}: attribute '{}' is '{}', but {} says '{}' (shards[{}])", r.path(), key,
                                have, manifest_path, want, k));
    }
  };
  const ShardInfo& info = r.info();
  same("layout", info.layout, m.layout);
  same("split", info.split, m.split);
  same("plan_id", info.plan_id, m.plan_id);
  same("shard_index", info.shard_index, static_cast<int>(k));
  same("num_shards", info.num_shards, static_cast<int>(m.shards.size()));
  if (k < m.shards.size() && r.size() != m.shards[k].count) {
    out.push_back(fmt::format("{}: holds {} images, but {} says {} (shards[{}].count)", r.path(), r.size(),
                              manifest_path, m.shards[k].count, k));
  }
  return out;
}

// ---------------------------------------------------------------------------- verify

namespace {

// "<where>: <message>", unless the message already starts with `where`.
std::string at(const std::string& where, const std::string& message) {
  return message.rfind(where, 0) == 0 ? message : fmt::format("{}: {}", where, message);
}

// The checks of one image; problems go to `out`, returns whether it was decoded.
bool verify_image(const ShardReader& r, std::int64_t i, bool decode, std::size_t num_classes,
                  std::vector<std::string>& out) {
  const std::string where = fmt::format("{}[{}] ({})", r.path(), i, r.name(i));
  const std::vector<std::uint8_t> bytes = r.image_bytes(i);  // checks the bytes' xxh64 ("checksum mismatch")
  if (r.label(i) < -1 || (num_classes > 0 && r.label(i) >= static_cast<int>(num_classes))) {
    out.push_back(fmt::format("{}: label {} is outside [-1, {})", where, r.label(i), num_classes));
  }
  if (r.width(i) <= 0 || r.height(i) <= 0) {
    out.push_back(fmt::format("{}: stored size {}x{} is not positive", where, r.width(i), r.height(i)));
  }
  for (const image::Box& b : r.boxes(i)) {
    if (!std::isfinite(b.x0) || !std::isfinite(b.y0) || !std::isfinite(b.x1) || !std::isfinite(b.y1) ||
        b.x1 < b.x0 || b.y1 < b.y0) {
      out.push_back(fmt::format("{}: box ({}, {}, {}, {}) is not finite or not ordered", where, b.x0, b.y0,
                                b.x1, b.y1));
    }
  }
  if (!decode) return false;
  const image::Image img = image::decode_jpeg(bytes.data(), bytes.size(), r.name(i));
  if (img.width != r.width(i) || img.height != r.height(i)) {
    out.push_back(fmt::format("{}: decodes to {}x{}, the stored size is {}x{}", where, img.width, img.height,
                              r.width(i), r.height(i)));
  }
  const std::vector<std::uint8_t> mask = r.mask_bytes(i);
  if (!mask.empty()) {
    const image::Image m = image::decode_png(mask.data(), mask.size(), r.name(i) + " (mask)");
    if (m.width != img.width || m.height != img.height) {
      out.push_back(
          fmt::format("{}: mask is {}x{}, the image {}x{}", where, m.width, m.height, img.width, img.height));
    }
  }
  return true;
}

// Checks one shard against its manifest entry; names are collected for the
// split-wide uniqueness check.
void verify_shard(const std::string& dir, const Manifest& m, std::size_t k, bool decode, int threads,
                  VerifyReport& report, std::unordered_map<std::string, std::string>& seen_names) {
  const ManifestShard& ms = m.shards[k];
  const std::string path = (fs::path(dir) / ms.file).string();
  std::unique_ptr<ShardReader> r;
  try {
    r = std::make_unique<ShardReader>(path, /*oldest_version=*/1, ms.header ? &*ms.header : nullptr);
  } catch (const std::exception& e) {
    report.problems.push_back(at(path, e.what()));
    return;
  }
  auto shard_problem = [&](const std::string& what) {
    report.problems.push_back(fmt::format("{}: {}", path, what));
  };
  for (std::string& p : shard_manifest_mismatches(m, k, *r, (fs::path(dir) / kManifestName).string()))
    report.problems.push_back(std::move(p));

  const std::int64_t n = r->size();
  std::vector<std::uint64_t> stored(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) stored[static_cast<size_t>(i)] = r->stored_checksum(i);
  if (shard_checksum(stored) != ms.checksum) {
    shard_problem(fmt::format("shard checksum {} differs from the manifest's {} (rewritten or damaged)",
                              hex64(shard_checksum(stored)), hex64(ms.checksum)));
  }

  std::vector<std::vector<std::string>> problems(static_cast<size_t>(n));  // per image: deterministic order
  std::atomic<std::int64_t> next{0}, decoded{0};
  auto work = [&] {
    for (std::int64_t i = next++; i < n; i = next++) {
      auto& out = problems[static_cast<size_t>(i)];
      try {
        if (verify_image(*r, i, decode, m.classes.size(), out)) ++decoded;
      } catch (const std::exception& e) {
        out.push_back(at(fmt::format("{}[{}] ({})", path, i, r->name(i)), e.what()));
      }
    }
  };
  std::vector<std::thread> pool;
  const auto num_threads = static_cast<std::int64_t>(std::max(1, threads));
  for (std::int64_t t = 0; t < std::min(num_threads, n); ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();

  for (auto& image : problems) {
    for (auto& p : image) report.problems.push_back(std::move(p));
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string here = fmt::format("{}[{}]", path, i);
    const auto [it, inserted] = seen_names.emplace(r->name(i), here);
    if (!inserted)
      report.problems.push_back(fmt::format("{} ({}): name also used by {}", here, r->name(i), it->second));
  }
  report.images += n;
  report.decoded += decoded;
}

}  // namespace

VerifyReport verify_packed(const std::string& dir, bool decode, int threads) {
  const Manifest m = read_manifest(dir);
  VerifyReport report;
  std::unordered_map<std::string, std::string> seen_names;  // name -> "shard[index]"
  for (std::size_t k = 0; k < m.shards.size(); ++k)
    verify_shard(dir, m, k, decode, threads, report, seen_names);
  return report;
}

}  // namespace c2am::data
