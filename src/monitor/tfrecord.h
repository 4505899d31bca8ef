// Implements: TFRecord framing, the container of TensorBoard event files.
// Each record is: uint64 length (little-endian), uint32 masked CRC-32C of
// those 8 bytes, the data, uint32 masked CRC-32C of the data.
#pragma once
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace c2am::monitor {

inline constexpr std::size_t kRecordOverhead = 8 + 4 + 4;

// One framed record, ready to append to a file.
std::string frame_record(std::string_view data);

// Reads the records of one file in order, checking both CRCs. A record cut
// short at the end of the file (a writer still writing, or killed) ends the
// stream and sets truncated(); a CRC mismatch throws c2am::Error naming the
// file and the byte offset.
class RecordReader {
 public:
  explicit RecordReader(const std::string& path);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  std::optional<std::string> next();
  bool truncated() const { return truncated_; }
  std::uint64_t offset() const { return offset_; }  // bytes of whole records read so far

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t offset_ = 0;
  bool truncated_ = false;
};

}  // namespace c2am::monitor
