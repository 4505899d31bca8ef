// Implements: libpng encode/decode in memory. libpng reports errors by
// longjmp: each setjmp lives in a small function whose frame holds only
// pointers and PODs (no destructor is ever skipped); the caller owns the
// libpng structs through a guard and turns failure into c2am::Error.
#include "image/png.h"

#include <fmt/core.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "util/error.h"
#include "util/fs.h"

namespace c2am::image {
namespace {

struct PngErrorCtx {
  char message[512] = {0};
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* ctx = static_cast<PngErrorCtx*>(png_get_error_ptr(png));
  std::snprintf(ctx->message, sizeof ctx->message, "%s", msg != nullptr ? msg : "unknown error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// ---- writing ---------------------------------------------------------------

struct WriteGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  WriteGuard() = default;
  WriteGuard(const WriteGuard&) = delete;
  WriteGuard& operator=(const WriteGuard&) = delete;
  ~WriteGuard() {
    if (png != nullptr) png_destroy_write_struct(&png, &info);
  }
};

struct EncodeJob {
  int width = 0;
  int height = 0;
  int color_type = 0;
  int bit_depth = 8;
  const std::uint8_t* data = nullptr;
  size_t row_bytes = 0;
  const png_color* palette = nullptr;
  int palette_size = 0;
  std::string* out = nullptr;
};

void append_to_string(png_structp png, png_bytep data, size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), length);
}

bool run_encode(png_structp png, png_infop info, const EncodeJob* job) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, job->out, append_to_string, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(job->width), static_cast<png_uint_32>(job->height),
               job->bit_depth, job->color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (job->palette != nullptr) png_set_PLTE(png, info, job->palette, job->palette_size);
  png_write_info(png, info);
  for (int y = 0; y < job->height; ++y)
    png_write_row(png, job->data + static_cast<size_t>(y) * job->row_bytes);
  png_write_end(png, nullptr);
  return true;
}

std::string encode(EncodeJob job, const std::string& name) {
  if (job.width <= 0 || job.height <= 0)
    throw Error(fmt::format("cannot encode PNG '{}': bad size {}x{}", name, job.width, job.height));
  PngErrorCtx err;
  WriteGuard guard;
  guard.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error, on_png_warning);
  if (guard.png == nullptr) throw Error(fmt::format("cannot encode PNG '{}': libpng init failed", name));
  guard.info = png_create_info_struct(guard.png);
  if (guard.info == nullptr) throw Error(fmt::format("cannot encode PNG '{}': libpng init failed", name));
  std::string out;
  job.out = &out;
  if (!run_encode(guard.png, guard.info, &job))
    throw Error(fmt::format("cannot encode PNG '{}': libpng: {}", name, err.message));
  return out;
}

void check_buffer(const Image& img, const std::string& name) {
  if (img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
    throw Error(fmt::format("cannot encode PNG '{}': {}x{}x{} image has {} bytes", name, img.width,
                            img.height, img.channels, img.pixels.size()));
}

// ---- reading ---------------------------------------------------------------

struct ReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ReadGuard() = default;
  ReadGuard(const ReadGuard&) = delete;
  ReadGuard& operator=(const ReadGuard&) = delete;
  ~ReadGuard() {
    if (png != nullptr) png_destroy_read_struct(&png, &info, nullptr);
  }
};

struct ReadSource {
  const std::uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
};

void read_from_memory(png_structp png, png_bytep out, size_t length) {
  auto* src = static_cast<ReadSource*>(png_get_io_ptr(png));
  if (length > src->size - src->pos) png_error(png, "unexpected end of data (truncated file?)");
  std::memcpy(out, src->data + src->pos, length);
  src->pos += length;
}

enum class ReadMode { kIndex, kRgb, kGrey16 };

struct DecodeJob {
  ReadSource* src = nullptr;
  ReadMode mode = ReadMode::kIndex;
  Image* out = nullptr;     // kGrey16: bytes, channels = bytes per sample
  std::int64_t max_pixels = 0;  // > 0: refuse larger images after IHDR, before allocating
  char problem[256] = {0};      // a non-libpng reason for failure
};

bool run_decode(png_structp png, png_infop info, DecodeJob* job) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, job->src, read_from_memory);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int depth = 0, type = 0;
  png_get_IHDR(png, info, &width, &height, &depth, &type, nullptr, nullptr, nullptr);
  if (job->max_pixels > 0 && std::int64_t{width} * height > job->max_pixels) {
    std::snprintf(job->problem, sizeof job->problem,
                  "its header claims %ux%u = %lld pixels, more than the limit of %lld (data.max_pixels; 0 = "
                  "no limit)",
                  static_cast<unsigned>(width), static_cast<unsigned>(height),
                  static_cast<long long>(std::int64_t{width} * height),
                  static_cast<long long>(job->max_pixels));
    return false;
  }
  int channels = 1;
  if (job->mode == ReadMode::kGrey16) {
    if ((type & PNG_COLOR_MASK_COLOR) != 0 || (type & PNG_COLOR_MASK_PALETTE) != 0) {
      std::snprintf(job->problem, sizeof job->problem, "not a greyscale PNG (colour type %d)", type);
      return false;
    }
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    channels = depth == 16 ? 2 : 1;  // bytes per sample, big-endian
  } else if (type == PNG_COLOR_TYPE_PALETTE && job->mode == ReadMode::kIndex) {
    png_set_packing(png);  // 1/2/4-bit indices to one byte each
  } else {
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    if (depth == 16) png_set_scale_16(png);
    channels = (type & PNG_COLOR_MASK_COLOR) != 0 ? 3 : 1;
  }
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != static_cast<size_t>(width) * channels) {
    std::snprintf(job->problem, sizeof job->problem, "unsupported PNG layout (colour type %d, depth %d)",
                  type, depth);
    return false;
  }
  *job->out = Image(static_cast<int>(width), static_cast<int>(height), channels);
  for (int pass = 0; pass < passes; ++pass)
    for (png_uint_32 y = 0; y < height; ++y) png_read_row(png, job->out->at(0, static_cast<int>(y)), nullptr);
  png_read_end(png, nullptr);
  return true;
}

Image decode(const std::uint8_t* data, size_t size, const std::string& name, ReadMode mode,
             std::int64_t max_pixels = kDefaultMaxPixels) {
  if (data == nullptr || size < 8 || png_sig_cmp(data, 0, 8) != 0)
    throw Error(fmt::format("cannot decode PNG '{}': not a PNG file (bad signature)", name));
  PngErrorCtx err;
  ReadGuard guard;
  guard.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error, on_png_warning);
  if (guard.png == nullptr) throw Error(fmt::format("cannot decode PNG '{}': libpng init failed", name));
  guard.info = png_create_info_struct(guard.png);
  if (guard.info == nullptr) throw Error(fmt::format("cannot decode PNG '{}': libpng init failed", name));
  ReadSource src{data, size, 0};
  Image out;
  DecodeJob job;
  job.src = &src;
  job.mode = mode;
  job.out = &out;
  job.max_pixels = max_pixels;
  if (!run_decode(guard.png, guard.info, &job)) {
    const char* why = job.problem[0] != '\0' ? job.problem : err.message;
    throw Error(fmt::format("cannot decode PNG '{}': {}", name, why));
  }
  return out;
}

Image decode_file(const std::string& path, ReadMode mode) {
  const std::string bytes = util::read_file(path);
  return decode(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), path, mode);
}

}  // namespace

Palette voc_palette() {
  Palette palette(256);
  for (int i = 0; i < 256; ++i) {
    int r = 0, g = 0, b = 0, c = i;
    for (int j = 0; j < 8; ++j) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    palette[i] = {static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(b)};
  }
  return palette;
}

std::string encode_png(const Image& img, const std::string& name) {
  if (img.channels != 1 && img.channels != 3)
    throw Error(fmt::format("cannot encode PNG '{}': channels must be 1 or 3, got {}", name, img.channels));
  check_buffer(img, name);
  EncodeJob job;
  job.width = img.width;
  job.height = img.height;
  job.color_type = img.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB;
  job.data = img.pixels.data();
  job.row_bytes = static_cast<size_t>(img.width) * img.channels;
  return encode(job, name);
}

std::string encode_png_palette(const Image& labels, const Palette& palette, const std::string& name) {
  if (labels.channels != 1)
    throw Error(
        fmt::format("cannot encode palette PNG '{}': labels need 1 channel, got {}", name, labels.channels));
  if (palette.empty() || palette.size() > 256)
    throw Error(
        fmt::format("cannot encode palette PNG '{}': palette has {} entries (1..256)", name, palette.size()));
  check_buffer(labels, name);
  for (size_t i = 0; i < labels.pixels.size(); ++i)
    if (labels.pixels[i] >= palette.size())
      throw Error(
          fmt::format("cannot encode palette PNG '{}': label {} at pixel ({}, {}) is outside the {}-entry "
                      "palette",
                      name, labels.pixels[i], i % labels.width, i / labels.width, palette.size()));
  std::vector<png_color> colours(palette.size());
  for (size_t i = 0; i < palette.size(); ++i) colours[i] = {palette[i][0], palette[i][1], palette[i][2]};
  EncodeJob job;
  job.width = labels.width;
  job.height = labels.height;
  job.color_type = PNG_COLOR_TYPE_PALETTE;
  job.data = labels.pixels.data();
  job.row_bytes = static_cast<size_t>(labels.width);
  job.palette = colours.data();
  job.palette_size = static_cast<int>(colours.size());
  return encode(job, name);
}

std::string encode_png16(int width, int height, const std::vector<std::uint16_t>& grey,
                         const std::string& name) {
  if (width <= 0 || height <= 0 || grey.size() != static_cast<size_t>(width) * height)
    throw Error(fmt::format("cannot encode 16-bit PNG '{}': {}x{} map has {} values", name, width, height,
                            grey.size()));
  std::vector<std::uint8_t> big_endian(grey.size() * 2);
  for (size_t i = 0; i < grey.size(); ++i) {
    big_endian[2 * i] = static_cast<std::uint8_t>(grey[i] >> 8);
    big_endian[2 * i + 1] = static_cast<std::uint8_t>(grey[i] & 0xff);
  }
  EncodeJob job;
  job.width = width;
  job.height = height;
  job.color_type = PNG_COLOR_TYPE_GRAY;
  job.bit_depth = 16;
  job.data = big_endian.data();
  job.row_bytes = static_cast<size_t>(width) * 2;
  return encode(job, name);
}

void write_png(const std::string& path, const Image& img) {
  util::write_file_atomic(path, encode_png(img, path));
}

void write_png_palette(const std::string& path, const Image& labels, const Palette& palette) {
  util::write_file_atomic(path, encode_png_palette(labels, palette, path));
}

void write_png16(const std::string& path, int width, int height, const std::vector<std::uint16_t>& grey) {
  util::write_file_atomic(path, encode_png16(width, height, grey, path));
}

Image decode_png(const std::uint8_t* data, size_t size, const std::string& name_for_errors,
                 bool expand_palette, std::int64_t max_pixels) {
  return decode(data, size, name_for_errors, expand_palette ? ReadMode::kRgb : ReadMode::kIndex, max_pixels);
}

Image read_png(const std::string& path) { return decode_file(path, ReadMode::kIndex); }

Grey16 read_png16(const std::string& path) {
  const Image raw = decode_file(path, ReadMode::kGrey16);
  Grey16 out;
  out.width = raw.width;
  out.height = raw.height;
  out.values.resize(static_cast<size_t>(raw.width) * raw.height);
  for (size_t i = 0; i < out.values.size(); ++i)
    out.values[i] = raw.channels == 2
                        ? static_cast<std::uint16_t>(raw.pixels[2 * i] << 8 | raw.pixels[2 * i + 1])
                        : raw.pixels[i];
  return out;
}

}  // namespace c2am::image
