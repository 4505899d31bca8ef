// Implements: the geometric image ops the loaders need: bilinear resize
// (bit-exact with PIL's Image.resize(BILINEAR), i.e. torchvision's Resize on
// PIL images), crop and horizontal flip. Plain loops, no tensors.
#pragma once
#include "data/image.h"

namespace c2am::data {

// Bilinear resize to (width, height), any channel count. Reproduces PIL's
// two-pass fixed-point resampler exactly, INCLUDING its antialiasing: when
// shrinking, the triangle filter widens by the scale factor (PIL always does
// this; torchvision tensors do it with antialias=True). When enlarging it is
// plain half-pixel-centre bilinear interpolation with edge clamping.
Image resize_bilinear(const Image& img, int width, int height);

// The (x, y, width, height) window of `img`, PIL crop semantics: parts of the
// window outside the image are filled with zeros.
Image crop(const Image& img, int x, int y, int width, int height);

// Mirror left-right.
Image hflip(const Image& img);

}  // namespace c2am::data
