// Implements: reading and writing files that PyTorch's torch.save / torch.load
// understand (a dict of tensors), and importing pretrained state_dicts
// (torchvision, MoCo v2 `module.encoder_q.`, DetCo, the reference's own
// `backbone.` / `ac_head.` names) into the C²AM network with a report.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace c2am::model {

using TensorDict = std::map<std::string, torch::Tensor>;

// Reads a torch.save'd file (zip format; OrderedDicts, MoCo/DetCo checkpoints). A nested dict under 'state_dict' or 'model'
// (MoCo/DetCo checkpoints), or the 'model/' tensors of a c2am checkpoint, is used when present; non-tensor entries
// are skipped.
TensorDict read_tensor_dict(const std::string& path);

// Writes a dict of tensors that Python's torch.load reads (atomic write).
void write_tensor_dict(const std::string& path, const TensorDict& tensors);

struct ImportReport {
  std::vector<std::string> loaded;      // our names that received a tensor
  std::vector<std::string> missing;     // our names that the file lacked
  std::vector<std::string> unexpected;  // file keys that map to nothing of ours
  std::vector<std::string> ignored;     // file keys dropped on purpose (fc.*, MoCo's encoder_k / queue)
};

// Maps a key of a pretrained file to our parameter name, or "" when the key
// is ignored on purpose. Strips 'module.' and 'encoder_q.'/'encoder.' prefixes;
// bare torchvision names go under 'backbone.'.
std::string map_pretrained_key(const std::string& key, bool* ignored);

// Copies matching tensors into `net`'s parameters and buffers. A shape
// mismatch is a UsageError naming the key, both shapes and the file.
ImportReport import_weights(torch::nn::Module& net, const TensorDict& file_tensors, const std::string& path);

// All parameters and buffers of `net` by name (a deep, detached copy).
TensorDict state_dict(const torch::nn::Module& net);

}  // namespace c2am::model
