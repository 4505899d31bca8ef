#include "model/network.h"

#include <fmt/format.h>

#include "util/error.h"

namespace c2am::model {

namespace {

ResNetOptions backbone_of(const config::ModelConfig& m) { return ResNetOptions{m.arch, m.strides}; }

}  // namespace

C2amNetwork::C2amNetwork(const config::ModelConfig& m) : net_(backbone_of(m)) {}
ClassifierNetwork::ClassifierNetwork(const config::ModelConfig& m) : net_(backbone_of(m), m.num_classes) {}
SaliencyNetwork::SaliencyNetwork(const config::ModelConfig& m) : net_(backbone_of(m)) {}
RegressorNetwork::RegressorNetwork(const config::ModelConfig& m) : net_(backbone_of(m)) {}

torch::Tensor RegressorNetwork::maps(const torch::Tensor&) {
  throw Error("a box regressor (model.kind = \"regressor\") has no maps: it predicts one box per image");
}

RegressorNetwork& RegressorNetwork::of(Network& net, const std::string& what) {
  auto* r = dynamic_cast<RegressorNetwork*>(&net);
  if (r == nullptr) throw Error(fmt::format("{} is not a box regressor (model.kind = \"regressor\")", what));
  return *r;
}

C2amNetwork& C2amNetwork::of(Network& net, const std::string& what) {
  auto* c = dynamic_cast<C2amNetwork*>(&net);
  if (c == nullptr) throw Error(fmt::format("{} is not a C²AM network (model.kind = \"c2am\")", what));
  return *c;
}

std::unique_ptr<Network> make_network(const config::ModelConfig& m) {
  if (m.kind == "c2am") return std::make_unique<C2amNetwork>(m);
  if (m.kind == "classifier") return std::make_unique<ClassifierNetwork>(m);
  if (m.kind == "saliency") return std::make_unique<SaliencyNetwork>(m);
  if (m.kind == "regressor") return std::make_unique<RegressorNetwork>(m);
  throw UsageError("model.kind = \"" + m.kind + "\": expected c2am, classifier, saliency or regressor");
}

}  // namespace c2am::model
