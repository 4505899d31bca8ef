#include "wsss/multiscale.h"

#include <fmt/format.h>

#include <cmath>

#include "data/loader.h"
#include "image/chw.h"
#include "image/resize.h"
#include "util/error.h"

namespace c2am::wsss {

namespace F = torch::nn::functional;

int scaled_size(int size, double scale) {
  // std::nearbyint rounds halves to even in the default rounding mode, as Python 3's round().
  const double v = std::nearbyint(static_cast<double>(size) * scale);
  return std::max(1, static_cast<int>(v));
}

torch::Tensor multiscale_maps(const MapFn& fn, const image::Image& rgb, const MultiScaleOptions& o) {
  if (rgb.channels != 3 || rgb.width <= 0 || rgb.height <= 0) {
    throw Error(fmt::format("multi-scale inference needs an RGB image, got {}x{}x{}", rgb.width, rgb.height,
                            rgb.channels));
  }
  if (o.scales.empty()) throw UsageError("multi-scale inference: no scales (wsss.scales)");
  torch::NoGradGuard no_grad;
  const int w = rgb.width, h = rgb.height;
  const int64_t up_h = ((h - 1) / o.stride + 1) * o.stride;
  const int64_t up_w = ((w - 1) / o.stride + 1) * o.stride;
  torch::Tensor sum;
  for (double s : o.scales) {
    const int sw = scaled_size(w, s), sh = scaled_size(h, s);
    const image::Image scaled = image::resize_bicubic(rgb, sw, sh);
    torch::Tensor x = torch::empty({2, 3, sh, sw}, torch::kFloat32);
    image::write_chw_normalised(scaled, o.mean, o.std, x.data_ptr<float>());
    x[1].copy_(x[0].flip({-1}));
    torch::Tensor m = fn(x.to(o.device)).to(torch::kFloat32);
    if (o.negate) m = 1 - m;
    m = o.activation == Activation::kRelu ? torch::relu(m) : torch::sigmoid(m);
    m = m[0] + m[1].flip({-1});
    m = F::interpolate(m.unsqueeze(0), F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{up_h, up_w})
                                           .mode(torch::kBilinear)
                                           .align_corners(false))[0];
    sum = sum.defined() ? sum + m : m;
  }
  sum = sum.narrow(1, 0, h).narrow(2, 0, w);
  if (o.normalise == Normalise::kMax) {
    sum = sum / (std::get<0>(sum.flatten(1).max(1)).view({-1, 1, 1}) + 1e-5);
  } else {
    sum = sum / static_cast<double>(2 * o.scales.size());
  }
  return sum.to(torch::kCPU).contiguous();
}

}  // namespace c2am::wsss
