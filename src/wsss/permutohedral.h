// Implements: the permutohedral lattice of Adams, Baek & Davis (2010), "Fast
// high-dimensional filtering using the permutohedral lattice", as the dense CRF
// of Krähenbühl & Koltun uses it: an approximate Gaussian filter
//   out_i ~ sum_j exp(-|f_i - f_j|^2 / 2) in_j      (j = i included)
// over n points with d-dimensional features. The lattice (hash table of
// vertices, each point's d + 1 enclosing vertices and barycentric weights, the
// splat gather, the blur neighbours) is built once from the features; each
// filter call then only splats, blurs along the d + 1 lattice axes and slices.
// Built and filtered with `threads` std::threads; every sum runs in a fixed
// order, so results are bit-identical whatever the thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "util/threads.h"

namespace c2am::wsss {

using util::parallel_ranges;  // util/threads.h: the lattice and the CRF split their per-point loops with it

class PermutohedralLattice {
 public:
  // features: n points of d floats each, point-major (features[i * d + k]),
  // already divided by the kernel's standard deviations. Throws c2am::Error on
  // a non-finite feature, a feature too large for the lattice's integer
  // coordinates, or n * (d + 1) beyond 32-bit indices; UsageError on n == 0,
  // d < 1 or threads < 1.
  PermutohedralLattice(const float* features, std::size_t n, int d, int threads);

  // out[i * channels + c] = the filtered in[. * channels + c] (point-major, n
  // rows of `channels` values). `out` may alias `in`.
  void filter(const float* in, float* out, int channels) const;

  std::size_t points() const { return n_; }
  int dimension() const { return d_; }
  std::size_t vertices() const { return m_; }
  int threads() const { return threads_; }

 private:
  // The passes of filter(), over rows of c values: splat all points in
  // order, splat (gather) vertices [vb, ve), blur vertices [vb, ve) along one
  // axis, slice points [pb, pe).
  void splat_scatter(const float* in, std::size_t c, float* values) const;
  void splat_gather(const float* in, std::size_t c, float* values, std::size_t vb, std::size_t ve) const;
  void blur_axis(std::size_t axis, const float* src, float* dst, std::size_t c, std::size_t vb,
                 std::size_t ve) const;
  void slice(const float* values, std::size_t c, bool narrow, float* out, std::size_t pb,
             std::size_t pe) const;

  std::size_t n_ = 0;
  int d_ = 0;
  int threads_ = 1;
  std::size_t m_ = 0;  // lattice vertices; index m_ is the "absent" vertex, always 0
  // Slice: point i reads vertices slice_vertex_[i*(d+1) + r] with barycentric
  // weights slice_weight_[...], scaled by alpha_.
  std::vector<std::uint32_t> slice_vertex_;
  std::vector<float> slice_weight_;
  float alpha_ = 1.0f;
  // Splat as a gather (CSR), built only for threads > 1: vertex v sums
  // splat_weight_[k] * in[splat_point_[k]] for k in [splat_start_[v],
  // splat_start_[v + 1]), points in increasing order. Empty: scatter in point
  // order (the same sums in the same order).
  std::vector<std::uint32_t> splat_start_;
  std::vector<std::uint32_t> splat_point_;
  std::vector<float> splat_weight_;
  // Blur: along axis j, vertex v's two neighbours are blur_neighbour_[(j*m + v)*2 + {0,1}]
  // (m_ where the neighbour is not in the lattice).
  std::vector<std::uint32_t> blur_neighbour_;
};

}  // namespace c2am::wsss
