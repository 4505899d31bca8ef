// The loader's targets: image-level labels from packed masks, and label maps
// (packed masks or a folder of PNGs) under the same resize, crop and flip as
// their image.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "common/temp_dir.h"
#include "config/config.h"
#include "image/jpeg.h"
#include "data/loader.h"
#include "image/png.h"
#include "data/shards.h"
#include "util/error.h"
#include "util/fs.h"

namespace {

namespace fs = std::filesystem;
using namespace c2am::data;
using namespace c2am::image;  // NOLINT

constexpr int kW = 48, kH = 40, kImages = 6;

// Image i: R = a horizontal ramp, G = a vertical ramp; its mask holds classes
// {1 + i % 3, 5 + i % 2} in two vertical halves (255 on one column: void).
struct Fixture {
  std::string packed, cues;
  std::vector<std::set<int>> classes;
};

Fixture make_fixture(const std::string& name) {
  Fixture f;
  f.packed = c2am::testing_util::fresh_dir(name + "_packed");
  f.cues = c2am::testing_util::fresh_dir(name + "_cues");
  fs::create_directories(f.packed);
  fs::create_directories(f.cues);
  Manifest m;
  m.layout = "voc";
  m.split = "train";
  m.source = "test";
  m.plan_id = "test";
  m.options_json = "{}";
  ShardWriter w(f.packed + "/train-0.h5", ShardInfo{"voc", "train", 0, 1, "test"});
  for (int i = 0; i < kImages; ++i) {
    Image img(kW, kH, 3), mask(kW, kH, 1), ramp(kW, kH, 1);
    const int a = 1 + i % 3, b = 5 + i % 2;
    for (int y = 0; y < kH; ++y) {
      for (int x = 0; x < kW; ++x) {
        std::uint8_t* p = img.at(x, y);
        p[0] = static_cast<std::uint8_t>(255 * x / (kW - 1));
        p[1] = static_cast<std::uint8_t>(255 * y / (kH - 1));
        p[2] = 128;
        mask.at(x, y)[0] = static_cast<std::uint8_t>(x == kW / 2 ? 255 : (x < kW / 2 ? a : b));
        ramp.at(x, y)[0] = p[0];
      }
    }
    f.classes.push_back({a, b});
    PackedSample s;
    s.name = "JPEGImages/img_" + std::to_string(i) + ".jpg";
    s.width = kW;
    s.height = kH;
    s.bytes = encode_jpeg(img, 98);
    const std::string png = encode_png(mask);
    s.mask.assign(png.begin(), png.end());
    w.add(s);
    write_png(f.cues + "/img_" + std::to_string(i) + ".png", ramp);
  }
  w.finish();
  m.shards.push_back(ManifestShard{"train-0.h5", kImages, w.checksum(), std::nullopt});
  m.count = kImages;
  write_manifest(f.packed, m);
  return f;
}

c2am::config::DataConfig data_config(const std::string& root) {
  c2am::config::DataConfig dc;
  dc.root = root;
  dc.layout = "voc";
  dc.train_resize = 36;
  dc.train_crop = 28;
  dc.test_resize = 32;
  dc.test_crop = 32;
  return dc;
}

TEST(LoaderTargets, ClassPresenceIsTheSetOfMaskLabelsWithoutBackgroundAndVoid) {
  const Fixture f = make_fixture("presence");
  const auto dc = data_config(f.packed);
  LoaderOptions o;
  o.batch_per_rank = 3;
  o.targets = TargetKind::kClassPresence;
  o.num_classes = 20;
  Loader loader(open_split(dc, "train"), train_transform(dc), o);
  loader.start_epoch(0);
  int seen = 0;
  while (auto b = loader.next()) {
    ASSERT_EQ(b->targets.sizes(), (std::vector<int64_t>{3, 20}));
    for (int64_t k = 0; k < 3; ++k) {
      const int64_t id = b->sample_ids[static_cast<size_t>(k)];
      for (int c = 1; c <= 20; ++c) {
        const bool want = f.classes[static_cast<size_t>(id)].count(c) > 0;
        EXPECT_EQ(b->targets[k][c - 1].item<float>(), want ? 1.0f : 0.0f) << "image " << id << " class " << c;
      }
      ++seen;
    }
  }
  EXPECT_EQ(seen, kImages);
}

// The target of each pixel must come from where the image's pixel came from:
// the cue is the image's own red ramp, so after the identical geometry they
// agree up to resampling (bilinear for the image, nearest for the map) and JPEG.
TEST(LoaderTargets, LabelMapsFollowTheImagesResizeCropAndFlip) {
  const Fixture f = make_fixture("geometry");
  const auto dc = data_config(f.packed);
  for (bool train : {false, true}) {
    LoaderOptions o;
    o.batch_per_rank = 2;
    o.targets = TargetKind::kMask;
    o.masks = png_folder_masks(f.cues);
    o.seed = 5;
    Loader loader(open_split(dc, "train"), train ? train_transform(dc) : test_transform(dc), o);
    int flipped_seen = 0;
    for (int64_t e = 0; e < 4; ++e) {
      loader.start_epoch(e);
      while (auto b = loader.next()) {
        const int64_t crop = b->images.size(2);
        ASSERT_EQ(b->targets.sizes(), (std::vector<int64_t>{2, crop, crop}));
        // Red channel back in 0..255.
        const torch::Tensor red = (b->images.select(1, 0) * 0.229 + 0.485) * 255.0;
        const torch::Tensor diff = (red - b->targets.to(torch::kFloat)).abs();
        EXPECT_LT(diff.max().item<float>(), 14.0f) << (train ? "train" : "test") << " transform";
        // A flip reverses the ramp: first column brighter than the last.
        for (int64_t k = 0; k < 2; ++k) {
          if (b->targets[k][0][0].item<int>() > b->targets[k][0][crop - 1].item<int>()) ++flipped_seen;
        }
      }
    }
    if (train) {
      EXPECT_GT(flipped_seen, 0) << "random flips happen";
    } else {
      EXPECT_EQ(flipped_seen, 0);
    }
  }
}

TEST(LoaderTargets, ALabelMapOfAnotherSizeIsAnErrorNamingTheSample) {
  const Fixture f = make_fixture("size");
  write_png(f.cues + "/img_0.png", Image(10, 10, 1));
  const auto dc = data_config(f.packed);
  LoaderOptions o;
  o.batch_per_rank = 6;
  o.shuffle = false;
  o.targets = TargetKind::kMask;
  o.masks = png_folder_masks(f.cues);
  Loader loader(open_split(dc, "train"), test_transform(dc), o);
  loader.start_epoch(0);
  try {
    loader.next();
    FAIL() << "expected an error";
  } catch (const c2am::Error& e) {
    EXPECT_NE(std::string(e.what()).find("img_0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("10x10"), std::string::npos) << e.what();
  }
}

}  // namespace
