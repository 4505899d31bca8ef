// Implements: tests of the multi-scale inference path against the reference's
// own computation: tests/wsss/multiscale_reference.py writes the authors'
// aggregation (PIL bicubic rescale, normalisation, flip, ReLU, flip-sum,
// bilinear resize to the stride-rounded size, sum, crop, max-normalisation)
// with PyTorch for a stand-in network; ours must match it to float precision.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "image/image.h"
#include "image/png.h"
#include "model/torch_pickle.h"
#include "wsss/multiscale.h"

namespace c2am::wsss {
namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

std::string temp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path p = fs::temp_directory_path() /
                     (std::string("c2am_multiscale_") + info->name() + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

image::Image noise_image(int w, int h, std::uint32_t seed) {
  image::Image img(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        seed = seed * 1664525u + 1013904223u;
        // A smooth pattern plus noise, so that the maps have structure.
        const int v = (c == 0 ? 8 * x : c == 1 ? 9 * y : 4 * (x + y)) + static_cast<int>(seed >> 27);
        img.at(x, y)[c] = static_cast<std::uint8_t>(v % 256);
      }
    }
  }
  return img;
}

torch::Tensor stand_in_net(const torch::Tensor& x, int stride) {
  const torch::Tensor m =
      torch::cat({x.narrow(1, 0, 1) - x.narrow(1, 1, 1), x.narrow(1, 2, 1) - x.narrow(1, 0, 1)}, 1);
  return F::avg_pool2d(m, F::AvgPool2dFuncOptions(stride).stride(stride));
}

void expect_matches_reference(int w, int h, const std::vector<double>& scales, int stride, bool negate) {
  const std::string dir = temp_dir();
  const image::Image img = noise_image(w, h, 7u + static_cast<std::uint32_t>(w));
  image::write_png(dir + "/image.png", img);
  std::string list;
  for (double s : scales) list += (list.empty() ? "" : ",") + std::to_string(s);
  const std::string cmd = "/usr/bin/python3 " + std::string(C2AM_SOURCE_DIR) +
                          "/tests/wsss/multiscale_reference.py " + dir + "/image.png " + dir + "/ref.pt " +
                          list + " " + std::to_string(stride) + " " + (negate ? "1" : "0");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << " (needs Debian's python3-torch and python3-pil)";
  const torch::Tensor ref = model::read_torch_save(dir + "/ref.pt").at("maps");

  MultiScaleOptions o;
  o.scales = scales;
  o.stride = stride;
  o.negate = negate;
  const torch::Tensor ours =
      multiscale_maps([stride](const torch::Tensor& x) { return stand_in_net(x, stride); }, img, o);
  ASSERT_EQ(ours.sizes(), ref.sizes());
  EXPECT_EQ(ours.size(1), h);
  EXPECT_EQ(ours.size(2), w);
  const double diff = (ours - ref).abs().max().item<double>();
  // Float32 throughout in both; the only difference is the normalisation's
  // arithmetic (the reference computes (v/255 - mean)/std in float64 first).
  EXPECT_LT(diff, 2e-5) << w << "x" << h << " negate " << negate;
  EXPECT_NEAR(ours.flatten(1).amax(1).max().item<double>(), 1.0, 1e-4);  // max-normalised
  fs::remove_all(dir);
}

TEST(MultiScale, MatchesTheReferenceAggregationAtTheFourScales) {
  // 23 x 17: every scale has odd products, so Python's round-half-to-even matters (11.5 -> 12, 8.5 -> 8).
  expect_matches_reference(23, 17, {0.5, 1.0, 1.5, 2.0}, 4, /*negate=*/false);
}

TEST(MultiScale, MatchesTheReferenceWithNegativePolarityAndStride8) {
  expect_matches_reference(40, 27, {0.5, 1.0, 2.0}, 8, /*negate=*/true);
}

TEST(MultiScale, ScaledSizesRoundHalvesToEvenAsPython) {
  EXPECT_EQ(scaled_size(23, 0.5), 12);    // 11.5
  EXPECT_EQ(scaled_size(17, 0.5), 8);     // 8.5
  EXPECT_EQ(scaled_size(375, 1.5), 562);  // 562.5
  EXPECT_EQ(scaled_size(500, 0.5), 250);
  EXPECT_EQ(scaled_size(1, 0.25), 1);  // never 0
}

TEST(MultiScale, SaliencyModeIsTheMeanProbabilityOverPasses) {
  // A constant logit l everywhere: every pass gives sigmoid(l), the mean is sigmoid(l).
  const image::Image img = noise_image(9, 7, 3);
  MultiScaleOptions o;
  o.scales = {1.0, 2.0};
  o.stride = 1;
  o.activation = Activation::kSigmoid;
  o.normalise = Normalise::kMean;
  const torch::Tensor m = multiscale_maps(
      [](const torch::Tensor& x) {
        return torch::full({x.size(0), 1, x.size(2), x.size(3)}, 0.5);
      },
      img, o);
  EXPECT_NEAR(m.min().item<double>(), 1.0 / (1.0 + std::exp(-0.5)), 1e-6);
  EXPECT_NEAR(m.max().item<double>(), 1.0 / (1.0 + std::exp(-0.5)), 1e-6);
}

}  // namespace
}  // namespace c2am::wsss
