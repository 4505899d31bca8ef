#include "checkpoint/trained.h"

#include <fmt/format.h>

#include "util/error.h"

namespace c2am::checkpoint {

void load_weights_strict(torch::nn::Module& net, const model::TensorDict& tensors, const std::string& path,
                         const std::string& what) {
  const model::ImportReport rep = model::import_weights(net, tensors, path);
  if (!rep.missing.empty() || !rep.unexpected.empty()) {
    const std::string first = !rep.missing.empty() ? "missing '" + rep.missing.front() + "'"
                                                   : "unexpected '" + rep.unexpected.front() + "'";
    throw Error(
        fmt::format("checkpoint '{}' does not match {}: {} missing, {} unexpected tensors (first: {})", path,
                    what, rep.missing.size(), rep.unexpected.size(), first));
  }
}

void check_eval_keys(const Checkpoint& ckpt, const std::string& path) {
  if (ckpt.polarity < -1 || ckpt.polarity > 1) {
    throw Error(fmt::format("checkpoint '{}': key '{}' is {}, expected -1 (unknown), 0 or 1", path,
                            kKeyPolarity, ckpt.polarity));
  }
  const double t = ckpt.best_threshold;
  if (!std::isnan(t) && !(t >= 0.0 && t <= 1.0)) {
    throw Error(fmt::format("checkpoint '{}': key '{}' is {}, expected a threshold in [0, 1] (or none)", path,
                            kKeyBestThreshold, t));
  }
}

Trained load_trained(const std::string& checkpoint_or_run, const std::string& kind) {
  std::string skipped;
  const auto found = resolve_checkpoint(checkpoint_or_run, &skipped);
  if (!found) {
    throw UsageError(fmt::format("no valid checkpoint in '{}'{}", checkpoint_or_run,
                                 skipped.empty() ? "" : ": " + skipped));
  }
  const Checkpoint ckpt = load_checkpoint(*found);
  Trained out;
  out.path = *found;
  out.cfg = config::load_from_string(ckpt.config_toml, *found + " (saved config)");
  if (!kind.empty() && out.cfg.model.kind != kind) {
    throw UsageError(fmt::format("'{}' is a {} checkpoint (model.kind); this command needs a {} checkpoint",
                                 *found, out.cfg.model.kind, kind));
  }
  if (ckpt.arch != out.cfg.model.arch) {
    throw Error(fmt::format("checkpoint '{}': arch '{}' disagrees with its saved config's model.arch '{}'",
                            *found, ckpt.arch, out.cfg.model.arch));
  }
  check_eval_keys(ckpt, *found);
  out.net = model::make_network(out.cfg.model);
  load_weights_strict(out.net->module(), ckpt.model, *found,
                      fmt::format("its {} {} network", out.cfg.model.kind, out.cfg.model.arch));
  out.net->module().eval();
  out.polarity = ckpt.polarity;
  out.best_threshold = ckpt.best_threshold;
  return out;
}

}  // namespace c2am::checkpoint
