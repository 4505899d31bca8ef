// Implements: the train transform's resize-then-crop computed only for the
// crop window, with the horizontal flip folded in, either byte-identical to
// PIL (crop(resize_bilinear / resize_bicubic(...))) or a faster float path
// with a documented bound on its difference from PIL. Plain loops, no tensors.
#pragma once
#include "image/image.h"
#include "image/resize.h"

namespace c2am::image {

// kPil: byte-identical to crop(resize_bilinear / resize_bicubic(src, out_w,
//   out_h), window) (PIL's separable resampler computes every output pixel
//   independently of the others, so a window of it is exact).
// kFast: the same filter weights in float, vertical pass first over the
//   source columns the window needs, no 8-bit rounding between the passes,
//   laid out for the compiler's vectoriser. Bilinear: at most 1 grey level
//   from PIL in any pixel (PIL rounds its intermediate, this path does not);
//   bicubic: PIL also clips its overshooting intermediate, so differences of
//   a few levels occur next to hard edges (docs/benchmarks.md, "Loader
//   stages", has the measured numbers).
enum class Resample { kPil, kFast };

// A (x, y, width, height) rectangle of the resized image.
struct Window {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// crop(resize(src, out_w, out_h), window.x, window.y, window.width,
// window.height), mirrored left-right when `flip`, computing only the window:
// the horizontal pass only for the window's columns and the source rows the
// vertical pass reads. The window must lie inside the out_w x out_h image
// (the loader's always does); throws c2am::Error naming the window and the
// size otherwise, and for an empty or inconsistent `src`.
Image resize_window(const Image& src, int out_w, int out_h, Window window, bool flip, Resample mode,
                    Filter filter = Filter::kBilinear);

// The same into `out` (not `src`), reusing its buffer and the calling
// thread's scratch buffers: no allocation once they are large enough (the
// loader's threads resample every image this way).
void resize_window_into(const Image& src, int out_w, int out_h, Window window, bool flip, Resample mode, Image& out,
                        Filter filter = Filter::kBilinear);

}  // namespace c2am::image
