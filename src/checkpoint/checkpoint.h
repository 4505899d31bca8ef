// Implements: training checkpoints. One file per checkpoint, a dict that
// Python's torch.load reads (model/<name> tensors in the reference's names,
// optim/<name> momentum buffers, progress counters, polarity, best threshold,
// the resolved config as TOML text). Written atomically (temporary file, fsync,
// rename); the newest K are kept; `--resume auto` takes the newest that loads.
#pragma once
#include <torch/torch.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "model/weights.h"

namespace c2am::checkpoint {

inline constexpr const char* kCheckpointFormat = "c2am-checkpoint/1";
// Keys shared by every stage that reads a checkpoint (train, eval, wsss).
inline constexpr const char* kKeyPolarity = "polarity";             // -1 unknown, 0 positive, 1 negative
inline constexpr const char* kKeyBestThreshold = "best_threshold";  // CorLoc's best tau; NaN = unknown
// "xxh64:<16 hex digits>" over every other entry (keys sorted; values, tensor
// dtypes, shapes and bytes): checked on load, so a damaged file is refused
// even where the zip container's own checks miss it.
inline constexpr const char* kKeyChecksum = "checksum";

// The keys every stage shares (named above), as the training loop hands them
// to periodic evaluation.
struct EvalKeys {
  int polarity = -1;
  double best_threshold = std::numeric_limits<double>::quiet_NaN();
};

struct Progress {
  int64_t step = 0;           // optimiser steps done
  int64_t epoch = 0;          // epoch in progress
  int64_t step_in_epoch = 0;  // batches of `epoch` already consumed
  int64_t max_steps = 0;      // schedule length (the poly LR's max_step)
  uint64_t seed = 0;          // data order and augmentation derive from (seed, epoch, sample)
};

struct Checkpoint {
  std::string arch;
  std::string config_toml;
  Progress progress;
  int polarity = -1;
  double best_threshold = std::numeric_limits<double>::quiet_NaN();
  model::TensorDict model;     // parameters and buffers
  model::TensorDict momentum;  // optimiser momentum buffers by parameter name
};

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Throws c2am::Error naming the path (and the key) when the file is not a
// valid checkpoint: unreadable, not ours, its content checksum does not match
// (kKeyChecksum; files without one, written before it existed, are not
// checked), a negative counter, or a NaN or infinite parameter, buffer or
// momentum value.
Checkpoint load_checkpoint(const std::string& path);

// `<run>/checkpoints/ckpt-<step>.pt`
std::string checkpoint_path(const std::string& run_dir, int64_t step);
// Checkpoint files of a run folder, oldest first.
std::vector<std::string> list_checkpoints(const std::string& run_dir);
// Deletes the temporary files of checkpoint writes that were killed before
// their rename (`ckpt-*.pt.tmp.<pid>`); returns how many. The run's own
// writer calls it when it starts, before it writes anything.
int remove_stale_temporaries(const std::string& run_dir);
// Deletes all but the newest `keep`.
void prune_checkpoints(const std::string& run_dir, int keep);
// `path` itself when it is a file; for a run folder its newest checkpoint
// that loads (a damaged newer one is reported and skipped); nullopt if none.
std::optional<std::string> resolve_checkpoint(const std::string& path, std::string* skipped_report = nullptr);

// Updates polarity / best threshold in an existing checkpoint file, atomically.
void update_checkpoint_eval_keys(const std::string& path, int polarity, double best_threshold);

}  // namespace c2am::checkpoint
