// Trainer, checkpoints and optimiser on a tiny synthetic CUB set (CPU).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint.h"
#include "common/same_checkpoints.h"
#include "common/synth_data.h"
#include "common/temp_dir.h"
#include "config/config.h"
#include "data/loader.h"
#include "model/c2am_net.h"
#include "train/optimizer.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/log.h"

namespace {

namespace fs = std::filesystem;
using c2am::config::Config;
using c2am::testing_util::fresh_dir;

// A small CUB-layout dataset shared by the tests of this file, one copy per
// test process (ctest runs this file's tests in parallel processes).
const std::string& dataset() {
  static const std::string root = c2am::testing_util::write_synth(
      c2am::testing_util::small_synth("cub", /*train=*/24, /*test=*/8, /*min_size=*/48, /*max_size=*/64,
                                      /*seed=*/7),
      fresh_dir("c2am_train_data"));
  return root;
}

Config tiny_config(const std::string& out, int max_steps) {
  return c2am::config::load(
      {}, {"model.arch=resnet18", "data.root=" + dataset(), "data.train_resize=40", "data.train_crop=32",
           "data.test_resize=40", "data.test_crop=32", "train.batch_size=8", "train.epochs=3",
           "train.lr=0.01", "train.log_every=1", "train.max_steps=" + std::to_string(max_steps),
           "train.seed=5", "run.threads=2", "run.out=" + out});
}

TEST(Trainer, ResumeAfterStopMatchesUninterruptedRunBitForBit) {
  c2am::util::Logger log;
  // 24 images / batch 8 = 3 steps per epoch: 7 steps cross two epoch ends; the stop at 4 is mid-epoch.
  const std::string full = fresh_dir("run_full");
  const auto a = c2am::train::train(tiny_config(full, 7), c2am::comm::Context{}, "", log);
  ASSERT_EQ(a.steps, 7);

  const std::string split = fresh_dir("run_split");
  const auto b1 = c2am::train::train(tiny_config(split, 4), c2am::comm::Context{}, "", log);
  ASSERT_EQ(b1.steps, 4);
  const auto b2 = c2am::train::train(tiny_config(split, 7), c2am::comm::Context{}, "auto", log);
  ASSERT_EQ(b2.steps, 7);

  const auto ca = c2am::checkpoint::load_checkpoint(a.checkpoint);
  const auto cb = c2am::checkpoint::load_checkpoint(b2.checkpoint);
  EXPECT_EQ(ca.progress.step, cb.progress.step);
  EXPECT_EQ(ca.progress.epoch, cb.progress.epoch);
  EXPECT_EQ(ca.polarity, cb.polarity);
  ASSERT_EQ(ca.model.size(), cb.model.size());
  for (const auto& [name, t] : ca.model) {
    EXPECT_TRUE(torch::equal(t, cb.model.at(name))) << name << " differs after resume";
  }
  ASSERT_EQ(ca.momentum.size(), cb.momentum.size());
  for (const auto& [name, t] : ca.momentum) EXPECT_TRUE(torch::equal(t, cb.momentum.at(name))) << name;
}

using c2am::testing_util::expect_same_checkpoints;

// train.fused_optimizer (the default) changes how the update is issued, not
// its arithmetic: the trainer writes the same checkpoint with either.
TEST(Trainer, FusedAndPerParameterOptimiserTrainTheSameBits) {
  c2am::util::Logger log;
  Config cfg = tiny_config(fresh_dir("run_fused"), 4);
  cfg.train.optimizer = "sgd";  // momentum 0.9: the buffers matter
  ASSERT_TRUE(cfg.train.fused_optimizer);
  const auto fused = c2am::train::train(cfg, c2am::comm::Context{}, "", log);
  cfg.run.out = fresh_dir("run_per_parameter");
  cfg.train.fused_optimizer = false;
  const auto per_parameter = c2am::train::train(cfg, c2am::comm::Context{}, "", log);
  expect_same_checkpoints(fused.checkpoint, per_parameter.checkpoint);
}

// data.batch_dtype = uint8 hands the step uint8 batches that the device
// feed normalises (data::normalise_batch): the same floats as the loader's
// own normalisation, so training writes the same checkpoint bit for bit.
TEST(Trainer, Uint8BatchesNormalisedByTheFeedTrainTheSameBitsAsFloatBatches) {
  c2am::util::Logger log;
  Config cfg = tiny_config(fresh_dir("run_float_batches"), 3);
  ASSERT_EQ(cfg.data.batch_dtype, "auto");  // float32 on the CPU
  const auto as_float = c2am::train::train(cfg, c2am::comm::Context{}, "", log);
  cfg.run.out = fresh_dir("run_uint8_batches");
  cfg.data.batch_dtype = "uint8";
  const auto as_uint8 = c2am::train::train(cfg, c2am::comm::Context{}, "", log);
  expect_same_checkpoints(as_float.checkpoint, as_uint8.checkpoint);
}

// run.cuda_graphs on the CPU: the trainer says why there is nothing to
// capture and trains the eager step, bit for bit.
TEST(Trainer, CudaGraphsOnTheCpuFallBackToTheEagerStepWithAMessage) {
  c2am::util::Logger log;
  Config cfg = tiny_config(fresh_dir("run_eager"), 3);
  const auto eager = c2am::train::train(cfg, c2am::comm::Context{}, "", log);
  cfg.run.out = fresh_dir("run_graphs_requested");
  cfg.run.cuda_graphs = true;
  testing::internal::CaptureStderr();
  const auto fallback = c2am::train::train(cfg, c2am::comm::Context{}, "", log);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("run.cuda_graphs = true, but the step cannot be captured here"), std::string::npos) << err;
  expect_same_checkpoints(eager.checkpoint, fallback.checkpoint);
}

TEST(Trainer, ResumeWithOtherArchitectureIsAClearError) {
  c2am::util::Logger log;
  const std::string dir = fresh_dir("run_arch");
  c2am::train::train(tiny_config(dir, 1), c2am::comm::Context{}, "", log);
  Config other = tiny_config(dir, 2);
  other.model.arch = "resnet34";
  try {
    c2am::train::train(other, c2am::comm::Context{}, "auto", log);
    FAIL() << "expected a UsageError";
  } catch (const c2am::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("resnet18"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("resnet34"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, DamagedNewestIsSkippedAndOnlyTheNewestKAreKept) {
  c2am::util::Logger log;
  const std::string dir = fresh_dir("run_keep");
  Config cfg = tiny_config(dir, 6);
  cfg.train.checkpoint_every = 1;
  cfg.train.keep_checkpoints = 2;
  c2am::train::train(cfg, c2am::comm::Context{}, "", log);
  const auto files = c2am::checkpoint::list_checkpoints(dir);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_NE(files.back().find("ckpt-000000006.pt"), std::string::npos);

  // A torn newest file (as if written without our atomic rename) and a stray temporary file.
  const auto size = fs::file_size(files.back());
  fs::resize_file(files.back(), size / 2);
  std::ofstream(c2am::checkpoint::checkpoint_path(dir, 7) + ".tmp.123") << "partial";
  std::string report;
  const auto chosen = c2am::checkpoint::resolve_checkpoint(dir, &report);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(*chosen, files.front());
  EXPECT_NE(report.find("ckpt-000000006.pt"), std::string::npos) << report;
}

// run.precision = bf16 and run.channels_last take the trainer's CPU path of
// the GPU settings (autocast on the CPU): the run trains, its loss terms stay
// finite, and its checkpoint loads into an fp32 network.
TEST(Trainer, Bf16AutocastAndChannelsLastTrainAndCheckpointInFp32) {
  c2am::util::Logger log;
  const std::string dir = fresh_dir("run_bf16");
  Config cfg = tiny_config(dir, 3);
  cfg.run.precision = "bf16";
  cfg.run.channels_last = c2am::config::Toggle::kTrue;
  const auto r = c2am::train::train(cfg, c2am::comm::Context{}, "", log);
  ASSERT_EQ(r.steps, 3);
  const auto ckpt = c2am::checkpoint::load_checkpoint(r.checkpoint);
  for (const auto& [name, t] : ckpt.model) {
    if (t.is_floating_point()) {
      EXPECT_EQ(t.scalar_type(), torch::kFloat) << name;
    }
    EXPECT_TRUE(torch::isfinite(t).all().item<bool>()) << name;
  }
  std::ifstream metrics(dir + "/metrics.jsonl");
  std::string line;
  int steps = 0;
  while (std::getline(metrics, line)) {
    if (line.find("\"kind\":\"train\"") == std::string::npos) continue;
    ++steps;
    EXPECT_EQ(line.find("nan"), std::string::npos) << line;
  }
  EXPECT_EQ(steps, 3);
}

TEST(Checkpoint, HoldsProgressPolarityThresholdAndConfig) {
  c2am::checkpoint::Checkpoint c;
  c.arch = "resnet18";
  c.config_toml = c2am::config::to_toml(Config{});
  c.progress = {11, 2, 3, 30, 99};
  c.polarity = 1;
  c.best_threshold = 0.35;
  c.model["w"] = torch::arange(6, torch::kFloat32).reshape({2, 3});
  c.momentum["w"] = torch::ones({2, 3});
  const std::string path = fresh_dir("ckpt_fields") + "/c.pt";
  c2am::checkpoint::save_checkpoint(path, c);
  const auto r = c2am::checkpoint::load_checkpoint(path);
  EXPECT_EQ(r.arch, "resnet18");
  EXPECT_EQ(r.progress.step, 11);
  EXPECT_EQ(r.progress.epoch, 2);
  EXPECT_EQ(r.progress.step_in_epoch, 3);
  EXPECT_EQ(r.progress.max_steps, 30);
  EXPECT_EQ(r.progress.seed, 99u);
  EXPECT_EQ(r.polarity, 1);
  EXPECT_DOUBLE_EQ(r.best_threshold, 0.35);
  EXPECT_EQ(r.config_toml, c.config_toml);
  EXPECT_TRUE(torch::equal(r.model.at("w"), c.model.at("w")));
  EXPECT_TRUE(torch::equal(r.momentum.at("w"), c.momentum.at("w")));
}

TEST(Optimizer, ReferenceModeGroupsConvWeightsOnlyWithMomentumOneEMinusFour) {
  torch::manual_seed(0);
  c2am::model::C2amNet net(c2am::model::ResNetOptions{"resnet18", {1, 2, 2, 1}});
  c2am::config::TrainConfig tc;
  c2am::train::Sgd sgd(*net, tc);
  EXPECT_DOUBLE_EQ(sgd.momentum(), 1e-4);
  ASSERT_EQ(sgd.groups().size(), 2u);
  EXPECT_EQ(sgd.groups()[1].names, std::vector<std::string>{"ac_head.activation_head.weight"});
  EXPECT_DOUBLE_EQ(sgd.groups()[1].lr_mult, 10.0);
  for (const auto& n : sgd.groups()[0].names) {
    EXPECT_EQ(n.find("bn"), std::string::npos) << n;
    EXPECT_EQ(n.find("downsample.1"), std::string::npos) << n;
  }
  // 20 conv weights in ResNet-18's backbone (1 stem + 16 block convs + 3 downsample convs).
  EXPECT_EQ(sgd.groups()[0].names.size(), 20u);
  // Poly schedule: lr * (1 - step/max)^0.9.
  EXPECT_DOUBLE_EQ(sgd.lr_at(0, 100), 1e-4);
  EXPECT_NEAR(sgd.lr_at(50, 100), 1e-4 * std::pow(0.5, 0.9), 1e-18);
}

TEST(Optimizer, UpdateEqualsTorchSgdWithTheSameGroups) {
  torch::manual_seed(1);
  const torch::Tensor w0 = torch::randn({4, 3, 3, 3});
  torch::Tensor ours = w0.clone().set_requires_grad(true);
  torch::Tensor theirs = w0.clone().set_requires_grad(true);
  torch::nn::Module holder;
  holder.register_parameter("weight", ours);  // a 4-d ".weight": a backbone conv weight
  c2am::config::TrainConfig tc;
  tc.optimizer = "sgd";
  tc.momentum = 0.9;
  tc.lr = 0.1;
  tc.poly_power = 0.0;  // constant lr, as torch's SGD
  c2am::train::Sgd sgd(holder, tc);
  torch::optim::SGD ref({theirs}, torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  for (int step = 0; step < 3; ++step) {
    const torch::Tensor g = torch::randn({4, 3, 3, 3});
    ours.mutable_grad() = g.clone();
    theirs.mutable_grad() = g.clone();
    sgd.step(step, 10);
    ref.step();
  }
  EXPECT_TRUE(torch::allclose(ours, theirs, 0, 1e-7));
}

TEST(Loader, BatchesDoNotDependOnThreadCount) {
  c2am::config::DataConfig dc;
  dc.root = dataset();
  dc.train_resize = 40;
  dc.train_crop = 32;
  auto batches = [&](int threads) {
    c2am::data::LoaderOptions o;
    o.batch_per_rank = 5;
    o.threads = threads;
    o.seed = 3;
    c2am::data::Loader loader(c2am::data::open_split(dc, "train"), c2am::data::train_transform(dc), o);
    loader.start_epoch(2);
    std::vector<torch::Tensor> out;
    while (auto b = loader.next()) out.push_back(b->images);
    return out;
  };
  const auto one = batches(1), three = batches(3);
  ASSERT_EQ(one.size(), 4u);  // 24 / 5, remainder dropped
  ASSERT_EQ(one.size(), three.size());
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], three[i])) << "batch " << i;
}

TEST(Loader, RanksTakeDisjointSlicesOfTheGlobalBatch) {
  const auto perm = c2am::data::epoch_permutation(50, 9, 4);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_NE(perm, c2am::data::epoch_permutation(50, 9, 5));  // another epoch, another order
  EXPECT_EQ(perm, c2am::data::epoch_permutation(50, 9, 4));
}

}  // namespace
