// Implements: TurboJPEG decode/encode with thread_local handles and one check
// macro that turns TurboJPEG failures into c2am::Error naming the sample.
#include "image/jpeg.h"

#include <fmt/core.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>
#include <utility>

#include "image/png.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::image {
namespace {

struct TjDeleter {
  void operator()(void* handle) const {
    if (handle != nullptr) tjDestroy(handle);
  }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

struct TjBufferDeleter {
  void operator()(unsigned char* buf) const { tjFree(buf); }
};

// A thread's cached TurboJPEG handle. After any failure the handle is
// discarded: libjpeg-turbo 2.1 leaves a decompressor whose header read failed
// in a state where the next header read "succeeds" with a 0x0 image.
class CachedHandle {
 public:
  explicit CachedHandle(tjhandle (*init)()) : init_(init) {}
  tjhandle get() {
    if (!handle_) handle_.reset(init_());
    if (!handle_) throw Error(fmt::format("cannot create a TurboJPEG handle: {}", tjGetErrorStr2(nullptr)));
    return handle_.get();
  }
  void discard() { handle_.reset(); }

 private:
  tjhandle (*init_)();
  TjHandle handle_;
};

CachedHandle& decompressor() {
  thread_local CachedHandle handle(tjInitDecompress);
  return handle;
}

CachedHandle& compressor() {
  thread_local CachedHandle handle(tjInitCompress);
  return handle;
}

[[noreturn]] void throw_tj(CachedHandle& handle, const char* what, const std::string& name, const char* file,
                           int line) {
  const char* base = std::strrchr(file, '/');
  const std::string message =
      fmt::format("{} '{}': TurboJPEG: {} [{}:{}]; is the file a complete, valid JPEG?", what, name,
                  tjGetErrorStr2(handle.get()), base != nullptr ? base + 1 : file, line);
  handle.discard();
  throw Error(message);
}

// The one TurboJPEG check: any non-zero return is an error naming the sample.
#define C2AM_TJ_CHECK(call, handle, what, name)                              \
  do {                                                                       \
    if ((call) != 0) throw_tj((handle), (what), (name), __FILE__, __LINE__); \
  } while (0)

bool looks_like_png(const std::uint8_t* data, size_t size) {
  static const std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return size >= 8 && std::memcmp(data, kSignature, 8) == 0;
}

// PIL's MULDIV255: round(a * b / 255) in integers.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

// CMYK as libjpeg delivers it (Adobe-inverted values) to RGB, exactly as
// PIL's "CMYK;I" raw mode followed by convert("RGB").
Image cmyk_to_rgb(const std::vector<std::uint8_t>& cmyk, int width, int height) {
  Image out(width, height, 3);
  const size_t n = static_cast<size_t>(width) * height;
  for (size_t i = 0; i < n; ++i) {
    const int k = cmyk[4 * i + 3];  // stored inverted: k = 255 - K
    for (int c = 0; c < 3; ++c)
      out.pixels[3 * i + c] = static_cast<std::uint8_t>(k - muldiv255(255 - cmyk[4 * i + c], k));
  }
  return out;
}

// A warning that means the pixels are not all there (PIL raises for these).
bool warning_is_fatal(tjhandle handle) {
  if (tjGetErrorCode(handle) != TJERR_WARNING) return true;
  const char* msg = tjGetErrorStr2(handle);
  return std::strstr(msg, "Premature end") != nullptr;
}

}  // namespace

void decode_jpeg_into(Image& out, const std::uint8_t* data, size_t size, const std::string& name_for_errors,
                      int min_side_hint, std::array<int, 2>* stored_size, std::int64_t max_pixels) {
  if (looks_like_png(data, size)) {
    Image img = decode_png(data, size, name_for_errors, /*expand_palette=*/true, max_pixels);
    if (stored_size != nullptr) *stored_size = {img.width, img.height};
    if (img.channels == 3) {
      out = std::move(img);
      return;
    }
    Image rgb(img.width, img.height, 3);
    for (size_t i = 0; i < img.pixels.size(); ++i)
      rgb.pixels[3 * i] = rgb.pixels[3 * i + 1] = rgb.pixels[3 * i + 2] = img.pixels[i];
    out = std::move(rgb);
    return;
  }
  if (data == nullptr || size == 0)
    throw Error(fmt::format("cannot decode JPEG '{}': empty data", name_for_errors));
  CachedHandle& handle = decompressor();
  tjhandle tj = handle.get();
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  C2AM_TJ_CHECK(
      tjDecompressHeader3(tj, data, static_cast<unsigned long>(size), &width, &height, &subsamp, &colorspace),
      handle, "cannot read the JPEG header of", name_for_errors);
  if (width <= 0 || height <= 0)
    throw Error(fmt::format("cannot decode JPEG '{}': bad size {}x{}", name_for_errors, width, height));
  check_pixel_limit(width, height, max_pixels, "JPEG", name_for_errors);  // before any allocation
  if (stored_size != nullptr) *stored_size = {width, height};

  if (min_side_hint > 0) {
    int count = 0;
    const tjscalingfactor* factors = tjGetScalingFactors(&count);
    tjscalingfactor best{1, 1};
    for (int i = 0; i < count; ++i) {
      const tjscalingfactor f = factors[i];
      if (f.num != 1) continue;  // 1/1, 1/2, 1/4, 1/8 only: see the header
      if (TJSCALED(width, f) < min_side_hint || TJSCALED(height, f) < min_side_hint) continue;
      if (f.num * best.denom < best.num * f.denom) best = f;
    }
    width = TJSCALED(width, best);
    height = TJSCALED(height, best);
  }

  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int channels = cmyk ? 4 : 3;
  // Decoded into `out`'s buffer as it is: a loader thread reuses one buffer for
  // every image (no allocation, no page faults), and libjpeg-turbo writes every byte.
  std::vector<std::uint8_t> buffer;
  std::vector<std::uint8_t>& pixels = cmyk ? buffer : out.pixels;
  pixels.resize(static_cast<size_t>(width) * height * channels);
  const int rc = tjDecompress2(tj, data, static_cast<unsigned long>(size), pixels.data(), width, /*pitch=*/0,
                               height, cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_ACCURATEDCT);
  if (rc != 0) {
    if (warning_is_fatal(tj)) throw_tj(handle, "cannot decode JPEG", name_for_errors, __FILE__, __LINE__);
    handle.discard();  // a tolerated warning: the pixels are complete; start the next file afresh
  }
  if (cmyk) {
    out = cmyk_to_rgb(buffer, width, height);
    return;
  }
  out.width = width;
  out.height = height;
  out.channels = 3;
}

Image decode_jpeg(const std::uint8_t* data, size_t size, const std::string& name_for_errors, int min_side_hint,
                  std::array<int, 2>* stored_size, std::int64_t max_pixels) {
  Image img;
  decode_jpeg_into(img, data, size, name_for_errors, min_side_hint, stored_size, max_pixels);
  return img;
}

Image read_jpeg(const std::string& path, int min_side_hint) {
  const std::string bytes = util::read_file(path);
  return decode_jpeg(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), path, min_side_hint);
}

std::vector<std::uint8_t> encode_jpeg(const Image& img, int quality) {
  const std::string what = fmt::format("image {}x{}x{}", img.width, img.height, img.channels);
  if (img.channels != 1 && img.channels != 3)
    throw Error(fmt::format("cannot encode JPEG from {}: channels must be 1 or 3", what));
  if (img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
    throw Error(fmt::format("cannot encode JPEG from {}: size and pixel buffer disagree", what));
  if (quality < 1 || quality > 100)
    throw Error(fmt::format("cannot encode JPEG: quality {} is outside [1, 100]", quality));
  CachedHandle& handle = compressor();
  tjhandle tj = handle.get();
  unsigned char* raw = nullptr;
  unsigned long raw_size = 0;
  const bool grey = img.channels == 1;
  const int rc =
      tjCompress2(tj, img.pixels.data(), img.width, /*pitch=*/0, img.height, grey ? TJPF_GRAY : TJPF_RGB,
                  &raw, &raw_size, grey ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
  std::unique_ptr<unsigned char, TjBufferDeleter> owned(raw);
  C2AM_TJ_CHECK(rc, handle, "cannot encode JPEG from", what);
  return std::vector<std::uint8_t>(raw, raw + raw_size);
}

}  // namespace c2am::image
