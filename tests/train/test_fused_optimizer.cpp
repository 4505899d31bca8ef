// The fused (multi-tensor, _foreach_) SGD step against the per-parameter
// step (train.fused_optimizer = false): the same bits in fp32 on the CPU over
// several steps, for both momentum modes, with and without weight decay and
// with parameters that miss their gradient on some steps; a checkpoint
// round trip in the middle changes nothing; the learning-rate-tensor update
// that CUDA graphs capture matches the host-scalar one, also with momentum
// buffers created as zeros up front.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "config/config.h"
#include "checkpoint/checkpoint.h"
#include "train/optimizer.h"

namespace c2am::train {
namespace {

// A module shaped like a network for Sgd: 4-d ".weight" tensors in the
// backbone group and one under "ac_head.", plus 1-d tensors Sgd leaves alone.
std::shared_ptr<torch::nn::Module> make_net(uint64_t seed) {
  torch::manual_seed(seed);
  auto net = std::make_shared<torch::nn::Module>();
  const std::vector<std::vector<int64_t>> shapes = {{8, 3, 3, 3}, {16, 8, 3, 3}, {16, 16, 1, 1}, {5, 16, 3, 3}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto layer = std::make_shared<torch::nn::Module>();
    layer->register_parameter("weight", torch::randn(shapes[i]));
    layer->register_parameter("bias", torch::randn({shapes[i][0]}));
    net->register_module("layer" + std::to_string(i), layer);
  }
  auto head = std::make_shared<torch::nn::Module>();
  head->register_parameter("weight", torch::randn({1, 5, 3, 3}));
  net->register_module("ac_head", head);
  return net;
}

config::TrainConfig train_config(const std::string& optimizer, double weight_decay, bool fused) {
  config::TrainConfig tc;
  tc.optimizer = optimizer;  // "reference": momentum 1e-4; "sgd": 0.9
  tc.momentum = 0.9;
  tc.weight_decay = weight_decay;
  tc.lr = 0.05;
  tc.fused_optimizer = fused;
  return tc;
}

// Step `s`'s gradients, the same for every copy of the network; with
// `missing`, some parameters get none on some steps (including the first,
// so their momentum buffers start later).
void set_grads(torch::nn::Module& net, int s, bool missing) {
  torch::manual_seed(1000 + static_cast<uint64_t>(s));
  int i = 0;
  for (auto& p : net.named_parameters(/*recurse=*/true)) {
    const torch::Tensor g = torch::randn(p.value().sizes());
    if (missing && (i + s) % 3 == 0) {
      p.value().mutable_grad() = torch::Tensor();
    } else {
      p.value().mutable_grad() = g;
    }
    ++i;
  }
}

constexpr int64_t kMaxSteps = 12;  // the poly schedule changes lr every step

void run_steps(torch::nn::Module& net, Sgd& sgd, int from, int to, bool missing) {
  for (int s = from; s < to; ++s) {
    set_grads(net, s, missing);
    sgd.step(s, kMaxSteps);
  }
}

void expect_identical(const torch::nn::Module& a, const Sgd& sa, const torch::nn::Module& b, const Sgd& sb) {
  const auto pa = a.named_parameters(/*recurse=*/true);
  const auto pb = b.named_parameters(/*recurse=*/true);
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  ASSERT_EQ(sa.groups().size(), sb.groups().size());
  for (size_t g = 0; g < sa.groups().size(); ++g) {
    for (size_t i = 0; i < sa.groups()[g].momentum.size(); ++i) {
      const torch::Tensor& ma = sa.groups()[g].momentum[i];
      const torch::Tensor& mb = sb.groups()[g].momentum[i];
      const std::string& name = sa.groups()[g].names[i];
      ASSERT_EQ(ma.defined(), mb.defined()) << name;
      if (ma.defined()) {
        EXPECT_TRUE(torch::equal(ma, mb)) << name << " momentum";
      }
    }
  }
}

struct Mode {
  std::string optimizer;
  double weight_decay;
  bool missing_grads;
};

std::string mode_name(const Mode& m) {
  return m.optimizer + (m.weight_decay != 0 ? "_decay" : "_no_decay") +
         (m.missing_grads ? "_missing_grads" : "_all_grads");
}
void PrintTo(const Mode& m, std::ostream* os) { *os << mode_name(m); }

class FusedSgd : public testing::TestWithParam<Mode> {};

TEST_P(FusedSgd, EqualsThePerParameterStepBitForBit) {
  const Mode m = GetParam();
  auto a = make_net(3), b = make_net(3);
  Sgd per_parameter(*a, train_config(m.optimizer, m.weight_decay, /*fused=*/false));
  Sgd fused(*b, train_config(m.optimizer, m.weight_decay, /*fused=*/true));
  ASSERT_TRUE(fused.fused());
  ASSERT_FALSE(per_parameter.fused());
  ASSERT_EQ(fused.groups()[0].params.size(), 4u);
  ASSERT_EQ(fused.groups()[1].params.size(), 1u);
  run_steps(*a, per_parameter, 0, 6, m.missing_grads);
  run_steps(*b, fused, 0, 6, m.missing_grads);
  expect_identical(*a, per_parameter, *b, fused);
  // The 1-d tensors are in no group: untouched.
  EXPECT_TRUE(torch::equal(b->named_parameters()["layer0.bias"], make_net(3)->named_parameters()["layer0.bias"]));
}

TEST_P(FusedSgd, CheckpointRoundTripInTheMiddleMatchesAnUninterruptedRun) {
  const Mode m = GetParam();
  const config::TrainConfig tc = train_config(m.optimizer, m.weight_decay, /*fused=*/true);
  auto full = make_net(4);
  Sgd full_sgd(*full, tc);
  run_steps(*full, full_sgd, 0, 8, m.missing_grads);

  auto first = make_net(4);
  Sgd first_sgd(*first, tc);
  run_steps(*first, first_sgd, 0, 4, m.missing_grads);
  checkpoint::Checkpoint c;
  c.arch = "test";
  c.progress.step = 4;
  for (const auto& p : first->named_parameters(/*recurse=*/true)) c.model[p.key()] = p.value();
  for (const ParamGroup& g : first_sgd.groups())
    for (size_t i = 0; i < g.names.size(); ++i)
      if (g.momentum[i].defined()) c.momentum[g.names[i]] = g.momentum[i];
  const std::string path = testing::TempDir() + "/fused_sgd_" + m.optimizer + ".pt";
  checkpoint::save_checkpoint(path, c);

  // A fresh process: another initialisation, then the checkpoint's tensors.
  auto resumed = make_net(99);
  Sgd resumed_sgd(*resumed, tc);
  const checkpoint::Checkpoint back = checkpoint::load_checkpoint(path);
  std::filesystem::remove(path);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : resumed->named_parameters(/*recurse=*/true)) p.value().copy_(back.model.at(p.key()));
  }
  for (ParamGroup& g : resumed_sgd.groups()) {
    for (size_t i = 0; i < g.names.size(); ++i) {
      const auto it = back.momentum.find(g.names[i]);
      if (it != back.momentum.end()) g.momentum[i] = it->second.clone();
    }
  }
  run_steps(*resumed, resumed_sgd, 4, 8, m.missing_grads);
  expect_identical(*full, full_sgd, *resumed, resumed_sgd);
}

// What a CUDA graph captures: the learning rate read from a device tensor
// (p += d * (-lr), one rounding more than p.add_(d, -lr) where the CPU fuses
// the multiply-add); the same update to within a float ulp or so per step.
TEST_P(FusedSgd, LearningRateTensorUpdateMatchesTheHostScalarUpdate) {
  const Mode m = GetParam();
  auto a = make_net(5), b = make_net(5);
  Sgd host(*a, train_config(m.optimizer, m.weight_decay, /*fused=*/true));
  Sgd tensors(*b, train_config(m.optimizer, m.weight_decay, /*fused=*/true));
  tensors.ensure_momentum_buffers();  // as the graph step does: zeros, then m * 0 + d = d
  for (int s = 0; s < 6; ++s) {
    set_grads(*a, s, m.missing_grads);
    set_grads(*b, s, m.missing_grads);
    host.step(s, kMaxSteps);
    tensors.set_lr_tensors(s, kMaxSteps);
    tensors.step_with_lr_tensors();
  }
  for (const auto& p : a->named_parameters(/*recurse=*/true)) {
    EXPECT_TRUE(torch::allclose(p.value(), b->named_parameters()[p.key()], /*rtol=*/1e-6, /*atol=*/1e-7)) << p.key();
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, FusedSgd,
                         testing::Values(Mode{"reference", 1e-4, false}, Mode{"reference", 1e-4, true},
                                         Mode{"sgd", 1e-4, false}, Mode{"sgd", 1e-4, true}, Mode{"sgd", 0.0, true},
                                         Mode{"reference", 0.0, false}),
                         [](const testing::TestParamInfo<Mode>& p) { return mode_name(p.param); });

}  // namespace
}  // namespace c2am::train
