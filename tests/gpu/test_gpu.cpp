// GPU unit tests (built only against CUDA LibTorch): autocast on CUDA, the
// device feed's side-stream copies, the NCCL communicator on one rank
// (including CPU control tensors staged through the device), peak memory.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "comm/communicator.h"
#include "comm/context.h"
#include "model/c2am_net.h"
#include "model/precision.h"
#include "train/device_feed.h"
#include "train/device_stats.h"

namespace c2am {
namespace {

const torch::Device kGpu(torch::kCUDA, 0);

TEST(Gpu, AutocastRunsTheBackboneInBf16AndTheHeadInFp32) {
  ASSERT_TRUE(torch::cuda::is_available());
  torch::manual_seed(0);
  model::C2amNet net(model::ResNetOptions{"resnet18", {1, 2, 2, 1}});
  model::place(*net, kGpu, /*channels_last=*/true);
  net->precision = model::Precision{true, true};
  const torch::Tensor x = torch::randn({2, 3, 64, 64}, torch::TensorOptions().device(kGpu));
  {
    model::AutocastGuard on(kGpu, true);
    const torch::Tensor w = torch::randn({8, 8}, torch::TensorOptions().device(kGpu));
    EXPECT_EQ(torch::mm(w, w).scalar_type(), torch::kBFloat16);
  }
  const model::C2amOutput out = net->forward(x);
  EXPECT_EQ(out.v_f.scalar_type(), torch::kFloat);
  EXPECT_EQ(out.logits.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::isfinite(out.v_f).all().item<bool>());
}

TEST(Gpu, TheDeviceFeedDeliversTheHostBatchOnTheDevice) {
  train::DeviceFeed feed(kGpu);
  data::Batch b;
  b.images = torch::randn({4, 3, 8, 8}).pin_memory();
  b.targets = torch::randint(0, 255, {4, 8, 8}, torch::kUInt8).pin_memory();
  const torch::Tensor images = b.images.clone(), targets = b.targets.clone();
  feed.stage(std::move(b));
  const auto got = feed.take();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->images.is_cuda());
  EXPECT_TRUE(torch::equal(got->images.cpu(), images));
  EXPECT_TRUE(torch::equal(got->targets.cpu(), targets));
  EXPECT_FALSE(feed.take().has_value());
}

TEST(Gpu, NcclOnOneRankReducesCudaAndStagedCpuTensors) {
  if (!comm::nccl_available())
    GTEST_SKIP() << "this build has no NCCL (NCCL_HOME not found at configure time)";
  config::DistConfig cfg;
  cfg.backend = "nccl";
  const auto comm = comm::make_communicator(comm::Context{}, cfg, kGpu);
  EXPECT_EQ(comm->backend(), "nccl");
  torch::Tensor g = torch::ones({5}, torch::TensorOptions().device(kGpu));
  comm->allreduce(g);
  EXPECT_TRUE(torch::equal(g.cpu(), torch::ones({5})));
  torch::Tensor c = torch::arange(3, torch::kDouble);  // a CPU control tensor
  comm->allreduce(c);
  EXPECT_TRUE(torch::equal(c, torch::arange(3, torch::kDouble)));
  torch::Tensor v = torch::tensor({7, 8}, torch::kLong);
  comm->broadcast(v, 0);
  EXPECT_EQ(v[1].item<int64_t>(), 8);
  comm->barrier();
}

TEST(Gpu, PeakMemoryFollowsAllocations) {
  train::synchronize(kGpu);
  train::reset_peak_memory(kGpu);
  {
    const torch::Tensor big = torch::empty({64, 1024, 1024}, torch::TensorOptions().device(kGpu));
  }  // 256 MiB
  EXPECT_GE(train::peak_memory_mib(kGpu), 255.0);
}

}  // namespace
}  // namespace c2am
