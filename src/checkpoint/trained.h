// Implements: the one strict way every stage turns a checkpoint into a
// network: resolve (a file, or a run folder's newest valid checkpoint), read,
// rebuild the network of its saved configuration, load every tensor (none
// missing, none unexpected, shapes equal) and check the shared keys
// (polarity, best threshold). Training resumes through load_weights_strict;
// evaluation and the WSSS stage through load_trained.
#pragma once
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "checkpoint/checkpoint.h"
#include "config/config.h"
#include "model/network.h"
#include "model/weights.h"

namespace c2am::checkpoint {

// Loads `tensors` into `net`: an Error naming `path` when any parameter or
// buffer is missing or any tensor is unexpected (a shape mismatch is one too).
void load_weights_strict(torch::nn::Module& net, const model::TensorDict& tensors, const std::string& path,
                         const std::string& what);

// Checks the keys shared by every stage: polarity in {-1, 0, 1}, best
// threshold NaN (none yet) or in [0, 1]; an Error naming `path` and the key.
void check_eval_keys(const Checkpoint& ckpt, const std::string& path);

// A trained network read back from its checkpoint, ready for inference.
struct Trained {
  std::string path;                     // the checkpoint file read
  config::Config cfg;                   // the configuration it was trained with
  std::unique_ptr<model::Network> net;  // weights loaded, eval mode, on the CPU
  int polarity = -1;                    // C²AM: 1 = 1 - P is the foreground; -1 unknown
  double best_threshold = std::numeric_limits<double>::quiet_NaN();  // CorLoc's best tau; NaN = none
};

// `kind`: the model.kind the caller needs ("" = any); another kind is a
// UsageError naming the file and both kinds. Errors name the path.
Trained load_trained(const std::string& checkpoint_or_run, const std::string& kind);

}  // namespace c2am::checkpoint
