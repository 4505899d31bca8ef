// Implements: the synthetic scene painter behind `c2am synth`: low-saturation
// cluttered backgrounds with saturated, class-textured blobs placed at random.
// Exposed (beyond the generator) so tests can check boxes against masks.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "image/image.h"

namespace c2am::synth {

// Deterministic random numbers: std::mt19937_64's sequence is fixed by the
// standard, but std::*_distribution are not, so conversions are our own.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() { return engine_(); }
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int uniform_int(int lo, int hi) {  // [lo, hi]
    return lo + static_cast<int>(uniform() * (static_cast<double>(hi) - lo + 1.0));
  }
  bool chance(double p) { return uniform() < p; }

 private:
  std::mt19937_64 engine_;
};

// Combines a seed with a stream id (splitmix64 finaliser): per-image streams
// make the output independent of the order and threads that draw them.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream);

struct SceneSpec {
  int width = 128;
  int height = 128;
  std::vector<int> classes;  // one texture class (0-based) per object, drawn in order
  float min_frac = 0.25f;    // object box side as a fraction of the image side
  float max_frac = 0.65f;
};

struct Scene {
  image::Image image;               // RGB
  image::Image objects;             // 1 channel: 0 background, k = k-th placed object
  std::vector<image::Box> boxes;    // tight box of each placed object's mask: x1 = last column + 1
  std::vector<int> classes;  // class of each placed object
};

// Paints one scene. Objects never overlap (a 3-pixel gap); an object that
// finds no free place in 30 tries is dropped (the first one always fits).
Scene draw_scene(const SceneSpec& spec, std::uint64_t seed);

// "Stripes", "Checker", "Dots" or "Waves": the texture family of a class.
std::string texture_name(int cls);

}  // namespace c2am::synth
