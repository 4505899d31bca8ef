// Pretrained-weight import from files written by PyTorch's torch.save:
// torchvision state_dict (an OrderedDict), MoCo v2 prefixes, shape errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "model/c2am_net.h"
#include "model/weights.h"
#include "util/error.h"

namespace {

namespace fs = std::filesystem;
using c2am::model::TensorDict;

// Runs a Python snippet with Debian's python3-torch; fails the test if it cannot.
void python(const std::string& code) {
  // One script per test: ctest runs the tests of this file in parallel processes.
  const std::string script = testing::TempDir() + "/c2am_weights_" +
                             testing::UnitTest::GetInstance()->current_test_info()->name() + ".py";
  FILE* f = std::fopen(script.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(code.c_str(), f);
  std::fclose(f);
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script).c_str()), 0)
      << "python3-torch is needed (apt-get install python3-torch python3-torchvision)";
}

std::string dir() {
  const std::string d = testing::TempDir() + "/c2am_weights";
  fs::create_directories(d);
  return d;
}

TEST(Weights, TorchvisionStateDictRoundTripsIntoTheBackbone) {
  const std::string path = dir() + "/tv.pth";
  python("import torch, torchvision\ntorch.manual_seed(0)\n"
         "m = torchvision.models.resnet18()\n"
         "torch.save(m.state_dict(), '" + path + "')\n");
  const TensorDict file = c2am::model::read_tensor_dict(path);
  c2am::model::C2amNet net(c2am::model::ResNetOptions{"resnet18", {1, 2, 2, 1}});
  const auto rep = c2am::model::import_weights(*net, file, path);
  EXPECT_TRUE(rep.unexpected.empty());
  EXPECT_EQ(rep.ignored.size(), 2u);  // fc.weight, fc.bias
  for (const auto& m : rep.missing) EXPECT_EQ(m.rfind("ac_head.", 0), 0u) << m;
  const TensorDict ours = c2am::model::state_dict(*net);
  for (const auto& [key, t] : file) {
    if (key.rfind("fc.", 0) == 0) continue;
    ASSERT_TRUE(ours.count("backbone." + key)) << key;
    EXPECT_TRUE(torch::equal(ours.at("backbone." + key), t)) << key;
  }
}

TEST(Weights, MocoPrefixesAreStrippedAndTheMomentumEncoderIgnored) {
  const std::string path = dir() + "/moco.pth";
  python("import torch, torchvision, collections\ntorch.manual_seed(1)\n"
         "sd = torchvision.models.resnet50().state_dict()\n"
         "ck = collections.OrderedDict()\n"
         "for k, v in sd.items():\n"
         "    ck['module.encoder_q.' + k] = v\n"
         "    ck['module.encoder_k.' + k] = v + 1\n"
         "ck['module.queue'] = torch.zeros(128, 16)\n"
         "torch.save({'epoch': 200, 'arch': 'resnet50', 'state_dict': ck}, '" + path + "')\n");
  const TensorDict file = c2am::model::read_tensor_dict(path);
  c2am::model::C2amNet net(c2am::model::ResNetOptions{"resnet50", {1, 2, 2, 1}});
  const auto rep = c2am::model::import_weights(*net, file, path);
  EXPECT_TRUE(rep.unexpected.empty());
  const TensorDict ours = c2am::model::state_dict(*net);
  EXPECT_TRUE(torch::equal(ours.at("backbone.layer4.2.conv3.weight"),
                           file.at("module.encoder_q.layer4.2.conv3.weight")));
  // Every encoder_q key but fc.* lands in the backbone: (file - queue) / 2 encoders - 2 fc keys.
  const auto backbone_loaded = std::count_if(rep.loaded.begin(), rep.loaded.end(),
                                             [](const std::string& n) { return n.rfind("backbone.", 0) == 0; });
  EXPECT_EQ(static_cast<size_t>(backbone_loaded), (file.size() - 1) / 2 - 2);
}

TEST(Weights, ShapeMismatchNamesTheKeyAndBothShapes) {
  const std::string path = dir() + "/bad.pth";
  python("import torch\ntorch.save({'backbone.conv1.weight': torch.zeros(64, 3, 5, 5)}, '" + path + "')\n");
  c2am::model::C2amNet net(c2am::model::ResNetOptions{"resnet18", {1, 2, 2, 1}});
  try {
    c2am::model::import_weights(*net, c2am::model::read_tensor_dict(path), path);
    FAIL() << "expected a UsageError";
  } catch (const c2am::UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("backbone.conv1.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[64, 3, 5, 5]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[64, 3, 7, 7]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
}

TEST(Weights, WrittenDictsReadBackExactly) {
  const std::string path = dir() + "/ours.pt";
  const TensorDict d{{"a", torch::arange(12, torch::kFloat32).reshape({3, 4})}, {"b/c", torch::ones({2})}};
  c2am::model::write_tensor_dict(path, d);
  const TensorDict r = c2am::model::read_tensor_dict(path);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(torch::equal(r.at("a"), d.at("a")));
  EXPECT_TRUE(torch::equal(r.at("b/c"), d.at("b/c")));
}

}  // namespace
