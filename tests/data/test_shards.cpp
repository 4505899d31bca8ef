// The packed format: round trip, crash safety, damaged shards, verify, h5py.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/jpeg.h"
#include "data/shards.h"
#include "util/error.h"

namespace {

namespace fs = std::filesystem;
using namespace c2am::data;

std::string fresh(const std::string& name) {
  const std::string d = testing::TempDir() + "/shards_" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<std::uint8_t> small_jpeg(int w, int h, std::uint8_t v) {
  Image img(w, h, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(v + i % 7);
  return encode_jpeg(img, 90);
}

std::vector<PackedSample> samples() {
  std::vector<PackedSample> out;
  for (int i = 0; i < 5; ++i) {
    PackedSample s;
    s.name = i == 3 ? "images/ü/Ünïcode_3.jpg" : "images/a/img_" + std::to_string(i) + ".jpg";
    s.label = i % 2 == 0 ? i : -1;
    s.width = 16 + i;
    s.height = 12;
    s.bytes = small_jpeg(s.width, s.height, static_cast<std::uint8_t>(10 * i));
    for (int b = 0; b < i % 4; ++b) s.boxes.push_back(Box{1.0f * b, 2.0f, 3.5f + b, 4.25f});
    if (i % 2 == 1) s.mask = {1, 2, 3, static_cast<std::uint8_t>(i)};
    out.push_back(std::move(s));
  }
  return out;
}

// Writes a one-shard packed folder from `samples()`; returns its path.
std::string pack_one(const std::string& dir, const std::vector<PackedSample>& ss) {
  ShardWriter w(dir + "/train-00000.h5", ShardInfo{"cub", "train", 0, 1, "plan-x"});
  for (const auto& s : ss) w.add(s);
  w.finish();
  Manifest m;
  m.layout = "cub";
  m.split = "train";
  m.source = "/src";
  m.plan_id = "plan-x";
  m.classes = {"a", "b"};
  m.options_json = R"({"shard_size":5})";
  m.count = static_cast<std::int64_t>(ss.size());
  m.shards.push_back(ManifestShard{"train-00000.h5", m.count, w.checksum()});
  write_manifest(dir, m);
  return dir + "/train-00000.h5";
}

TEST(Shards, RoundTripKeepsBytesLabelsNamesSizesBoxesAndMasks) {
  const std::string dir = fresh("roundtrip");
  const auto ss = samples();
  const std::string path = pack_one(dir, ss);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  ShardReader r(path);
  ASSERT_EQ(r.size(), 5);
  EXPECT_EQ(r.info().plan_id, "plan-x");
  EXPECT_TRUE(r.has_masks());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(r.image_bytes(i), ss[i].bytes) << i;
    EXPECT_EQ(r.name(i), ss[i].name);
    EXPECT_EQ(r.label(i), ss[i].label);
    EXPECT_EQ(r.width(i), ss[i].width);
    EXPECT_EQ(r.height(i), ss[i].height);
    ASSERT_EQ(r.boxes(i).size(), ss[i].boxes.size());
    for (size_t b = 0; b < ss[i].boxes.size(); ++b) EXPECT_EQ(r.boxes(i)[b].x1, ss[i].boxes[b].x1);
    EXPECT_EQ(r.mask_bytes(i), ss[i].mask);
  }
  const Manifest m = read_manifest(dir);
  EXPECT_NE(m.shards.at(0).checksum, 0u);
  EXPECT_EQ(m.count, 5);
  EXPECT_EQ(m.options_json, R"({"shard_size":5})");
  EXPECT_EQ(m.classes, (std::vector<std::string>{"a", "b"}));
}

TEST(Shards, UnfinishedWriterLeavesNoFile) {
  const std::string dir = fresh("unfinished");
  {
    ShardWriter w(dir + "/x.h5", ShardInfo{"cub", "train", 0, 1, "p"});
    w.add(samples()[0]);
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(Shards, TruncatedShardIsAnErrorNamingTheFile) {
  const std::string dir = fresh("truncated");
  const std::string path = pack_one(dir, samples());
  fs::resize_file(path, fs::file_size(path) / 2);
  try {
    ShardReader r(path);
    for (std::int64_t i = 0; i < r.size(); ++i) r.image_bytes(i);
    FAIL() << "expected an error";
  } catch (const c2am::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(Shards, VerifyNamesShardAndIndexOfAFlippedByteAndAnUndecodableImage) {
  const std::string dir = fresh("verify");
  auto ss = samples();
  ss[4].bytes = std::vector<std::uint8_t>(64, 0x33);  // stored with a correct checksum, but no JPEG
  const std::string path = pack_one(dir, ss);
  EXPECT_TRUE(verify_packed(dir, /*decode=*/false, 2).problems.empty());
  const auto decoded = verify_packed(dir, /*decode=*/true, 2);
  ASSERT_EQ(decoded.problems.size(), 1u);
  EXPECT_NE(decoded.problems[0].find("train-00000.h5[4]"), std::string::npos) << decoded.problems[0];

  // Flip one byte of image 1 in place: its bytes start at offset 0 + size of image 0 within /images/bytes.
  ShardReader before(path);
  const auto img1 = before.image_bytes(1);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto pos = content.find(std::string(img1.begin(), img1.end()));
  ASSERT_NE(pos, std::string::npos);
  f.seekp(static_cast<std::streamoff>(pos + img1.size() / 2));
  f.put(static_cast<char>(img1[img1.size() / 2] ^ 0xFF));
  f.close();
  const auto flipped = verify_packed(dir, false, 1);
  ASSERT_FALSE(flipped.problems.empty());
  EXPECT_NE(flipped.problems[0].find("train-00000.h5[1]"), std::string::npos) << flipped.problems[0];
  EXPECT_NE(flipped.problems[0].find("checksum mismatch"), std::string::npos) << flipped.problems[0];
}

TEST(Shards, NotAShardAndMissingManifestAreClearErrors) {
  const std::string dir = fresh("notashard");
  std::ofstream(dir + "/x.h5") << "hello";
  EXPECT_THROW(ShardReader(dir + "/x.h5"), c2am::Error);
  try {
    read_manifest(dir);
    FAIL();
  } catch (const c2am::Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.json"), std::string::npos) << e.what();
  }
}

TEST(Shards, H5pyShowsTheDocumentedDatasets) {
  const std::string dir = fresh("h5py");
  const std::string path = pack_one(dir, samples());
  const std::string out = dir + "/h5py.txt";
  const std::string cmd = "/usr/bin/python3 -c \"import h5py; f = h5py.File('" + path +
                          "', 'r'); f.visititems(lambda n, o: print(n, o.dtype, o.shape) if "
                          "isinstance(o, h5py.Dataset) else None); print('format', f.attrs['format'])\" > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "python3-h5py is needed (apt-get install python3-h5py)";
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* want : {"images/bytes uint8 (", "images/offsets uint64 (6,)", "images/label int32 (5,)",
                           "images/size int32 (5, 2)", "images/checksum uint64 (5,)", "images/name object (5,)",
                           "boxes/data float32 (6, 4)", "boxes/offsets uint64 (6,)", "masks/bytes uint8 (8,)",
                           "c2am-shards"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

}  // namespace
