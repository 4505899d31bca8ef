// Implements: the geometric image ops the loaders need: bilinear and bicubic
// resize (bit-exact with PIL's Image.resize(BILINEAR / BICUBIC), i.e.
// torchvision's Resize on PIL images), nearest-neighbour resize for label
// maps, crop and horizontal flip. Plain loops, no tensors.
#pragma once
#include "image/image.h"

namespace c2am::image {

// PIL's two antialiasing filters of the separable resampler.
enum class Filter { kBilinear, kBicubic };

// Bilinear resize to (width, height), any channel count. Reproduces PIL's
// two-pass fixed-point resampler exactly, INCLUDING its antialiasing: when
// shrinking, the triangle filter widens by the scale factor (PIL always does
// this; torchvision tensors do it with antialias=True). When enlarging it is
// plain half-pixel-centre bilinear interpolation with edge clamping.
Image resize_bilinear(const Image& img, int width, int height);

// Bicubic resize (PIL's BICUBIC, Keys a = -0.5, widened when shrinking), the
// rescale of the multi-scale WSSS inference; same fixed-point path as above.
Image resize_bicubic(const Image& img, int width, int height);

// Nearest-neighbour resize of PIL's NEAREST: output pixel x takes input pixel
// floor((x + 0.5) * in / out). For label maps (masks, cues): no new values.
Image resize_nearest(const Image& img, int width, int height);

// The (x, y, width, height) window of `img`, PIL crop semantics: parts of the
// window outside the image are filled with zeros.
Image crop(const Image& img, int x, int y, int width, int height);

// Mirror left-right.
Image hflip(const Image& img);

}  // namespace c2am::image
