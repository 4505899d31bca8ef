// GPU unit tests (built only against CUDA LibTorch): autocast on CUDA, the
// device feed's side-stream copies, the NCCL communicator on one rank
// (including CPU tensors staged through the device in every collective), the
// bucketed gradient sync over NCCL, the fused optimiser and the CUDA-graph
// step against their eager forms, peak memory.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

#include "comm/communicator.h"
#include "comm/context.h"
#include "comm/grad_sync.h"
#include "model/c2am_net.h"
#include "model/precision.h"
#include "train/device_feed.h"
#include "train/device_stats.h"
#include "train/optimizer.h"
#include "train/step.h"
#include "train/task.h"
#include "util/log.h"

namespace c2am {
namespace {

const torch::Device kGpu(torch::kCUDA, 0);

std::unique_ptr<comm::Communicator> one_rank_nccl() {
  config::DistConfig cfg;
  cfg.backend = "nccl";
  return comm::make_communicator(comm::Context{}, cfg, kGpu);
}

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
  train::DeviceFeed feed(kGpu, data::Transform{});
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
  const auto comm = one_rank_nccl();
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

// The evaluation hook gathers CPU byte masks: NCCL must not see host pointers.
TEST(Gpu, NcclStagesCpuTensorsInAllgatherAndReduceScatter) {
  if (!comm::nccl_available()) GTEST_SKIP() << "this build has no NCCL";
  const auto comm = one_rank_nccl();
  const torch::Tensor bytes = torch::arange(6, torch::kUInt8).reshape({3, 2});
  std::vector<int64_t> rows;
  const torch::Tensor all = comm->allgather(bytes, &rows);
  EXPECT_TRUE(all.device().is_cpu());
  EXPECT_TRUE(torch::equal(all, bytes));
  EXPECT_EQ(rows, std::vector<int64_t>{3});
  const torch::Tensor g = torch::randn({3, 4});
  const torch::Tensor mine = comm->reduce_scatter_rows(g, {3});
  EXPECT_TRUE(mine.device().is_cpu());
  EXPECT_TRUE(torch::equal(mine, g));
  const torch::Tensor on_gpu = comm->allgather(g.to(kGpu));
  EXPECT_TRUE(on_gpu.is_cuda());
  EXPECT_TRUE(torch::equal(on_gpu.cpu(), g));
}

// The bucketed gradient all-reduce over NCCL (one rank: the sum is the
// rank's own gradient), several buckets, launched from autograd hooks.
TEST(Gpu, GradSyncOverNcclOnOneRankWritesTheScaledGradients) {
  if (!comm::nccl_available()) GTEST_SKIP() << "this build has no NCCL";
  const auto comm = one_rank_nccl();
  torch::manual_seed(0);
  torch::nn::Sequential net(torch::nn::Linear(16, 64), torch::nn::ReLU(), torch::nn::Linear(64, 64),
                            torch::nn::ReLU(), torch::nn::Linear(64, 8));
  net->to(kGpu);
  comm::GradSync sync(*comm, net->named_parameters().pairs(), /*bucket_mb=*/0.01, /*scale=*/0.5);
  EXPECT_GT(sync.num_buckets(), 1);
  const torch::Tensor x = torch::randn({4, 16}, torch::TensorOptions().device(kGpu));
  net->forward(x).square().sum().backward();  // outside a step: the hooks leave it alone
  std::vector<torch::Tensor> reference;
  for (auto& p : net->parameters()) {
    reference.push_back(p.grad().clone());
    p.mutable_grad() = torch::Tensor();
  }
  sync.begin_step();
  net->forward(x).square().sum().backward();
  sync.finish();
  EXPECT_GE(sync.launched_during_backward(), 1);
  size_t i = 0;
  for (auto& p : net->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_TRUE(torch::allclose(p.grad(), reference[i++] * 0.5, /*rtol=*/1e-6, /*atol=*/1e-7));
  }
}

config::Config tiny_gpu_config() {
  config::Config cfg;
  cfg.model.arch = "resnet18";
  cfg.dist.backend = "mpi";  // one process: the local communicator
  cfg.train.optimizer = "sgd";
  cfg.train.lr = 0.01;
  return cfg;
}

// Losses and parameters of `steps` training steps on fixed random batches.
struct Trained {
  std::vector<double> losses;
  std::vector<torch::Tensor> params;
};
Trained train_steps(const config::Config& cfg, int steps) {
  at::globalContext().setDeterministicCuDNN(true);
  model::set_cudnn_benchmark(false);
  const auto comm = comm::make_communicator(comm::Context{}, cfg.dist, kGpu);
  torch::manual_seed(0);
  const std::unique_ptr<train::Task> task = train::make_task(cfg);
  model::place(task->net(), kGpu, /*channels_last=*/false);
  train::freeze_untrained(task->net(), cfg.train);
  task->net().train();
  train::Sgd sgd(task->net(), cfg.train, task->network().head_prefix());
  const util::Logger log;
  train::TrainStep step(*task, sgd, *comm, nullptr);
  step.use_cuda_graphs(cfg, kGpu, log);
  Trained out;
  for (int i = 0; i < steps; ++i) {
    torch::manual_seed(100 + static_cast<uint64_t>(i));
    data::Batch b;
    b.images = torch::randn({8, 3, 64, 64}).to(kGpu);
    out.losses.push_back(step.run(b, i, 100).total.item<double>());
  }
  for (const auto& p : task->net().parameters()) out.params.push_back(p.detach().cpu());
  return out;
}

// On CUDA the fused update may contract multiply-adds differently from the
// per-parameter kernels: equal to float rounding (the CPU test holds bits).
TEST(Gpu, FusedOptimiserMatchesThePerParameterStep) {
  config::Config cfg = tiny_gpu_config();
  const Trained fused = train_steps(cfg, 4);
  cfg.train.fused_optimizer = false;
  const Trained per_parameter = train_steps(cfg, 4);
  bool bitwise = true;
  for (size_t i = 0; i < fused.params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(fused.params[i], per_parameter.params[i], /*rtol=*/1e-5, /*atol=*/1e-6)) << i;
    bitwise = bitwise && torch::equal(fused.params[i], per_parameter.params[i]);
  }
  std::cout << "fused == per-parameter bit for bit on CUDA: " << (bitwise ? "yes" : "no") << "\n";
}

// 3 eager warm-up steps, the capture (replayed at once), then replays: the
// same training as the eager step (the learning rate from a device tensor
// rounds once more; cuDNN deterministic for the comparison).
TEST(Gpu, CudaGraphStepTrainsLikeTheEagerStep) {
  config::Config cfg = tiny_gpu_config();
  const Trained eager = train_steps(cfg, 7);
  cfg.run.cuda_graphs = true;
  const Trained graphed = train_steps(cfg, 7);
  ASSERT_EQ(eager.losses.size(), graphed.losses.size());
  for (size_t i = 0; i < eager.losses.size(); ++i) {
    EXPECT_NEAR(graphed.losses[i], eager.losses[i], 1e-4 * std::abs(eager.losses[i])) << "step " << i;
  }
  for (size_t i = 0; i < eager.params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(graphed.params[i], eager.params[i], /*rtol=*/1e-3, /*atol=*/1e-5)) << i;
  }
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
