// Implements: boxes from a score map by the wsolevaluation protocol, box
// scaling and IoU (see boxes.h).
#include "eval/boxes.h"

#include <fmt/core.h>

#include <algorithm>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "util/error.h"

namespace c2am::eval {

Scale map_to_crop(int map_width, int map_height, int crop_width, int crop_height) {
  if (map_width <= 0 || map_height <= 0 || crop_width <= 0 || crop_height <= 0) {
    throw Error(fmt::format("map_to_crop: sizes must be positive (map {}x{}, crop {}x{})", map_width,
                            map_height, crop_width, crop_height));
  }
  return Scale{static_cast<double>(crop_width) / map_width, static_cast<double>(crop_height) / map_height};
}

image::Box scale_box(const image::Box& box, const Scale& scale) {
  return image::Box{static_cast<float>(box.x0 * scale.x), static_cast<float>(box.y0 * scale.y),
                   static_cast<float>(box.x1 * scale.x), static_cast<float>(box.y1 * scale.y)};
}

ScoreImage::ScoreImage(const MapView& map) : width_(map.width), height_(map.height) {
  if (map.data == nullptr || map.width <= 0 || map.height <= 0) {
    throw Error(fmt::format("score map: empty map ({}x{})", map.width, map.height));
  }
  const size_t n = static_cast<size_t>(width_) * height_;
  pixels_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = map.data[i];
    if (!(v >= 0.0f && v <= 1.0f)) {  // also rejects NaN
      throw Error(
          fmt::format("score map: value {} at (x={}, y={}) is outside [0, 1]; normalise the map first", v,
                      i % width_, i / width_));
    }
    // numpy: (scoremap * 255).astype(np.uint8) -- a float32 product, truncated.
    const float scaled = v * 255.0f;
    pixels_[i] = static_cast<std::uint8_t>(scaled);
    max_value_ = std::max<int>(max_value_, pixels_[i]);
  }
}

int ScoreImage::level_for(double tau) const {
  // int(threshold * np.max(scoremap_image)): float64 product, truncated toward zero.
  return static_cast<int>(tau * static_cast<double>(max_value_));
}

std::vector<image::Box> ScoreImage::boxes_above(int level, const BoxOptions& options) const {
  // OpenCV does not write through src; the const_cast only satisfies cv::Mat's constructor.
  const cv::Mat src(height_, width_, CV_8UC1, const_cast<std::uint8_t*>(pixels_.data()));
  cv::Mat binary;
  cv::threshold(src, binary, static_cast<double>(level), 255.0, cv::THRESH_BINARY);

  std::vector<std::vector<cv::Point>> contours;
  std::vector<cv::Vec4i> hierarchy;
  cv::findContours(binary, contours, hierarchy, cv::RETR_TREE, cv::CHAIN_APPROX_SIMPLE);
  if (contours.empty()) return {image::Box{}};

  auto to_box = [&](const std::vector<cv::Point>& contour) {
    const cv::Rect r = cv::boundingRect(contour);
    int x1 = r.x + r.width;
    int y1 = r.y + r.height;
    if (options.clip_to_last_pixel) {
      x1 = std::min(x1, width_ - 1);
      y1 = std::min(y1, height_ - 1);
    }
    return image::Box{static_cast<float>(r.x), static_cast<float>(r.y), static_cast<float>(x1),
                     static_cast<float>(y1)};
  };

  std::vector<image::Box> boxes;
  if (options.multi_contour) {
    boxes.reserve(contours.size());
    for (const auto& c : contours) boxes.push_back(to_box(c));
    return boxes;
  }
  // Python's max(contours, key=cv2.contourArea): the first contour of largest area.
  size_t best = 0;
  double best_area = cv::contourArea(contours[0]);
  for (size_t i = 1; i < contours.size(); ++i) {
    const double area = cv::contourArea(contours[i]);
    if (area > best_area) {
      best_area = area;
      best = i;
    }
  }
  boxes.push_back(to_box(contours[best]));
  return boxes;
}

std::vector<image::Box> boxes_at_threshold(const MapView& map, double tau, const BoxOptions& options) {
  const ScoreImage image(map);
  return image.boxes_above(image.level_for(tau), options);
}

namespace {

double iou_with_offset(const image::Box& a, const image::Box& b, double one) {
  const double ix = std::max(0.0, std::min<double>(a.x1, b.x1) - std::max<double>(a.x0, b.x0) + one);
  const double iy = std::max(0.0, std::min<double>(a.y1, b.y1) - std::max<double>(a.y0, b.y0) + one);
  const double inter = ix * iy;
  const double area_a = (static_cast<double>(a.x1) - a.x0 + one) * (static_cast<double>(a.y1) - a.y0 + one);
  const double area_b = (static_cast<double>(b.x1) - b.x0 + one) * (static_cast<double>(b.y1) - b.y0 + one);
  const double denominator = area_a + area_b - inter;
  return denominator > 0.0 ? inter / denominator : 0.0;
}

}  // namespace

double iou(const image::Box& a, const image::Box& b) { return iou_with_offset(a, b, 0.0); }

double iou_unclamped(const image::Box& a, const image::Box& b) {
  const double ix = std::min<double>(a.x1, b.x1) - std::max<double>(a.x0, b.x0);
  const double iy = std::min<double>(a.y1, b.y1) - std::max<double>(a.y0, b.y0);
  const double inter = ix * iy;
  const double area_a = (static_cast<double>(a.x1) - a.x0) * (static_cast<double>(a.y1) - a.y0);
  const double area_b = (static_cast<double>(b.x1) - b.x0) * (static_cast<double>(b.y1) - b.y0);
  const double denominator = area_a + area_b - inter;
  if (denominator > 0.0) return inter / denominator;
  // Python divides anyway: a positive intersection over a zero union is inf
  // (a hit), anything else over a non-positive union is negative or NaN.
  return denominator == 0.0 && inter > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
}

namespace {

// Per crop pixel p of one axis: the map cells either side of p * map / crop and the weight of the second.
struct Tap {
  int lo = 0;
  int hi = 0;
  float w = 0.0f;
};

std::vector<Tap> axis_taps(int map_n, int crop_n) {
  std::vector<Tap> taps(static_cast<size_t>(crop_n));
  for (int p = 0; p < crop_n; ++p) {
    const double u = std::min(static_cast<double>(p) * map_n / crop_n, static_cast<double>(map_n - 1));
    const int lo = static_cast<int>(u);
    taps[static_cast<size_t>(p)] = Tap{lo, std::min(lo + 1, map_n - 1), static_cast<float>(u - lo)};
  }
  return taps;
}

}  // namespace

std::vector<float> align_to_crop(const MapView& map, int crop_width, int crop_height) {
  if (map.width <= 0 || map.height <= 0 || crop_width <= 0 || crop_height <= 0) {
    throw Error(fmt::format("align_to_crop: map {}x{} or crop {}x{} is empty", map.width, map.height, crop_width,
                            crop_height));
  }
  const std::vector<Tap> xs = axis_taps(map.width, crop_width);
  const std::vector<Tap> ys = axis_taps(map.height, crop_height);
  std::vector<float> out(static_cast<size_t>(crop_width) * static_cast<size_t>(crop_height));
  for (int y = 0; y < crop_height; ++y) {
    const Tap& ty = ys[static_cast<size_t>(y)];
    const float* r0 = map.data + static_cast<ptrdiff_t>(ty.lo) * map.width;
    const float* r1 = map.data + static_cast<ptrdiff_t>(ty.hi) * map.width;
    float* o = out.data() + static_cast<ptrdiff_t>(y) * crop_width;
    for (int x = 0; x < crop_width; ++x) {
      const Tap& tx = xs[static_cast<size_t>(x)];
      const float top = r0[tx.lo] + (r0[tx.hi] - r0[tx.lo]) * tx.w;
      const float bottom = r1[tx.lo] + (r1[tx.hi] - r1[tx.lo]) * tx.w;
      o[x] = std::clamp(top + (bottom - top) * ty.w, 0.0f, 1.0f);
    }
  }
  return out;
}

double iou_plus1(const image::Box& a, const image::Box& b) { return iou_with_offset(a, b, 1.0); }

}  // namespace c2am::eval
