// Implements: the fully connected CRF of Krähenbühl & Koltun (NIPS 2011) as
// the WSSS background-cue stage calls it (pydensecrf's DenseCRF2D, method doc
// section 8.3): unary from a label map with confidence gt_prob, a Gaussian
// kernel on (x, y) / sxy and a bilateral kernel on ((x, y) / sxy, rgb / srgb),
// symmetric normalisation, Potts compatibility, mean-field inference, argmax.
// Kernels are filtered with the permutohedral lattice (wsss/permutohedral.h),
// or exactly in O(N^2) for tests. No torch, no OpenCV. docs/dense-crf.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace c2am::wsss {

// Defaults = the reference's crf_inference_label (method doc section 8.3).
struct CrfParams {
  int iterations = 10;   // mean-field steps; 0 returns softmax(-unary)
  double gt_prob = 0.7;  // confidence of the given label (double, as numpy computes it)
  float gauss_sxy = 3.0f;
  float gauss_compat = 3.0f;
  float bilateral_sxy = 50.0f;
  float bilateral_srgb = 5.0f;
  float bilateral_compat = 10.0f;
  int threads = 1;  // >= 1; results are identical for every value

  // Throws c2am::UsageError naming the first bad field.
  void validate() const;
};

// How the kernel sums are computed.
enum class Filtering {
  kPermutohedral,  // the lattice approximation (the reference's)
  kExact,          // exact O(N^2) sums of exp(-|f_i - f_j|^2 / 2) (tests on tiny images)
};

// U[l * n + i] (n_labels x n, label-major): -log(gt_prob) where l == labels[i],
// else -log((1 - gt_prob) / (n_labels - 1)); pydensecrf's unary_from_labels
// with zero_unsure=False. Throws UsageError on n_labels < 2 or > 256, gt_prob
// outside (0, 1), labels == nullptr with n > 0; Error on a label >= n_labels
// (naming the pixel).
std::vector<float> unary_from_labels(const std::uint8_t* labels, std::size_t n, int n_labels, double gt_prob);

// One image's CRF: both kernels' features, lattices and normalisations are
// built here, once; inference() then runs the mean-field iterations.
class DenseCrf2d {
 public:
  // rgb: interleaved 8-bit RGB, row-major, width * height * 3 bytes. Throws
  // UsageError on a null image, width or height < 1, or bad params.
  DenseCrf2d(const std::uint8_t* rgb, int width, int height, const CrfParams& params,
             Filtering filtering = Filtering::kPermutohedral);
  ~DenseCrf2d();
  DenseCrf2d(DenseCrf2d&&) noexcept;
  DenseCrf2d& operator=(DenseCrf2d&&) noexcept;

  // Q (n_labels x N, label-major, each pixel's column sums to 1) after
  // params.iterations steps of Q <- softmax(-U + sum_k w_k filtered_k(Q)).
  // Throws UsageError when unary.size() != n_labels * width * height or
  // n_labels < 2; Error on a non-finite unary (naming label and pixel).
  std::vector<float> inference(const std::vector<float>& unary, int n_labels) const;

  int width() const { return width_; }
  int height() const { return height_; }
  std::size_t pixels() const { return static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_); }

 private:
  struct Kernel;
  int width_ = 0;
  int height_ = 0;
  CrfParams params_;
  std::vector<std::unique_ptr<Kernel>> kernels_;  // Gaussian, then bilateral
};

// Q after mean-field inference with lattice filtering (DenseCrf2d in one call).
std::vector<float> dense_crf(const std::uint8_t* rgb, int width, int height, const std::vector<float>& unary,
                             int n_labels, const CrfParams& params);

// The same with exact O(N^2) kernel sums: a reference for tiny images.
std::vector<float> dense_crf_exact(const std::uint8_t* rgb, int width, int height,
                                   const std::vector<float>& unary, int n_labels, const CrfParams& params);

// argmax over labels of Q (n_labels x n, label-major); ties go to the lower
// label (numpy.argmax). n_labels <= 256.
std::vector<std::uint8_t> argmax_labels(const std::vector<float>& q, int n_labels);

// The background-cue step: labels (width * height, each < n_labels) refined by
// the CRF: argmax of dense_crf(rgb, unary_from_labels(labels, ...)).
std::vector<std::uint8_t> crf_refine_labels(const std::uint8_t* rgb, int width, int height,
                                            const std::uint8_t* labels, int n_labels,
                                            const CrfParams& params);

}  // namespace c2am::wsss
