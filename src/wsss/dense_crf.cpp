#include "wsss/dense_crf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"
#include "wsss/permutohedral.h"

namespace c2am::wsss {

namespace {

void check_positive(float v, const char* name) {
  if (!(std::isfinite(v) && v > 0.0f))
    throw UsageError(fmt::format("CRF params: {} must be > 0, got {}", name, v));
}

void check_non_negative(float v, const char* name) {
  if (!(std::isfinite(v) && v >= 0.0f))
    throw UsageError(fmt::format("CRF params: {} must be >= 0, got {}", name, v));
}

void check_labels(int n_labels, const char* where) {
  if (n_labels < 2 || n_labels > 256)
    throw UsageError(fmt::format("{}: n_labels must be in [2, 256], got {}", where, n_labels));
}

void check_image(const std::uint8_t* rgb, int width, int height, const char* where) {
  if (width < 1 || height < 1)
    throw UsageError(fmt::format("{}: image size {}x{} must be at least 1x1", where, width, height));
  if (rgb == nullptr) throw UsageError(fmt::format("{}: rgb image is null", where));
}

// Exact sums out_i = sum_j exp(-|f_i - f_j|^2 / 2) in_j (j = i included), in
// double, j in increasing order; rows in parallel.
void exact_gaussian_filter(const std::vector<float>& features, std::size_t n, std::size_t d, const float* in,
                           float* out, std::size_t c, int threads) {
  std::vector<float> result(n * c);
  parallel_ranges(n, threads, [&](std::size_t begin, std::size_t end) {
    std::vector<double> acc(c);
    for (std::size_t i = begin; i < end; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* fi = &features[i * d];
      for (std::size_t j = 0; j < n; ++j) {
        const float* fj = &features[j * d];
        double dist2 = 0.0;
        for (std::size_t k = 0; k < d; ++k) {
          const double diff = static_cast<double>(fi[k]) - static_cast<double>(fj[k]);
          dist2 += diff * diff;
        }
        const double w = std::exp(-0.5 * dist2);
        for (std::size_t ch = 0; ch < c; ++ch) acc[ch] += w * static_cast<double>(in[j * c + ch]);
      }
      for (std::size_t ch = 0; ch < c; ++ch) result[i * c + ch] = static_cast<float>(acc[ch]);
    }
  });
  std::copy(result.begin(), result.end(), out);
}

// o = softmax(e) over `labels` values, the maximum subtracted first.
void softmax_row(const float* e, float* o, std::size_t labels) {
  const float top = *std::max_element(e, e + labels);
  float sum = 0.0f;
  for (std::size_t l = 0; l < labels; ++l) {
    o[l] = std::exp(e[l] - top);
    sum += o[l];
  }
  for (std::size_t l = 0; l < labels; ++l) o[l] /= sum;
}

}  // namespace

void CrfParams::validate() const {
  if (iterations < 0)
    throw UsageError(fmt::format("CRF params: iterations must be >= 0, got {}", iterations));
  if (!(gt_prob > 0.0 && gt_prob < 1.0))
    throw UsageError(fmt::format("CRF params: gt_prob must be in (0, 1), got {}", gt_prob));
  check_positive(gauss_sxy, "gauss_sxy");
  check_non_negative(gauss_compat, "gauss_compat");
  check_positive(bilateral_sxy, "bilateral_sxy");
  check_positive(bilateral_srgb, "bilateral_srgb");
  check_non_negative(bilateral_compat, "bilateral_compat");
  if (threads < 1) throw UsageError(fmt::format("CRF params: threads must be >= 1, got {}", threads));
}

std::vector<float> unary_from_labels(const std::uint8_t* labels, std::size_t n, int n_labels,
                                     double gt_prob) {
  check_labels(n_labels, "unary_from_labels");
  if (!(gt_prob > 0.0 && gt_prob < 1.0))
    throw UsageError(fmt::format("unary_from_labels: gt_prob must be in (0, 1), got {}", gt_prob));
  if (labels == nullptr && n > 0) throw UsageError("unary_from_labels: labels is null");
  // As numpy computes them: in double, stored as float32.
  const auto given = static_cast<float>(-std::log(gt_prob));
  const auto other = static_cast<float>(-std::log((1.0 - gt_prob) / static_cast<double>(n_labels - 1)));
  std::vector<float> u(static_cast<std::size_t>(n_labels) * n, other);
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] >= n_labels)
      throw Error(fmt::format("unary_from_labels: pixel {} has label {}, not below n_labels {}", i, labels[i],
                              n_labels));
    u[static_cast<std::size_t>(labels[i]) * n + i] = given;
  }
  return u;
}

// One pairwise term: Potts weight, features, lattice (or none: exact sums) and
// the symmetric normalisation norm_i = 1 / sqrt(sum_j k(i, j) + 1e-20).
struct DenseCrf2d::Kernel {
  float weight = 0.0f;
  std::size_t n = 0;
  std::size_t dim = 0;
  int threads = 1;
  std::vector<float> features;                    // n x dim (exact sums only)
  std::unique_ptr<PermutohedralLattice> lattice;  // null: exact sums
  std::vector<float> norm;

  Kernel(std::vector<float> f, std::size_t points, std::size_t d, float w, Filtering filtering, int n_threads,
         const std::string& name)
      : weight(w), n(points), dim(d), threads(n_threads) {
    if (filtering == Filtering::kPermutohedral) {
      try {
        lattice = std::make_unique<PermutohedralLattice>(f.data(), n, static_cast<int>(d), threads);
      } catch (const Error& e) {
        throw Error(fmt::format("dense CRF {} kernel: {}", name, e.what()));
      }
    } else {
      features = std::move(f);
    }
    std::vector<float> ones(n, 1.0f);
    norm.resize(n);
    filter(ones.data(), norm.data(), 1);
    for (float& v : norm) v = static_cast<float>(1.0 / std::sqrt(static_cast<double>(v) + 1e-20));
  }

  void filter(const float* in, float* out, std::size_t c) const {
    if (lattice)
      lattice->filter(in, out, static_cast<int>(c));
    else
      exact_gaussian_filter(features, n, dim, in, out, c, threads);
  }
};

DenseCrf2d::DenseCrf2d(const std::uint8_t* rgb, int width, int height, const CrfParams& params,
                       Filtering filtering)
    : width_(width), height_(height), params_(params) {
  check_image(rgb, width, height, "dense CRF");
  params.validate();
  const std::size_t n = pixels(), w = static_cast<std::size_t>(width);
  // Features as DenseCRF2D builds them, in float: x / sxy, y / sxy, channel / srgb.
  std::vector<float> gauss(n * 2), bilateral(n * 5);
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<float>(i % w), y = static_cast<float>(i / w);
    gauss[i * 2 + 0] = x / params.gauss_sxy;
    gauss[i * 2 + 1] = y / params.gauss_sxy;
    bilateral[i * 5 + 0] = x / params.bilateral_sxy;
    bilateral[i * 5 + 1] = y / params.bilateral_sxy;
    for (std::size_t k = 0; k < 3; ++k)
      bilateral[i * 5 + 2 + k] = static_cast<float>(rgb[i * 3 + k]) / params.bilateral_srgb;
  }
  kernels_.push_back(std::make_unique<Kernel>(std::move(gauss), n, 2, params.gauss_compat, filtering,
                                              params.threads,
                                              fmt::format("Gaussian (sxy {})", params.gauss_sxy)));
  kernels_.push_back(std::make_unique<Kernel>(
      std::move(bilateral), n, 5, params.bilateral_compat, filtering, params.threads,
      fmt::format("bilateral (sxy {}, srgb {})", params.bilateral_sxy, params.bilateral_srgb)));
}

DenseCrf2d::~DenseCrf2d() = default;
DenseCrf2d::DenseCrf2d(DenseCrf2d&&) noexcept = default;
DenseCrf2d& DenseCrf2d::operator=(DenseCrf2d&&) noexcept = default;

std::vector<float> DenseCrf2d::inference(const std::vector<float>& unary, int n_labels) const {
  check_labels(n_labels, "dense CRF inference");
  const std::size_t n = pixels(), labels = static_cast<std::size_t>(n_labels);
  if (unary.size() != labels * n)
    throw UsageError(
        fmt::format("dense CRF inference: unary has {} values, expected n_labels {} x {}x{} pixels = {}",
                    unary.size(), n_labels, width_, height_, labels * n));
  const int threads = params_.threads;
  // Work pixel-major (the labels of a pixel adjacent), as the lattice filters.
  std::vector<float> neg_unary(labels * n);
  for (std::size_t l = 0; l < labels; ++l) {
    for (std::size_t i = 0; i < n; ++i) {
      const float u = unary[l * n + i];
      if (!std::isfinite(u))
        throw Error(
            fmt::format("dense CRF inference: unary of label {} at pixel {} is not finite ({})", l, i, u));
      neg_unary[i * labels + l] = -u;
    }
  }
  // Per iteration: scale Q by each kernel's norm (one pass), filter, then one
  // pass for energy = -U + sum_k w_k * (norm_k .* filtered_k) (Potts) and its
  // softmax. The operations and their order are densecrf's.
  std::vector<float> q(labels * n);
  std::vector<std::vector<float>> message(kernels_.size(), std::vector<float>(labels * n));
  parallel_ranges(n, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) softmax_row(&neg_unary[i * labels], &q[i * labels], labels);
  });
  for (int it = 0; it < params_.iterations; ++it) {
    parallel_ranges(n, threads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t k = 0; k < kernels_.size(); ++k) {
        const std::vector<float>& norm = kernels_[k]->norm;
        for (std::size_t i = begin; i < end; ++i)
          for (std::size_t l = 0; l < labels; ++l) message[k][i * labels + l] = q[i * labels + l] * norm[i];
      }
    });
    for (std::size_t k = 0; k < kernels_.size(); ++k)
      kernels_[k]->filter(message[k].data(), message[k].data(), labels);
    parallel_ranges(n, threads, [&](std::size_t begin, std::size_t end) {
      std::vector<float> energy(labels);
      for (std::size_t i = begin; i < end; ++i) {
        for (std::size_t l = 0; l < labels; ++l) {
          float e = neg_unary[i * labels + l];
          for (std::size_t k = 0; k < kernels_.size(); ++k)
            e += kernels_[k]->weight * (message[k][i * labels + l] * kernels_[k]->norm[i]);
          energy[l] = e;
        }
        softmax_row(energy.data(), &q[i * labels], labels);
      }
    });
  }
  std::vector<float> result(labels * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t l = 0; l < labels; ++l) result[l * n + i] = q[i * labels + l];
  return result;
}

std::vector<float> dense_crf(const std::uint8_t* rgb, int width, int height, const std::vector<float>& unary,
                             int n_labels, const CrfParams& params) {
  return DenseCrf2d(rgb, width, height, params, Filtering::kPermutohedral).inference(unary, n_labels);
}

std::vector<float> dense_crf_exact(const std::uint8_t* rgb, int width, int height,
                                   const std::vector<float>& unary, int n_labels, const CrfParams& params) {
  return DenseCrf2d(rgb, width, height, params, Filtering::kExact).inference(unary, n_labels);
}

std::vector<std::uint8_t> argmax_labels(const std::vector<float>& q, int n_labels) {
  check_labels(n_labels, "argmax_labels");
  const auto labels = static_cast<std::size_t>(n_labels);
  if (q.size() % labels != 0)
    throw UsageError(
        fmt::format("argmax_labels: {} values are not a multiple of n_labels {}", q.size(), n_labels));
  const std::size_t n = q.size() / labels;
  std::vector<std::uint8_t> out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    float best = q[i];
    for (std::size_t l = 1; l < labels; ++l) {
      if (q[l * n + i] > best) {
        best = q[l * n + i];
        out[i] = static_cast<std::uint8_t>(l);
      }
    }
  }
  return out;
}

std::vector<std::uint8_t> crf_refine_labels(const std::uint8_t* rgb, int width, int height,
                                            const std::uint8_t* labels, int n_labels,
                                            const CrfParams& params) {
  check_image(rgb, width, height, "crf_refine_labels");
  check_labels(n_labels, "crf_refine_labels");
  params.validate();
  if (labels == nullptr) throw UsageError("crf_refine_labels: label map is null");
  const std::size_t n = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  const std::vector<float> unary = unary_from_labels(labels, n, n_labels, params.gt_prob);
  return argmax_labels(dense_crf(rgb, width, height, unary, n_labels, params), n_labels);
}

}  // namespace c2am::wsss
