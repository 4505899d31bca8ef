#include "wsss/permutohedral.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "util/error.h"
#include "util/threads.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace c2am::wsss {

namespace {

constexpr int kMaxDimension = 32;
// Lattice coordinates are computed in float and stored as int32: keep every
// elevated coordinate below 2^22 so they stay exact integers in float.
constexpr double kMaxElevated = 4194304.0;
constexpr std::uint32_t kAbsent = std::numeric_limits<std::uint32_t>::max();

// Round to the nearest integer, ties to even (the default rounding mode), as
// densecrf's SSE path does with cvtps2dq. std::nearbyint is a libm call here.
inline float round_half_even(float v) {
#if defined(__SSE2__)
  return static_cast<float>(_mm_cvtss_si32(_mm_set_ss(v)));
#else
  return std::nearbyint(v);
#endif
}

inline bool same_key(const std::int32_t* a, const std::int32_t* b, std::size_t d) {
  for (std::size_t i = 0; i < d; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// Reusable barrier for a fixed group of threads (C++17 has no std::barrier).
class Barrier {
 public:
  explicit Barrier(int count) : count_(count) {}
  void wait() {
    if (count_ == 1) return;
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t generation = generation_;
    if (++waiting_ == count_) {
      waiting_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != generation; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_;
  int waiting_ = 0;
  std::uint64_t generation_ = 0;
};

using util::run_threads;
using util::slice_begin;

// Open-addressing hash table (linear probing) from integer lattice keys (d
// coordinates; the (d+1)-th is implied by the zero sum) to dense vertex ids in
// insertion order. A slot holds the id and the key inline, so a probe touches
// one cache line, not two.
class VertexTable {
 public:
  // Starts small and doubles at half load: images have far fewer vertices than
  // points, and a table that fits in cache is much faster to probe.
  explicit VertexTable(int d)
      : d_(static_cast<std::size_t>(d)),
        stride_(d_ + 1),
        capacity_(1024),
        slots_(capacity_ * stride_, kAbsent) {}

  std::size_t size() const { return size_; }
  const std::int32_t* key(std::uint32_t id) const { return &keys_[id * d_]; }

  std::uint32_t insert(const std::int32_t* k) {
    if (2 * (size_ + 1) > capacity_) grow();
    std::size_t slot = home(k);
    while (true) {
      std::uint32_t* s = &slots_[slot * stride_];
      if (s[0] == kAbsent) {
        const auto fresh = static_cast<std::uint32_t>(size_++);
        s[0] = fresh;
        for (std::size_t i = 0; i < d_; ++i) s[1 + i] = static_cast<std::uint32_t>(k[i]);
        keys_.insert(keys_.end(), k, k + d_);
        return fresh;
      }
      if (holds(s, k)) return s[0];
      slot = (slot + 1) & (capacity_ - 1);
    }
  }

  // The id of key k, or kAbsent.
  std::uint32_t find(const std::int32_t* k) const {
    std::size_t slot = home(k);
    while (true) {
      const std::uint32_t* s = &slots_[slot * stride_];
      if (s[0] == kAbsent || holds(s, k)) return s[0];
      slot = (slot + 1) & (capacity_ - 1);
    }
  }

 private:
  bool holds(const std::uint32_t* s, const std::int32_t* k) const {
    for (std::size_t i = 0; i < d_; ++i)
      if (s[1 + i] != static_cast<std::uint32_t>(k[i])) return false;
    return true;
  }

  std::size_t home(const std::int32_t* k) const {
    std::uint64_t h = 0x243F6A8885A308D3ull;
    for (std::size_t i = 0; i < d_; ++i) {
      h ^= static_cast<std::uint32_t>(k[i]);
      h *= 0x9E3779B97F4A7C15ull;
      h ^= h >> 31;
    }
    return static_cast<std::size_t>(h) & (capacity_ - 1);
  }

  void grow() {
    capacity_ *= 2;
    slots_.assign(capacity_ * stride_, kAbsent);
    for (std::uint32_t id = 0; id < size_; ++id) {
      std::size_t slot = home(key(id));
      while (slots_[slot * stride_] != kAbsent) slot = (slot + 1) & (capacity_ - 1);
      std::uint32_t* s = &slots_[slot * stride_];
      s[0] = id;
      for (std::size_t i = 0; i < d_; ++i) s[1 + i] = static_cast<std::uint32_t>(key(id)[i]);
    }
  }

  std::size_t d_;
  std::size_t stride_;
  std::size_t capacity_;
  std::size_t size_ = 0;
  std::vector<std::uint32_t> slots_;  // capacity_ x (id, key[0..d))
  std::vector<std::int32_t> keys_;    // size_ x d, by id
};

// The simplex of the permutohedral lattice enclosing one point (Adams et al.
// 2010, section 3.1): elevate the scaled feature onto the hyperplane H_d of
// R^(d+1), find the nearest remainder-0 lattice point and the ordering (rank)
// of the residual's coordinates, and the barycentric weights of the d + 1
// vertices. Writes rem0[0..d), rank[0..d), bary[0..d]. D = d known at compile
// time (2 and 5, the CRF's kernels: registers instead of memory), or 0.
template <int D>
void enclosing_simplex(const float* f, const float* scale, int d_runtime, std::int32_t* rem0,
                       std::uint8_t* rank, float* bary) {
  constexpr std::size_t kCap = D > 0 ? D + 2 : kMaxDimension + 2;
  const int d = D > 0 ? D : d_runtime;
  const int d1 = d + 1;
  const float inv_d1 = 1.0f / static_cast<float>(d1), fd1 = static_cast<float>(d1);
  float elev[kCap], rem[kCap], b[kCap];
  int rk[kCap];
  float sum_tail = 0.0f;  // sum of the scaled coordinates j..d-1
  for (int j = d; j > 0; --j) {
    const float cf = f[j - 1] * scale[j - 1];
    elev[j] = sum_tail - static_cast<float>(j) * cf;
    sum_tail += cf;
  }
  elev[0] = sum_tail;
  // Nearest remainder-0 point: round each coordinate to a multiple of d+1.
  int sum = 0;
  for (int i = 0; i < d1; ++i) {
    const float r = round_half_even(inv_d1 * elev[i]);
    rem[i] = r * fd1;
    sum += static_cast<int>(r);
  }
  // Rank of each coordinate's residual (descending order), ties by index.
  for (int i = 0; i < d1; ++i) rk[i] = 0;
  for (int i = 0; i < d; ++i) {
    const float di = elev[i] - rem[i];
    for (int j = i + 1; j < d1; ++j) {
      const int less = di < elev[j] - rem[j] ? 1 : 0;
      rk[i] += less;
      rk[j] += 1 - less;
    }
  }
  // Bring the rounded point back onto H_d (coordinate sum zero).
  for (int i = 0; i < d1; ++i) {
    rk[i] += sum;
    if (rk[i] < 0) {
      rk[i] += d1;
      rem[i] += fd1;
    } else if (rk[i] > d) {
      rk[i] -= d1;
      rem[i] -= fd1;
    }
  }
  // Barycentric coordinates.
  for (int i = 0; i <= d1; ++i) b[i] = 0.0f;
  for (int i = 0; i < d1; ++i) {
    const float v = (elev[i] - rem[i]) * inv_d1;
    b[d - rk[i]] += v;
    b[d - rk[i] + 1] -= v;
  }
  b[0] += 1.0f + b[d1];
  for (int i = 0; i < d; ++i) {
    rem0[i] = static_cast<std::int32_t>(rem[i]);
    rank[i] = static_cast<std::uint8_t>(rk[i]);
  }
  for (int r = 0; r < d1; ++r) bary[r] = b[r];
}

}  // namespace

PermutohedralLattice::PermutohedralLattice(const float* features, std::size_t n, int d, int threads)
    : n_(n), d_(d), threads_(threads) {
  if (features == nullptr) throw UsageError("permutohedral lattice: features is null");
  if (n == 0) throw UsageError("permutohedral lattice: no points (n == 0)");
  if (d < 1 || d > kMaxDimension)
    throw UsageError(
        fmt::format("permutohedral lattice: feature dimension {} outside [1, {}]", d, kMaxDimension));
  if (threads < 1)
    throw UsageError(fmt::format("permutohedral lattice: threads must be >= 1, got {}", threads));
  const std::size_t du = static_cast<std::size_t>(d), d1 = du + 1;
  if (n > (std::numeric_limits<std::uint32_t>::max() - 1) / d1)
    throw Error(fmt::format("permutohedral lattice: {} points x {} vertices exceed 32-bit indices", n, d1));

  // The elevation of Adams et al. (2010), section 3.1: scale each axis so the
  // lattice's blur matches a unit-variance Gaussian, then project onto the
  // hyperplane H_d of R^(d+1) where the permutohedral lattice lives.
  const auto inv_std = static_cast<float>(std::sqrt(2.0 / 3.0) * static_cast<double>(d1));
  std::array<float, kMaxDimension> scale{};
  for (std::size_t k = 0; k < du; ++k)
    scale[k] = static_cast<float>(1.0 / std::sqrt(static_cast<double>((k + 1) * (k + 2))) * inv_std);
  float max_abs = 0.0f;
  for (std::size_t i = 0; i < n * du; ++i) {
    if (!std::isfinite(features[i]))
      throw Error(fmt::format("permutohedral lattice: feature {} of point {} is not finite", i % du, i / du));
    max_abs = std::max(max_abs, std::fabs(features[i]));
  }
  if (static_cast<double>(max_abs) * static_cast<double>(d1 * d1) >= kMaxElevated)
    throw Error(fmt::format(
        "permutohedral lattice: feature magnitude {} too large for {}-d lattice coordinates (limit {:.0f})",
        max_abs, d, kMaxElevated / static_cast<double>(d1 * d1)));

  // Per point (in parallel): the remainder-0 vertex and the ordering (rank) of
  // the simplex enclosing the elevated point, and its barycentric weights.
  std::vector<std::int32_t> rem0(n * du);
  std::vector<std::uint8_t> rank(n * du);
  std::vector<float> bary(n * d1);
  parallel_ranges(n, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      const float* f = features + p * du;
      if (d == 2)
        enclosing_simplex<2>(f, scale.data(), d, &rem0[p * du], &rank[p * du], &bary[p * d1]);
      else if (d == 5)
        enclosing_simplex<5>(f, scale.data(), d, &rem0[p * du], &rank[p * du], &bary[p * d1]);
      else
        enclosing_simplex<0>(f, scale.data(), d, &rem0[p * du], &rank[p * du], &bary[p * d1]);
    }
  });

  // Vertices, in point order (sequential: ids are insertion order). Vertex r
  // of the simplex is the remainder-0 point plus the canonical offset r.
  // Neighbouring points mostly share vertices: compare with the previous
  // point's vertex of the same remainder before probing the table.
  VertexTable table(d);
  slice_vertex_.resize(n * d1);
  std::array<std::int32_t, kMaxDimension> key{};
  std::vector<std::int32_t> previous_key(d1 * du, std::numeric_limits<std::int32_t>::min());
  std::vector<std::uint32_t> previous_id(d1, kAbsent);
  for (std::size_t p = 0; p < n; ++p) {
    for (std::size_t r = 0; r < d1; ++r) {
      for (std::size_t i = 0; i < du; ++i) {
        const int ri = rank[p * du + i];
        const int offset = ri <= d - static_cast<int>(r) ? static_cast<int>(r) : static_cast<int>(r) - d - 1;
        key[i] = rem0[p * du + i] + offset;
      }
      std::int32_t* last = &previous_key[r * du];
      if (previous_id[r] == kAbsent || !same_key(key.data(), last, du)) {
        previous_id[r] = table.insert(key.data());
        std::copy(key.begin(), key.begin() + d, last);
      }
      slice_vertex_[p * d1 + r] = previous_id[r];
    }
  }
  m_ = table.size();
  const auto absent = static_cast<std::uint32_t>(m_);

  // Blur neighbours along each of the d+1 axes: key +- (d+1) e_j - 1 (the
  // implied (d+1)-th coordinate makes axis d the all-(-1) / all-(+1) shift).
  blur_neighbour_.resize(d1 * m_ * 2);
  parallel_ranges(m_, threads, [&](std::size_t begin, std::size_t end) {
    std::array<std::int32_t, kMaxDimension + 1> n1{}, n2{};
    for (std::size_t v = begin; v < end; ++v) {
      const std::int32_t* k = table.key(static_cast<std::uint32_t>(v));
      for (std::size_t j = 0; j < d1; ++j) {
        for (std::size_t i = 0; i < du; ++i) {
          n1[i] = k[i] - 1;
          n2[i] = k[i] + 1;
        }
        if (j < du) {
          n1[j] = k[j] + d;
          n2[j] = k[j] - d;
        }
        const std::uint32_t a = table.find(n1.data()), c = table.find(n2.data());
        blur_neighbour_[(j * m_ + v) * 2 + 0] = a == kAbsent ? absent : a;
        blur_neighbour_[(j * m_ + v) * 2 + 1] = c == kAbsent ? absent : c;
      }
    }
  });

  // Splat gather for more than one thread: CSR by vertex, points in increasing
  // order within a vertex. Built in parallel: each thread owns a range of
  // vertices and scans all (point, vertex) pairs for its own. One thread
  // splats by scattering in point order instead, which sums every vertex in
  // the same order, so the two give identical results.
  if (threads > 1) {
    splat_start_.assign(m_ + 1, 0);
    splat_point_.resize(n * d1);
    splat_weight_.resize(n * d1);
    const int used = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads), m_));
    run_threads(used, [&](int t) {
      const std::size_t vb = slice_begin(m_, t, used), ve = slice_begin(m_, t + 1, used);
      for (std::uint32_t v : slice_vertex_)
        if (v >= vb && v < ve) ++splat_start_[v + 1];
    });
    for (std::size_t v = 0; v < m_; ++v) splat_start_[v + 1] += splat_start_[v];
    run_threads(used, [&](int t) {
      const std::size_t vb = slice_begin(m_, t, used), ve = slice_begin(m_, t + 1, used);
      std::vector<std::uint32_t> fill(splat_start_.begin() + static_cast<std::ptrdiff_t>(vb),
                                      splat_start_.begin() + static_cast<std::ptrdiff_t>(ve));
      for (std::size_t k = 0; k < n * d1; ++k) {
        const std::uint32_t v = slice_vertex_[k];
        if (v < vb || v >= ve) continue;
        const std::uint32_t at = fill[v - vb]++;
        splat_point_[at] = static_cast<std::uint32_t>(k / d1);
        splat_weight_[at] = bary[k];
      }
    });
  }

  // Slicing scales by the lattice's normalising constant alpha = 1 / (1 + 2^-d)
  // (Adams et al.), so the splat-blur-slice round trip keeps a constant signal
  // near its value.
  alpha_ = 1.0f / (1.0f + std::pow(2.0f, -static_cast<float>(d)));
  slice_weight_ = std::move(bary);
}

// The passes of filter() over rows of c values (points or vertices; vertex
// row m_ is the absent vertex, always 0).

void PermutohedralLattice::splat_scatter(const float* in, std::size_t c, float* values) const {
  const auto d1 = static_cast<std::size_t>(d_) + 1;
  for (std::size_t p = 0; p < n_; ++p) {
    const float* src = in + p * c;
    for (std::size_t r = 0; r < d1; ++r) {
      const float w = slice_weight_[p * d1 + r];
      float* dst = values + static_cast<std::size_t>(slice_vertex_[p * d1 + r]) * c;
      for (std::size_t ch = 0; ch < c; ++ch) dst[ch] += w * src[ch];
    }
  }
}

void PermutohedralLattice::splat_gather(const float* in, std::size_t c, float* values, std::size_t vb,
                                        std::size_t ve) const {
  for (std::size_t v = vb; v < ve; ++v) {
    float* dst = values + v * c;
    for (std::uint32_t k = splat_start_[v]; k < splat_start_[v + 1]; ++k) {
      const float w = splat_weight_[k];
      const float* src = in + static_cast<std::size_t>(splat_point_[k]) * c;
      for (std::size_t ch = 0; ch < c; ++ch) dst[ch] += w * src[ch];
    }
  }
}

void PermutohedralLattice::blur_axis(std::size_t axis, const float* src, float* dst, std::size_t c,
                                     std::size_t vb, std::size_t ve) const {
  const std::uint32_t* nb = &blur_neighbour_[axis * m_ * 2];
  for (std::size_t v = vb; v < ve; ++v) {
    const float* a = src + static_cast<std::size_t>(nb[2 * v]) * c;
    const float* b = src + static_cast<std::size_t>(nb[2 * v + 1]) * c;
    const float* self = src + v * c;
    float* o = dst + v * c;
    for (std::size_t ch = 0; ch < c; ++ch) o[ch] = self[ch] + 0.5f * (a[ch] + b[ch]);
  }
}

void PermutohedralLattice::slice(const float* values, std::size_t c, bool narrow, float* out, std::size_t pb,
                                 std::size_t pe) const {
  const auto d1 = static_cast<std::size_t>(d_) + 1;
  const float alpha = alpha_;
  for (std::size_t p = pb; p < pe; ++p) {
    float* o = out + p * c;
    for (std::size_t ch = 0; ch < c; ++ch) o[ch] = 0.0f;
    for (std::size_t r = 0; r < d1; ++r) {
      const float w = slice_weight_[p * d1 + r];
      const float* val = values + static_cast<std::size_t>(slice_vertex_[p * d1 + r]) * c;
      if (narrow) {
        for (std::size_t ch = 0; ch < c; ++ch) o[ch] += w * val[ch] * alpha;
      } else {
        const float wa = w * alpha;
        for (std::size_t ch = 0; ch < c; ++ch) o[ch] += wa * val[ch];
      }
    }
  }
}

void PermutohedralLattice::filter(const float* in, float* out, int channels) const {
  if (in == nullptr || out == nullptr) throw UsageError("permutohedral filter: null input or output");
  if (channels < 1)
    throw UsageError(fmt::format("permutohedral filter: channels must be >= 1, got {}", channels));
  const auto c = static_cast<std::size_t>(channels);
  const auto d1 = static_cast<std::size_t>(d_) + 1;
  // The slice's product order follows densecrf (w * value * alpha for <= 2
  // channels, (w * alpha) * value above), which makes the filter
  // bit-identical to both its sequential and its SSE code path.
  const bool narrow = c <= 2;
  const auto threads = static_cast<std::size_t>(threads_);

  // The threads split vertices (splat, blur) and points (slice), all channels
  // at once, and meet at a barrier after the splat and after each blur pass.
  // (Splitting channels instead, one thread per label, needs no barriers but
  // was slower: every thread then streams the whole lattice structure.) One
  // thread: splat by scattering.
  std::vector<float> buf_a((m_ + 1) * c, 0.0f), buf_b((m_ + 1) * c, 0.0f);
  const int used = static_cast<int>(std::min<std::size_t>(threads, m_));
  Barrier barrier(used);
  run_threads(used, [&](int t) {
    const std::size_t vb = slice_begin(m_, t, used), ve = slice_begin(m_, t + 1, used);
    if (splat_start_.empty())
      splat_scatter(in, c, buf_a.data());
    else
      splat_gather(in, c, buf_a.data(), vb, ve);
    barrier.wait();
    float* src = buf_a.data();
    float* dst = buf_b.data();
    for (std::size_t j = 0; j < d1; ++j) {
      blur_axis(j, src, dst, c, vb, ve);
      barrier.wait();
      std::swap(src, dst);
    }
    // `in` is no longer read, so `out` may alias it.
    slice(src, c, narrow, out, slice_begin(n_, t, used), slice_begin(n_, t + 1, used));
  });
}

}  // namespace c2am::wsss
