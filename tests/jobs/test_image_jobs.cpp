// Implements: tests of the resumable per-image job (jobs/image_jobs.h) on one
// process, without decoding: every chunk is processed once and marked done, a
// rerun does only the chunks without a marker, other settings are refused
// unless forced, and stems are required unique only when images are named by them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "comm/communicator.h"
#include "jobs/image_jobs.h"
#include "util/error.h"
#include "util/log.h"

namespace c2am::jobs {
namespace {

namespace fs = std::filesystem;

class ImageJobs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(C2AM_BINARY_DIR) / "test_image_jobs" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    for (int i = 0; i < 7; ++i) add_sample("JPEGImages/" + std::to_string(i) + ".jpg");
    options_.command = "test";
    options_.out_dir = dir_.string();
    options_.run_json = "{\"setting\":1}";
    options_.decode = false;
    options_.chunk_size = 3;
  }
  void add_sample(const std::string& name) {
    data::Sample s;
    s.name = name;
    dataset_.samples.push_back(s);
  }
  // Runs the job; returns the chunks processed and the images each saw (index, stem).
  std::vector<std::int64_t> run(ImageJobResult* result = nullptr) {
    const auto comm =
        comm::make_communicator(comm::Context{}, config::DistConfig{}, torch::Device(torch::kCPU));
    const util::Logger log;
    std::vector<std::int64_t> chunks;
    seen_.clear();
    const ImageJobResult r =
        run_image_job(dataset_, options_, *comm, log, [&](std::int64_t c, std::vector<JobImage>& images) {
          chunks.push_back(c);
          for (const JobImage& im : images) seen_.push_back(std::to_string(im.index) + ":" + im.stem);
        });
    if (result) *result = r;
    return chunks;
  }
  fs::path dir_;
  data::Dataset dataset_;
  ImageJobOptions options_;
  std::vector<std::string> seen_;
};

TEST_F(ImageJobs, EveryChunkIsProcessedOnceAndMarkedDone) {
  ImageJobResult r;
  EXPECT_EQ(run(&r), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(seen_, (std::vector<std::string>{"0:0", "1:1", "2:2", "3:3", "4:4", "5:5", "6:6"}));
  EXPECT_EQ(r.total, 7);
  EXPECT_EQ(r.resumed, 0);
  EXPECT_EQ(r.processed, 7);
  EXPECT_EQ(chunk_count(7, 3), 3);
  for (std::int64_t c = 0; c < 3; ++c) EXPECT_TRUE(fs::exists(done_marker(dir_.string(), c))) << c;
  EXPECT_EQ(fs::path(done_marker(dir_.string(), 2)).filename(), "chunk-000002.done");
  EXPECT_TRUE(run(&r).empty());
  EXPECT_EQ(r.resumed, 7);
  EXPECT_EQ(r.processed, 0);
}

TEST_F(ImageJobs, OnlyChunksWithoutMarkerAreRedone) {
  run();
  fs::remove(done_marker(dir_.string(), 0));
  fs::remove(done_marker(dir_.string(), 2));
  ImageJobResult r;
  EXPECT_EQ(run(&r), (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(seen_, (std::vector<std::string>{"0:0", "1:1", "2:2", "6:6"}));
  EXPECT_EQ(r.resumed, 3);
  EXPECT_EQ(r.processed, 4);
}

TEST_F(ImageJobs, OtherSettingsAreRefusedUnlessForced) {
  run();
  options_.run_json = "{\"setting\":2}";
  EXPECT_THROW(run(), UsageError);
  options_.force = true;
  EXPECT_EQ(run(), (std::vector<std::int64_t>{0, 1, 2}));
}

TEST_F(ImageJobs, SharedStemsAreAnErrorOnlyWhenImagesAreNamedByStem) {
  add_sample("other/3.jpg");  // the stem of sample 3 again
  try {
    run();
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("same file stem '3'"), std::string::npos) << e.what();
  }
  options_.name_by_stem = false;
  EXPECT_EQ(run(), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(seen_.back(), "7:");  // no stems
}

}  // namespace
}  // namespace c2am::jobs
