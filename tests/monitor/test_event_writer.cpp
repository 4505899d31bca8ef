// The event writer: TFRecord framing byte by byte, the wire format checked
// field by field against TensorBoard's field numbers with a hand decoder (not
// our generated code), libprotobuf's parser on the same bytes, and the resume
// purge across sessions.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "common/tiny_png.h"
#include "monitor/crc32c.h"
#include "monitor/event_writer.h"
#include "monitor/tensorboard_event.pb.h"
#include "monitor/tfrecord.h"
#include "util/error.h"

namespace c2am::monitor {
namespace {

namespace fs = std::filesystem;

using c2am::testing_util::png1x1;

fs::path fresh_dir(const std::string& name) {
  return c2am::testing_util::fresh_dir("c2am_test_events_" + name);
}

// A protobuf wire-format field, decoded by hand.
struct Field {
  int number = 0;
  int wire = 0;
  std::uint64_t varint = 0;  // wire 0; wire 1 / 5: the raw little-endian bits
  std::string bytes;         // wire 2
};

std::vector<Field> decode(const std::string& msg) {
  std::vector<Field> out;
  size_t i = 0;
  auto varint = [&] {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const auto b = static_cast<unsigned char>(msg.at(i++));
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < msg.size()) {
    const std::uint64_t key = varint();
    Field f;
    f.number = static_cast<int>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.wire == 0) {
      f.varint = varint();
    } else if (f.wire == 1 || f.wire == 5) {
      const int n = f.wire == 1 ? 8 : 4;
      for (int k = 0; k < n; ++k) f.varint |= static_cast<std::uint64_t>(static_cast<unsigned char>(msg.at(i + k))) << (8 * k);
      i += n;
    } else if (f.wire == 2) {
      const std::uint64_t len = varint();
      f.bytes = msg.substr(i, len);
      i += len;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire;
      break;
    }
    out.push_back(f);
  }
  return out;
}

const Field* find(const std::vector<Field>& fields, int number) {
  for (const Field& f : fields) {
    if (f.number == number) return &f;
  }
  return nullptr;
}

std::vector<std::string> records(const std::string& path) {
  RecordReader reader(path);
  std::vector<std::string> out;
  while (auto r = reader.next()) out.push_back(*r);
  EXPECT_FALSE(reader.truncated());
  return out;
}

TEST(TfRecord, FramesLengthAndDataWithMaskedCrc32c) {
  const std::string rec = frame_record("abc");
  ASSERT_EQ(rec.size(), 3 + kRecordOverhead);
  EXPECT_EQ(rec.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  auto u32 = [&](size_t at) {
    std::uint32_t v;
    std::memcpy(&v, rec.data() + at, 4);  // little-endian host
    return v;
  };
  EXPECT_EQ(u32(8), mask_crc(crc32c(rec.data(), 8)));
  EXPECT_EQ(rec.substr(12, 3), "abc");
  EXPECT_EQ(u32(15), mask_crc(crc32c("abc")));
}

TEST(TfRecord, ReaderChecksBothCrcsAndStopsAtATornTail) {
  const fs::path dir = fresh_dir("reader");
  fs::create_directories(dir);
  const std::string path = (dir / "f.tfevents").string();
  std::string bytes = frame_record("first") + frame_record("second");
  std::ofstream(path, std::ios::binary) << bytes << frame_record("third").substr(0, 10);
  {
    RecordReader r(path);
    EXPECT_EQ(*r.next(), "first");
    EXPECT_EQ(*r.next(), "second");
    EXPECT_FALSE(r.next().has_value());
    EXPECT_TRUE(r.truncated());
  }
  bytes[12 + 2] ^= 0x20;  // one bit of the first record's data
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  RecordReader r(path);
  EXPECT_THROW(r.next(), Error);
  fs::remove_all(dir);
}

TEST(EventWriter, WritesTensorBoardFieldNumbersThatLibprotobufParses) {
  const fs::path dir = fresh_dir("wire");
  std::string file;
  {
    EventWriter w(dir.string(), 0);
    w.add_scalars(7, {{"train/loss", 1.5}, {"train/lr", 0.25}});
    w.add_image("eval/heatmaps", 8, png1x1());
    w.add_text("config", 0, "    [model]");
    file = w.file();
    EXPECT_EQ(w.records(), 5);
  }
  EXPECT_NE(fs::path(file).filename().string().find("events.out.tfevents."), std::string::npos);
  const std::vector<std::string> recs = records(file);
  ASSERT_EQ(recs.size(), 5u);

  // Event.file_version = 3 (string), wall_time = 1 (double).
  const auto v = decode(recs[0]);
  ASSERT_NE(find(v, 3), nullptr);
  EXPECT_EQ(find(v, 3)->bytes, "brain.Event:2");
  ASSERT_NE(find(v, 1), nullptr);
  EXPECT_EQ(find(v, 1)->wire, 1);
  // Event.session_log = 7 { status = 1: START = 1 }, step = 2 (0 is not written in proto3).
  const auto start = decode(recs[1]);
  ASSERT_NE(find(start, 7), nullptr);
  EXPECT_EQ(find(decode(find(start, 7)->bytes), 1)->varint, 1u);
  // Event.step = 2, summary = 5 { value = 1 { tag = 1, simple_value = 2 (float) } }.
  const auto scalars = decode(recs[2]);
  EXPECT_EQ(find(scalars, 2)->varint, 7u);
  const auto summary = decode(find(scalars, 5)->bytes);
  ASSERT_EQ(summary.size(), 2u);
  const auto value = decode(summary[0].bytes);
  EXPECT_EQ(summary[0].number, 1);
  EXPECT_EQ(find(value, 1)->bytes, "train/loss");
  ASSERT_EQ(find(value, 2)->wire, 5);
  float f;
  const auto bits = static_cast<std::uint32_t>(find(value, 2)->varint);
  std::memcpy(&f, &bits, 4);
  EXPECT_EQ(f, 1.5f);
  // value.image = 4 { height = 1, width = 2, colorspace = 3, encoded_image_string = 4 }.
  const auto image = decode(find(decode(find(decode(find(decode(recs[3]), 5)->bytes), 1)->bytes), 4)->bytes);
  EXPECT_EQ(find(image, 1)->varint, 1u);
  EXPECT_EQ(find(image, 2)->varint, 1u);
  EXPECT_EQ(find(image, 3)->varint, 3u);
  EXPECT_EQ(find(image, 4)->bytes, png1x1());
  // value.metadata = 9 { plugin_data = 1 { plugin_name = 1 } }, value.tensor = 8
  // { dtype = 1 (DT_STRING = 7), tensor_shape = 2 { dim = 2 { size = 1 } }, string_val = 8 }.
  const auto text = decode(find(decode(find(decode(recs[4]), 5)->bytes), 1)->bytes);
  EXPECT_EQ(find(decode(find(decode(find(text, 9)->bytes), 1)->bytes), 1)->bytes, "text");
  const auto tensor = decode(find(text, 8)->bytes);
  EXPECT_EQ(find(tensor, 1)->varint, 7u);
  EXPECT_EQ(find(decode(find(decode(find(tensor, 2)->bytes), 2)->bytes), 1)->varint, 1u);
  EXPECT_EQ(find(tensor, 8)->bytes, "    [model]");

  // libprotobuf's parser reads the same records.
  tb::Event e;
  ASSERT_TRUE(e.ParseFromString(recs[2]));
  EXPECT_EQ(e.step(), 7);
  ASSERT_EQ(e.summary().value_size(), 2);
  EXPECT_EQ(e.summary().value(1).tag(), "train/lr");
  EXPECT_FLOAT_EQ(e.summary().value(1).simple_value(), 0.25f);
  ASSERT_TRUE(e.ParseFromString(recs[1]));
  EXPECT_EQ(e.session_log().status(), tb::SessionLog::START);
  ASSERT_TRUE(e.ParseFromString(recs[3]));
  EXPECT_EQ(e.summary().value(0).image().encoded_image_string(), png1x1());
  fs::remove_all(dir);
}

// step -> values of `tag` over every event file of `dir`, in TensorBoard's file order.
std::map<std::int64_t, std::vector<float>> scalars_of(const fs::path& dir, const std::string& tag) {
  std::map<std::int64_t, std::vector<float>> out;
  for (const std::string& f : list_event_files(dir.string())) {
    for (const std::string& r : records(f)) {
      tb::Event e;
      EXPECT_TRUE(e.ParseFromString(r));
      for (const auto& v : e.summary().value()) {
        if (v.tag() == tag) out[e.step()].push_back(v.simple_value());
      }
    }
  }
  return out;
}

TEST(EventWriter, ResumeDropsTheEarlierSessionsStepsFromTheStartStepOn) {
  const fs::path dir = fresh_dir("resume");
  {
    EventWriter w(dir.string(), 0);
    for (int s : {10, 20, 30}) w.add_scalar("train/loss", s, s);
    w.add_image("eval/heatmaps", 30, png1x1());
  }
  {
    EventWriter w(dir.string(), 25);  // resumed from the checkpoint of step 24: step 30 is trained again
    EXPECT_EQ(w.purge_report().records_removed, 2);
    EXPECT_EQ(w.purge_report().files_rewritten, 1);
    for (int s : {30, 40}) w.add_scalar("train/loss", s, s + 0.5);
  }
  const auto files = list_event_files(dir.string());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_LT(files[0], files[1]);  // the new session's file sorts last even within the same second
  const auto loss = scalars_of(dir, "train/loss");
  ASSERT_EQ(loss.size(), 4u);
  EXPECT_EQ(loss.at(10), std::vector<float>{10});
  EXPECT_EQ(loss.at(20), std::vector<float>{20});
  EXPECT_EQ(loss.at(30), std::vector<float>{30.5f});
  EXPECT_EQ(loss.at(40), std::vector<float>{40.5f});
  EXPECT_TRUE(scalars_of(dir, "eval/heatmaps").empty());
  {
    EventWriter w(dir.string(), 0);  // a fresh start: nothing earlier survives, emptied files go
    EXPECT_EQ(w.purge_report().files_deleted, 2);
  }
  EXPECT_EQ(list_event_files(dir.string()).size(), 1u);
  EXPECT_TRUE(scalars_of(dir, "train/loss").empty());
  fs::remove_all(dir);
}

TEST(EventWriter, ResumeRepairsAFileCutShortByAKill) {
  const fs::path dir = fresh_dir("torn");
  std::string first;
  {
    EventWriter w(dir.string(), 0);
    w.add_scalar("train/loss", 1, 1);
    first = w.file();
  }
  std::ofstream(first, std::ios::binary | std::ios::app) << frame_record("partial").substr(0, 9);
  EventWriter w(dir.string(), 5);
  ASSERT_EQ(w.purge_report().damaged.size(), 1u);
  RecordReader r(first);
  int n = 0;
  while (r.next()) ++n;
  EXPECT_FALSE(r.truncated());
  EXPECT_EQ(n, 3);  // file version, start, the scalar
  fs::remove_all(dir);
}

TEST(EventWriter, RejectsAnImageThatIsNotAPng) {
  const fs::path dir = fresh_dir("notpng");
  EventWriter w(dir.string(), 0);
  EXPECT_THROW(w.add_image("x", 0, "GIF89a..."), Error);
  const PngInfo info = png_info(png1x1());
  EXPECT_EQ(info.width, 1);
  EXPECT_EQ(info.colorspace, 3);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace c2am::monitor
