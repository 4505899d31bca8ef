// Tests of the checkpoint module: the file round trip, what a load refuses
// (with the file and the key named), the one strict loader into a network,
// and the removal of a killed writer's temporary files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

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

// The same content: counters, keys, config and every tensor bit for bit.
bool same_content(const Checkpoint& a, const Checkpoint& b) {
  auto same_tensors = [](const c2am::model::TensorDict& x, const c2am::model::TensorDict& y) {
    if (x.size() != y.size()) return false;
    for (const auto& [name, t] : x) {
      const auto it = y.find(name);
      if (it == y.end() || it->second.scalar_type() != t.scalar_type() || !it->second.sizes().equals(t.sizes()) ||
          !torch::equal(it->second, t))
        return false;
    }
    return true;
  };
  const bool same_tau = std::isnan(a.best_threshold) ? std::isnan(b.best_threshold)
                                                     : a.best_threshold == b.best_threshold;
  return a.arch == b.arch && a.config_toml == b.config_toml && a.progress.step == b.progress.step &&
         a.progress.epoch == b.progress.epoch && a.progress.step_in_epoch == b.progress.step_in_epoch &&
         a.progress.max_steps == b.progress.max_steps && a.progress.seed == b.progress.seed &&
         a.polarity == b.polarity && same_tau && same_tensors(a.model, b.model) &&
         same_tensors(a.momentum, b.momentum);
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(Checkpoint, ContentChangedWithoutItsChecksumIsRefusedAsDamaged) {
  const std::string path = saved(valid_checkpoint(), "checksum");
  const std::string bytes = read_bytes(path);
  c10::IValue root = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  auto dict = root.toGenericDict();
  EXPECT_EQ(dict.at(c2am::checkpoint::kKeyChecksum).toStringRef().rfind("xxh64:", 0), 0u);
  // One weight changed and written back as a valid file, the checksum left as it was.
  for (const auto& item : dict) {
    if (item.key().toStringRef().rfind("model/", 0) == 0 && item.value().toTensor().is_floating_point()) {
      torch::Tensor t = item.value().toTensor().clone();
      t.view(-1)[0] += 1.0;
      dict.insert_or_assign(item.key(), t);
      break;
    }
  }
  const std::vector<char> changed = torch::pickle_save(c10::IValue(dict));
  write_bytes(path, std::string(changed.begin(), changed.end()));
  const std::string m = error_message([&] { c2am::checkpoint::load_checkpoint(path); }, "(loaded)");
  EXPECT_NE(m.find("is damaged"), std::string::npos) << m;
  EXPECT_NE(m.find(path), std::string::npos) << m;
}

// A byte flipped anywhere in the file: the load is refused with a c2am::Error,
// or it gives exactly the saved content (a byte the content does not depend on,
// such as the zip container's padding); never a different checkpoint.
TEST(Checkpoint, AFlippedByteIsRefusedOrChangesNothing) {
  // Small tensors of each kind (a full network's 45 MB file takes a second per load).
  Checkpoint original = valid_checkpoint();
  torch::manual_seed(1);
  original.model = {{"conv.weight", torch::randn({4, 3, 3, 3})},
                    {"bn.running_mean", torch::randn({4})},
                    {"bn.num_batches_tracked", torch::tensor(7, torch::kLong)}};
  original.momentum = {{"conv.weight", torch::randn({4, 3, 3, 3})}};
  const std::string path = saved(original, "flips");
  const std::string bytes = read_bytes(path);
  const std::string flipped_path = path + ".flipped.pt";
  std::mt19937 rng(15);
  std::uniform_int_distribution<std::size_t> where(0, bytes.size() - 1);
  int refused = 0, unchanged = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string damaged = bytes;
    // Half the flips in the first and last 4 KiB (headers, names, the central directory), half anywhere.
    std::size_t at = where(rng);
    if (trial % 2 == 0) at = trial % 4 == 0 ? at % 4096 : bytes.size() - 1 - at % 4096;
    damaged[at] = static_cast<char>(damaged[at] ^ (1 << (trial % 8)));
    write_bytes(flipped_path, damaged);
    try {
      const Checkpoint loaded = c2am::checkpoint::load_checkpoint(flipped_path);
      ASSERT_TRUE(same_content(loaded, original)) << "byte " << at << " flipped: a different checkpoint loaded";
      ++unchanged;
    } catch (const c2am::Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  std::cout << refused << " flips refused, " << unchanged << " changed nothing the checkpoint holds\n";
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
