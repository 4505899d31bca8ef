#include "checkpoint/checkpoint.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace c2am::checkpoint {

namespace fs = std::filesystem;

namespace {

constexpr const char* kModelPrefix = "model/";
constexpr const char* kOptimPrefix = "optim/";

using util::starts_with;

// Counters that cannot be negative, and tensors that must be finite: a
// checkpoint that breaks either is refused with the key named (a damaged
// file, or a run that diverged: resume from an earlier checkpoint).
void validate(const Checkpoint& c, const std::string& path) {
  const std::pair<const char*, int64_t> counters[] = {{"step", c.progress.step},
                                                      {"epoch", c.progress.epoch},
                                                      {"step_in_epoch", c.progress.step_in_epoch},
                                                      {"max_steps", c.progress.max_steps}};
  for (const auto& [key, value] : counters) {
    if (value < 0)
      throw Error(fmt::format("checkpoint '{}': key '{}' is {}, expected >= 0", path, key, value));
  }
  auto check_finite = [&](const model::TensorDict& tensors, const char* prefix) {
    for (const auto& [name, t] : tensors) {
      if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>()) {
        throw Error(
            fmt::format("checkpoint '{}': tensor '{}{}' holds NaN or infinite values", path, prefix, name));
      }
    }
  };
  check_finite(c.model, kModelPrefix);
  check_finite(c.momentum, kOptimPrefix);
}

// The checksum of a checkpoint's content: xxh64 over every entry but
// "checksum" itself, in key order; strings, integers and doubles by value,
// tensors by dtype, shape and bytes. The zip container's CRCs leave headers,
// padding and names unchecked, and LibTorch does not check them all on load:
// this covers what the checkpoint means, whatever byte of it changes.
std::string content_checksum(const c10::impl::GenericDict& dict, const std::string& path) {
  std::vector<std::pair<std::string, c10::IValue>> items;
  for (const auto& item : dict) {
    const std::string key = item.key().toStringRef();
    if (key != kKeyChecksum) items.emplace_back(key, item.value());
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> state(XXH64_createState(), XXH64_freeState);
  if (!state || XXH64_reset(state.get(), 0) == XXH_ERROR) throw Error("checkpoint checksum: out of memory");
  auto add = [&](const void* data, std::size_t size) { XXH64_update(state.get(), data, size); };
  auto add_int = [&](int64_t v) { add(&v, sizeof v); };
  auto add_bytes = [&](char tag, const void* data, std::size_t size) {
    add(&tag, 1);
    add_int(static_cast<int64_t>(size));
    add(data, size);
  };
  for (const auto& [key, v] : items) {
    add_bytes('k', key.data(), key.size());
    if (v.isString()) {
      const std::string& text = v.toStringRef();
      add_bytes('s', text.data(), text.size());
    } else if (v.isInt()) {
      add("i", 1);
      add_int(v.toInt());
    } else if (v.isDouble()) {
      const double d = v.toDouble();
      add("d", 1);
      add(&d, sizeof d);
    } else if (v.isTensor()) {
      const torch::Tensor t = v.toTensor().contiguous();
      add("t", 1);
      add_int(static_cast<int64_t>(t.scalar_type()));
      add_int(t.dim());
      for (int64_t d : t.sizes()) add_int(d);
      add_bytes('b', t.data_ptr(), t.nbytes());
    } else {
      throw Error(fmt::format("checkpoint '{}': key '{}' holds a {} (expected a string, number or tensor)", path,
                              key, v.tagKind()));
    }
  }
  return fmt::format("xxh64:{:016x}", XXH64_digest(state.get()));
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("format", std::string(kCheckpointFormat));
  dict.insert("arch", ckpt.arch);
  dict.insert("config", ckpt.config_toml);
  dict.insert("step", ckpt.progress.step);
  dict.insert("epoch", ckpt.progress.epoch);
  dict.insert("step_in_epoch", ckpt.progress.step_in_epoch);
  dict.insert("max_steps", ckpt.progress.max_steps);
  dict.insert("seed", static_cast<int64_t>(ckpt.progress.seed));
  dict.insert(kKeyPolarity, static_cast<int64_t>(ckpt.polarity));
  dict.insert(kKeyBestThreshold, ckpt.best_threshold);
  for (const auto& [name, t] : ckpt.model)
    dict.insert(kModelPrefix + name, t.detach().to(torch::kCPU).contiguous());
  for (const auto& [name, t] : ckpt.momentum) {
    dict.insert(kOptimPrefix + name, t.detach().to(torch::kCPU).contiguous());
  }
  dict.insert(kKeyChecksum, content_checksum(dict, path));
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  util::make_dirs(fs::path(path).parent_path().string());
  util::write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

Checkpoint load_checkpoint(const std::string& path) {
  const std::string bytes = util::read_file(path);
  c10::IValue root;
  try {
    root = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const c10::Error& e) {
    throw Error(fmt::format("'{}' is not a readable checkpoint: {}", path, e.what_without_backtrace()));
  } catch (const std::exception& e) {  // e.g. TorchScript's type parser on a damaged type name
    throw Error(fmt::format("'{}' is not a readable checkpoint: {}", path, e.what()));
  }
  if (!root.isGenericDict()) throw Error(fmt::format("'{}' is not a c2am checkpoint (no dict)", path));
  Checkpoint ckpt;
  bool has_format = false;
  std::string stored_checksum;
  try {
    for (const auto& item : root.toGenericDict()) {
      const std::string key = item.key().toStringRef();
      const c10::IValue& v = item.value();
      if (key == "format") {
        has_format = v.toStringRef() == kCheckpointFormat;
      } else if (key == kKeyChecksum) {
        stored_checksum = v.toStringRef();
      } else if (key == "arch") {
        ckpt.arch = v.toStringRef();
      } else if (key == "config") {
        ckpt.config_toml = v.toStringRef();
      } else if (key == "step") {
        ckpt.progress.step = v.toInt();
      } else if (key == "epoch") {
        ckpt.progress.epoch = v.toInt();
      } else if (key == "step_in_epoch") {
        ckpt.progress.step_in_epoch = v.toInt();
      } else if (key == "max_steps") {
        ckpt.progress.max_steps = v.toInt();
      } else if (key == "seed") {
        ckpt.progress.seed = static_cast<uint64_t>(v.toInt());
      } else if (key == kKeyPolarity) {
        ckpt.polarity = static_cast<int>(v.toInt());
      } else if (key == kKeyBestThreshold) {
        ckpt.best_threshold = v.toDouble();
      } else if (starts_with(key, kModelPrefix)) {
        ckpt.model[key.substr(6)] = v.toTensor();
      } else if (starts_with(key, kOptimPrefix)) {
        ckpt.momentum[key.substr(6)] = v.toTensor();
      }
    }
  } catch (const c10::Error& e) {
    throw Error(fmt::format("'{}': malformed checkpoint entry: {}", path, e.what_without_backtrace()));
  }
  if (!has_format) throw Error(fmt::format("'{}' is not a {} file", path, kCheckpointFormat));
  if (!stored_checksum.empty()) {  // checkpoints written before 2026-12-06 have none (not protected)
    const std::string computed = content_checksum(root.toGenericDict(), path);
    if (computed != stored_checksum)
      throw Error(fmt::format("checkpoint '{}' is damaged: its content checksum is {}, the file says {} "
                              "(resume from an earlier checkpoint)",
                              path, computed, stored_checksum));
  }
  validate(ckpt, path);
  return ckpt;
}

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  return fmt::format("{}/checkpoints/ckpt-{:09d}.pt", run_dir, step);
}

std::vector<std::string> list_checkpoints(const std::string& run_dir) {
  std::vector<std::string> out;
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (starts_with(name, "ckpt-") && entry.path().extension() == ".pt") out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());  // zero-padded steps sort by name
  return out;
}

int remove_stale_temporaries(const std::string& run_dir) {
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  int removed = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (starts_with(name, "ckpt-") && name.find(".pt.tmp.") != std::string::npos) {
      std::error_code rm;
      if (fs::remove(it->path(), rm)) ++removed;
    }
  }
  return removed;
}

void prune_checkpoints(const std::string& run_dir, int keep) {
  std::vector<std::string> all = list_checkpoints(run_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) fs::remove(all[i]);
}

std::optional<std::string> resolve_checkpoint(const std::string& path, std::string* skipped_report) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;
  if (!fs::is_directory(path, ec)) throw UsageError(fmt::format("checkpoint '{}' does not exist", path));
  std::vector<std::string> all = list_checkpoints(path);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      load_checkpoint(*it);
      return *it;
    } catch (const Error& e) {
      if (skipped_report != nullptr)
        *skipped_report += fmt::format("skipped damaged checkpoint: {}\n", e.what());
    }
  }
  return std::nullopt;
}

void update_checkpoint_eval_keys(const std::string& path, int polarity, double best_threshold) {
  Checkpoint ckpt = load_checkpoint(path);
  ckpt.polarity = polarity;
  ckpt.best_threshold = best_threshold;
  save_checkpoint(path, ckpt);
}

}  // namespace c2am::checkpoint
