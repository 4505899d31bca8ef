// Implements: prepare_sample (see pack_sample.h).
#include "data_prep/pack_sample.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "image/jpeg.h"
#include "image/png.h"
#include "image/resize.h"
#include "data_prep/image_header.h"
#include "util/error.h"

namespace c2am::data_prep {
namespace {

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw_errno("cannot open", path);
  if (std::fseek(f.get(), 0, SEEK_END) != 0) throw_errno("cannot seek", path);
  const long size = std::ftell(f.get());
  if (size < 0 || std::fseek(f.get(), 0, SEEK_SET) != 0) throw_errno("cannot seek", path);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (!bytes.empty() && std::fread(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    throw_errno("cannot read", path);
  return bytes;
}

void check_mask_size(const SourceRecord& r, int mask_w, int mask_h, int w, int h) {
  if (mask_w != w || mask_h != h) {
    throw Error(fmt::format("{}: mask is {}x{} but its image {} is {}x{}", r.mask_path, mask_w, mask_h,
                            r.path, w, h));
  }
}

// Every box finite, ordered and inside the w x h image (within kBoxTolerancePx).
void check_boxes(const SourceRecord& r, int w, int h) {
  for (std::size_t k = 0; k < r.boxes.size(); ++k) {
    const image::Box& b = r.boxes[k];
    const float t = kBoxTolerancePx;
    const bool finite =
        std::isfinite(b.x0) && std::isfinite(b.y0) && std::isfinite(b.x1) && std::isfinite(b.y1);
    const bool ordered = finite && b.x0 <= b.x1 && b.y0 <= b.y1;
    const bool inside = ordered && b.x0 >= -t && b.y0 >= -t && b.x1 <= w + t && b.y1 <= h + t;
    if (inside) continue;
    const std::string where = k < r.box_where.size() ? r.box_where[k] : r.path;
    const std::string what =
        !finite    ? std::string("is not finite")
        : !ordered ? std::string("is not ordered (x1 < x0 or y1 < y0)")
                   : fmt::format("lies outside the {}x{} image (tolerance {} px)", w, h, kBoxTolerancePx);
    throw Error(fmt::format("{}: box (x0 {}, y0 {}, x1 {}, y1 {}) of {} {}", where, b.x0, b.y0, b.x1, b.y1,
                            r.path, what));
  }
}

}  // namespace

data::PackedSample prepare_sample(const SourceRecord& r, const SampleOptions& o) {
  data::PackedSample s;
  s.name = r.name;
  s.label = r.label;
  s.boxes = r.boxes;
  s.bytes = read_bytes(r.path);
  if (!r.mask_path.empty()) s.mask = read_bytes(r.mask_path);

  if (o.reencode_max_side <= 0) {
    const ImageSize size = read_image_size(s.bytes.data(), s.bytes.size(), r.path);
    s.width = size.width;
    s.height = size.height;
    check_boxes(r, s.width, s.height);
    if (!s.mask.empty()) {
      const ImageSize m = read_image_size(s.mask.data(), s.mask.size(), r.mask_path);
      check_mask_size(r, m.width, m.height, s.width, s.height);
    }
    return s;
  }

  // Re-encoding: every image is decoded (so a corrupt file fails here, naming it).
  const image::Image img = image::decode_jpeg(s.bytes.data(), s.bytes.size(), r.path);
  s.width = img.width;
  s.height = img.height;
  check_boxes(r, img.width, img.height);
  image::Image mask;
  if (!s.mask.empty()) {
    mask = image::decode_png(s.mask.data(), s.mask.size(), r.mask_path);
    if (mask.channels != 1)
      throw Error(fmt::format("{}: a mask must be a palette or grey PNG of class indices", r.mask_path));
    check_mask_size(r, mask.width, mask.height, img.width, img.height);
  }
  const int longer = std::max(img.width, img.height);
  if (longer <= o.reencode_max_side) return s;  // small enough: original bytes, no generation loss

  const double scale = static_cast<double>(o.reencode_max_side) / longer;
  const int w = std::max(1, static_cast<int>(std::lround(img.width * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(img.height * scale)));
  s.bytes = image::encode_jpeg(image::resize_bilinear(img, w, h), o.jpeg_quality);
  const float sx = static_cast<float>(w) / img.width, sy = static_cast<float>(h) / img.height;
  for (image::Box& b : s.boxes) b = image::Box{b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy};
  if (!s.mask.empty()) {
    const std::string png = image::encode_png(image::resize_nearest(mask, w, h), r.mask_path);
    s.mask.assign(png.begin(), png.end());
  }
  s.width = w;
  s.height = h;
  return s;
}

}  // namespace c2am::data_prep
