#include "model/weights.h"

#include <fmt/format.h>

#include "model/torch_pickle.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/fs.h"

namespace c2am::model {

namespace {

using util::starts_with;

std::string shape_str(const torch::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

}  // namespace

TensorDict read_tensor_dict(const std::string& path) {
  TensorDict all = read_torch_save(path);
  // MoCo/DetCo checkpoints nest the state_dict; c2am checkpoints keep the network under "model/".
  for (const std::string nested : {"state_dict.", "model.", "model/"}) {
    TensorDict inner;
    for (const auto& [key, t] : all) {
      if (starts_with(key, nested)) inner[key.substr(nested.size())] = t;
    }
    if (!inner.empty()) return inner;
  }
  return all;
}

void write_tensor_dict(const std::string& path, const TensorDict& tensors) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : tensors) dict.insert(name, t.detach().to(torch::kCPU).contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  util::write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

std::string map_pretrained_key(const std::string& key, bool* ignored) {
  *ignored = false;
  std::string k = key;
  while (starts_with(k, "module.")) k = k.substr(7);
  if (starts_with(k, "encoder_k.") || k == "queue" || k == "queue_ptr" || starts_with(k, "queue")) {
    *ignored = true;  // MoCo/DetCo momentum encoder and queue
    return "";
  }
  for (const char* p : {"encoder_q.", "encoder."}) {
    if (starts_with(k, p)) k = k.substr(std::string(p).size());
  }
  if (starts_with(k, "backbone.") || starts_with(k, "ac_head.")) return k;
  if (starts_with(k, "fc.")) {
    *ignored = true;
    return "";
  }
  return "backbone." + k;
}

ImportReport import_weights(torch::nn::Module& net, const TensorDict& file_tensors, const std::string& path) {
  std::map<std::string, torch::Tensor> ours;
  for (const auto& p : net.named_parameters(/*recurse=*/true)) ours[p.key()] = p.value();
  for (const auto& b : net.named_buffers(/*recurse=*/true)) ours[b.key()] = b.value();

  ImportReport report;
  std::map<std::string, bool> filled;
  torch::NoGradGuard no_grad;
  for (const auto& [key, tensor] : file_tensors) {
    bool ignored = false;
    // Our own names (a checkpoint of this network) as they are; others mapped.
    const std::string name = ours.count(key) ? key : map_pretrained_key(key, &ignored);
    if (ignored) {
      report.ignored.push_back(key);
      continue;
    }
    const auto it = ours.find(name);
    if (it == ours.end()) {
      report.unexpected.push_back(key);
      continue;
    }
    if (!it->second.sizes().equals(tensor.sizes())) {
      throw UsageError(fmt::format("{}: key '{}' has shape {} but the network's '{}' has shape {}", path, key,
                                   shape_str(tensor), name, shape_str(it->second)));
    }
    it->second.copy_(tensor.to(it->second.dtype()));
    filled[name] = true;
    report.loaded.push_back(name);
  }
  for (const auto& [name, t] : ours) {
    if (!filled.count(name)) report.missing.push_back(name);
  }
  return report;
}

TensorDict state_dict(const torch::nn::Module& net) {
  TensorDict out;
  for (const auto& p : net.named_parameters(/*recurse=*/true)) out[p.key()] = p.value().detach().clone();
  for (const auto& b : net.named_buffers(/*recurse=*/true)) out[b.key()] = b.value().detach().clone();
  return out;
}

}  // namespace c2am::model
