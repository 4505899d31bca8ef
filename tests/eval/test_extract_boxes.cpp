// Implements: tests of `c2am extract-boxes`'s pieces: crop boxes back in
// original pixels (hand-computed cases), JSON lines round trip, the PSOL
// export read back as the PSOL loader reads it, and the chunk files of the
// resumable job: read back and merged in index order, a chunk without its
// done marker redone (also over a partly written file), bad lines and foreign
// samples named by file and line.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "comm/communicator.h"
#include "eval/extract_boxes.h"
#include "jobs/image_jobs.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

namespace c2am::eval {
namespace {

namespace fs = std::filesystem;

data::Transform transform(int resize, int crop) {
  data::Transform t;
  t.resize = resize;
  t.crop = crop;
  t.train = false;
  return t;
}

void expect_box(const PixelBox& b, double x0, double y0, double x1, double y1) {
  EXPECT_DOUBLE_EQ(b[0], x0);
  EXPECT_DOUBLE_EQ(b[1], y0);
  EXPECT_DOUBLE_EQ(b[2], x1);
  EXPECT_DOUBLE_EQ(b[3], y1);
}

TEST(ExtractBoxes, WholeCropMapsBackToTheCentralRegionOfTheOriginal) {
  // resize 480, crop 448: offset 16. 500 x 375 image: x * 500/480, y * 375/480.
  // (0 + 16) * 500/480 = 16.6667, (0 + 16) * 375/480 = 12.5,
  // (448 + 16) * 500/480 = 483.3333, (448 + 16) * 375/480 = 362.5.
  expect_box(crop_box_to_original({0, 0, 448, 448}, 500, 375, transform(480, 448)), 16.667, 12.5, 483.333, 362.5);
}

TEST(ExtractBoxes, AnisotropicResizeScalesEachAxisOnItsOwn) {
  // 960 x 240: sx = 2, sy = 0.5. (100+16)*2 = 232, (50+16)*0.5 = 33, (300+16)*2 = 632, (200+16)*0.5 = 108.
  expect_box(crop_box_to_original({100, 50, 300, 200}, 960, 240, transform(480, 448)), 232, 33, 632, 108);
}

TEST(ExtractBoxes, NoCropMeansOnlyTheResizeIsUndone) {
  // resize = crop = 96 (the demo): offset 0; 192 x 48: sx = 2, sy = 0.5.
  expect_box(crop_box_to_original({0, 0, 96, 96}, 192, 48, transform(96, 96)), 0, 0, 192, 48);
  expect_box(crop_box_to_original({16, 32, 48, 80}, 192, 48, transform(96, 96)), 32, 16, 96, 40);
  // Identity.
  expect_box(crop_box_to_original({3, 5, 7, 11}, 96, 96, transform(96, 96)), 3, 5, 7, 11);
}

TEST(ExtractBoxes, BoxesAreClippedToTheImage) {
  // (-20 + 16) * 500/480 < 0 -> 0; (500 + 16) * 500/480 = 537.5 -> 500; y: 480 * 375/480 = 375 -> 375.
  expect_box(crop_box_to_original({-20, 0, 500, 464}, 500, 375, transform(480, 448)), 0, 12.5, 500, 375);
}

TEST(ExtractBoxes, OddCropMarginUsesTheLoadersRoundedOffset) {
  // resize 97, crop 96: the loader's centre offset is round(0.5) = 1 (lround).
  ASSERT_EQ(data::centre_offset(97, 96), 1);
  // 194 x 97: sx = 2, sy = 1. (10 + 1) * 2 = 22, (20 + 1) = 21, (30 + 1) * 2 = 62, (40 + 1) = 41.
  expect_box(crop_box_to_original({10, 20, 30, 40}, 194, 97, transform(97, 96)), 22, 21, 62, 41);
}

BoxRecord record(std::int64_t index, const std::string& name, PixelBox box, int w, int h) {
  BoxRecord r;
  r.index = index;
  r.name = name;
  r.box = box;
  r.image_size = {w, h};
  r.map_size = {28, 28};
  r.threshold = 0.45;
  return r;
}

TEST(ExtractBoxes, JsonLineRoundTripsExactly) {
  const BoxRecord r = record(17, "images/001.Bird/a \"quoted\".jpg", {16.667, 12.5, 483.333, 362.5}, 500, 375);
  const std::string line = box_record_to_json(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("\"index\":17,\"name\":"), std::string::npos) << line;
  const auto back = parse_box_record(line);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->index, 17);
  EXPECT_EQ(back->name, r.name);
  EXPECT_EQ(back->box, r.box);
  EXPECT_EQ(back->image_size, r.image_size);
  EXPECT_EQ(back->map_size, r.map_size);
  EXPECT_EQ(back->threshold, 0.45);
  EXPECT_EQ(box_record_to_json(*back), line);
  EXPECT_FALSE(parse_box_record(line.substr(0, line.size() - 3)).has_value());
  EXPECT_FALSE(parse_box_record("{\"index\":1}").has_value());
}

TEST(ExtractBoxes, PsolKeysFollowTheReferencesLayout) {
  // CUB: '<ROOT>/train/<class>/<image>.jpg' with '//' collapsed.
  EXPECT_EQ(psol_key("images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg", "train",
                     "/data/CUB_200_2011/"),
            "/data/CUB_200_2011/train/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg");
  // ILSVRC: '<ROOT>train/<wnid>/<image>.JPEG'.
  EXPECT_EQ(psol_key("train/n01440764/n01440764_10026.JPEG", "train", "/data/ilsvrc"),
            "/data/ilsvrc/train/n01440764/n01440764_10026.JPEG");
  EXPECT_EQ(psol_key("train/n01440764/n01440764_10026.JPEG", "train", ""), "train/n01440764/n01440764_10026.JPEG");
}

TEST(ExtractBoxes, PsolExportReadBackGivesTheSameBoxes) {
  std::vector<BoxRecord> records = {
      record(0, "images/001.A/a.jpg", {16.667, 12.5, 483.333, 362.5}, 500, 375),
      record(1, "images/001.A/b.jpg", {0, 0, 333, 500}, 333, 500),
      record(2, "images/002.B/c.jpg", {0.001, 7.125, 0.002, 9.999}, 1024, 768),
      record(3, "images/002.B/d.jpg", {0, 0, 0, 0}, 64, 64),  // no contour: box (0, 0, 0, 0)
  };
  const std::string text = psol_json(records, "train", "/data/CUB/");
  const nlohmann::json j = nlohmann::json::parse(text);
  ASSERT_EQ(j.size(), records.size());
  // Written in index order (the reference's dict keeps insertion order).
  EXPECT_LT(text.find("/a.jpg"), text.find("/b.jpg"));
  EXPECT_LT(text.find("/b.jpg"), text.find("/c.jpg"));
  for (const BoxRecord& r : records) {
    const std::string key = psol_key(r.name, "train", "/data/CUB/");
    ASSERT_TRUE(j.contains(key)) << key;
    const auto v = j.at(key).get<std::array<double, 4>>();
    // [x, y, w, h] normalised by the image size (= by 480 in the 480 x 480 resize).
    EXPECT_DOUBLE_EQ(v[0], r.box[0] / r.image_size[0]);
    EXPECT_DOUBLE_EQ(v[3], (r.box[3] - r.box[1]) / r.image_size[1]);
    // Read back as the PSOL loader does (x * w, (x + w') * w, ...): the same box to 1e-9 px
    // (JSON keeps doubles exactly; only the division and multiplication round).
    const PixelBox back = psol_to_original(v, r.image_size[0], r.image_size[1]);
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(back[k], r.box[k], 1e-9) << r.name << " coordinate " << k;
    // The PSOL loader then takes ceil(): at most one pixel above our box.
    for (int k = 0; k < 4; ++k) {
      const double c = std::ceil(back[k]);
      EXPECT_GE(c, r.box[k] - 1e-9);
      EXPECT_LT(c, r.box[k] + 1.0);
    }
  }
}

// A split of 10 samples in chunks of 4 (the last one short), as the job cuts it.
class ChunkFiles : public ::testing::Test {
 protected:
  static constexpr std::int64_t kChunk = 4;
  void SetUp() override {
    dir_ = fs::path(C2AM_BINARY_DIR) / "test_extract_boxes" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "parts");
    dataset_.description = "10 test samples";
    for (int i = 0; i < 10; ++i) {
      data::Sample s;
      s.name = name(i);
      dataset_.samples.push_back(s);
    }
  }
  static std::string name(std::int64_t i) { return "images/x/" + std::to_string(i) + ".jpg"; }
  static BoxRecord rec(std::int64_t i) {
    return record(i, name(i), {1, 2, 3, static_cast<double>(i)}, 10, 10);
  }
  static std::string line(std::int64_t i) { return box_record_to_json(rec(i)) + "\n"; }
  std::string out() const { return dir_.string(); }
  std::string chunk_path(std::int64_t c) const { return box_chunk_file(out(), c); }
  void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  void mark_done(std::int64_t c) { write(jobs::done_marker(out(), c), "4\n"); }
  // The job as extract-boxes runs it (one process), with made-up boxes; returns the chunks it computed.
  std::vector<std::int64_t> run_job(jobs::ImageJobResult* result = nullptr) {
    const auto comm =
        comm::make_communicator(comm::Context{}, config::DistConfig{}, torch::Device(torch::kCPU));
    const util::Logger log;
    jobs::ImageJobOptions o;
    o.command = "extract-boxes";
    o.out_dir = out();
    o.run_json = "{\"chunk_size\":4}";
    o.decode = false;
    o.name_by_stem = false;
    o.chunk_size = kChunk;
    std::vector<std::int64_t> computed;
    const jobs::ImageJobResult r = jobs::run_image_job(
        dataset_, o, *comm, log, [&](std::int64_t chunk, std::vector<jobs::JobImage>& images) {
          std::vector<BoxRecord> records;
          for (const jobs::JobImage& im : images) records.push_back(rec(im.index));
          write_box_chunk(chunk_path(chunk), records);
          computed.push_back(chunk);
        });
    if (result) *result = r;
    return computed;
  }
  fs::path dir_;
  data::Dataset dataset_;
};

TEST_F(ChunkFiles, ChunkFilesAreReadBackAndMergedInIndexOrder) {
  EXPECT_EQ(box_chunk_size(6), 48);
  EXPECT_EQ(fs::path(chunk_path(3)).filename(), "boxes-000003.jsonl");
  EXPECT_EQ(run_job(), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(util::read_file(chunk_path(1)), line(4) + line(5) + line(6) + line(7));
  const std::vector<BoxRecord> chunk2 = read_box_chunk(chunk_path(2));
  ASSERT_EQ(chunk2.size(), 2u);
  EXPECT_EQ(chunk2[1].index, 9);
  const std::vector<BoxRecord> all = merge_box_chunks(out(), dataset_, kChunk);
  ASSERT_EQ(all.size(), 10u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(box_record_to_json(all[i]) + "\n", line(i));
}

TEST_F(ChunkFiles, ChunkWithoutDoneMarkerIsRedoneOverItsPartlyWrittenFile) {
  run_job();
  const std::string before = util::read_file(chunk_path(1));
  // A kill while chunk 1 was written: no marker, a torn file.
  fs::remove(jobs::done_marker(out(), 1));
  write(chunk_path(1), line(4) + line(5).substr(0, 20));
  jobs::ImageJobResult r;
  EXPECT_EQ(run_job(&r), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(r.resumed, 6);
  EXPECT_EQ(r.processed, 4);
  EXPECT_EQ(util::read_file(chunk_path(1)), before);
  EXPECT_EQ(merge_box_chunks(out(), dataset_, kChunk).size(), 10u);
  // A finished folder: nothing to redo.
  EXPECT_TRUE(run_job().empty());
}

TEST_F(ChunkFiles, MergeNeedsEveryChunkDone) {
  run_job();
  fs::remove(jobs::done_marker(out(), 2));
  try {
    merge_box_chunks(out(), dataset_, kChunk);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chunk 2 is not done"), std::string::npos) << e.what();
  }
}

TEST_F(ChunkFiles, SkippedImagesLeaveGapsInTheirChunk) {
  // Image 1 was undecodable (data.bad_sample = skip): chunk 0 is done with three boxes.
  write(chunk_path(0), line(0) + line(2) + line(3));
  write(chunk_path(1), line(4) + line(5) + line(6) + line(7));
  write(chunk_path(2), line(8) + line(9));
  for (int c = 0; c < 3; ++c) mark_done(c);
  const std::vector<BoxRecord> all = merge_box_chunks(out(), dataset_, kChunk);
  ASSERT_EQ(all.size(), 9u);
  EXPECT_EQ(all[1].index, 2);
}

TEST_F(ChunkFiles, BadLineNamesFileAndLine) {
  write(chunk_path(0), line(0) + "garbage\n" + line(1));
  try {
    read_box_chunk(chunk_path(0));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("boxes-000000.jsonl:2"), std::string::npos) << e.what();
  }
  // A done chunk is written atomically: an unterminated last line is damage too.
  const std::string l = line(1);
  write(chunk_path(0), line(0) + l.substr(0, l.size() - 1));
  try {
    read_box_chunk(chunk_path(0));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("boxes-000000.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST_F(ChunkFiles, ForeignOrMisplacedSamplesAreNamedByFileAndLine) {
  run_job();
  // Another dataset's name for sample 5.
  write(chunk_path(1), line(4) + box_record_to_json(record(5, "images/y/other.jpg", {1, 2, 3, 4}, 10, 10)) +
                           "\n" + line(6) + line(7));
  try {
    merge_box_chunks(out(), dataset_, kChunk);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("boxes-000001.jsonl:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  // Sample 8 in chunk 1's file.
  write(chunk_path(1), line(4) + line(8));
  try {
    merge_box_chunks(out(), dataset_, kChunk);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("boxes-000001.jsonl:2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace c2am::eval
