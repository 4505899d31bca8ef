#include "train/task.h"

#include <fmt/format.h>

#include "train/checkpoint.h"
#include "train/task_c2am.h"
#include "util/error.h"

namespace c2am::train {

std::unique_ptr<Task> make_classifier_task(const config::Config& cfg);  // task_classifier.cpp
std::unique_ptr<Task> make_saliency_task(const config::Config& cfg);    // task_saliency.cpp

std::unique_ptr<Task> make_task(const config::Config& cfg) {
  if (cfg.model.kind == "c2am") return std::make_unique<C2amTask>(cfg);
  if (cfg.model.kind == "classifier") return make_classifier_task(cfg);
  if (cfg.model.kind == "saliency") return make_saliency_task(cfg);
  throw UsageError("model.kind = \"" + cfg.model.kind + "\": expected c2am, classifier or saliency");
}

TrainedTask load_trained(const std::string& checkpoint_or_run, const std::string& kind) {
  std::string skipped;
  const auto found = resolve_checkpoint(checkpoint_or_run, &skipped);
  if (!found) {
    throw UsageError(fmt::format("no valid checkpoint in '{}'{}", checkpoint_or_run,
                                 skipped.empty() ? "" : ": " + skipped));
  }
  const Checkpoint ckpt = load_checkpoint(*found);
  TrainedTask out;
  out.path = *found;
  out.cfg = config::load_from_string(ckpt.config_toml, *found + " (saved config)");
  if (!kind.empty() && out.cfg.model.kind != kind) {
    throw UsageError(fmt::format("'{}' is a {} checkpoint (model.kind); this command needs a {} checkpoint",
                                 *found, out.cfg.model.kind, kind));
  }
  out.task = make_task(out.cfg);
  const model::ImportReport rep = model::import_weights(out.task->net(), ckpt.model, *found);
  if (!rep.missing.empty() || !rep.unexpected.empty()) {
    throw Error(fmt::format(
        "checkpoint '{}' does not match its {} {} network: {} missing, {} unexpected tensors", *found,
        out.cfg.model.kind, out.cfg.model.arch, rep.missing.size(), rep.unexpected.size()));
  }
  out.task->net().eval();
  out.polarity = ckpt.polarity;
  out.best_threshold = ckpt.best_threshold;
  return out;
}

}  // namespace c2am::train
