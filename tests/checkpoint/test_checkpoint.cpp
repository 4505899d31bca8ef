// Tests of the checkpoint module: the file round trip, what a load refuses
// (with the file and the key named), the one strict loader into a network,
// and the removal of a killed writer's temporary files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "checkpoint/checkpoint.h"
#include "checkpoint/trained.h"
#include "common/error_message.h"
#include "common/temp_dir.h"
#include "config/config.h"
#include "model/network.h"
#include "model/weights.h"
#include "util/error.h"

namespace {

namespace fs = std::filesystem;
using c2am::checkpoint::Checkpoint;

// An empty folder for one test's files (tests/common/temp_dir.h).
std::string fresh_dir(const std::string& name) {
  const std::string dir = c2am::testing_util::fresh_dir("test_checkpoint_" + name);
  fs::create_directories(dir);
  return dir;
}

// A valid checkpoint of a freshly initialised resnet18 C²AM network.
Checkpoint valid_checkpoint() {
  c2am::config::Config cfg;
  cfg.model.arch = "resnet18";
  torch::manual_seed(0);
  const auto net = c2am::model::make_network(cfg.model);
  Checkpoint c;
  c.arch = cfg.model.arch;
  c.config_toml = c2am::config::to_toml(cfg);
  c.progress.step = 3;
  c.progress.max_steps = 10;
  c.polarity = 1;
  c.best_threshold = 0.35;
  c.model = c2am::model::state_dict(net->module());
  return c;
}

std::string saved(const Checkpoint& c, const std::string& name) {
  const std::string path = fresh_dir(name) + "/ckpt-000000003.pt";
  c2am::checkpoint::save_checkpoint(path, c);
  return path;
}

using c2am::testing_util::error_message;

TEST(Checkpoint, RoundTripKeepsCountersKeysAndTensors) {
  const Checkpoint c = valid_checkpoint();
  const std::string path = saved(c, "round_trip");
  const Checkpoint back = c2am::checkpoint::load_checkpoint(path);
  EXPECT_EQ(back.progress.step, 3);
  EXPECT_EQ(back.polarity, 1);
  EXPECT_DOUBLE_EQ(back.best_threshold, 0.35);
  ASSERT_EQ(back.model.size(), c.model.size());
  for (const auto& [name, t] : c.model) EXPECT_TRUE(torch::equal(back.model.at(name), t)) << name;
}

TEST(Checkpoint, NanWeightIsRefusedNamingTheTensor) {
  Checkpoint c = valid_checkpoint();
  const std::string key = c.model.begin()->first;
  c.model[key] = c.model[key].clone();
  c.model[key].view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  const std::string path = saved(c, "nan");
  const std::string msg = error_message([&] { c2am::checkpoint::load_checkpoint(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("model/" + key), std::string::npos) << msg;
  EXPECT_NE(msg.find("NaN"), std::string::npos) << msg;
}

TEST(Checkpoint, NegativeCounterIsRefusedNamingTheKey) {
  Checkpoint c = valid_checkpoint();
  c.progress.step_in_epoch = -4;
  const std::string path = saved(c, "negative");
  const std::string msg = error_message([&] { c2am::checkpoint::load_checkpoint(path); });
  EXPECT_NE(msg.find("'step_in_epoch' is -4"), std::string::npos) << msg;
}

TEST(Checkpoint, RunFolderSkipsADamagedNewerCheckpoint) {
  const Checkpoint c = valid_checkpoint();
  const std::string dir = fresh_dir("skip");
  c2am::checkpoint::save_checkpoint(c2am::checkpoint::checkpoint_path(dir, 3), c);
  Checkpoint bad = c;
  bad.model.begin()->second = bad.model.begin()->second.clone().fill_(std::numeric_limits<float>::infinity());
  c2am::checkpoint::save_checkpoint(c2am::checkpoint::checkpoint_path(dir, 5), bad);
  std::string skipped;
  const auto found = c2am::checkpoint::resolve_checkpoint(dir, &skipped);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, c2am::checkpoint::checkpoint_path(dir, 3));
  EXPECT_NE(skipped.find("ckpt-000000005.pt"), std::string::npos) << skipped;
}

TEST(CheckpointLoad, StrictLoaderBuildsTheNetworkOfTheSavedConfig) {
  const std::string path = saved(valid_checkpoint(), "strict_ok");
  const c2am::checkpoint::Trained t = c2am::checkpoint::load_trained(path, "c2am");
  EXPECT_EQ(t.cfg.model.arch, "resnet18");
  EXPECT_EQ(t.polarity, 1);
  EXPECT_DOUBLE_EQ(t.best_threshold, 0.35);
  EXPECT_FALSE(t.net->module().is_training());
}

TEST(CheckpointLoad, InvalidPolarityOrThresholdIsRefusedNamingTheKey) {
  Checkpoint c = valid_checkpoint();
  c.polarity = 7;
  const std::string a = saved(c, "polarity");
  EXPECT_NE(error_message([&] { c2am::checkpoint::load_trained(a, ""); }).find("'polarity' is 7"),
            std::string::npos);
  c = valid_checkpoint();
  c.best_threshold = 1.5;
  const std::string b = saved(c, "threshold");
  EXPECT_NE(error_message([&] { c2am::checkpoint::load_trained(b, ""); }).find("'best_threshold' is 1.5"),
            std::string::npos);
}

TEST(CheckpointLoad, ArchitectureLabelDisagreeingWithTheConfigIsRefused) {
  Checkpoint c = valid_checkpoint();
  c.arch = "resnet50";  // resnet18 weights labelled resnet50
  const std::string path = saved(c, "arch");
  const std::string msg = error_message([&] { c2am::checkpoint::load_trained(path, "c2am"); });
  EXPECT_NE(msg.find("resnet50"), std::string::npos) << msg;
  EXPECT_NE(msg.find("resnet18"), std::string::npos) << msg;
}

TEST(CheckpointLoad, UnexpectedOrMissingTensorsAreRefused) {
  Checkpoint extra = valid_checkpoint();
  extra.model["ac_head.stray"] = torch::zeros({2});
  const std::string a = saved(extra, "unexpected");
  EXPECT_NE(error_message([&] { c2am::checkpoint::load_trained(a, "c2am"); }).find("1 unexpected"),
            std::string::npos);
  Checkpoint missing = valid_checkpoint();
  missing.model.erase(missing.model.begin());
  const std::string b = saved(missing, "missing");
  EXPECT_NE(error_message([&] { c2am::checkpoint::load_trained(b, "c2am"); }).find("1 missing"),
            std::string::npos);
}

TEST(CheckpointLoad, AnotherModelKindIsAUsageErrorNamingBoth) {
  const std::string path = saved(valid_checkpoint(), "kind");
  try {
    c2am::checkpoint::load_trained(path, "saliency");
    FAIL() << "expected a UsageError";
  } catch (const c2am::UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("c2am"), std::string::npos) << msg;
    EXPECT_NE(msg.find("saliency"), std::string::npos) << msg;
  }
}

TEST(Checkpoint, StaleTemporaryFilesOfAKilledWriterAreRemoved) {
  const std::string dir = fresh_dir("stale");
  c2am::checkpoint::save_checkpoint(c2am::checkpoint::checkpoint_path(dir, 3), valid_checkpoint());
  const std::string stale = c2am::checkpoint::checkpoint_path(dir, 6) + ".tmp.4242";
  std::ofstream(stale) << "half a checkpoint";
  EXPECT_EQ(c2am::checkpoint::remove_stale_temporaries(dir), 1);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_EQ(c2am::checkpoint::list_checkpoints(dir).size(), 1u);
}

}  // namespace
