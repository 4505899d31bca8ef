// Implements: tests of `c2am pack` (data_prep/pack.h) on synthetic datasets of
// every layout: bytes and metadata round-trip, thread-count independence,
// resume, plan-change detection and --force, re-encoding, corrupt inputs.
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "common/hostile_images.h"
#include "data/cub_layout.h"
#include "data_prep/image_header.h"
#include "data_prep/pack.h"
#include "data_prep/pack_lock.h"
#include "image/jpeg.h"
#include "image/png.h"
#include "pack_test_util.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::data_prep {
namespace {

using namespace testing_util;  // NOLINT

const util::Logger& logger() {
  static const util::Logger log;
  return log;
}

PackOptions options(const std::string& layout, const std::string& split, const std::string& src,
                    const std::string& out) {
  PackOptions o;
  o.layout = layout;
  o.split = split;
  o.source = src;
  o.out = out;
  o.shard_size = 5;
  o.threads = 2;
  return o;
}

std::string file_bytes(const std::string& path) { return util::read_file(path); }
std::string as_string(const std::vector<std::uint8_t>& v) { return std::string(v.begin(), v.end()); }

// "id,wnid x0 y0 x1 y1 ..." of LOC_val_solution.csv, parsed independently of data_prep.
std::map<std::string, std::vector<std::vector<std::string>>> read_loc_csv(const std::string& path) {
  std::map<std::string, std::vector<std::vector<std::string>>> out;
  std::istringstream in(util::read_file(path));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    std::istringstream fields(line.substr(comma + 1));
    std::vector<std::string> box(5);
    while (fields >> box[0] >> box[1] >> box[2] >> box[3] >> box[4])
      out[line.substr(0, comma)].push_back(box);
  }
  return out;
}

struct LayoutSplit {
  const char* layout;
  const char* split;
  std::int64_t count;
};

class PackEveryLayout : public ::testing::TestWithParam<LayoutSplit> {};

TEST_P(PackEveryLayout, RoundTripsSourceBytesNamesLabelsBoxesAndMasks) {
  const LayoutSplit p = GetParam();
  TempDir tmp;
  const std::string src = make_synth(p.layout, tmp.sub("raw"));
  const std::string out = tmp.sub("packed");
  const PackResult r = pack(options(p.layout, p.split, src, out), logger());
  EXPECT_EQ(r.images, p.count);
  EXPECT_EQ(r.shards, static_cast<int>((p.count + 4) / 5));
  EXPECT_EQ(r.shards_written, r.shards);

  const Packed packed(out);
  EXPECT_EQ(packed.manifest.count, p.count);
  EXPECT_EQ(packed.manifest.layout, p.layout);
  EXPECT_EQ(packed.manifest.split, p.split);
  EXPECT_EQ(packed.manifest.plan_id, r.plan_id);
  EXPECT_EQ(packed.manifest.classes.size(), std::string(p.layout) == "voc" ? 21u : 3u);

  std::map<std::string, data::CubRecord> cub;
  if (std::string(p.layout) == "cub")
    for (const auto& c : data::read_cub(src)) cub["images/" + c.rel_path] = c;
  const auto loc = std::string(p.layout) == "imagenet" ? read_loc_csv(src + "/LOC_val_solution.csv")
                                                       : decltype(read_loc_csv("")){};
  std::vector<std::string> names;
  packed.each([&](const data::ShardReader& s, std::int64_t i) {
    const std::string name = s.name(i);
    SCOPED_TRACE(name);
    names.push_back(name);
    const std::string bytes = as_string(s.image_bytes(i));
    EXPECT_EQ(bytes, file_bytes(src + "/" + name));
    const image::Image img =
        image::decode_jpeg(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), name);
    EXPECT_EQ(s.width(i), img.width);
    EXPECT_EQ(s.height(i), img.height);
    const auto& boxes = s.boxes(i);
    if (std::string(p.layout) == "cub") {
      const data::CubRecord& c = cub.at(name);
      EXPECT_EQ(c.is_train, std::string(p.split) == "train");
      EXPECT_EQ(s.label(i), c.label);
      ASSERT_EQ(boxes.size(), 1u);
      EXPECT_FLOAT_EQ(boxes[0].x0, c.boxes[0].x0);
      EXPECT_FLOAT_EQ(boxes[0].y1, c.boxes[0].y1);
    } else if (std::string(p.layout) == "imagenet" && std::string(p.split) == "train") {
      const int wnid = std::stoi(name.substr(std::string("train/n").size(), 8));  // n%08d(class + 1)
      EXPECT_EQ(s.label(i), wnid - 1);
      EXPECT_TRUE(boxes.empty());
    } else if (std::string(p.layout) == "imagenet") {
      const auto& expect = loc.at(fs::path(name).stem().string());
      ASSERT_EQ(boxes.size(), expect.size());
      EXPECT_EQ(s.label(i), std::stoi(expect[0][0].substr(1)) - 1);
      for (size_t b = 0; b < boxes.size(); ++b) {
        EXPECT_EQ(boxes[b].x0, std::stof(expect[b][1]));
        EXPECT_EQ(boxes[b].y0, std::stof(expect[b][2]));
        EXPECT_EQ(boxes[b].x1, std::stof(expect[b][3]));
        EXPECT_EQ(boxes[b].y1, std::stof(expect[b][4]));
      }
    } else {  // voc
      EXPECT_EQ(s.label(i), -1);
      const std::string stem = fs::path(name).stem().string();
      const bool train = std::string(p.split) == "train";
      const std::string mask_file =
          src + (train ? "/SegmentationClassAug/" : "/SegmentationClass/") + stem + ".png";
      EXPECT_EQ(as_string(s.mask_bytes(i)), file_bytes(mask_file));
      ASSERT_FALSE(boxes.empty());
      if (train) {  // the Aug mask has no void band: the boxes' union is the labelled pixels' bounding box
        const image::Image m = image::read_png(mask_file);
        int x0 = m.width, y0 = m.height, x1 = 0, y1 = 0;
        for (int y = 0; y < m.height; ++y)
          for (int x = 0; x < m.width; ++x)
            if (*m.at(x, y) != 0)
              x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
        float bx0 = 1e9f, by0 = 1e9f, bx1 = 0, by1 = 0;
        for (const auto& b : boxes)
          bx0 = std::min(bx0, b.x0), by0 = std::min(by0, b.y0), bx1 = std::max(bx1, b.x1),
          by1 = std::max(by1, b.y1);
        EXPECT_EQ(bx0, x0);
        EXPECT_EQ(by0, y0);
        EXPECT_EQ(bx1, x1);
        EXPECT_EQ(by1, y1);
      }
    }
  });
  EXPECT_EQ(static_cast<std::int64_t>(names.size()), p.count);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  const data::VerifyReport v = data::verify_packed(out, /*decode=*/true, 2);
  EXPECT_TRUE(v.problems.empty()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.decoded, p.count);
}

INSTANTIATE_TEST_SUITE_P(Layouts, PackEveryLayout,
                         ::testing::Values(LayoutSplit{"cub", "train", 12}, LayoutSplit{"cub", "test", 6},
                                           LayoutSplit{"imagenet", "train", 12},
                                           LayoutSplit{"imagenet", "val", 6}, LayoutSplit{"voc", "train", 12},
                                           LayoutSplit{"voc", "val", 6}),
                         [](const auto& param_info) {
                           return std::string(param_info.param.layout) + "_" + param_info.param.split;
                         });

// Per image: name, label, checksum, size, boxes as text; in order.
std::vector<std::string> fingerprint(const std::string& dir) {
  std::vector<std::string> out;
  Packed(dir).each([&](const data::ShardReader& s, std::int64_t i) {
    std::string f =
        fmt::format("{} {} {:x} {}x{}", s.name(i), s.label(i), s.stored_checksum(i), s.width(i), s.height(i));
    for (const auto& b : s.boxes(i)) f += fmt::format(" {} {} {} {}", b.x0, b.y0, b.x1, b.y1);
    f += fmt::format(" mask {}", s.mask_bytes(i).size());
    out.push_back(f);
  });
  return out;
}

std::vector<std::string> shard_sums(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& s : data::read_manifest(dir).shards)
    out.push_back(fmt::format("{} {} {:x}", s.file, s.count, s.checksum));
  return out;
}

TEST(Pack, OneOrThreeThreadsGiveTheSameShards) {
  TempDir tmp;
  const std::string src = make_synth("voc", tmp.sub("raw"));
  PackOptions o = options("voc", "train", src, tmp.sub("one"));
  o.threads = 1;
  const PackResult a = pack(o, logger());
  o.out = tmp.sub("three");
  o.threads = 3;
  const PackResult b = pack(o, logger());
  EXPECT_EQ(a.plan_id, b.plan_id);
  EXPECT_EQ(shard_sums(tmp.sub("one")), shard_sums(tmp.sub("three")));
  EXPECT_EQ(fingerprint(tmp.sub("one")), fingerprint(tmp.sub("three")));
  // Re-encoding is deterministic too.
  o.reencode_max_side = 32;
  o.out = tmp.sub("re1");
  o.threads = 1;
  pack(o, logger());
  o.out = tmp.sub("re3");
  o.threads = 3;
  pack(o, logger());
  EXPECT_EQ(shard_sums(tmp.sub("re1")), shard_sums(tmp.sub("re3")));
}

TEST(Pack, ResumeAfterLosingAShardRewritesOnlyThatShard) {
  TempDir tmp;
  const std::string src = make_synth("cub", tmp.sub("raw"));
  const std::string out = tmp.sub("packed");
  PackOptions o = options("cub", "train", src, out);
  o.shard_size = 4;
  const PackResult first = pack(o, logger());
  ASSERT_EQ(first.shards, 3);
  const auto sums = shard_sums(out);
  fs::remove(out + "/shard-00001.h5");
  fs::remove(out + "/manifest.json");
  std::ofstream(out + "/shard-00002.h5.tmp") << "partial";  // what a killed run leaves
  o.threads = 3;
  const PackResult again = pack(o, logger());
  EXPECT_EQ(again.plan_id, first.plan_id);
  EXPECT_EQ(again.shards_written, 1);
  EXPECT_EQ(again.shards_skipped, 2);
  EXPECT_EQ(again.images_written, 4);
  EXPECT_EQ(shard_sums(out), sums);
  EXPECT_FALSE(fs::exists(out + "/shard-00002.h5.tmp"));
  // A complete folder: nothing to do.
  const PackResult third = pack(o, logger());
  EXPECT_EQ(third.shards_written, 0);
  EXPECT_EQ(third.shards_skipped, 3);
  EXPECT_TRUE(data::verify_packed(out, /*decode=*/false, 1).problems.empty());
}

TEST(Pack, ChangedSourceOrOptionsAreRefusedUntilForce) {
  TempDir tmp;
  const std::string src = make_synth("imagenet", tmp.sub("raw"));
  const std::string out = tmp.sub("packed");
  PackOptions o = options("imagenet", "val", src, out);
  const PackResult first = pack(o, logger());

  // Touch one image: another plan.
  const std::string image = src + "/" + Packed(out).shards[0]->name(0);
  fs::last_write_time(image, fs::last_write_time(image) + std::chrono::seconds(5));
  std::string msg = error_of<UsageError>([&] { pack(o, logger()); });
  EXPECT_NE(msg.find("source or options changed since the first run"), std::string::npos) << msg;
  EXPECT_NE(msg.find(first.plan_id), std::string::npos) << msg;
  EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  EXPECT_NE(msg.find("manifest.json"), std::string::npos) << msg;

  // Without the manifest, the shards themselves carry the plan.
  fs::remove(out + "/manifest.json");
  msg = error_of<UsageError>([&] { pack(o, logger()); });
  EXPECT_NE(msg.find("shard-00000.h5"), std::string::npos) << msg;

  o.force = true;
  const PackResult forced = pack(o, logger());
  EXPECT_NE(forced.plan_id, first.plan_id);
  EXPECT_EQ(forced.shards_written, forced.shards);
  EXPECT_EQ(data::read_manifest(out).plan_id, forced.plan_id);

  // Another shard size is another plan; the message says which options differ.
  o.force = false;
  o.shard_size = 4;
  msg = error_of<UsageError>([&] { pack(o, logger()); });
  EXPECT_NE(msg.find("\"shard_size\":5"), std::string::npos) << msg;
  // A modified annotation (one box) is another plan too.
  o.shard_size = 5;
  std::string csv = util::read_file(src + "/LOC_val_solution.csv");
  fs::remove_all(src + "/val_boxes");  // the CSV now gives the boxes: same values, same plan
  EXPECT_EQ(pack(o, logger()).shards_skipped, forced.shards);
  const auto pos = csv.find(',', csv.find('\n')) + 11;  // inside the first box's x0
  csv[pos] = csv[pos] == '1' ? '2' : '1';
  util::write_file_atomic(src + "/LOC_val_solution.csv", csv);
  msg = error_of<UsageError>([&] { pack(o, logger()); });
  EXPECT_NE(msg.find("annotations"), std::string::npos) << msg;
}

TEST(Pack, ReencodeBoundsTheLongerSideAndScalesBoxesAndMasks) {
  TempDir tmp;
  for (const char* layout : {"imagenet", "voc"}) {
    SCOPED_TRACE(layout);
    const std::string src = make_synth(layout, tmp.sub(std::string("raw_") + layout));
    const std::string plain = tmp.sub(std::string("plain_") + layout),
                      small = tmp.sub(std::string("small_") + layout);
    pack(options(layout, "val", src, plain), logger());
    PackOptions o = options(layout, "val", src, small);
    o.reencode_max_side = 32;
    o.jpeg_quality = 80;
    pack(o, logger());
    const Packed a(plain), b(small);
    ASSERT_EQ(a.manifest.count, b.manifest.count);
    for (size_t k = 0; k < a.shards.size(); ++k) {
      const auto &ra = *a.shards[k], &rb = *b.shards[k];
      for (std::int64_t i = 0; i < ra.size(); ++i) {
        const auto bytes = rb.image_bytes(i);
        const image::Image img = image::decode_jpeg(bytes.data(), bytes.size(), rb.name(i));
        EXPECT_EQ(std::max(img.width, img.height), 32);  // synth images are 40-64 px
        EXPECT_EQ(img.width, rb.width(i));
        EXPECT_EQ(img.height, rb.height(i));
        const float sx = static_cast<float>(img.width) / ra.width(i),
                    sy = static_cast<float>(img.height) / ra.height(i);
        ASSERT_EQ(ra.boxes(i).size(), rb.boxes(i).size());
        for (size_t j = 0; j < ra.boxes(i).size(); ++j) {
          EXPECT_FLOAT_EQ(rb.boxes(i)[j].x0, ra.boxes(i)[j].x0 * sx);
          EXPECT_FLOAT_EQ(rb.boxes(i)[j].y1, ra.boxes(i)[j].y1 * sy);
        }
        if (rb.has_masks()) {
          const auto m = rb.mask_bytes(i);
          const image::Image mask = image::decode_png(m.data(), m.size(), rb.name(i));
          EXPECT_EQ(mask.width, img.width);
          EXPECT_EQ(mask.height, img.height);
        }
      }
    }
  }
}

TEST(Pack, CorruptJpegIsAnErrorNamingTheFile) {
  TempDir tmp;
  const std::string src = make_synth("cub", tmp.sub("raw"));
  const data::CubRecord victim = data::read_cub(src).front();
  const std::string path = src + "/images/" + victim.rel_path;
  std::string bytes = util::read_file(path);
  for (size_t i = bytes.size() / 3; i < bytes.size() - 2; ++i)
    bytes[i] = static_cast<char>(0xFF);  // entropy data gone
  util::write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  PackOptions o = options("cub", victim.is_train ? "train" : "test", src, tmp.sub("packed"));
  o.reencode_max_side = 32;
  const std::string msg = error_of<Error>([&] { pack(o, logger()); });
  EXPECT_NE(msg.find(victim.rel_path), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp.sub("packed/manifest.json")));
  // Bytes that are no image at all fail even without re-encoding.
  util::write_file_atomic(path, "not an image");
  o.reencode_max_side = 0;
  const std::string msg2 = error_of<Error>([&] { pack(o, logger()); });
  EXPECT_NE(msg2.find(victim.rel_path), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("neither a JPEG nor a PNG"), std::string::npos) << msg2;
}

TEST(Pack, FolderLayoutKeepsJpegAndPngBytesAndLabelsBySubfolder) {
  TempDir tmp;
  const std::string root = tmp.sub("photos");
  fs::create_directories(root + "/cats");
  fs::create_directories(root + "/dogs");
  image::Image img(50, 30, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(i * 7);
  const auto jpeg = image::encode_jpeg(img, 90);
  util::write_file_atomic(root + "/cats/a.jpg", std::string(jpeg.begin(), jpeg.end()));
  util::write_file_atomic(root + "/dogs/b.png", image::encode_png(img));
  PackOptions o = options("folder", "train", root, tmp.sub("packed"));
  pack(o, logger());
  const Packed p(tmp.sub("packed"));
  EXPECT_EQ(p.manifest.classes, (std::vector<std::string>{"cats", "dogs"}));
  ASSERT_EQ(p.shards[0]->size(), 2);
  EXPECT_EQ(p.shards[0]->label(1), 1);
  EXPECT_EQ(p.shards[0]->width(1), 50);
  EXPECT_EQ(p.shards[0]->height(1), 30);
  EXPECT_EQ(as_string(p.shards[0]->image_bytes(1)), file_bytes(root + "/dogs/b.png"));
  EXPECT_TRUE(data::verify_packed(tmp.sub("packed"), /*decode=*/true, 1).problems.empty());
  // Re-encoding turns the PNG into a JPEG of at most 20 px.
  o.out = tmp.sub("small");
  o.reencode_max_side = 20;
  pack(o, logger());
  const auto bytes = Packed(tmp.sub("small")).shards[0]->image_bytes(1);
  const image::Image small = image::decode_jpeg(bytes.data(), bytes.size(), "b");
  EXPECT_EQ(bytes[0], 0xFF);
  EXPECT_EQ(small.width, 20);
  EXPECT_EQ(small.height, 12);
  // OUT inside SRC would be a class on the rerun.
  o.out = root + "/packed";
  EXPECT_NE(error_of<UsageError>([&] { pack(o, logger()); }).find("inside the source"), std::string::npos);
}

TEST(Pack, BadOptionsAreUsageErrors) {
  TempDir tmp;
  PackOptions o = options("cub", "val", tmp.sub("raw"), tmp.sub("out"));
  EXPECT_NE(error_of<UsageError>([&] { pack(o, logger()); }).find("split 'val'"), std::string::npos);
  o.split = "train";
  for (const int bad : {0, -1, kMaxShardSize + 1, 2147483647}) {
    o.shard_size = bad;
    const std::string m = error_of<UsageError>([&] { pack(o, logger()); });
    EXPECT_NE(m.find(fmt::format("--shard-size must be in [1, {}] images", kMaxShardSize)), std::string::npos)
        << m;
    EXPECT_NE(m.find(fmt::format("got {}", bad)), std::string::npos) << m;
  }
  o.shard_size = 5;
  o.threads = 100000;
  EXPECT_NE(error_of<UsageError>([&] { pack(o, logger()); }).find("--threads must be in [0, 1024]"),
            std::string::npos);
  o.threads = 2;
  o.reencode_max_side = -3;
  EXPECT_NE(error_of<UsageError>([&] { pack(o, logger()); }).find("--max-side must be in [0, 65500]"),
            std::string::npos);
  o.reencode_max_side = 0;
  EXPECT_NE(error_of<UsageError>([&] { pack(o, logger()); }).find("is not a folder"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp.sub("out")));  // nothing created for a run that cannot start
}

// --------------------------------------------------------------- hostile raw input

// Replaces line `number` (1-based) of a text file.
void replace_line(const std::string& path, int number, const std::string& text) {
  std::istringstream in(util::read_file(path));
  std::string line, out;
  for (int i = 1; std::getline(in, line); ++i) out += (i == number ? text : line) + "\n";
  util::write_file_atomic(path, out);
}

TEST(Pack, ImagePathLeavingTheSourceFolderIsRefusedNamingFileAndLine) {
  TempDir tmp;
  const std::string src = make_synth("cub", tmp.sub("raw"));
  util::write_file_atomic(tmp.sub("secret.jpg"), "outside the dataset");
  for (const std::string& evil :
       {std::string("../../secret.jpg"), std::string("001.a/../../../secret.jpg"), tmp.sub("secret.jpg")}) {
    SCOPED_TRACE(evil);
    replace_line(src + "/images.txt", 2, "2 " + evil);
    const std::string m =
        error_of<Error>([&] { pack(options("cub", "train", src, tmp.sub("out")), logger()); });
    EXPECT_NE(m.find(src + "/images.txt:2: path '" + evil + "'"), std::string::npos) << m;
    EXPECT_NE(m.find(evil[0] == '/' ? "is absolute" : "'..' component"), std::string::npos) << m;
    EXPECT_FALSE(fs::exists(tmp.sub("out/manifest.json")));
  }
}

// A symlinked dataset folder (and symlinks below it) is followed: the check is on the text of the paths.
TEST(Pack, SymlinkedSourceFolderStillPacks) {
  TempDir tmp;
  const std::string src = make_synth("cub", tmp.sub("raw"));
  fs::create_directory_symlink(src, tmp.sub("link"));
  EXPECT_EQ(pack(options("cub", "test", tmp.sub("link"), tmp.sub("out")), logger()).images, 6);
}

// CUB boxes: x y w h, each finite, w, h >= 0, inside the image within 1 px.
TEST(Pack, NonFiniteNegativeOrOutsideBoxesAreRefusedNamingFileAndLine) {
  TempDir tmp;
  const std::string src = make_synth("cub", tmp.sub("raw"));
  const data::CubRecord first = data::read_cub(src).front();
  const std::string split = first.is_train ? "train" : "test";
  const std::string bytes = util::read_file(src + "/images/" + first.rel_path);
  const ImageSize size =
      read_image_size(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), first.rel_path);
  const std::string boxes = src + "/bounding_boxes.txt";
  const std::string where = boxes + ":1: ";
  struct Case {
    std::string line;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"1 nan 2 3 4", "box (nan, 2, 3, 4) of image id 1 is not finite"},
      {"1 2 inf 3 4", "is not finite"},
      {"1 -inf 2 3 4", "is not finite"},
      {"1 3e38 3 3e38 4", "is not finite"},  // x + w overflows float
      {"1 2 3 -1 4", "negative box value"},
      {"1 1e38 2 3 4", fmt::format("lies outside the {}x{} image (tolerance 1 px)", size.width, size.height)},
      {fmt::format("1 0 0 {} {}", size.width + 2, size.height), "lies outside"},
      {"1 2 3 4 five", "height 'five' is not a number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    replace_line(boxes, 1, c.line);
    const std::string m =
        error_of<Error>([&] { pack(options("cub", split, src, tmp.sub("out")), logger()); });
    EXPECT_NE(m.find(where), std::string::npos) << m;
    EXPECT_NE(m.find(c.expect), std::string::npos) << m;
  }
  // Within the 1 px tolerance, and a zero-area box, are packed as written.
  replace_line(boxes, 1, fmt::format("1 0 0 {} {}", size.width + 1, size.height + 1));
  pack(options("cub", split, src, tmp.sub("ok")), logger());
  replace_line(boxes, 1, "1 3 4 0 0");
  pack(options("cub", split, src, tmp.sub("ok2")), logger());
}

TEST(Pack, ImagenetAndVocBoxesAreCheckedNamingFileAndLine) {
  TempDir tmp;
  // ImageNet val from LOC_val_solution.csv (no val_boxes/ folder).
  const std::string inet = make_synth("imagenet", tmp.sub("inet"));
  fs::remove_all(inet + "/val_boxes");
  const std::string csv = inet + "/LOC_val_solution.csv";
  std::istringstream in(util::read_file(csv));
  std::string header, line2;
  std::getline(in, header);
  std::getline(in, line2);
  const std::string id = line2.substr(0, line2.find(','));
  const std::string wnid = line2.substr(line2.find(',') + 1, 9);
  for (const auto& [fields, expect] :
       std::vector<std::pair<std::string, std::string>>{{"nan 1 2 3", "box value 'nan' is not finite"},
                                                        {"1 1 2 inf", "box value 'inf' is not finite"},
                                                        {"5 1 2 3", "box (5, 1, 2, 3) has max < min"},
                                                        {"0 0 100000 3", "lies outside the"}}) {
    SCOPED_TRACE(fields);
    replace_line(csv, 2, id + "," + wnid + " " + fields);
    const std::string m =
        error_of<Error>([&] { pack(options("imagenet", "val", inet, tmp.sub("out_inet")), logger()); });
    EXPECT_NE(m.find(csv + ":2: "), std::string::npos) << m;
    EXPECT_NE(m.find(expect), std::string::npos) << m;
  }
  // VOC Annotations XML, 1-based inclusive: xmax = width + 2 is 2 px out after conversion.
  const std::string voc = make_synth("voc", tmp.sub("voc"));
  const std::string list = util::read_file(voc + "/ImageSets/Segmentation/val.txt");
  const std::string vid = list.substr(0, list.find('\n'));
  const std::string jpg = util::read_file(voc + "/JPEGImages/" + vid + ".jpg");
  const ImageSize vs = read_image_size(reinterpret_cast<const std::uint8_t*>(jpg.data()), jpg.size(), vid);
  const std::string xml_path = voc + "/Annotations/" + vid + ".xml";
  auto xml = [&](const std::string& xmax) {
    util::write_file_atomic(xml_path,
                            "<annotation>\n<object>\n<name>cat</name>\n<bndbox>\n<xmin>1</xmin>"
                            "<ymin>1</ymin>\n<xmax>" +
                                xmax + "</xmax><ymax>2</ymax>\n</bndbox>\n</object>\n</annotation>\n");
  };
  xml(std::to_string(vs.width + 2));
  std::string m = error_of<Error>([&] { pack(options("voc", "val", voc, tmp.sub("out_voc")), logger()); });
  EXPECT_NE(m.find(xml_path + ":2: box"), std::string::npos) << m;
  EXPECT_NE(m.find("lies outside"), std::string::npos) << m;
  xml("inf");
  m = error_of<Error>([&] { pack(options("voc", "val", voc, tmp.sub("out_voc")), logger()); });
  EXPECT_NE(m.find(xml_path + ":6: <xmax> 'inf' is not finite"), std::string::npos) << m;
  xml(std::to_string(vs.width + 1));  // within the tolerance
  pack(options("voc", "val", voc, tmp.sub("ok_voc")), logger());
}

// With --max-side every image is decoded: a header claiming 30000x30000 is
// refused before allocating (2.7 GB), naming the file; not std::bad_alloc.
TEST(Pack, ImageClaimingMorePixelsThanTheDecodeLimitIsAnErrorNamingTheFile) {
  TempDir tmp;
  const std::string src = make_synth("cub", tmp.sub("raw"));
  const data::CubRecord victim = data::read_cub(src).front();
  const auto huge = c2am::testing_util::jpeg_claiming(30000, 30000);
  util::write_file_atomic(src + "/images/" + victim.rel_path, std::string(huge.begin(), huge.end()));
  replace_line(src + "/bounding_boxes.txt", 1, "1 0 0 1 1");
  PackOptions o = options("cub", victim.is_train ? "train" : "test", src, tmp.sub("packed"));
  o.reencode_max_side = 32;
  const std::string m = error_of<Error>([&] { pack(o, logger()); });
  EXPECT_NE(m.find(victim.rel_path), std::string::npos) << m;
  EXPECT_NE(m.find("30000x30000 = 900000000 pixels, more than the limit of 100000000"), std::string::npos)
      << m;
}

// ------------------------------------------------------------------ the output lock

// A child process that holds the lock of `out` until the parent closes `release`.
struct LockHolder {
  pid_t pid = -1;
  int release = -1;
  explicit LockHolder(const std::string& out) {
    int ready[2], hold[2];
    EXPECT_EQ(pipe(ready), 0);
    EXPECT_EQ(pipe(hold), 0);
    pid = fork();
    if (pid == 0) {
      close(ready[0]);
      close(hold[1]);
      try {
        const PackLock lock(out);
        char c = 'y';
        if (write(ready[1], &c, 1) != 1) _exit(3);
        if (read(hold[0], &c, 1) < 0) _exit(4);  // returns 0 when the parent closes its end
      } catch (...) {
        _exit(2);
      }
      _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    char c = 0;
    EXPECT_EQ(read(ready[0], &c, 1), 1) << "the child did not take the lock";
    close(ready[0]);
    release = hold[1];
  }
  int end() {  // releases the lock; the child's exit status
    close(release);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

TEST(Pack, SecondPackIntoTheSameFolderExitsNamingTheHolder) {
  TempDir tmp;
  const std::string src = make_synth("cub", tmp.sub("raw"));
  const std::string out = tmp.sub("out");
  fs::create_directories(out);
  LockHolder holder(out);  // another process, holding the lock deterministically
  const std::string m = error_of<UsageError>([&] { pack(options("cub", "train", src, out), logger()); });
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  EXPECT_NE(m.find(fmt::format("another c2am pack (pid {}, host {}, started ", holder.pid, host)),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(out + "/.pack.lock"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(out + "/manifest.json"));
  EXPECT_EQ(holder.end(), 0);
  EXPECT_EQ(pack(options("cub", "train", src, out), logger()).images, 12);  // released: packs
  // A holder killed with SIGKILL leaves no stale lock: the kernel releases flock.
  LockHolder killed(out);
  kill(killed.pid, SIGKILL);
  EXPECT_EQ(killed.end(), 128 + SIGKILL);
  EXPECT_EQ(pack(options("cub", "train", src, out), logger()).shards_skipped, 3);
}

// ------------------------------------------------------------------ write failures

// A write that fails in the middle of a shard (here: the file size limit,
// RLIMIT_FSIZE with SIGXFSZ ignored, so write(2) returns EFBIG like a full
// disk returns ENOSPC) ends the run with an error naming the shard; the
// process then exits normally, running libhdf5's exit-time cleanup, which
// used to crash on a file whose flush had failed.
TEST(Pack, WriteFailureEndsWithAnErrorAndACleanExit) {
  TempDir tmp;
  const std::string src = make_synth("cub", tmp.sub("raw"), /*train=*/40, /*test=*/2);
  const std::string out = tmp.sub("out");
  pack(options("cub", "train", src, tmp.sub("measure")), logger());
  const auto shard_bytes = static_cast<rlim_t>(fs::file_size(tmp.sub("measure/shard-00000.h5")));
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{shard_bytes / 2, shard_bytes / 2};  // the first shard cannot be written whole
    setrlimit(RLIMIT_FSIZE, &limit);
    std::string msg = "(no error)";
    int code = 0;
    try {
      pack(options("cub", "train", src, out), logger());
    } catch (const std::exception& e) {
      msg = e.what();
      code = 1;
    }
    if (write(pipefd[1], msg.data(), msg.size()) < 0) code = 5;
    close(pipefd[1]);
    std::exit(code);  // normal exit: atexit handlers (libhdf5's H5_term_library) run
  }
  close(pipefd[1]);
  std::string msg;
  char buf[4096];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                                 << "; message: " << msg;
  EXPECT_EQ(WEXITSTATUS(status), 1) << msg;
  EXPECT_NE(msg.find(out + "/shard-"), std::string::npos) << msg;
  EXPECT_NE(msg.find("File too large"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out + "/manifest.json"));
  for (const auto& e : fs::directory_iterator(out)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
  // Without the limit the same run resumes and completes.
  EXPECT_EQ(pack(options("cub", "train", src, out), logger()).images, 40);
  EXPECT_TRUE(data::verify_packed(out, /*decode=*/true, 2).problems.empty());
}

}  // namespace
}  // namespace c2am::data_prep
