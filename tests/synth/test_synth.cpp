// Implements: tests of the synthetic dataset generator (files of each layout,
// determinism, tight boxes, learnable layout) and of the CUB layout reader.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "common/error_message.h"
#include "common/synth_data.h"
#include "common/temp_dir.h"
#include "data/cub_layout.h"
#include "image/jpeg.h"
#include "image/png.h"
#include "synth/synth.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::data {
using namespace c2am::image;  // NOLINT
namespace {

namespace fs = std::filesystem;

using testing_util::TempDir;

synth::SynthOptions small(const std::string& layout, std::uint64_t seed = 3) {
  synth::SynthOptions o =
      testing_util::small_synth(layout, /*train=*/7, /*test=*/5, /*min_size=*/64, /*max_size=*/96, seed);
  o.num_classes = 3;
  return o;
}

// FNV-1a over every file's relative path and bytes, in path order.
std::uint64_t hash_tree(const std::string& root) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), root).string());
  std::sort(files.begin(), files.end());
  std::uint64_t h = 1469598103934665603ull;
  auto feed = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  for (const auto& f : files) feed(f), feed(util::read_file((fs::path(root) / f).string()));
  return h;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

Box mask_box(const Image& objects, int label) {
  Box b{1e9f, 1e9f, -1, -1};
  for (int y = 0; y < objects.height; ++y)
    for (int x = 0; x < objects.width; ++x)
      if (*objects.at(x, y) == label) {
        b.x0 = std::min<float>(b.x0, x), b.y0 = std::min<float>(b.y0, y);
        b.x1 = std::max<float>(b.x1, x + 1), b.y1 = std::max<float>(b.y1, y + 1);
      }
  return b;
}

void expect_same_box(const Box& a, const Box& b) {
  EXPECT_EQ(a.x0, b.x0);
  EXPECT_EQ(a.y0, b.y0);
  EXPECT_EQ(a.x1, b.x1);
  EXPECT_EQ(a.y1, b.y1);
}

std::string message_of(const std::function<void()>& f) {
  return c2am::testing_util::error_message(f, "(no exception)");
}

TEST(Synth, CubLayoutWritesTheFiveFilesAndImages) {
  TempDir dir;
  const auto summary = synth::generate(small("cub"), dir.sub("CUB_200_2011"));
  EXPECT_EQ(summary.num_objects, 12);
  for (const char* f :
       {"images.txt", "bounding_boxes.txt", "train_test_split.txt", "image_class_labels.txt", "classes.txt"})
    EXPECT_TRUE(fs::exists(dir.sub("CUB_200_2011/") + f)) << f;
  EXPECT_EQ(read_lines(dir.sub("CUB_200_2011/classes.txt")),
            (std::vector<std::string>{"1 001.Stripes_1", "2 002.Checker_2", "3 003.Dots_3"}));
  const auto images = read_lines(dir.sub("CUB_200_2011/images.txt"));
  ASSERT_EQ(images.size(), 12u);
  EXPECT_EQ(images[0], "1 001.Stripes_1/Stripes_1_0001.jpg");
  for (const auto& line : images)
    EXPECT_TRUE(fs::exists(dir.sub("CUB_200_2011/images/") + line.substr(line.find(' ') + 1))) << line;
}

TEST(Synth, ImagenetLayoutWritesTrainValXmlAndCsv) {
  TempDir dir;
  const std::string root = dir.sub("ILSVRC2012");
  synth::generate(small("imagenet"), root);
  EXPECT_TRUE(fs::exists(root + "/train/n00000001/n00000001_1.JPEG"));
  EXPECT_TRUE(fs::exists(root + "/train/n00000003/n00000003_2.JPEG"));
  EXPECT_TRUE(fs::exists(root + "/val/ILSVRC2012_val_00000005.JPEG"));
  EXPECT_TRUE(fs::exists(root + "/val_boxes/val/ILSVRC2012_val_00000001.xml"));
  EXPECT_EQ(read_lines(root + "/LOC_synset_mapping.txt"),
            (std::vector<std::string>{"n00000001 Stripes_1", "n00000002 Checker_2", "n00000003 Dots_3"}));
  const auto csv = read_lines(root + "/LOC_val_solution.csv");
  ASSERT_EQ(csv.size(), 6u);
  EXPECT_EQ(csv[0], "ImageId,PredictionString");
  EXPECT_EQ(csv[1].rfind("ILSVRC2012_val_00000001,n0000000", 0), 0u) << csv[1];
  // The XML and the CSV give the same box, and it lies inside the JPEG.
  const std::string xml = util::read_file(root + "/val_boxes/val/ILSVRC2012_val_00000001.xml");
  auto tag = [&](const std::string& t) {
    const auto a = xml.find("<" + t + ">") + t.size() + 2;
    return std::stoi(xml.substr(a, xml.find("</" + t + ">") - a));
  };
  const std::string expect =
      fmt::format(",n0000000{} {} {} {} {} ", csv[1][32], tag("xmin"), tag("ymin"), tag("xmax"), tag("ymax"));
  EXPECT_NE(csv[1].find(expect), std::string::npos) << csv[1] << " vs " << expect;
  const Image img = read_jpeg(root + "/val/ILSVRC2012_val_00000001.JPEG");
  EXPECT_EQ(tag("width"), img.width);
  EXPECT_LE(tag("xmax"), img.width);
  EXPECT_LE(tag("ymax"), img.height);
}

TEST(Synth, VocLayoutWritesMasksWithVoidBandAndImageSets) {
  TempDir dir;
  const std::string root = dir.sub("VOC2012");
  auto o = small("voc");
  o.num_train = 10;
  synth::generate(o, root);
  const auto train = read_lines(root + "/ImageSets/Segmentation/train.txt");
  const auto val = read_lines(root + "/ImageSets/Segmentation/val.txt");
  const auto trainval = read_lines(root + "/ImageSets/Segmentation/trainval.txt");
  const auto train_aug = read_lines(root + "/ImageSets/Segmentation/train_aug.txt");
  EXPECT_EQ(train.size(), 5u);
  EXPECT_EQ(val.size(), 5u);
  EXPECT_EQ(trainval.size(), 10u);
  EXPECT_EQ(train_aug.size(), 10u);
  for (const auto& name : train)
    EXPECT_NE(std::find(train_aug.begin(), train_aug.end(), name), train_aug.end());
  int with_void = 0;
  for (const auto& name : trainval) {
    ASSERT_TRUE(fs::exists(root + "/JPEGImages/" + name + ".jpg")) << name;
    ASSERT_TRUE(fs::exists(root + "/Annotations/" + name + ".xml")) << name;
    const Image cls = read_png(root + "/SegmentationClass/" + name + ".png");
    const Image aug = read_png(root + "/SegmentationClassAug/" + name + ".png");
    ASSERT_EQ(cls.channels, 1);
    ASSERT_EQ(cls.pixels.size(), aug.pixels.size());
    std::set<int> classes;
    for (size_t i = 0; i < cls.pixels.size(); ++i) {
      EXPECT_NE(aug.pixels[i], 255);
      if (cls.pixels[i] == 255) {
        ++with_void;
        continue;
      }
      EXPECT_EQ(cls.pixels[i], aug.pixels[i]);
      EXPECT_LE(cls.pixels[i], 3);
      if (cls.pixels[i] != 0) classes.insert(cls.pixels[i]);
    }
    EXPECT_GE(classes.size(), 1u);
    EXPECT_LE(classes.size(), 2u);
  }
  EXPECT_GT(with_void, 0);
  // train_aug images outside train.txt have only the Aug mask, like SBD.
  for (const auto& name : train_aug)
    if (std::find(train.begin(), train.end(), name) == train.end()) {
      EXPECT_FALSE(fs::exists(root + "/SegmentationClass/" + name + ".png"));
      EXPECT_TRUE(fs::exists(root + "/SegmentationClassAug/" + name + ".png"));
    }
}

TEST(Synth, SameSeedGivesIdenticalFilesWhateverTheThreadCount) {
  for (const char* layout : {"cub", "imagenet", "voc"}) {
    TempDir dir;
    auto o = small(layout, 11);
    o.threads = 1;
    synth::generate(o, dir.sub("a"));
    o.threads = 3;
    synth::generate(o, dir.sub("b"));
    o.seed = 12;
    synth::generate(o, dir.sub("c"));
    EXPECT_EQ(hash_tree(dir.sub("a")), hash_tree(dir.sub("b"))) << layout;
    EXPECT_NE(hash_tree(dir.sub("a")), hash_tree(dir.sub("c"))) << layout;
  }
}

TEST(Synth, BoxesAreTheTightBoundingBoxesOfTheMasks) {
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    synth::SceneSpec spec;
    spec.width = 64 + static_cast<int>(seed * 7 % 90);
    spec.height = 64 + static_cast<int>(seed * 13 % 90);
    spec.classes = seed % 3 == 0 ? std::vector<int>{0, 1, 2} : std::vector<int>{static_cast<int>(seed % 5)};
    if (spec.classes.size() > 1) spec.min_frac = 0.2f, spec.max_frac = 0.42f;
    const synth::Scene scene = synth::draw_scene(spec, seed);
    ASSERT_EQ(scene.image.width, spec.width);
    ASSERT_GE(scene.boxes.size(), 1u);
    ASSERT_EQ(scene.boxes.size(), scene.classes.size());
    for (size_t k = 0; k < scene.boxes.size(); ++k) {
      expect_same_box(scene.boxes[k], mask_box(scene.objects, static_cast<int>(k) + 1));
      const Box& b = scene.boxes[k];
      if (spec.classes.size() == 1) {  // one object: 25%..65% of each side (pixel rounding aside)
        EXPECT_GE(b.x1 - b.x0, 0.25f * spec.width - 2);
        EXPECT_LE(b.x1 - b.x0, 0.65f * spec.width + 1);
        EXPECT_GE(b.y1 - b.y0, 0.25f * spec.height - 2);
        EXPECT_LE(b.y1 - b.y0, 0.65f * spec.height + 1);
      }
    }
  }
}

TEST(Synth, ReadCubRoundTripsTheSynthBoxesAndLabels) {
  TempDir dir;
  const auto o = small("cub", 5);
  synth::generate(o, dir.sub("cub"));
  const auto records = read_cub(dir.sub("cub"));
  const auto plan = synth::plan(o);
  ASSERT_EQ(records.size(), plan.size());
  int train = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    EXPECT_EQ(r.id, plan[i].id);
    EXPECT_EQ("images/" + r.rel_path, plan[i].rel_path);
    EXPECT_EQ(r.label, plan[i].spec.classes[0]);
    EXPECT_EQ(r.is_train, plan[i].is_train);
    train += r.is_train;
    const synth::Scene scene = synth::draw_scene(plan[i].spec, plan[i].seed);
    ASSERT_EQ(r.boxes.size(), 1u);
    expect_same_box(r.boxes[0], mask_box(scene.objects, 1));
    const Image img = read_jpeg(dir.sub("cub/images/") + r.rel_path);
    EXPECT_EQ(img.width, plan[i].spec.width);
    EXPECT_EQ(img.height, plan[i].spec.height);
  }
  EXPECT_EQ(train, o.num_train);
  EXPECT_EQ(read_cub_classes(dir.sub("cub")).size(), 3u);
}

TEST(Synth, RefusesANonEmptyOutputFolder) {
  TempDir dir;
  fs::create_directories(dir.sub("full"));
  std::ofstream(dir.sub("full/keep.txt")) << "x";
  try {
    synth::generate(small("cub"), dir.sub("full"));
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.sub("full")), std::string::npos) << e.what();
  }
  EXPECT_THROW(synth::generate(small("coco"), dir.sub("x")), UsageError);
  auto o = small("voc");
  o.num_classes = 21;
  EXPECT_THROW(synth::generate(o, dir.sub("y")), UsageError);
  fs::create_directories(dir.sub("empty"));
  EXPECT_NO_THROW(synth::generate(small("cub"), dir.sub("empty")));
}

// Objects must sit anywhere: a centred box of the mean object size should
// rarely localize, and objects must be far more saturated than backgrounds.
TEST(Synth, ObjectsAreOffCentreAndMoreSaturatedThanBackground) {
  synth::SynthOptions o = small("cub", 9);
  o.num_train = 150;
  o.num_test = 50;
  const auto plan = synth::plan(o);
  std::vector<synth::Scene> scenes;
  double mean_w = 0, mean_h = 0;
  for (const auto& p : plan) {
    scenes.push_back(synth::draw_scene(p.spec, p.seed));
    const Box& b = scenes.back().boxes[0];
    mean_w += (b.x1 - b.x0) / p.spec.width / plan.size();
    mean_h += (b.y1 - b.y0) / p.spec.height / plan.size();
  }
  int hits = 0;
  double sat_fg = 0, sat_bg = 0;
  for (const auto& s : scenes) {
    const float w = s.image.width, h = s.image.height;
    const Box c{w * (0.5f - float(mean_w) / 2), h * (0.5f - float(mean_h) / 2),
                w * (0.5f + float(mean_w) / 2), h * (0.5f + float(mean_h) / 2)};
    const Box& g = s.boxes[0];
    const float iw = std::max(0.f, std::min(c.x1, g.x1) - std::max(c.x0, g.x0));
    const float ih = std::max(0.f, std::min(c.y1, g.y1) - std::max(c.y0, g.y0));
    const float inter = iw * ih;
    const float uni = (c.x1 - c.x0) * (c.y1 - c.y0) + (g.x1 - g.x0) * (g.y1 - g.y0) - inter;
    hits += inter / uni > 0.5f;
    double fg = 0, bg = 0;
    int nfg = 0, nbg = 0;
    for (size_t i = 0; i < s.objects.pixels.size(); ++i) {
      const std::uint8_t* p = &s.image.pixels[3 * i];
      const int mx = std::max({p[0], p[1], p[2]}), mn = std::min({p[0], p[1], p[2]});
      const double sat = mx == 0 ? 0 : double(mx - mn) / mx;
      (s.objects.pixels[i] ? fg : bg) += sat;
      (s.objects.pixels[i] ? nfg : nbg) += 1;
    }
    sat_fg += fg / nfg / scenes.size();
    sat_bg += bg / nbg / scenes.size();
  }
  const double centred_loc = double(hits) / scenes.size();
  RecordProperty("centred_box_gt_known_loc", std::to_string(centred_loc));
  std::printf("centred mean-size box: GT-known loc %.3f (mean box %.2f x %.2f); saturation fg %.2f bg %.2f\n",
              centred_loc, mean_w, mean_h, sat_fg, sat_bg);
  EXPECT_LT(centred_loc, 0.35);
  EXPECT_GT(sat_fg, sat_bg + 0.3);
}

// ---- read_cub errors -------------------------------------------------------

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

void write_cub(const std::string& root, const std::string& boxes, const std::string& labels = "1 1\n2 2\n") {
  fs::create_directories(root);
  write(root + "/classes.txt", "1 001.A\n2 002.B\n");
  write(root + "/images.txt", "1 001.A/a.jpg\n2 002.B/b.jpg\n");
  write(root + "/bounding_boxes.txt", boxes);
  write(root + "/train_test_split.txt", "1 1\n2 0\n");
  write(root + "/image_class_labels.txt", labels);
}

TEST(ReadCub, ParsesAValidLayout) {
  TempDir dir;
  write_cub(dir.sub("ok"), "1 1.5 2.0 10.0 20.0\r\n2 0 0 5 5\n\n");
  const auto r = read_cub(dir.sub("ok"));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].rel_path, "001.A/a.jpg");
  EXPECT_EQ(r[1].label, 1);
  EXPECT_TRUE(r[0].is_train);
  EXPECT_FALSE(r[1].is_train);
  EXPECT_FLOAT_EQ(r[0].boxes[0].x1, 11.5f);
  EXPECT_FLOAT_EQ(r[0].boxes[0].y1, 22.0f);
}

TEST(ReadCub, ErrorsNameFileAndLine) {
  TempDir dir;
  write_cub(dir.sub("dup"), "1 0 0 5 5\n2 0 0 5 5\n1 0 0 5 5\n");
  std::string m = message_of([&] { read_cub(dir.sub("dup")); });
  EXPECT_NE(m.find("bounding_boxes.txt:3"), std::string::npos) << m;
  EXPECT_NE(m.find("line 1"), std::string::npos) << m;

  write_cub(dir.sub("nan"), "1 0 0 5 5\n2 0 zero 5 5\n");
  m = message_of([&] { read_cub(dir.sub("nan")); });
  EXPECT_NE(m.find("bounding_boxes.txt:2"), std::string::npos) << m;
  EXPECT_NE(m.find("'zero'"), std::string::npos) << m;

  write_cub(dir.sub("short"), "1 0 0 5\n2 0 0 5 5\n");
  m = message_of([&] { read_cub(dir.sub("short")); });
  EXPECT_NE(m.find("bounding_boxes.txt:1"), std::string::npos) << m;

  write_cub(dir.sub("missing"), "1 0 0 5 5\n");
  m = message_of([&] { read_cub(dir.sub("missing")); });
  EXPECT_NE(m.find("bounding_boxes.txt"), std::string::npos) << m;
  EXPECT_NE(m.find("images.txt:2"), std::string::npos) << m;

  write_cub(dir.sub("extra"), "1 0 0 5 5\n2 0 0 5 5\n3 0 0 5 5\n");
  m = message_of([&] { read_cub(dir.sub("extra")); });
  EXPECT_NE(m.find("bounding_boxes.txt:3"), std::string::npos) << m;

  write_cub(dir.sub("class"), "1 0 0 5 5\n2 0 0 5 5\n", "1 1\n2 7\n");
  m = message_of([&] { read_cub(dir.sub("class")); });
  EXPECT_NE(m.find("image_class_labels.txt:2"), std::string::npos) << m;

  m = message_of([&] { read_cub(dir.sub("nowhere")); });
  EXPECT_NE(m.find("classes.txt"), std::string::npos) << m;
}

}  // namespace
}  // namespace c2am::data
