// The packed format (src/data/shards.h): round trip, crash safety, damaged
// and foreign files, the manifest, verify_packed, and reading with h5py.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <random>
#include <sstream>
#include <thread>

#include "common/h5_edit.h"
#include "common/temp_dir.h"
#include "data/h5_subset.h"
#include "data/shards.h"
#include "image/jpeg.h"
#include "image/png.h"
#include "util/error.h"
#include "util/fs.h"

namespace {

namespace fs = std::filesystem;
using namespace c2am::data;
using namespace c2am::image;  // NOLINT

std::string fresh(const std::string& name) {
  const std::string d = c2am::testing_util::fresh_dir("shards_" + name);
  fs::create_directories(d);
  return d;
}

std::vector<std::uint8_t> small_jpeg(int w, int h, std::uint8_t v) {
  Image img(w, h, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(v + i % 7);
  return encode_jpeg(img, 90);
}

std::vector<std::uint8_t> small_mask(int w, int h, std::uint8_t v) {
  Image m(w, h, 1);
  std::fill(m.pixels.begin(), m.pixels.end(), v);
  const std::string png = encode_png(m);
  return {png.begin(), png.end()};
}

const char* const kUnicodeName = "images/ü/Ünïcode_3.jpg";

// Five samples: names incl. non-ASCII, labels incl. -1, 0..3 boxes, masks on odd indices.
std::vector<PackedSample> samples(const std::string& prefix = "images/a/img_") {
  std::vector<PackedSample> out;
  for (int i = 0; i < 5; ++i) {
    PackedSample s;
    s.name = i == 3 ? std::string(kUnicodeName) : prefix + std::to_string(i) + ".jpg";
    s.label = i % 2 == 0 ? i / 2 : -1;
    s.width = 16 + i;
    s.height = 12;
    s.bytes = small_jpeg(s.width, s.height, static_cast<std::uint8_t>(10 * i));
    for (int b = 0; b < i % 4; ++b) s.boxes.push_back(Box{1.0f * b, 2.0f, 3.5f + b, 4.25f + b});
    if (i % 2 == 1) s.mask = small_mask(s.width, s.height, static_cast<std::uint8_t>(i));
    out.push_back(std::move(s));
  }
  return out;
}

Manifest manifest_for(std::int64_t count, std::vector<ManifestShard> shards) {
  Manifest m;
  m.layout = "cub";
  m.split = "train";
  m.source = "/src";
  m.plan_id = "plan-x";
  m.classes = {"a", "b", "c"};
  m.options_json = R"({"shard_size":5})";
  m.count = count;
  m.shards = std::move(shards);
  return m;
}

// Writes a one-shard packed folder; returns the shard's path.
std::string pack_one(const std::string& dir, const std::vector<PackedSample>& ss) {
  ShardWriter w(dir + "/train-00000.h5", ShardInfo{"cub", "train", 0, 1, "plan-x"});
  for (const auto& s : ss) w.add(s);
  w.finish();
  const auto n = static_cast<std::int64_t>(ss.size());
  write_manifest(dir, manifest_for(n, {ManifestShard{"train-00000.h5", n, w.checksum(), std::nullopt}}));
  return dir + "/train-00000.h5";
}

// Opens an HDF5 file read-write for the duration of `edit` (to damage shards in place).
void edit_hdf5(const std::string& path, const std::function<void(hid_t)>& edit) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0) << path;
  edit(f);
  ASSERT_GE(H5Fclose(f), 0);
}

void overwrite_u64(hid_t f, const char* dataset, const std::vector<std::uint64_t>& values) {
  const hid_t ds = H5Dopen2(f, dataset, H5P_DEFAULT);
  ASSERT_GE(ds, 0) << dataset;
  ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(ds);
}

void replace_int_attr(hid_t f, const char* name, std::int64_t value) {
  ASSERT_GE(H5Adelete(f, name), 0);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(H5Awrite(a, H5T_NATIVE_INT64, &value), 0);
  H5Aclose(a);
  H5Sclose(space);
}

// Runs `fn`, expecting a c2am::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a c2am::Error";
  } catch (const c2am::Error& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << p << " | " << e.what();
  }
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// What the h5py script prints for image 1: its length and checksum as Python's hex().
std::string fmt_image1(const std::vector<PackedSample>& ss) {
  std::ostringstream s;
  s << "image1 " << ss[1].bytes.size() << " 0x" << std::hex
    << checksum64(ss[1].bytes.data(), ss[1].bytes.size());
  return s.str();
}

TEST(Shards, RoundTripKeepsBytesLabelsNamesSizesBoxesAndMasks) {
  const std::string dir = fresh("roundtrip");
  const auto ss = samples();
  const std::string path = pack_one(dir, ss);
  ShardReader r(path);
  ASSERT_EQ(r.size(), 5);
  EXPECT_EQ(r.path(), path);
  EXPECT_EQ(r.info().layout, "cub");
  EXPECT_EQ(r.info().split, "train");
  EXPECT_EQ(r.info().shard_index, 0);
  EXPECT_EQ(r.info().num_shards, 1);
  EXPECT_EQ(r.info().plan_id, "plan-x");
  EXPECT_TRUE(r.has_masks());
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(r.image_bytes(i), ss[i].bytes);
    EXPECT_EQ(r.stored_checksum(i), checksum64(ss[i].bytes.data(), ss[i].bytes.size()));
    EXPECT_EQ(r.name(i), ss[i].name);
    EXPECT_EQ(r.label(i), ss[i].label);
    EXPECT_EQ(r.width(i), ss[i].width);
    EXPECT_EQ(r.height(i), ss[i].height);
    ASSERT_EQ(r.boxes(i).size(), ss[i].boxes.size());
    for (size_t b = 0; b < ss[i].boxes.size(); ++b) {
      EXPECT_EQ(r.boxes(i)[b].x0, ss[i].boxes[b].x0);
      EXPECT_EQ(r.boxes(i)[b].y0, ss[i].boxes[b].y0);
      EXPECT_EQ(r.boxes(i)[b].x1, ss[i].boxes[b].x1);
      EXPECT_EQ(r.boxes(i)[b].y1, ss[i].boxes[b].y1);
    }
    EXPECT_EQ(r.mask_bytes(i), ss[i].mask);
  }
  EXPECT_EQ(r.name(3), kUnicodeName);
}

TEST(Shards, EmptyShardAndShardWithoutMasksRoundTrip) {
  const std::string dir = fresh("empty");
  {
    ShardWriter w(dir + "/empty.h5", ShardInfo{"voc", "val", 0, 1, "p"});
    w.finish();
    ShardReader r(dir + "/empty.h5");
    EXPECT_EQ(r.size(), 0);
    EXPECT_FALSE(r.has_masks());
    EXPECT_EQ(w.checksum(), shard_checksum({}));
  }
  auto ss = samples();
  for (auto& s : ss) s.mask.clear();
  ShardWriter w(dir + "/nomask.h5", ShardInfo{"cub", "test", 0, 1, "p"});
  for (const auto& s : ss) w.add(s);
  w.finish();
  ShardReader r(dir + "/nomask.h5");
  EXPECT_FALSE(r.has_masks());
  EXPECT_TRUE(r.mask_bytes(1).empty());
  EXPECT_EQ(r.image_bytes(4), ss[4].bytes);
}

TEST(Shards, FinalFileAppearsOnlyAtFinishAndTheTemporaryIsGone) {
  const std::string dir = fresh("atomic");
  const std::string path = dir + "/s.h5";
  ShardWriter w(path, ShardInfo{"cub", "train", 0, 1, "p"});
  for (const auto& s : samples()) w.add(s);
  EXPECT_FALSE(fs::exists(path));
  w.finish();
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  ShardReader r(path);
  std::vector<std::uint64_t> sums;
  for (std::int64_t i = 0; i < r.size(); ++i) sums.push_back(r.stored_checksum(i));
  EXPECT_EQ(w.checksum(), shard_checksum(sums));
  EXPECT_THROW(w.add(samples()[0]), c2am::Error);
}

TEST(Shards, UnfinishedOrFailedWriterLeavesNoFile) {
  const std::string dir = fresh("unfinished");
  {
    ShardWriter w(dir + "/x.h5", ShardInfo{"cub", "train", 0, 1, "p"});
    w.add(samples()[0]);
  }
  EXPECT_TRUE(fs::is_empty(dir));
  const std::string missing = dir + "/no/such/folder/x.h5";
  ShardWriter w(missing, ShardInfo{"cub", "train", 0, 1, "p"});
  w.add(samples()[0]);
  expect_error([&] { w.finish(); }, {missing + ".tmp", "cannot create shard", "No such file or directory"});
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(Shards, TruncatedShardIsAnErrorNamingTheFile) {
  const std::string dir = fresh("truncated");
  const std::string path = pack_one(dir, samples());
  fs::resize_file(path, fs::file_size(path) / 2);
  expect_error(
      [&] {
        ShardReader r(path);
        for (std::int64_t i = 0; i < r.size(); ++i) r.image_bytes(i);
      },
      {path});
}

TEST(Shards, ForeignFilesAreErrorsNamingTheFile) {
  const std::string dir = fresh("foreign");
  std::ofstream(dir + "/text.h5") << "hello";
  expect_error([&] { ShardReader r(dir + "/text.h5"); }, {dir + "/text.h5", "not an HDF5 file"});
  expect_error([&] { ShardReader r(dir + "/absent.h5"); }, {dir + "/absent.h5"});

  const std::string plain = dir + "/plain.h5";  // a valid HDF5 file, but no shard
  const hid_t f = H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hsize_t dims[1] = {3};
  const hid_t space = H5Screate_simple(1, dims, nullptr);
  const hid_t ds = H5Dcreate2(f, "data", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
  expect_error([&] { ShardReader r(plain); }, {plain, "not a c2am shard", "'format'"});
}

TEST(Shards, NewerVersionMissingDatasetAndBadOffsetsAreErrors) {
  const std::string dir = fresh("damaged");
  const std::string path = pack_one(dir, samples());
  const std::string copy = dir + "/copy.h5";
  auto fresh_copy = [&] { fs::copy_file(path, copy, fs::copy_options::overwrite_existing); };

  fresh_copy();
  edit_hdf5(copy, [](hid_t f) { replace_int_attr(f, "version", 3); });
  expect_error([&] { ShardReader r(copy); }, {copy, "version 3 is newer"});

  fresh_copy();
  edit_hdf5(copy, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/images/label", H5P_DEFAULT), 0); });
  expect_error([&] { ShardReader r(copy); }, {copy, "'/images/label' is missing"});

  fresh_copy();
  edit_hdf5(copy, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/boxes", H5P_DEFAULT), 0); });
  expect_error([&] { ShardReader r(copy); }, {copy, "/boxes/data' is missing"});

  fresh_copy();  // found by fuzzing: count + 1 overflowed (UBSan)
  edit_hdf5(copy, [](hid_t f) { replace_int_attr(f, "count", INT64_MAX); });
  expect_error([&] { ShardReader r(copy); }, {copy, "attribute 'count' is 9223372036854775807"});

  fresh_copy();
  edit_hdf5(copy, [](hid_t f) { replace_int_attr(f, "count", 4); });
  expect_error([&] { ShardReader r(copy); }, {copy, "'/images/offsets' has shape (6,), expected (5,)"});

  ShardReader good(path);
  std::vector<std::uint64_t> off;
  for (std::int64_t i = 0; i < good.size(); ++i)
    off.push_back(i == 0 ? 0 : off.back() + good.image_bytes(i - 1).size());
  off.push_back(off.back() + good.image_bytes(4).size());
  fresh_copy();
  auto decreasing = off;
  std::swap(decreasing[1], decreasing[2]);
  edit_hdf5(copy, [&](hid_t f) { overwrite_u64(f, "/images/offsets", decreasing); });
  expect_error([&] { ShardReader r(copy); }, {copy, "/images/offsets decreases at index 1"});

  fresh_copy();
  auto past_end = off;
  past_end.back() += 100;
  edit_hdf5(copy, [&](hid_t f) { overwrite_u64(f, "/images/offsets", past_end); });
  expect_error([&] { ShardReader r(copy); }, {copy, "/images/offsets ends at", "/images/bytes holds"});
}

TEST(Shards, IndexOutOfRangeNamesShardAndIndex) {
  const std::string dir = fresh("range");
  const std::string path = pack_one(dir, samples());
  ShardReader r(path);
  expect_error([&] { r.image_bytes(5); }, {path + "[5]", "out of range"});
  expect_error([&] { r.image_bytes(-1); }, {path + "[-1]"});
  expect_error([&] { r.name(7); }, {path + "[7]"});
}

TEST(Shards, ImagesSpanningChunksReadBackExactly) {
  const std::string dir = fresh("chunks");
  std::vector<PackedSample> ss(9);
  std::mt19937 rng(7);
  for (size_t i = 0; i < ss.size(); ++i) {  // ~2.7 MiB: images straddle the 1 MiB chunks
    ss[i].name = "big/" + std::to_string(i);
    ss[i].width = ss[i].height = 1;
    ss[i].bytes.resize(300000 + 1000 * i);
    for (auto& b : ss[i].bytes) b = static_cast<std::uint8_t>(rng());
  }
  ShardWriter w(dir + "/big.h5", ShardInfo{"folder", "train", 0, 1, "p"});
  for (const auto& s : ss) w.add(s);
  w.finish();
  ShardReader r(dir + "/big.h5");
  for (std::int64_t i = static_cast<std::int64_t>(ss.size()) - 1; i >= 0; --i)
    EXPECT_EQ(r.image_bytes(i), ss[i].bytes) << i;
}

// Format 2 reads no variable-length string (libhdf5's global heap, which a
// crafted file can point anywhere), and its metadata checksum covers the
// attributes: a string attribute replaced by another, fixed or variable, is refused.
TEST(Shards, Format2RefusesChangedOrVariableLengthStringAttributes) {
  const std::string dir = fresh("fixed_attr");
  const std::string path = pack_one(dir, samples());
  const std::string copy = dir + "/copy.h5";
  auto replace_split = [&](bool variable) {
    fs::copy_file(path, copy, fs::copy_options::overwrite_existing);
    edit_hdf5(copy, [&](hid_t f) {
      ASSERT_GE(H5Adelete(f, "split"), 0);
      const hid_t type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, variable ? H5T_VARIABLE : 5);
      const hid_t space = H5Screate(H5S_SCALAR);
      const hid_t a = H5Acreate2(f, "split", type, space, H5P_DEFAULT, H5P_DEFAULT);
      const char* vlen = "val";
      ASSERT_GE(variable ? H5Awrite(a, type, &vlen) : H5Awrite(a, type, "val\0\0"), 0);
      H5Aclose(a);
      H5Sclose(space);
      H5Tclose(type);
    });
  };
  replace_split(false);
  expect_error([&] { ShardReader r(copy); }, {copy, "metadata checksum mismatch"});
  replace_split(true);
  expect_error([&] { ShardReader r(copy); }, {copy, "attribute 'split' is a variable-length string"});
  ShardReader good(path);
  EXPECT_EQ(good.info().split, "train");
}

// Labels, sizes, boxes, names and the per-image checksums are covered by the
// metadata checksum: changing any of them in place (a valid HDF5 file) is
// refused at open, naming the file.
TEST(Shards, ChangedMetadataIsRefusedByTheMetadataChecksum) {
  const std::string dir = fresh("metadata");
  const std::string path = pack_one(dir, samples());
  const std::string copy = dir + "/copy.h5";
  auto edited = [&](const std::function<void(hid_t)>& edit) {
    fs::copy_file(path, copy, fs::copy_options::overwrite_existing);
    edit_hdf5(copy, edit);
    expect_error([&] { ShardReader r(copy); }, {copy, "metadata checksum mismatch"});
  };
  auto overwrite = [](hid_t f, const char* name, hid_t type, auto&& change) {
    const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    ASSERT_GE(ds, 0) << name;
    const hid_t space = H5Dget_space(ds);
    std::vector<std::uint8_t> raw(static_cast<size_t>(H5Sget_simple_extent_npoints(space)) * H5Tget_size(type));
    ASSERT_GE(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), 0);
    change(raw);
    ASSERT_GE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), 0);
    H5Sclose(space);
    H5Dclose(ds);
  };
  edited([&](hid_t f) { overwrite(f, "/images/label", H5T_NATIVE_INT32, [](auto& r) { r[0] ^= 1; }); });
  edited([&](hid_t f) { overwrite(f, "/images/size", H5T_NATIVE_INT32, [](auto& r) { r[4] ^= 1; }); });
  edited([&](hid_t f) { overwrite(f, "/boxes/data", H5T_NATIVE_FLOAT, [](auto& r) { r[5] ^= 0x40; }); });
  edited([&](hid_t f) { overwrite(f, "/images/name_bytes", H5T_NATIVE_UINT8, [](auto& r) { r[3] = 'X'; }); });
  edited([&](hid_t f) { overwrite(f, "/images/checksum", H5T_NATIVE_UINT64, [](auto& r) { r[9] ^= 1; }); });
  edited([&](hid_t f) { overwrite(f, "/masks/checksum", H5T_NATIVE_UINT64, [](auto& r) { r[0] ^= 1; }); });
  edited([&](hid_t f) { replace_int_attr(f, "shard_index", 1); });
  ShardReader good(path);
  EXPECT_EQ(good.size(), 5);
}

// Every read checks the bytes against their stored xxh64: the loader, eval
// and the WSSS commands all read through image_bytes / mask_bytes.
TEST(Shards, DamagedImageOrMaskBytesAreAnErrorNamingShardIndexAndName) {
  const std::string dir = fresh("flipped_read");
  const auto ss = samples();
  const std::string path = pack_one(dir, ss);
  const std::uint64_t second_image = ss[0].bytes.size() + 3;  // 4th byte of image 1
  const std::uint64_t mask_of_3 = ss[1].mask.size();  // only odd samples have masks
  ASSERT_FALSE(ss[3].mask.empty());
  edit_hdf5(path, [&](hid_t f) {
    for (const auto& [name, at] : {std::pair<const char*, std::uint64_t>{"/images/bytes", second_image},
                                   {"/masks/bytes", mask_of_3 + 2}}) {
      ASSERT_TRUE(c2am::testing_util::flip_dataset_byte(f, name, at, 0x10)) << name;
    }
  });
  ShardReader r(path);  // the metadata is intact
  expect_error([&] { r.image_bytes(1); }, {path + "[1] (" + ss[1].name + ")", "checksum mismatch"});
  expect_error([&] { r.mask_bytes(3); }, {path + "[3] (" + ss[3].name + ") mask", "checksum mismatch"});
  EXPECT_EQ(r.image_bytes(0), ss[0].bytes);
  EXPECT_EQ(r.mask_bytes(1), ss[1].mask);
}

// The manifest's header (the xxh64 of every byte outside the image and mask
// data) is checked before the file is parsed at all: a damaged HDF5
// structure is refused naming the file (a second line behind c2am's own HDF5
// reader, below; fuzzing found a use-after-free inside libhdf5 1.10.8 on a
// damaged object header: tests/fuzz/corpus/shard/regress-libhdf5-*.h5);
// damaged image bytes are the per-image checksums' business and leave the
// header intact.
TEST(Shards, ManifestHeaderKeepsDamagedStructuresAwayFromLibhdf5) {
  const std::string dir = fresh("header");
  const auto ss = samples();
  const std::string path = dir + "/train-00000.h5";
  {
    ShardWriter w(path, ShardInfo{"cub", "train", 0, 1, "plan-x"});
    for (const auto& s : ss) w.add(s);
    w.finish();
    const auto header = ShardReader(path).header();
    ASSERT_TRUE(header.has_value());
    ASSERT_EQ(header->data.size(), 2u);  // the images' and the masks' bytes
    write_manifest(dir, manifest_for(5, {ManifestShard{"train-00000.h5", 5, w.checksum(), header}}));
  }
  const Manifest m = read_manifest(dir);
  ASSERT_TRUE(m.shards[0].header.has_value());
  EXPECT_TRUE(verify_packed(dir, true, 1).problems.empty());
  const std::string good = c2am::util::read_file(path);
  auto write_with = [&](std::size_t at) {
    std::string bytes = good;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x04);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  };
  const auto [image_at, image_size] = m.shards[0].header->data[0];
  for (const std::size_t at : {std::size_t{60}, std::size_t{image_at - 1}, good.size() - 1}) {
    SCOPED_TRACE(at);
    write_with(at);
    expect_error([&] { ShardReader r(path, 1, &*m.shards[0].header); }, {path, "header checksum mismatch"});
    const VerifyReport v = verify_packed(dir, false, 1);
    ASSERT_EQ(v.problems.size(), 1u);
    EXPECT_TRUE(contains(v.problems[0], "header checksum mismatch")) << v.problems[0];
  }
  write_with(image_at + ss[0].bytes.size() + 5);  // inside image 1's bytes
  ShardReader r(path, 1, &*m.shards[0].header);
  expect_error([&] { r.image_bytes(1); }, {path + "[1]", "checksum mismatch"});
  std::ofstream(path, std::ios::binary | std::ios::trunc) << good.substr(0, image_at + image_size / 2);  // cut short
  expect_error([&] { ShardReader cut(path, 1, &*m.shards[0].header); }, {path, "does not fit the"});
}

// c2am's own HDF5 reader (data/h5_subset.h), which reads format 2 in place
// of libhdf5, sees what libhdf5 sees in a packed shard: every root attribute,
// every dataset's type, shape, bytes and file range.
TEST(Shards, OwnHdf5ReaderReadsWhatLibhdf5Reads) {
  namespace h5s = c2am::data::h5subset;
  const std::string dir = fresh("own_reader");
  const std::string path = pack_one(dir, samples());
  const h5s::File lite(path);
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  for (const char* name : {"format", "layout", "split", "plan_id", "metadata_checksum"}) {
    SCOPED_TRACE(name);
    const hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    const hid_t t = H5Aget_type(a);
    std::string value(H5Tget_size(t), '\0');
    ASSERT_GE(H5Aread(a, t, value.data()), 0);
    value.erase(value.find_last_not_of('\0') + 1);
    EXPECT_EQ(lite.attr_string(name, 1 << 16), value);
    H5Tclose(t);
    H5Aclose(a);
  }
  for (const char* name : {"version", "shard_index", "num_shards", "count"}) {
    std::int64_t v = -1;
    const hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    ASSERT_GE(H5Aread(a, H5T_NATIVE_INT64, &v), 0);
    H5Aclose(a);
    EXPECT_EQ(lite.attr_int(name), v) << name;
  }
  const std::vector<std::string> datasets = {"/images/bytes",        "/images/offsets",  "/images/label",
                                             "/images/size",         "/images/checksum", "/images/name_bytes",
                                             "/images/name_offsets", "/boxes/data",      "/boxes/offsets",
                                             "/masks/bytes",         "/masks/offsets",   "/masks/checksum"};
  for (const std::string& p : datasets) {
    SCOPED_TRACE(p);
    const h5s::Dataset& ds = lite.dataset(p);
    const hid_t d = H5Dopen2(f, p.c_str(), H5P_DEFAULT);
    ASSERT_GE(d, 0);
    const hid_t t = H5Dget_type(d);
    const hid_t space = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    const int rank = H5Sget_simple_extent_dims(space, dims, nullptr);
    ASSERT_EQ(ds.rank, rank);
    for (int i = 0; i < rank; ++i) EXPECT_EQ(ds.dims[i], dims[i]);
    EXPECT_EQ(ds.type.size, H5Tget_size(t));
    EXPECT_EQ(ds.address, H5Dget_offset(d));
    EXPECT_EQ(ds.storage, H5Dget_storage_size(d));
    std::string want(H5Tget_size(t) * ds.elements(), '\0');
    if (!want.empty()) {
      ASSERT_GE(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, want.data()), 0);
    }
    std::string got;
    const std::uint64_t columns = rank == 2 ? dims[1] : 1;
    if (H5Tget_class(t) == H5T_FLOAT) {
      const auto v = lite.read<float>(p, columns);
      got.assign(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    } else if (H5Tget_size(t) == 1) {
      const auto v = lite.read<std::uint8_t>(p, columns);
      got.assign(v.begin(), v.end());
      if (!v.empty()) {
        EXPECT_EQ(lite.read_bytes(ds, "here", 1, 3), std::vector<std::uint8_t>(v.begin() + 1, v.begin() + 3));
      }
    } else if (H5Tget_size(t) == 4) {
      const auto v = lite.read<std::int32_t>(p, columns);
      got.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    } else {
      const auto v = lite.read<std::uint64_t>(p, columns);
      got.assign(reinterpret_cast<const char*>(v.data()), v.size() * 8);
    }
    EXPECT_EQ(got, want);
    H5Sclose(space);
    H5Tclose(t);
    H5Dclose(d);
  }
  H5Fclose(f);
  EXPECT_TRUE(lite.exists("/masks"));
  EXPECT_FALSE(lite.exists("/nothing"));
  expect_error([&] { (void)lite.dataset("/nothing"); }, {path, "dataset '/nothing' is missing"});
  expect_error([&] { (void)lite.read<std::uint64_t>("/images/label"); },
               {path, "'/images/label' is of type int32"});
}

// What pack never writes is refused by name, before anything is read: a
// second name for an object, chunked, big-endian or non-IEEE data, HDF5's
// newer file formats.
TEST(Shards, OwnHdf5ReaderRefusesWhatPackDoesNotWrite) {
  const std::string dir = fresh("own_reader_refuses");
  const std::string path = pack_one(dir, samples());
  const std::string copy = dir + "/copy.h5";
  auto fresh_copy = [&] { fs::copy_file(path, copy, fs::copy_options::overwrite_existing); };
  auto replace_label = [&](hid_t type, bool chunked) {
    edit_hdf5(copy, [&](hid_t f) {
      ASSERT_GE(H5Ldelete(f, "/images/label", H5P_DEFAULT), 0);
      const hsize_t dims[1] = {5};
      const hid_t space = H5Screate_simple(1, dims, nullptr);
      const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      if (chunked) {
        ASSERT_GE(H5Pset_chunk(dcpl, 1, dims), 0);
      }
      const hid_t d = H5Dcreate2(f, "/images/label", type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
      ASSERT_GE(d, 0);
      const std::int32_t v[5] = {0, 1, 2, 3, 4};
      ASSERT_GE(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
      H5Dclose(d);
      H5Pclose(dcpl);
      H5Sclose(space);
    });
  };
  fresh_copy();
  replace_label(H5T_STD_I32LE, true);
  expect_error([&] { ShardReader r(copy); }, {copy, "'/images/label' is not stored contiguously"});
  fresh_copy();
  replace_label(H5T_STD_I32BE, false);
  expect_error([&] { ShardReader r(copy); },
               {copy, "'/images/label' is of type int32 big-endian, format 2 stores int32"});
  fresh_copy();
  edit_hdf5(copy, [](hid_t f) {
    ASSERT_GE(H5Lcreate_hard(f, "/images/label", f, "/alias", H5P_DEFAULT, H5P_DEFAULT), 0);
  });
  expect_error([&] { ShardReader r(copy); }, {copy, "is a second name of an object already reached"});

  const std::string latest = dir + "/latest.h5";  // superblock 3, object headers 2
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  ASSERT_GE(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), 0);
  const hid_t f = H5Fcreate(latest.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  ASSERT_GE(f, 0);
  H5Fclose(f);
  H5Pclose(fapl);
  expect_error([&] { ShardReader r(latest); }, {latest, "superblock version 3"});
}

// Every input that made libhdf5 crash, read out of bounds, read freed memory
// or allocate gigabytes when the fuzz harness opened it as a shard
// (tests/fuzz/corpus/shard/regress-libhdf5-*.h5) is now a plain error naming the file: format
// 2 is read by c2am's own reader, and libhdf5 opens a format-1 shard only
// after that reader parsed its structure.
TEST(Shards, InputsThatCrashedLibhdf5AreErrorsNamingTheFile) {
  const fs::path findings = fs::path(C2AM_SOURCE_DIR) / "tests/fuzz/corpus/shard";
  int seen = 0;
  for (const auto& e : fs::directory_iterator(findings)) {
    if (e.path().filename().string().rfind("regress-libhdf5-", 0) != 0) continue;
    ++seen;
    SCOPED_TRACE(e.path().filename().string());
    for (const int oldest : {1, 2})
      expect_error([&] { ShardReader r(e.path().string(), oldest); }, {e.path().string()});
  }
  EXPECT_GE(seen, 5);
}

// Every flip of every byte outside the image and mask data, and every
// truncation, of a packed shard opened without its manifest: an error naming
// the file, or a shard that still reads (a byte no reader uses). Never a
// crash, never another exception (the sanitized build runs this too).
TEST(Shards, EveryDamagedStructureByteAndEveryTruncationIsAnErrorOrHarmless) {
  const std::string dir = fresh("every_byte");
  const std::string path = pack_one(dir, samples());
  const std::string good = c2am::util::read_file(path);
  const auto header = ShardReader(path).header();
  ASSERT_TRUE(header.has_value());
  const std::string copy = dir + "/copy.h5";
  auto in_data = [&](std::size_t at) {
    for (const auto& [o, n] : header->data)
      if (at >= o && at < o + n) return true;
    return false;
  };
  auto open_all = [&](const std::string& bytes) {
    std::ofstream(copy, std::ios::binary | std::ios::trunc) << bytes;
    try {
      ShardReader r(copy, 2);
      for (std::int64_t i = 0; i < r.size(); ++i) {
        (void)r.image_bytes(i);
        (void)r.mask_bytes(i);
      }
      return 0;
    } catch (const c2am::Error& e) {
      EXPECT_TRUE(contains(e.what(), copy)) << e.what();
      return 1;
    }
  };
  int refused = 0, read = 0;
  for (std::size_t at = 0; at < good.size(); ++at) {
    if (in_data(at)) continue;
    std::string bytes = good;
    bytes[at] = static_cast<char>(bytes[at] ^ 0xff);
    (open_all(bytes) != 0 ? refused : read) += 1;
  }
  for (std::size_t n = 0; n < good.size(); n += 7) EXPECT_EQ(open_all(good.substr(0, n)), 1) << n;
  // The metadata checksum catches every changed value; what still reads is
  // padding and fields no reader uses (reserved bytes, free-space records).
  EXPECT_GT(refused, 0);
  std::printf("structure bytes flipped: %d refused, %d harmless\n", refused, read);
}

// A folder packed by c2am before format 2 (tests/fixtures/data/cub-v1, 3
// synthetic 32x32 images) stays readable: names, labels, sizes and boxes as
// packed, images checked against their xxh64; a reader that accepts only
// format 2 refuses it naming the version.
TEST(Shards, Format1FoldersStayReadable) {
  const std::string dir = std::string(C2AM_SOURCE_DIR) + "/tests/fixtures/data/cub-v1";
  const Manifest m = read_manifest(dir);
  EXPECT_EQ(m.version, 1);
  ASSERT_EQ(m.shards.size(), 2u);
  ShardReader r(dir + "/shard-00000.h5");
  ASSERT_EQ(r.size(), 2);
  EXPECT_EQ(r.name(1), "images/001.Stripes_1/Stripes_1_0003.jpg");
  EXPECT_EQ(r.label(1), 0);
  EXPECT_EQ(r.width(1), 32);
  ASSERT_EQ(r.boxes(1).size(), 1u);
  EXPECT_EQ(r.boxes(1)[0].x0, 16.0f);
  EXPECT_EQ(r.boxes(1)[0].y1, 22.0f);
  EXPECT_EQ(checksum64(r.image_bytes(1).data(), r.image_bytes(1).size()), 0xc75dcb30deaa50e2u);
  const VerifyReport v = verify_packed(dir, /*decode=*/true, 1);
  EXPECT_TRUE(v.problems.empty()) << v.problems.front();
  EXPECT_EQ(v.decoded, 3);
  expect_error([&] { ShardReader strict(dir + "/shard-00000.h5", /*oldest_version=*/2); },
               {"shard-00000.h5", "format version 1 is refused here"});
}

TEST(Shards, ConcurrentReadsReturnTheRightBytes) {
  const std::string dir = fresh("threads");
  const auto ss = samples();
  ShardReader r(pack_one(dir, ss));
  std::vector<std::thread> pool;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int k = 0; k < 200; ++k) {
        const int i = static_cast<int>(rng() % 5);
        if (r.image_bytes(i) != ss[i].bytes || r.mask_bytes(i) != ss[i].mask) ++wrong;
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(wrong, 0);
}

TEST(Shards, VerifyPassesOnAGoodPack) {
  const std::string dir = fresh("verify_good");
  pack_one(dir, samples());
  const VerifyReport v = verify_packed(dir, /*decode=*/true, 3);
  EXPECT_TRUE(v.problems.empty()) << v.problems.front();
  EXPECT_EQ(v.images, 5);
  EXPECT_EQ(v.decoded, 5);
}

TEST(Shards, VerifyNamesShardAndIndexOfAFlippedByte) {
  const std::string dir = fresh("verify_flip");
  const std::string path = pack_one(dir, samples());
  std::uint64_t start = 0;
  {
    ShardReader r(path);
    start = r.image_bytes(0).size() + r.image_bytes(1).size() / 2;  // the middle of image 1
  }
  edit_hdf5(path, [&](hid_t f) {
    ASSERT_TRUE(c2am::testing_util::flip_dataset_byte(f, "/images/bytes", start, 0xFF));
  });
  const VerifyReport v = verify_packed(dir, /*decode=*/false, 2);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_TRUE(contains(v.problems[0], path + "[1] (images/a/img_1.jpg): checksum mismatch")) << v.problems[0];
}

TEST(Shards, VerifyWithDecodeNamesAnUndecodableImage) {
  const std::string dir = fresh("verify_decode");
  auto ss = samples();
  ss[4].bytes = std::vector<std::uint8_t>(64, 0x33);  // stored with a correct checksum, but no JPEG
  const std::string path = pack_one(dir, ss);
  EXPECT_TRUE(verify_packed(dir, /*decode=*/false, 2).problems.empty());
  const VerifyReport v = verify_packed(dir, /*decode=*/true, 2);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_TRUE(contains(v.problems[0], path + "[4] (images/a/img_4.jpg): ")) << v.problems[0];
  EXPECT_EQ(v.decoded, 4);
}

TEST(Shards, VerifyReportsManifestMismatchesMissingShardsAndDuplicateNames) {
  const std::string dir = fresh("verify_manifest");
  ShardWriter a(dir + "/a.h5", ShardInfo{"cub", "train", 0, 3, "plan-x"});
  ShardWriter b(dir + "/b.h5", ShardInfo{"cub", "train", 1, 3, "other-plan"});
  for (const auto& s : samples("x/")) a.add(s);
  for (const auto& s : samples("y/")) b.add(s);  // both hold kUnicodeName
  a.finish();
  b.finish();
  write_manifest(dir,
                 manifest_for(15, {ManifestShard{"a.h5", 5, a.checksum() ^ 1, std::nullopt},
                                   ManifestShard{"b.h5", 5, b.checksum(), std::nullopt}, ManifestShard{"c.h5", 5, 0, std::nullopt}}));
  const VerifyReport v = verify_packed(dir, /*decode=*/false, 1);
  std::string all;
  for (const auto& p : v.problems) all += p + "\n";
  EXPECT_EQ(v.problems.size(), 4u) << all;
  EXPECT_TRUE(contains(all, dir + "/a.h5: shard checksum")) << all;
  EXPECT_TRUE(contains(all, dir + "/b.h5: attribute 'plan_id' is 'other-plan', but " + dir + "/" +
                                kManifestName + " says 'plan-x' (shards[1])"))
      << all;
  EXPECT_TRUE(contains(all, dir + "/b.h5[3] (" + kUnicodeName + "): name also used by " + dir + "/a.h5[3]"))
      << all;
  EXPECT_TRUE(contains(all, dir + "/c.h5")) << all;
}

TEST(Shards, ManifestRoundTripKeepsSixtyFourBitChecksums) {
  const std::string dir = fresh("manifest");
  const std::uint64_t big = 0xFEDCBA9876543211ull;  // not representable as a double
  Manifest m = manifest_for(7, {ManifestShard{"s0.h5", 3, big, std::nullopt}, ManifestShard{"s1.h5", 4, ~0ull, std::nullopt}});
  write_manifest(dir, m);
  const Manifest r = read_manifest(dir);
  EXPECT_EQ(r.format, kShardFormat);
  EXPECT_EQ(r.version, kShardFormatVersion);
  EXPECT_EQ(r.layout, m.layout);
  EXPECT_EQ(r.split, m.split);
  EXPECT_EQ(r.source, m.source);
  EXPECT_EQ(r.plan_id, m.plan_id);
  EXPECT_EQ(r.classes, m.classes);
  EXPECT_EQ(r.count, 7);
  EXPECT_EQ(r.options_json, m.options_json);
  ASSERT_EQ(r.shards.size(), 2u);
  EXPECT_EQ(r.shards[0].file, "s0.h5");
  EXPECT_EQ(r.shards[0].count, 3);
  EXPECT_EQ(r.shards[0].checksum, big);
  EXPECT_EQ(r.shards[1].checksum, ~0ull);
  std::ifstream in(dir + "/" + kManifestName);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(contains(text, "\"fedcba9876543211\"")) << text;
}

TEST(Shards, ManifestErrorsNameTheFileAndKey) {
  const std::string dir = fresh("manifest_bad");
  expect_error([&] { read_manifest(dir); }, {dir, kManifestName});
  expect_error([&] { verify_packed(dir, false, 1); }, {dir, kManifestName});
  const std::string file = dir + "/" + kManifestName;
  auto write = [&](const std::string& text) { std::ofstream(file) << text; };
  const std::string head =
      R"({"format": "c2am-shards", "version": 1, "layout": "cub", "split": "train", "source": "/s",
                               "classes": [], "count": 1, "options": {},)";
  write(head + R"("plan_id": "p", "shards": [{"file": "s.h5", "count": 1, "checksum": "12zz"}]})");
  expect_error([&] { read_manifest(dir); }, {file, "shards[0].checksum", "12zz"});
  write(head + R"("shards": []})");
  expect_error([&] { read_manifest(dir); }, {file, "'plan_id' is missing"});
  write(head + R"("plan_id": "p", "shards": [{"file": "s.h5", "count": "one", "checksum": "1"}]})");
  expect_error([&] { read_manifest(dir); }, {file, "shards[0].count", "wrong type"});
  write(head + R"("plan_id": "p", "shards": [{"file": "s.h5", "count": 2, "checksum": "1"}]})");
  expect_error([&] { read_manifest(dir); }, {file, "'count' is 1", "add up to 2"});
  write(R"({"format": "c2am-shards", "version": 3})");
  expect_error([&] { read_manifest(dir); }, {file, "'version' is 3, newer"});
  write("{ not json");
  expect_error([&] { read_manifest(dir); }, {file, "not valid JSON"});
}

// A manifest decides which files the reader opens: it may name only files
// inside its folder, each once.
TEST(Shards, ManifestPathsOutsideTheFolderAndShardsListedTwiceAreRefused) {
  const std::string dir = fresh("manifest_paths");
  const std::string file = dir + "/" + kManifestName;
  auto with_files = [&](std::vector<std::string> files) {
    std::vector<ManifestShard> shards;
    for (const auto& f : files) shards.push_back(ManifestShard{f, 1, 7, std::nullopt});
    write_manifest(dir, manifest_for(static_cast<std::int64_t>(files.size()), shards));
  };
  with_files({"../other_split/shard-00000.h5"});
  expect_error([&] { read_manifest(dir); },
               {file, "shards[0].file", "'../other_split/shard-00000.h5'", "'..' component"});
  with_files({"sub/../../x.h5"});
  expect_error([&] { read_manifest(dir); }, {file, "shards[0].file", "'..' component"});
  with_files({"/etc/passwd"});
  expect_error([&] { read_manifest(dir); }, {file, "shards[0].file", "absolute"});
  with_files({"a.h5", "b.h5", "./a.h5"});
  expect_error([&] { read_manifest(dir); },
               {file, "shards[2].file", "'./a.h5' is listed twice", "shards[0]"});
  with_files({"..\\x.h5"});
  expect_error([&] { read_manifest(dir); }, {file, "backslash"});
  // verify reads the manifest the same way.
  with_files({"a.h5", "a.h5"});
  expect_error([&] { verify_packed(dir, false, 1); }, {file, "listed twice"});
  with_files({"a.h5", "sub/b.h5"});  // a subfolder inside is fine
  EXPECT_EQ(read_manifest(dir).shards[1].file, "sub/b.h5");
}

// A shard is opened only if it cannot make HDF5 open another file: no
// external (or soft, or user-defined) links, no external raw storage, no
// virtual datasets. Each is planted in a real shard with the HDF5 API.
TEST(Shards, ReaderRefusesExternalLinksExternalStorageAndVirtualDatasets) {
  const std::string dir = fresh("foreign_storage");
  const auto ss = samples();
  const std::string other = dir + "/other.h5";  // a file the attacker wants read
  {
    ShardWriter w(other, ShardInfo{"cub", "train", 0, 1, "plan-x"});
    for (const auto& s : ss) w.add(s);
    w.finish();
  }
  struct Attack {
    const char* name;
    std::function<void(hid_t)> plant;
    std::vector<std::string> expect;
  };
  const std::vector<Attack> attacks = {
      {"external_link",
       [&](hid_t f) {
         ASSERT_GE(H5Ldelete(f, "/images/label", H5P_DEFAULT), 0);
         ASSERT_GE(
             H5Lcreate_external(other.c_str(), "/images/label", f, "/images/label", H5P_DEFAULT, H5P_DEFAULT),
             0);
       },
       {"'/images/label' is an external link", other, "refused"}},
      {"soft_link",
       [&](hid_t f) { ASSERT_GE(H5Lcreate_soft("/images/bytes", f, "/alias", H5P_DEFAULT, H5P_DEFAULT), 0); },
       {"'/alias' is a soft link", "refused"}},
      {"external_storage",
       [&](hid_t f) {
         const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
         ASSERT_GE(H5Pset_external(dcpl, "/etc/hostname", 0, 16), 0);
         const hsize_t dims[1] = {16};
         const hid_t space = H5Screate_simple(1, dims, nullptr);
         const hid_t ds =
             H5Dcreate2(f, "/images/extra", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
         ASSERT_GE(ds, 0);
         H5Dclose(ds);
         H5Sclose(space);
         H5Pclose(dcpl);
       },
       {"dataset '/images/extra' stores its data in 1 external file(s)", "/etc/hostname", "refused"}},
      {"virtual_dataset",
       [&](hid_t f) {
         const hsize_t dims[1] = {4};
         const hid_t space = H5Screate_simple(1, dims, nullptr);
         const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
         ASSERT_GE(H5Pset_virtual(dcpl, space, other.c_str(), "/images/label", space), 0);
         const hid_t ds =
             H5Dcreate2(f, "/boxes/virtual", H5T_NATIVE_INT32, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
         ASSERT_GE(ds, 0);
         H5Dclose(ds);
         H5Pclose(dcpl);
         H5Sclose(space);
       },
       {"dataset '/boxes/virtual' is a virtual dataset", "refused"}},
  };
  for (const Attack& a : attacks) {
    SCOPED_TRACE(a.name);
    const std::string sub = dir + "/" + a.name;
    fs::create_directories(sub);
    const std::string path = pack_one(sub, ss);
    edit_hdf5(path, a.plant);
    std::vector<std::string> parts = a.expect;
    parts.push_back(path);
    for (const auto& p : parts) expect_error([&] { ShardReader r(path); }, {p});
    const VerifyReport v = verify_packed(sub, /*decode=*/false, 1);
    ASSERT_EQ(v.problems.size(), 1u);
    for (const auto& p : parts) EXPECT_TRUE(contains(v.problems[0], p)) << p << " | " << v.problems[0];
  }
}

// The documented layout as h5py (the Python users' view) sees it; a missing
// h5py is a failure, not a skip.
TEST(Shards, H5pyReadsTheDocumentedLayout) {
  const std::string dir = fresh("h5py");
  const auto ss = samples();
  const std::string path = pack_one(dir, ss);
  const std::string script = dir + "/c2am_h5py_check.py", out = dir + "/h5py.txt";
  std::ofstream(script) << R"(import sys
import h5py
f = h5py.File(sys.argv[1], "r")
f.visititems(lambda n, o: print("dataset", n, o.dtype, o.shape) if isinstance(o, h5py.Dataset) else None)
for k in sorted(f.attrs):
    v = f.attrs[k]
    print("attr", k, type(v).__name__, v.decode() if isinstance(v, bytes) else v)
nb, no = f["images/name_bytes"][:].tobytes(), f["images/name_offsets"][:]
names = [nb[no[i]:no[i + 1]].decode("utf-8") for i in range(len(no) - 1)]
print("name3", names[3] == "images/\u00fc/\u00dcn\u00efcode_3.jpg", names[0])
o = f["images/offsets"]
print("image1", len(f["images/bytes"][o[1]:o[2]].tobytes()), hex(int(f["images/checksum"][1])))
b = f["boxes/offsets"]
print("boxes3", f["boxes/data"][b[3]:b[4]].tolist())
)";
  const std::string cmd = "/usr/bin/python3 " + script + " " + path + " > " + out + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << "python3 with h5py (Debian: python3-h5py) must read the shard:\n" << text;
  const std::string bytes_total = std::to_string([&] {
    size_t n = 0;
    for (const auto& s : ss) n += s.bytes.size();
    return n;
  }());
  size_t mask_total = 0;
  for (const auto& s : ss) mask_total += s.mask.size();
  for (const std::string& want :
       {"dataset images/bytes uint8 (" + bytes_total + ",)",
        std::string("dataset images/offsets uint64 (6,)"),
        std::string("dataset images/label int32 (5,)"),
        std::string("dataset images/size int32 (5, 2)"),
        std::string("dataset images/checksum uint64 (5,)"),
        std::string("dataset images/name_bytes uint8 ("),
        std::string("dataset images/name_offsets uint64 (6,)"),
        std::string("dataset masks/checksum uint64 (5,)"),
        std::string("dataset boxes/data float32 (6, 4)"),
        std::string("dataset boxes/offsets uint64 (6,)"),
        "dataset masks/bytes uint8 (" + std::to_string(mask_total) + ",)",
        std::string("dataset masks/offsets uint64 (6,)"),
        std::string("attr format bytes_ c2am-shards"),
        std::string("attr version int64 2"),
        std::string("attr layout bytes_ cub"),
        std::string("attr split bytes_ train"),
        std::string("attr metadata_checksum bytes_ xxh64:"),
        std::string("attr shard_index int64 0"),
        std::string("attr num_shards int64 1"),
        std::string("attr plan_id bytes_ plan-x"),
        std::string("attr count int64 5"),
        std::string("name3 True images/a/img_0.jpg"),
        fmt_image1(ss),
        std::string("boxes3 [[0.0, 2.0, 3.5, 4.25], [1.0, 2.0, 4.5, 5.25], [2.0, 2.0, 5.5, 6.25]]")}) {
    EXPECT_TRUE(contains(text, want)) << want << "\n" << text;
  }
}

}  // namespace
