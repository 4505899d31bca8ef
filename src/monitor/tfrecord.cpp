// Implements: TFRecord framing and a checking reader (see tfrecord.h).
#include "monitor/tfrecord.h"

#include <fmt/core.h>

#include "monitor/crc32c.h"
#include "util/error.h"

namespace c2am::monitor {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

std::uint64_t get_le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::string frame_record(std::string_view data) {
  std::string out;
  out.reserve(data.size() + kRecordOverhead);
  const std::uint64_t n = data.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFFu));
  put_u32(out, mask_crc(crc32c(out.data(), 8)));
  out.append(data);
  put_u32(out, mask_crc(crc32c(data)));
  return out;
}

RecordReader::RecordReader(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) throw_errno("cannot open event file", path);
}

RecordReader::~RecordReader() {
  if (file_ != nullptr) std::fclose(file_);
}

std::optional<std::string> RecordReader::next() {
  if (truncated_) return std::nullopt;
  unsigned char header[12];
  const size_t got = std::fread(header, 1, sizeof header, file_);
  if (got == 0) return std::nullopt;
  if (got < sizeof header) {
    truncated_ = true;
    return std::nullopt;
  }
  const std::uint64_t length = get_le(header, 8);
  if (unmask_crc(static_cast<std::uint32_t>(get_le(header + 8, 4))) != crc32c(header, 8)) {
    throw Error(fmt::format("event file '{}': bad length checksum at byte {}", path_, offset_));
  }
  std::string data(length, '\0');
  unsigned char footer[4];
  if (std::fread(data.data(), 1, length, file_) < length || std::fread(footer, 1, 4, file_) < 4) {
    truncated_ = true;
    return std::nullopt;
  }
  if (unmask_crc(static_cast<std::uint32_t>(get_le(footer, 4))) != crc32c(data)) {
    throw Error(fmt::format("event file '{}': bad data checksum in the record at byte {}", path_, offset_));
  }
  offset_ += length + kRecordOverhead;
  return data;
}

}  // namespace c2am::monitor
