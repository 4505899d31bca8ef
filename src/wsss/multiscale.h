// Implements: the multi-scale inference of the WSSS stage (method doc §8
// step 2, as the reference's inference script computes it), one path for the
// C²AM maps, the classifier's CAMs and the saliency maps. For each scale s:
// the image resized to (round(w s), round(h s)) (PIL bicubic, round half to
// even as Python's round), normalised, stacked with its horizontal flip and
// run through the network; the raw maps negated as 1 - x when the polarity is
// negative, activated (ReLU, or sigmoid for saliency), the flipped half
// flipped back and added; each scale's sum resized (bilinear, half-pixel
// centres) to the image size rounded up to a multiple of the output stride,
// summed over scales and cropped to h x w. Finally each channel is divided by
// its maximum + 1e-5 (maps in [0, 1)), or, for saliency, by the number of
// passes (the mean probability).
#pragma once
#include <torch/torch.h>

#include <array>
#include <functional>
#include <vector>

#include "image/image.h"

namespace c2am::wsss {

enum class Activation { kRelu, kSigmoid };
enum class Normalise { kMax, kMean };

struct MultiScaleOptions {
  std::vector<double> scales = {0.5, 1.0, 1.5, 2.0};
  bool negate = false;  // C²AM with negative polarity: 1 - raw map
  Activation activation = Activation::kRelu;
  Normalise normalise = Normalise::kMax;
  int stride = 16;  // the network's output stride
  std::array<double, 3> mean = {0.485, 0.456, 0.406};
  std::array<double, 3> std = {0.229, 0.224, 0.225};
  torch::Device device = torch::kCPU;
};

// Raw maps of a batch of images (N x 3 x h x w -> N x C x h' x w').
using MapFn = std::function<torch::Tensor(const torch::Tensor&)>;

// C x H x W float maps on the CPU for one RGB image of W x H.
torch::Tensor multiscale_maps(const MapFn& fn, const image::Image& rgb, const MultiScaleOptions& options);

// Python's round(v) for the scaled sizes: the nearest integer, halves to even (>= 1).
int scaled_size(int size, double scale);

}  // namespace c2am::wsss
