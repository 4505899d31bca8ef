// Implements: compute_plan_id and pack_options_json (see pack_plan.h).
#include "data_prep/pack_plan.h"

#include <fmt/core.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "data/shards.h"
#include "util/threads.h"
#include "util/error.h"

namespace c2am::data_prep {
namespace {

struct FileStamp {
  long long size = -1;
  long long mtime_ns = 0;
};

FileStamp stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_errno("cannot stat", path);
  return FileStamp{static_cast<long long>(st.st_size),
                   static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}

class Hasher {
 public:
  Hasher() : state_(XXH64_createState(), &XXH64_freeState) { XXH64_reset(state_.get(), 0); }
  void add(const std::string& s) {
    XXH64_update(state_.get(), s.data(), s.size());
    XXH64_update(state_.get(), "\n", 1);
  }
  std::string hex() const { return fmt::format("{:016x}", XXH64_digest(state_.get())); }

 private:
  std::unique_ptr<XXH64_state_t, XXH_errorcode (*)(XXH64_state_t*)> state_;
};

}  // namespace

std::string pack_options_json(const PackOptions& o) {
  nlohmann::json j;
  j["shard_size"] = o.shard_size;
  j["max_side"] = o.reencode_max_side;
  if (o.reencode_max_side > 0) j["quality"] = o.jpeg_quality;
  return j.dump();
}

std::string compute_plan_id(const PackOptions& o, const SourceListing& listing, int threads) {
  const auto& records = listing.records;
  std::vector<FileStamp> images(records.size()), masks(records.size());
  util::parallel_for(records.size(), threads, [&](std::size_t i) {
    images[i] = stamp(records[i].path);
    if (!records[i].mask_path.empty()) masks[i] = stamp(records[i].mask_path);
  });
  Hasher h;
  h.add(fmt::format("c2am-pack-plan {} {} {} {}", data::kShardFormatVersion, o.layout, o.split,
                    pack_options_json(o)));
  for (const std::string& c : listing.classes) h.add("class " + c);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const SourceRecord& r = records[i];
    std::string line = fmt::format("{}\t{}\t{}\t{}", r.name, images[i].size, images[i].mtime_ns, r.label);
    for (const image::Box& b : r.boxes) line += fmt::format("\t{} {} {} {}", b.x0, b.y0, b.x1, b.y1);
    if (!r.mask_path.empty()) {
      const std::filesystem::path m(r.mask_path);
      line += fmt::format("\tmask {}/{} {} {}", m.parent_path().filename().string(), m.filename().string(),
                          masks[i].size, masks[i].mtime_ns);
    }
    h.add(line);
  }
  return h.hex();
}

}  // namespace c2am::data_prep
