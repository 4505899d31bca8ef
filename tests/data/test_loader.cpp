// The loader on packed shards: rank slices, resume order, bad samples.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/h5_edit.h"
#include "common/synth_data.h"
#include "common/temp_dir.h"
#include "config/config.h"
#include "data/cub_layout.h"
#include "data/loader.h"
#include "data/shards.h"
#include "util/error.h"
#include "util/fs.h"

namespace {

namespace fs = std::filesystem;
using namespace c2am::data;
using namespace c2am::image;  // NOLINT

// Packs a synthetic CUB train split into two shards by hand (ShardWriter), and
// optionally replaces one image by bytes that are not a JPEG.
std::string packed_dir(const std::string& name, bool corrupt_one) {
  const std::string raw = c2am::testing_util::fresh_dir(name + "_raw");
  const std::string out = c2am::testing_util::fresh_dir(name + "_packed");
  const std::string root = c2am::testing_util::write_synth(
      c2am::testing_util::small_synth("cub", /*train=*/22, /*test=*/4, /*min_size=*/40, /*max_size=*/56,
                                      /*seed=*/11),
      raw);
  std::vector<CubRecord> recs;
  for (const auto& r : read_cub(root)) {
    if (r.is_train) recs.push_back(r);
  }
  fs::create_directories(out);
  Manifest m;
  m.layout = "cub";
  m.split = "train";
  m.source = root;
  m.plan_id = "test";
  m.options_json = "{}";
  const size_t per_shard = 12;
  for (size_t begin = 0, shard = 0; begin < recs.size(); begin += per_shard, ++shard) {
    const std::string file = "train-" + std::to_string(shard) + ".h5";
    ShardWriter w(out + "/" + file, ShardInfo{"cub", "train", static_cast<int>(shard), 2, "test"});
    int64_t count = 0;
    for (size_t i = begin; i < std::min(recs.size(), begin + per_shard); ++i, ++count) {
      PackedSample s;
      s.name = recs[i].rel_path;
      s.label = recs[i].label;
      const std::string bytes = c2am::util::read_file(root + "/images/" + recs[i].rel_path);
      s.bytes.assign(bytes.begin(), bytes.end());
      if (corrupt_one && i == 5) s.bytes.assign(100, 0x42);
      s.width = s.height = 1;  // not used by the loader
      s.boxes = recs[i].boxes;
      w.add(s);
    }
    w.finish();
    m.shards.push_back(ManifestShard{file, count, w.checksum(), ShardReader(out + "/" + file).header()});
    m.count += count;
  }
  write_manifest(out, m);
  return out;
}

c2am::config::DataConfig data_config(const std::string& root) {
  c2am::config::DataConfig dc;
  dc.root = root;
  dc.train_resize = 40;
  dc.train_crop = 32;
  return dc;
}

// How the loader hands out a batch: float32 normalised by the loader, or
// uint8 normalised afterwards (normalise_batch, as the device feed does).
struct Mode {
  bool uint8 = false;
  std::string resample = "pil";  // data.resample
  std::string name() const { return (uint8 ? "uint8, " : "float32, ") + resample; }
};
const std::vector<Mode> kModes = {Mode{false, "pil"}, Mode{true, "pil"}, Mode{false, "fast"}, Mode{true, "fast"}};

std::vector<Batch> epoch(const std::string& root, int rank, int world, int64_t epoch_index, int64_t skip = 0,
                         bool skip_bad = false, int threads = 2, const Mode& mode = {}) {
  auto dc = data_config(root);
  dc.resample = mode.resample;
  LoaderOptions o;
  o.uint8 = mode.uint8;
  o.batch_per_rank = 3;
  o.rank = rank;
  o.world = world;
  o.threads = threads;
  o.seed = 4;
  o.skip_bad = skip_bad;
  Loader loader(open_split(dc, "train"), train_transform(dc), o);
  loader.start_epoch(epoch_index, skip);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

TEST(Loader, RanksSeeDisjointSlicesThatCoverTheEpochWithoutTheRemainder) {
  const std::string dir = packed_dir("loader_ranks", false);
  std::set<int64_t> seen;
  size_t total = 0;
  for (int rank = 0; rank < 2; ++rank) {
    for (const Batch& b : epoch(dir, rank, 2, 1)) {
      EXPECT_EQ(b.images.size(0), 3);
      for (int64_t id : b.sample_ids) seen.insert(id);
      total += b.sample_ids.size();
    }
  }
  EXPECT_EQ(total, seen.size()) << "a sample was seen by both ranks";
  EXPECT_EQ(seen.size(), 18u);  // 22 images, global batch 6: 3 batches, 4 dropped
  // Two ranks x 3 equal one rank x 6 on the same images, in the same order.
  for (const Mode& mode : kModes) {
    SCOPED_TRACE(mode.name());
    const auto r0 = epoch(dir, 0, 2, 1, 0, false, 2, mode), r1 = epoch(dir, 1, 2, 1, 0, false, 2, mode);
    c2am::config::DataConfig dc = data_config(dir);
    dc.resample = mode.resample;
    LoaderOptions o;
    o.batch_per_rank = 6;
    o.threads = 1;
    o.seed = 4;
    o.uint8 = mode.uint8;
    Loader single(open_split(dc, "train"), train_transform(dc), o);
    single.start_epoch(1);
    for (size_t b = 0; b < r0.size(); ++b) {
      const auto s = single.next();
      ASSERT_TRUE(s.has_value());
      EXPECT_TRUE(torch::equal(s->images, torch::cat({r0[b].images, r1[b].images})));
    }
  }
}

TEST(Loader, ResumingMidEpochContinuesTheSameOrder) {
  const std::string dir = packed_dir("loader_resume", false);
  for (const Mode& mode : kModes) {
    SCOPED_TRACE(mode.name());
    const auto full = epoch(dir, 0, 1, 3, 0, false, 2, mode);
    const auto tail = epoch(dir, 0, 1, 3, /*skip=*/4, false, 2, mode);
    ASSERT_EQ(full.size(), 7u);
    ASSERT_EQ(tail.size(), 3u);
    for (size_t i = 0; i < tail.size(); ++i) EXPECT_TRUE(torch::equal(full[i + 4].images, tail[i].images));
  }
}

TEST(Loader, ThreadCountDoesNotChangeBatches) {
  const std::string dir = packed_dir("loader_threads", false);
  for (const Mode& mode : kModes) {
    SCOPED_TRACE(mode.name());
    const auto one = epoch(dir, 0, 1, 0, 0, false, 1, mode), four = epoch(dir, 0, 1, 0, 0, false, 4, mode);
    ASSERT_EQ(one.size(), four.size());
    for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i].images, four[i].images));
  }
}

// data.resample = "fast" draws the same crops and flips as "pil" and its
// pixels are within 1 grey level of PIL's (image/resample_window.h).
TEST(Loader, FastResampleIsWithinOneLevelOfPil) {
  const std::string dir = packed_dir("loader_fast", false);
  const auto pil = epoch(dir, 0, 1, 1, 0, false, 2, Mode{true, "pil"});
  const auto fast = epoch(dir, 0, 1, 1, 0, false, 2, Mode{true, "fast"});
  ASSERT_EQ(pil.size(), fast.size());
  int64_t differing = 0, total = 0;
  for (size_t i = 0; i < pil.size(); ++i) {
    EXPECT_EQ(pil[i].sample_ids, fast[i].sample_ids);
    const torch::Tensor d = (pil[i].images.to(torch::kInt) - fast[i].images.to(torch::kInt)).abs();
    EXPECT_LE(d.max().item<int>(), 1) << "batch " << i;
    differing += d.gt(0).sum().item<int64_t>();
    total += d.numel();
  }
  EXPECT_LT(differing, total / 2) << "fast should round like PIL in most pixels";
}

// uint8 batches carry the crops' pixels; normalised (as the device feed does)
// they are the float32 batches bit for bit (tolerance 0: the same float32
// multiply and subtract per element).
TEST(Loader, Uint8BatchesNormaliseToTheFloatBatchesExactly) {
  const std::string dir = packed_dir("loader_uint8", false);
  const auto as_float = epoch(dir, 0, 1, 2), as_uint8 = epoch(dir, 0, 1, 2, 0, false, 2, Mode{true});
  ASSERT_EQ(as_float.size(), as_uint8.size());
  const Transform t = train_transform(data_config(dir));
  for (size_t i = 0; i < as_float.size(); ++i) {
    ASSERT_EQ(as_uint8[i].images.scalar_type(), torch::kUInt8);
    EXPECT_EQ(as_uint8[i].images.sizes(), as_float[i].images.sizes());
    EXPECT_EQ(as_uint8[i].sample_ids, as_float[i].sample_ids);
    EXPECT_TRUE(torch::equal(normalise_batch(as_uint8[i].images, t.mean, t.std), as_float[i].images)) << i;
  }
  // A float batch passes through unchanged.
  EXPECT_TRUE(torch::equal(normalise_batch(as_float[0].images, t.mean, t.std), as_float[0].images));
}

// An epoch whose kept part (21 of 22 samples) includes sample 5, the corrupt one.
int64_t epoch_with_sample_5() {
  for (int64_t e = 0;; ++e) {
    const auto perm = epoch_permutation(22, 4, e);
    if (std::find(perm.begin(), perm.begin() + 21, 5) != perm.begin() + 21) return e;
  }
}

// The message of the error that ends an epoch reading sample 5 of `dir` ("",
// and a test failure, when it ends without one).
std::string error_of_epoch_with_sample_5(const std::string& dir) {
  try {
    epoch(dir, 0, 1, epoch_with_sample_5());
  } catch (const c2am::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return {};
}

TEST(Loader, CorruptImageIsAnErrorNamingShardAndIndex) {
  const std::string msg = error_of_epoch_with_sample_5(packed_dir("loader_corrupt", true));
  EXPECT_NE(msg.find("train-0.h5[5]"), std::string::npos) << msg;
}

TEST(Loader, SkipPolicyDropsAndCountsTheCorruptImage) {
  const std::string dir = packed_dir("loader_skip", true);
  const auto batches = epoch(dir, 0, 1, epoch_with_sample_5(), 0, /*skip_bad=*/true);
  size_t images = 0, skipped = 0;
  for (const Batch& b : batches) {
    images += static_cast<size_t>(b.images.size(0));
    skipped += b.skipped.size();
    for (const auto& why : b.skipped) EXPECT_NE(why.find("train-0.h5[5]"), std::string::npos) << why;
  }
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(images, 7u * 3u - 1u);
}

// A byte flipped inside a packed JPEG's entropy data often still decodes (to
// wrong pixels); the loader reads every image through its stored xxh64, so it
// is an error naming shard[index] and name, or a counted skip.
TEST(Loader, DamagedBytesOfAPackedImageAreCaughtByTheirChecksum) {
  const std::string dir = packed_dir("loader_flipped", false);
  const std::string shard = dir + "/train-0.h5";
  std::uint64_t at = 0;
  {
    ShardReader r(shard);
    for (int i = 0; i < 5; ++i) at += r.image_bytes(i).size();
    at += r.image_bytes(5).size() / 2;
  }
  const hid_t f = H5Fopen(shard.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  ASSERT_TRUE(c2am::testing_util::flip_dataset_byte(f, "/images/bytes", at, 0x01));
  H5Fclose(f);

  const std::string msg = error_of_epoch_with_sample_5(dir);
  EXPECT_NE(msg.find("train-0.h5[5]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;
  const auto batches = epoch(dir, 0, 1, epoch_with_sample_5(), 0, /*skip_bad=*/true);
  size_t skipped = 0;
  for (const Batch& batch : batches) {
    skipped += batch.skipped.size();
    for (const auto& why : batch.skipped) EXPECT_NE(why.find("checksum mismatch"), std::string::npos) << why;
  }
  EXPECT_EQ(skipped, 1u);
}

// The loader opens only what the manifest may name, each shard once, and
// only shards whose attributes agree with it.
TEST(Loader, ManifestListingAShardTwiceOutsideItsFolderOrOutOfPlaceIsRefused) {
  const std::string dir = packed_dir("loader_manifest", false);
  const std::string manifest = dir + "/" + kManifestName;
  const Manifest good = read_manifest(dir);
  auto expect_refused = [&](const Manifest& m, std::initializer_list<std::string> parts) {
    write_manifest(dir, m);
    try {
      open_split(data_config(dir), "train");
      ADD_FAILURE() << "expected an error";
    } catch (const c2am::Error& e) {
      for (const auto& p : parts)
        EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << p << " | " << e.what();
    }
  };
  Manifest twice = good;
  twice.shards[1] = twice.shards[0];
  twice.count = 2 * twice.shards[0].count;
  expect_refused(twice, {manifest, "shards[1].file", "listed twice"});
  Manifest outside = good;
  outside.shards[1].file = "../" + fs::path(dir).filename().string() + "/train-1.h5";
  expect_refused(outside, {manifest, "shards[1].file", "'..' component"});
  Manifest swapped = good;
  std::swap(swapped.shards[0], swapped.shards[1]);
  expect_refused(swapped,
                 {dir + "/train-1.h5: attribute 'shard_index' is '1', but " + manifest + " says '0'"});
  Manifest other_plan = good;
  other_plan.plan_id = "another-run";
  expect_refused(other_plan, {dir + "/train-0.h5: attribute 'plan_id' is 'test'", "'another-run'", manifest});
  Manifest other_layout = good;
  other_layout.layout = "imagenet";
  expect_refused(other_layout, {"attribute 'layout' is 'cub'", manifest});
  write_manifest(dir, good);
  EXPECT_EQ(open_split(data_config(dir), "train").samples.size(), 22u);
}

// data.max_pixels reaches the loader's decoder: the 40-56 px images exceed a
// limit of 1000 pixels, named by shard and index (and skipped under "skip").
TEST(Loader, ImagesOverDataMaxPixelsAreUndecodableSamplesNamingShardAndIndex) {
  const std::string dir = packed_dir("loader_max_pixels", false);
  auto dc = data_config(dir);
  dc.max_pixels = 1000;
  LoaderOptions o;
  o.batch_per_rank = 2;
  o.threads = 1;
  Loader loader(open_split(dc, "train"), train_transform(dc), o);
  loader.start_epoch(0);
  try {
    loader.next();
    FAIL() << "expected an error";
  } catch (const c2am::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(dir + "/train-"), std::string::npos) << m;
    EXPECT_NE(m.find("more than the limit of 1000 (data.max_pixels"), std::string::npos) << m;
  }
  o.skip_bad = true;
  Loader skipping(open_split(dc, "train"), train_transform(dc), o);
  skipping.start_epoch(0);
  const auto batch = skipping.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->skipped.size(), 2u);
}

TEST(Loader, PackedFolderOfAnotherSplitIsAClearError) {
  const std::string dir = packed_dir("loader_split", false);
  try {
    open_split(data_config(dir), "test");
    FAIL() << "expected a UsageError";
  } catch (const c2am::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'train' split"), std::string::npos) << e.what();
  }
}

}  // namespace
