// Implements: a tiny builder of crafted score maps for the eval tests.
#pragma once
#include <vector>

#include "eval/boxes.h"

namespace c2am::eval::testing {

struct MapBuilder {
  int width;
  int height;
  std::vector<float> values;

  MapBuilder(int w, int h) : width(w), height(h), values(static_cast<size_t>(w) * h, 0.0f) {}

  // Sets the pixels x in [x0, x1], y in [y0, y1] (inclusive) to v.
  MapBuilder& fill(int x0, int y0, int x1, int y1, float v) {
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) values[static_cast<size_t>(y) * width + x] = v;
    return *this;
  }
  MapView view() const { return MapView{values.data(), width, height}; }
};

}  // namespace c2am::eval::testing
