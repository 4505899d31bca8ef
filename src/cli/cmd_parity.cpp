// Implements: `c2am parity`: one train-mode forward and backward of C²AM on
// weights and a batch written by PyTorch, with every intermediate written to
// a file that Python's torch.load reads (for porting checks against the
// reference implementation).
#include <fmt/format.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "loss/contrastive_loss.h"
#include "model/c2am_net.h"
#include "model/weights.h"
#include "util/error.h"

namespace c2am::cli {

namespace {

struct ParityArgs {
  std::string weights, batch, out, arch;
  double alpha = 0.05;
  int threads = 1;
};

// resnet18/34/50/101 from the block structure of a state_dict.
std::string infer_arch(const model::TensorDict& sd, const std::string& path) {
  auto has = [&](const std::string& k) { return sd.count(k) > 0 || sd.count("backbone." + k) > 0; };
  int layer3_blocks = 0;
  while (has(fmt::format("layer3.{}.conv1.weight", layer3_blocks))) ++layer3_blocks;
  const bool bottleneck = has("layer1.0.conv3.weight");
  if (bottleneck && layer3_blocks == 6) return "resnet50";
  if (bottleneck && layer3_blocks == 23) return "resnet101";
  if (!bottleneck && layer3_blocks == 2) return "resnet18";
  if (!bottleneck && layer3_blocks == 6) return "resnet34";
  throw UsageError(fmt::format("cannot tell the architecture of '{}' from its keys; pass --arch", path));
}

int run_parity(const ParityArgs& a) {
  torch::set_num_threads(a.threads);
  const model::TensorDict weights = model::read_tensor_dict(a.weights);
  const std::string arch = a.arch.empty() ? infer_arch(weights, a.weights) : a.arch;
  model::C2amNet net(model::ResNetOptions{arch, {1, 2, 2, 1}});
  const model::ImportReport rep = model::import_weights(*net, weights, a.weights);
  for (const auto& k : rep.unexpected) fmt::print(stderr, "warning: unused key in {}: {}\n", a.weights, k);
  for (const auto& k : rep.missing) fmt::print(stderr, "warning: not in {}: {}\n", a.weights, k);

  const model::TensorDict batch_file = model::read_tensor_dict(a.batch);
  if (batch_file.size() != 1) {
    throw UsageError(fmt::format("'{}' must hold one tensor (N x 3 x H x W), found {} entries", a.batch,
                                 batch_file.size()));
  }
  const torch::Tensor images = batch_file.begin()->second.to(torch::kFloat32);
  if (images.dim() != 4 || images.size(1) != 3) {
    throw UsageError(fmt::format("'{}' must hold an N x 3 x H x W tensor", a.batch));
  }

  net->train();
  const model::C2amOutput out = net->forward(images);
  const loss::LossTerms loss = loss::c2am_loss(out.v_f, out.v_b, a.alpha);
  loss.total.backward();

  model::TensorDict result{{"v_f", out.v_f},           {"v_b", out.v_b},
                           {"map", out.map},           {"loss_pos_fg", loss.pos_fg},
                           {"loss_pos_bg", loss.pos_bg}, {"loss_neg", loss.neg},
                           {"loss_total", loss.total}};
  for (const auto& p : net->named_parameters(/*recurse=*/true)) {
    if (p.value().grad().defined()) result["grad/" + p.key()] = p.value().grad();
  }
  model::write_tensor_dict(a.out, result);
  fmt::print("{}: arch {}, batch {}, loss_total {:.6f} (pos_bg {:.6f}, neg {:.6f}, pos_fg {:.6f})\n", a.out, arch,
             fmt::join(images.sizes(), "x"), loss.total.item<double>(), loss.pos_bg.item<double>(),
             loss.neg.item<double>(), loss.pos_fg.item<double>());
  return 0;
}

}  // namespace

void add_parity(CLI::App& app, Action* action) {
  auto* a = new ParityArgs();
  CLI::App* cmd = app.add_subcommand(
      "parity", "one train-mode forward/backward on PyTorch-saved weights and batch; writes every intermediate");
  cmd->add_option("--weights", a->weights,
                  "state_dict saved by torch.save, reference names (backbone.*, ac_head.*) or torchvision names")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--batch", a->batch, "torch.save'd float tensor N x 3 x H x W")->required()->check(CLI::ExistingFile);
  cmd->add_option("--alpha", a->alpha, "rank-weight alpha of the positive losses")->capture_default_str();
  cmd->add_option("-o,--out", a->out, "output file (.pt) for torch.load")->required();
  cmd->add_option("--arch", a->arch, "resnet18|resnet34|resnet50|resnet101 (default: inferred from the weights)")
      ->check(CLI::IsMember({"resnet18", "resnet34", "resnet50", "resnet101"}));
  cmd->add_option("--threads", a->threads, "CPU threads")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->footer(
      "Output keys (all tensors): v_f, v_b (N x C), map (N x 1 x h x w, the sigmoid map P),\n"
      "  loss_pos_fg, loss_pos_bg, loss_neg, loss_total (0-dim), grad/<parameter name> for every parameter\n"
      "  (reference names, e.g. grad/backbone.conv1.weight, grad/ac_head.activation_head.weight).\n"
      "Example: c2am parity --weights w.pth --batch x.pt --alpha 0.05 -o out.pt\n"
      "  then in Python: torch.load('out.pt')['loss_total']");
  cmd->callback([a, action] { *action = [a] { return run_parity(*a); }; });
}

}  // namespace c2am::cli
