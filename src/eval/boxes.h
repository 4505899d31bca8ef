// Implements: boxes from a score map by the wsolevaluation protocol (8-bit map,
// threshold at int(tau * max), OpenCV contours, boundingRect), the map-to-crop
// scaling of boxes, and the two IoU conventions (plain, and +1 pixel).
#pragma once
#include <cstdint>
#include <vector>

#include "image/image.h"

namespace c2am::eval {

// A row-major float score map, width x height, values in [0, 1]. Not owned.
struct MapView {
  const float* data = nullptr;
  int width = 0;
  int height = 0;
};

struct BoxOptions {
  // false: the contour of largest contourArea gives the one box (CorLoc).
  // true: every contour (RETR_TREE, holes included) gives a box (MaxBoxAccV2).
  bool multi_contour = false;
  // Clip x1 to width - 1 and y1 to height - 1 (map coordinates), as
  // wsolevaluation's compute_bboxes_from_scoremaps does in both modes.
  bool clip_to_last_pixel = false;
};

// Per-axis factor from map coordinates to crop coordinates.
struct Scale {
  double x = 1.0;
  double y = 1.0;
};

// input size / map size per axis (e.g. 448 / 28 = 16).
Scale map_to_crop(int map_width, int map_height, int crop_width, int crop_height);
image::Box scale_box(const image::Box& box, const Scale& scale);

// The map as the reference sees it: uint8(map * 255) computed in float32 and
// truncated, plus its maximum. Built once per map; boxes at any number of
// thresholds are then read from it. Throws c2am::Error on an empty map, a NaN
// or a value outside [0, 1] (the reference's check_scoremap_validity).
class ScoreImage {
 public:
  explicit ScoreImage(const MapView& map);

  int width() const { return width_; }
  int height() const { return height_; }
  int max_value() const { return max_value_; }
  const std::vector<std::uint8_t>& pixels() const { return pixels_; }

  // int(tau * max) as Python computes it (double product, truncation).
  int level_for(double tau) const;

  // Boxes of the region strictly above `level` (cv2.THRESH_BINARY), in map
  // coordinates (x, y, x + w, y + h). No contour: one box (0, 0, 0, 0).
  std::vector<image::Box> boxes_above(int level, const BoxOptions& options) const;

 private:
  int width_;
  int height_;
  int max_value_ = 0;
  std::vector<std::uint8_t> pixels_;
};

// One-shot form: ScoreImage(map).boxes_above(level_for(tau), options).
std::vector<image::Box> boxes_at_threshold(const MapView& map, double tau, const BoxOptions& options = {});

// The map resampled onto the crop's pixels with every map cell on the crop
// pixel its receptive field is centred on: cell i -> pixel i * crop / map
// (a padded, strided ResNet: each stride-2 layer maps output i to input 2i),
// bilinear between cells, the border cells' values held outwards. Values stay
// in [0, 1]. eval.protocol = "aligned" (docs/wsol.md, "Protocols").
std::vector<float> align_to_crop(const MapView& map, int crop_width, int crop_height);

// IoU with the authors' ILSVRC intersection (`IOUFunciton_ILSRVC` in
// WSOL/utils.py): the overlaps' product is not clamped at 0, so two disjoint
// boxes can score; over a zero union a positive intersection is +inf (a hit,
// as Python's division makes it), any other non-positive union gives 0.
// eval.protocol = "reference" on ImageNet only.
double iou_unclamped(const image::Box& a, const image::Box& b);

// Plain IoU on continuous coordinates (no +1): the reference's CorLoc.
// A non-positive union gives 0.
double iou(const image::Box& a, const image::Box& b);

// IoU with the +1 pixel convention of wsolevaluation (x1, y1 inclusive):
// areas (x1 - x0 + 1)(y1 - y0 + 1). A non-positive union gives 0.
double iou_plus1(const image::Box& a, const image::Box& b);

}  // namespace c2am::eval
