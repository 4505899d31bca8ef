#include "train/task.h"

#include "train/task_c2am.h"
#include "util/error.h"

namespace c2am::train {

std::unique_ptr<Task> make_classifier_task(const config::Config& cfg);  // task_classifier.cpp
std::unique_ptr<Task> make_saliency_task(const config::Config& cfg);    // task_saliency.cpp
std::unique_ptr<Task> make_regressor_task(const config::Config& cfg);   // task_regressor.cpp

std::unique_ptr<Task> make_task(const config::Config& cfg) {
  if (cfg.model.kind == "c2am") return std::make_unique<C2amTask>(cfg);
  if (cfg.model.kind == "classifier") return make_classifier_task(cfg);
  if (cfg.model.kind == "saliency") return make_saliency_task(cfg);
  if (cfg.model.kind == "regressor") return make_regressor_task(cfg);
  throw UsageError("model.kind = \"" + cfg.model.kind +
                   "\": expected c2am, classifier, saliency or regressor");
}

}  // namespace c2am::train
