// The precision helpers on the CPU (the same code paths run on CUDA): bf16
// autocast around the backbone keeps the heads and losses in fp32 and stays
// close to the fp32 network; channels_last changes no value; the autocast
// guard restores the previous state; run.device resolves.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "loss/contrastive_loss.h"
#include "model/c2am_net.h"
#include "model/precision.h"
#include "util/error.h"

namespace c2am::model {
namespace {

C2amNet tiny_net() {
  torch::manual_seed(3);
  C2amNet net(ResNetOptions{"resnet18", {1, 2, 2, 1}});
  net->eval();  // BatchNorm running statistics: the same normalisation in every variant
  return net;
}

TEST(Precision, Bf16BackboneKeepsTheHeadAndLossesInFp32AndCloseToFp32) {
  C2amNet net = tiny_net();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({4, 3, 64, 64});
  const C2amOutput full = net->forward(x);
  net->precision.bf16 = true;
  const C2amOutput mixed = net->forward(x);
  for (const torch::Tensor* t : {&mixed.v_f, &mixed.v_b, &mixed.map, &mixed.logits}) {
    EXPECT_EQ(t->scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::isfinite(*t).all().item<bool>());
  }
  // bf16 keeps 8 bits of mantissa: the embeddings agree to about 1e-2 relative.
  const double rel = ((mixed.v_f - full.v_f).norm() / full.v_f.norm()).item<double>();
  EXPECT_LT(rel, 3e-2) << rel;
  EXPECT_GT(rel, 0.0) << "autocast changed nothing: the bf16 path did not run";
  const auto l32 = loss::c2am_loss(full.v_f, full.v_b, 0.05);
  const auto l16 = loss::c2am_loss(mixed.v_f, mixed.v_b, 0.05);
  EXPECT_EQ(l16.total.scalar_type(), torch::kFloat);
  EXPECT_NEAR(l16.total.item<double>(), l32.total.item<double>(), 3e-2 * std::abs(l32.total.item<double>()));
}

TEST(Precision, ChannelsLastChangesNoValue) {
  C2amNet a = tiny_net();
  C2amNet b = tiny_net();
  place(*b, torch::kCPU, /*channels_last=*/true);
  b->precision.channels_last = true;
  bool any_channels_last = false;
  for (const auto& p : b->parameters()) {
    if (p.dim() == 4)
      any_channels_last |= p.is_contiguous(torch::MemoryFormat::ChannelsLast) && !p.is_contiguous();
  }
  EXPECT_TRUE(any_channels_last);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  const torch::Tensor la = a->forward(x).logits, lb = b->forward(x).logits;
  EXPECT_LT((la - lb).abs().max().item<double>(), 1e-4);
}

TEST(Precision, AutocastGuardRestoresThePreviousStateAndNests) {
  const torch::Tensor w = torch::randn({4, 4});
  EXPECT_EQ(torch::mm(w, w).scalar_type(), torch::kFloat);
  {
    AutocastGuard outer(torch::kCPU, true);
    EXPECT_EQ(torch::mm(w, w).scalar_type(), torch::kBFloat16);
    {
      AutocastGuard off(torch::kCPU, false);  // a disabled guard changes nothing
      EXPECT_EQ(torch::mm(w, w).scalar_type(), torch::kBFloat16);
    }
    {
      AutocastGuard inner(torch::kCPU, true);
      EXPECT_EQ(torch::mm(w, w).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(torch::mm(w, w).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::mm(w, w).scalar_type(), torch::kFloat);
}

TEST(Precision, DeviceSettingsResolve) {
  EXPECT_TRUE(resolve_device("cpu", 3).is_cpu());
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(resolve_device("auto", 0).is_cuda());
  } else {
    EXPECT_TRUE(resolve_device("auto", 1).is_cpu());
    try {
      resolve_device("cuda", 0);
      FAIL() << "expected a UsageError";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("run.device"), std::string::npos) << e.what();
    }
  }
}

// Explicit settings are taken as written; "auto" follows the device's native
// bf16 (on this CPU: CPUID), and auto channels_last follows bf16.
TEST(Precision, AutoFollowsTheDevicesNativeBf16) {
  config::RunConfig run;
  run.precision = "fp32";
  run.channels_last = config::Toggle::kFalse;
  Precision p = resolve_precision(run, torch::kCPU);
  EXPECT_FALSE(p.bf16);
  EXPECT_FALSE(p.channels_last);
  EXPECT_EQ(describe(p), "fp32");
  run.precision = "bf16";
  run.channels_last = config::Toggle::kTrue;
  p = resolve_precision(run, torch::kCPU);
  EXPECT_TRUE(p.bf16);
  EXPECT_TRUE(p.channels_last);
  EXPECT_EQ(describe(p), "bf16, channels_last");
  run.precision = "auto";
  run.channels_last = config::Toggle::kAuto;
  const bool native = has_native_bf16(torch::kCPU);
  p = resolve_precision(run, torch::kCPU);
  EXPECT_EQ(p.bf16, native);
  EXPECT_EQ(p.channels_last, native);
  run.channels_last = config::Toggle::kFalse;
  EXPECT_FALSE(resolve_precision(run, torch::kCPU).channels_last);
  run.precision = "fp32";
  run.channels_last = config::Toggle::kAuto;
  EXPECT_FALSE(resolve_precision(run, torch::kCPU).channels_last);
  std::printf("this CPU %s native bf16\n", native ? "has" : "has no");
}

}  // namespace
}  // namespace c2am::model
