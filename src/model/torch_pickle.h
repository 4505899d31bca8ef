// Implements: a reader for files written by Python's torch.save (the zip
// format of PyTorch >= 1.6) that needs no Python and no TorchScript unpickler.
// LibTorch 1.13's torch::pickle_load turns the collections.OrderedDict of
// every real state_dict into None; this reader runs its own small pickle VM
// over the archive's data.pkl and loads the storages from its data/<key> records.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace c2am::model {

// Reads a file written by Python's torch.save (zip format, PyTorch >= 1.6) and
// returns every tensor it holds by its dotted key path: nested dicts are
// flattened with '.' (e.g. {'state_dict': {'conv1.weight': T}} ->
// "state_dict.conv1.weight"), lists and tuples by index ("param_groups.0.x").
// A file that holds a single tensor gives it under the key "".
// Non-tensor leaves (ints, floats, strings, None, bools) and objects of
// classes the reader does not know (argparse.Namespace, torch.device, ...)
// are skipped. Tensors are CPU tensors (whatever device they were saved
// from), without requires_grad; tensors that shared a storage in Python share
// memory here too, and views keep their sizes, strides and offsets.
// Throws c2am::Error naming the path and what is wrong (the legacy pre-1.6
// format, a truncated or corrupt archive, a malformed pickle, an unsupported
// tensor kind such as a sparse or quantized tensor).
std::map<std::string, torch::Tensor> read_torch_save(const std::string& path);

}  // namespace c2am::model
