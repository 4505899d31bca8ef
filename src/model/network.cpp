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

C2amNetwork& C2amNetwork::of(Network& net, const std::string& what) {
  auto* c = dynamic_cast<C2amNetwork*>(&net);
  if (c == nullptr) throw Error(fmt::format("{} is not a C²AM network (model.kind = \"c2am\")", what));
  return *c;
}

std::unique_ptr<Network> make_network(const config::ModelConfig& m) {
  if (m.kind == "c2am") return std::make_unique<C2amNetwork>(m);
  if (m.kind == "classifier") return std::make_unique<ClassifierNetwork>(m);
  if (m.kind == "saliency") return std::make_unique<SaliencyNetwork>(m);
  throw UsageError("model.kind = \"" + m.kind + "\": expected c2am, classifier or saliency");
}

}  // namespace c2am::model
