// Implements: synthetic scene painting: value-noise backgrounds in grey, brown
// and olive with faint clutter; objects are superellipses, smooth blobs or
// rounded polygons filled with a saturated class texture; exact masks and
// tight boxes.
#include "synth/synth_draw.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "util/error.h"

namespace c2am::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kTable = 512;  // radial samples of a shape outline
constexpr int kGap = 3;      // free pixels between two objects
constexpr int kPlaceTries = 30;

using Rgb = std::array<float, 3>;

double fract(double x) { return x - std::floor(x); }
float clamp01(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
float smoothstep(float e0, float e1, float x) {
  const float t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3.f - 2.f * t);
}

Rgb hsv(double h, double s, double v) {
  h = fract(h) * 6.0;
  const int i = static_cast<int>(h);
  const double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (i) {
    case 1:
      r = q, g = v, b = p;
      break;
    case 2:
      r = p, g = v, b = t;
      break;
    case 3:
      r = p, g = q, b = v;
      break;
    case 4:
      r = t, g = p, b = v;
      break;
    case 5:
      r = v, g = p, b = q;
      break;
    default:
      break;
  }
  return {static_cast<float>(r * 255), static_cast<float>(g * 255), static_cast<float>(b * 255)};
}

std::uint32_t hash3(std::uint32_t x, std::uint32_t y, std::uint32_t s) {
  std::uint32_t h = x * 0x8da6b343u ^ y * 0xd8163841u ^ s * 0xcb1ab31fu;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  h *= 0x297a2d39u;
  return h ^ (h >> 15);
}

// A low-saturation natural tone: grey, brown or olive.
Rgb dull_tone(Rng& rng) {
  const double s = rng.chance(0.25) ? rng.uniform(0.0, 0.06) : rng.uniform(0.08, 0.32);
  return hsv(rng.uniform(0.04, 0.22), s, rng.uniform(0.28, 0.78));
}

// Smooth value noise in [0, 1] on a lattice of `cell` pixels.
class ValueNoise {
 public:
  ValueNoise(Rng& rng, int width, int height, double cell)
      : cell_(cell), gw_(static_cast<int>(width / cell) + 2), gh_(static_cast<int>(height / cell) + 2) {
    values_.resize(static_cast<size_t>(gw_) * gh_);
    for (auto& v : values_) v = static_cast<float>(rng.uniform());
  }
  float at(double x, double y) const {
    const double gx = x / cell_, gy = y / cell_;
    const int ix = std::min(static_cast<int>(gx), gw_ - 2), iy = std::min(static_cast<int>(gy), gh_ - 2);
    const float fx = smoothstep(0.f, 1.f, static_cast<float>(gx - ix));
    const float fy = smoothstep(0.f, 1.f, static_cast<float>(gy - iy));
    const float* r0 = &values_[static_cast<size_t>(iy) * gw_ + ix];
    const float* r1 = r0 + gw_;
    return (r0[0] * (1 - fx) + r0[1] * fx) * (1 - fy) + (r1[0] * (1 - fx) + r1[1] * fx) * fy;
  }

 private:
  double cell_;
  int gw_, gh_;
  std::vector<float> values_;
};

void blend(image::Image& img, int x, int y, const Rgb& c, float alpha) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height || alpha <= 0.f) return;
  std::uint8_t* p = img.at(x, y);
  for (int k = 0; k < 3; ++k) p[k] = static_cast<std::uint8_t>(std::lround(p[k] + (c[k] - p[k]) * alpha));
}

void paint_background(image::Image& img, Rng& rng) {
  const double side = std::min(img.width, img.height);
  const Rgb a = dull_tone(rng), b = dull_tone(rng);
  const ValueNoise mix(rng, img.width, img.height, side * rng.uniform(0.2, 0.45));
  const ValueNoise light(rng, img.width, img.height, side * rng.uniform(0.06, 0.12));
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const float t = mix.at(x, y), l = 0.78f + 0.44f * light.at(x, y);
      std::uint8_t* p = img.at(x, y);
      for (int k = 0; k < 3; ++k)
        p[k] = static_cast<std::uint8_t>(std::clamp((a[k] + (b[k] - a[k]) * t) * l, 0.f, 255.f));
    }
  // Clutter: many small faint strokes, rectangles and rings.
  const double scale = side / 128.0;
  const int count = static_cast<int>(img.width * img.height / rng.uniform(180.0, 320.0));
  for (int i = 0; i < count; ++i) {
    const Rgb c = dull_tone(rng);
    const float alpha = static_cast<float>(rng.uniform(0.15, 0.45));
    const double cx = rng.uniform(0, img.width), cy = rng.uniform(0, img.height);
    const double kind = rng.uniform();
    if (kind < 0.6) {  // stroke: a segment with anti-aliased width
      const double angle = rng.uniform(0, kPi), half = rng.uniform(2, 11) * scale;
      const double thick = rng.uniform(0.8, 2.2), dx = std::cos(angle), dy = std::sin(angle);
      const int r = static_cast<int>(half + thick) + 1;
      for (int y = static_cast<int>(cy) - r; y <= static_cast<int>(cy) + r; ++y)
        for (int x = static_cast<int>(cx) - r; x <= static_cast<int>(cx) + r; ++x) {
          const double px = x + 0.5 - cx, py = y + 0.5 - cy;
          const double along = std::clamp(px * dx + py * dy, -half, half);
          const double d = std::hypot(px - along * dx, py - along * dy);
          blend(img, x, y, c, alpha * clamp01(static_cast<float>(thick / 2 + 0.5 - d)));
        }
    } else if (kind < 0.9) {  // rectangle
      const int w = static_cast<int>(rng.uniform(2, 12) * scale) + 1,
                h = static_cast<int>(rng.uniform(2, 12) * scale) + 1;
      for (int y = static_cast<int>(cy); y < static_cast<int>(cy) + h; ++y)
        for (int x = static_cast<int>(cx); x < static_cast<int>(cx) + w; ++x) blend(img, x, y, c, alpha);
    } else {  // ring
      const double radius = rng.uniform(2, 8) * scale;
      const int r = static_cast<int>(radius) + 2;
      for (int y = static_cast<int>(cy) - r; y <= static_cast<int>(cy) + r; ++y)
        for (int x = static_cast<int>(cx) - r; x <= static_cast<int>(cx) + r; ++x) {
          const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
          blend(img, x, y, c, alpha * clamp01(static_cast<float>(1.0 - std::abs(d - radius))));
        }
    }
  }
}

// ---- shapes ----------------------------------------------------------------

// A star-shaped outline: radius per direction (kTable samples over 2*pi).
struct Shape {
  std::vector<float> radius;
  double rotation = 0;
  float at(double phi) const {  // phi in [-pi, pi]
    const double t = (phi + kPi) / (2 * kPi) * kTable;
    const int i = static_cast<int>(t) % kTable;
    const float f = static_cast<float>(t - std::floor(t));
    return radius[i] * (1 - f) + radius[(i + 1) % kTable] * f;
  }
};

double table_angle(int i) { return -kPi + 2 * kPi * i / kTable; }

void smooth_circular(std::vector<float>& r, int half) {
  std::vector<float> out(r.size());
  for (int i = 0; i < kTable; ++i) {
    float s = 0;
    for (int k = -half; k <= half; ++k) s += r[(i + k + kTable) % kTable];
    out[i] = s / (2 * half + 1);
  }
  r.swap(out);
}

Shape random_shape(Rng& rng) {
  Shape shape;
  shape.radius.resize(kTable);
  shape.rotation = rng.uniform(0, 2 * kPi);
  const int kind = rng.uniform_int(0, 2);
  if (kind == 0) {  // superellipse
    const double n = rng.uniform(1.6, 4.0), b = rng.uniform(0.55, 1.0);
    for (int i = 0; i < kTable; ++i) {
      const double phi = table_angle(i);
      const double s = std::pow(std::abs(std::cos(phi)), n) + std::pow(std::abs(std::sin(phi) / b), n);
      shape.radius[i] = static_cast<float>(std::pow(s, -1.0 / n));
    }
  } else if (kind == 1) {  // smooth blob: low harmonics on a circle
    std::array<double, 5> amp{}, phase{};
    for (int k = 0; k < 5; ++k) amp[k] = rng.uniform(0, 0.28 / (k + 1)), phase[k] = rng.uniform(0, 2 * kPi);
    for (int i = 0; i < kTable; ++i) {
      double r = 1.0;
      for (int k = 0; k < 5; ++k) r += amp[k] * std::cos((k + 2) * table_angle(i) + phase[k]);
      shape.radius[i] = static_cast<float>(std::max(r, 0.35));
    }
  } else {  // irregular polygon, corners rounded by smoothing the radial profile
    const int m = rng.uniform_int(5, 9);
    std::vector<double> angle(m), rad(m);
    for (int k = 0; k < m; ++k)
      angle[k] = -kPi + 2 * kPi * (k + rng.uniform(-0.3, 0.3)) / m, rad[k] = rng.uniform(0.6, 1.0);
    for (int i = 0; i < kTable; ++i) {
      const double phi = table_angle(i);
      int k = m - 1;  // the edge from vertex k to k+1 that the ray crosses
      for (int j = 0; j < m; ++j)
        if (angle[j] <= phi) k = j;
      const int k2 = (k + 1) % m;
      const double ax = rad[k] * std::cos(angle[k]), ay = rad[k] * std::sin(angle[k]);
      const double bx = rad[k2] * std::cos(angle[k2]), by = rad[k2] * std::sin(angle[k2]);
      const double dx = std::cos(phi), dy = std::sin(phi), ex = bx - ax, ey = by - ay;
      const double denom = dx * ey - dy * ex;
      const double r = std::abs(denom) > 1e-9 ? (ax * ey - ay * ex) / denom : rad[k];
      shape.radius[i] = static_cast<float>(std::clamp(r, 0.3, 1.2));
    }
    smooth_circular(shape.radius, kTable / 64);
    smooth_circular(shape.radius, kTable / 64);
  }
  return shape;
}

// ---- class textures --------------------------------------------------------

struct Texture {
  int kind = 0;  // 0 stripes, 1 checker, 2 dots, 3 waves
  Rgb a{}, b{};
  double angle = 0, period = 8, phase_u = 0, phase_v = 0, param = 0.3;
};

// Class identity fixes the family, colours, orientation and scale; each
// instance jitters them a little and draws a random phase.
Texture class_texture(int cls, double side, Rng& rng) {
  Texture t;
  t.kind = cls % 4;
  const double hue = fract(0.02 + cls * 0.6180339887) + rng.uniform(-0.015, 0.015);
  const double bright = rng.uniform(0.88, 1.0);
  t.a = hsv(hue, 0.9, 0.95 * bright);
  t.b = (cls / 4) % 2 == 0 ? hsv(hue + 0.5, 0.85, 0.8 * bright) : hsv(hue + 0.05, 0.95, 0.35 * bright);
  t.angle = fract(cls * 0.7548776662) * kPi + rng.uniform(-0.15, 0.15);
  t.period = side * (0.075 + 0.05 * fract(cls * 0.5698402910)) * rng.uniform(0.88, 1.12);
  t.phase_u = rng.uniform();
  t.phase_v = rng.uniform();
  t.param = t.kind == 2 ? 0.24 + 0.12 * fract(cls * 0.381966) : 0.35;
  return t;
}

// Weight of colour a at texture coordinates (u, v).
float texture_weight(const Texture& t, double u, double v) {
  switch (t.kind) {
    case 0:
      return smoothstep(-0.35f, 0.35f, static_cast<float>(std::sin(2 * kPi * u)));
    case 1:
      return smoothstep(-0.25f, 0.25f, static_cast<float>(std::sin(2 * kPi * u) * std::sin(2 * kPi * v)));
    case 2: {
      const double d = std::hypot(fract(u) - 0.5, fract(v) - 0.5);
      return 1.f - smoothstep(static_cast<float>(t.param - 0.06), static_cast<float>(t.param + 0.06),
                              static_cast<float>(d));
    }
    default:
      return smoothstep(-0.35f, 0.35f,
                        static_cast<float>(std::sin(2 * kPi * (u + t.param * std::sin(kPi * v)))));
  }
}

// ---- placement -------------------------------------------------------------

struct Placement {
  int x0 = 0, y0 = 0, w = 0, h = 0;  // window holding the mask
  std::vector<std::uint8_t> mask;    // w * h
};

Placement rasterize(const Shape& shape, double bx, double by, double bw, double bh, int width, int height) {
  const double c = std::cos(shape.rotation), s = std::sin(shape.rotation);
  double ex0 = 1e9, ex1 = -1e9, ey0 = 1e9, ey1 = -1e9;
  for (int i = 0; i < kTable; ++i) {
    const double phi = table_angle(i), r = shape.radius[i];
    const double x = r * std::cos(phi), y = r * std::sin(phi);
    const double rx = x * c - y * s, ry = x * s + y * c;
    ex0 = std::min(ex0, rx), ex1 = std::max(ex1, rx), ey0 = std::min(ey0, ry), ey1 = std::max(ey1, ry);
  }
  const double sx = bw / (ex1 - ex0), sy = bh / (ey1 - ey0), ox = bx - ex0 * sx, oy = by - ey0 * sy;
  Placement p;
  p.x0 = std::max(0, static_cast<int>(std::floor(bx)));
  p.y0 = std::max(0, static_cast<int>(std::floor(by)));
  p.w = std::min(width, static_cast<int>(std::ceil(bx + bw))) - p.x0;
  p.h = std::min(height, static_cast<int>(std::ceil(by + bh))) - p.y0;
  p.mask.assign(static_cast<size_t>(std::max(p.w, 0)) * std::max(p.h, 0), 0);
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x) {
      const double qx = (p.x0 + x + 0.5 - ox) / sx, qy = (p.y0 + y + 0.5 - oy) / sy;
      const double ux = qx * c + qy * s, uy = -qx * s + qy * c;  // undo the rotation
      if (std::hypot(ux, uy) <= shape.at(std::atan2(uy, ux))) p.mask[static_cast<size_t>(y) * p.w + x] = 1;
    }
  return p;
}

}  // namespace

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string texture_name(int cls) {
  static const char* kNames[4] = {"Stripes", "Checker", "Dots", "Waves"};
  return kNames[((cls % 4) + 4) % 4];
}

namespace {

// One object's window in up to kPlaceTries random shapes, sizes and
// positions, none touching `blocked`; false when every try collided.
bool try_place(const SceneSpec& spec, const std::vector<std::uint8_t>& blocked, Rng& rng, Placement* out) {
  for (int attempt = 0; attempt < kPlaceTries; ++attempt) {
    const Shape shape = random_shape(rng);
    const double frac = rng.uniform(spec.min_frac, spec.max_frac);
    const double aspect = std::sqrt(std::exp(rng.uniform(-0.4, 0.4)));
    const double lo = spec.min_frac, hi = spec.max_frac;
    const double bw = std::clamp(frac * aspect, lo, hi) * spec.width;
    const double bh = std::clamp(frac / aspect, lo, hi) * spec.height;
    // Uniform over every position that keeps the box inside: no centre bias.
    const double bx = rng.uniform(0, spec.width - bw), by = rng.uniform(0, spec.height - bh);
    *out = rasterize(shape, bx, by, bw, bh, spec.width, spec.height);
    bool ok = std::count(out->mask.begin(), out->mask.end(), 1) > 0;
    for (int y = 0; y < out->h && ok; ++y)
      for (int x = 0; x < out->w && ok; ++x)
        ok = out->mask[static_cast<size_t>(y) * out->w + x] == 0 ||
             blocked[static_cast<size_t>(out->y0 + y) * spec.width + out->x0 + x] == 0;
    if (ok) return true;
  }
  return false;
}

// Fills the placed mask with the texture (lit by a soft gradient), labels it
// in scene.objects, blocks it (plus kGap) for later objects; returns its box.
image::Box paint_object(const Placement& place, const Texture& tex, int label, Rng& rng, Scene& scene,
                 std::vector<std::uint8_t>& blocked) {
  const int width = scene.image.width, height = scene.image.height;
  const double cx = place.x0 + place.w / 2.0, cy = place.y0 + place.h / 2.0;
  const double ca = std::cos(tex.angle), sa = std::sin(tex.angle);
  const double lx = rng.uniform(-1, 1), ly = rng.uniform(-1, 1);  // light direction
  image::Box box{1e9f, 1e9f, -1e9f, -1e9f};
  for (int y = 0; y < place.h; ++y)
    for (int x = 0; x < place.w; ++x) {
      if (place.mask[static_cast<size_t>(y) * place.w + x] == 0) continue;
      const int px = place.x0 + x, py = place.y0 + y;
      const double dx = px + 0.5 - cx, dy = py + 0.5 - cy;
      const double u = (dx * ca + dy * sa) / tex.period + tex.phase_u;
      const double v = (-dx * sa + dy * ca) / tex.period + tex.phase_v;
      const float w = texture_weight(tex, u, v);
      const auto light =
          static_cast<float>(1.0 + 0.16 * (lx * dx / (place.w / 2.0) + ly * dy / (place.h / 2.0)));
      std::uint8_t* p = scene.image.at(px, py);
      for (int k = 0; k < 3; ++k)
        p[k] =
            static_cast<std::uint8_t>(std::clamp((tex.b[k] + (tex.a[k] - tex.b[k]) * w) * light, 0.f, 255.f));
      *scene.objects.at(px, py) = static_cast<std::uint8_t>(label);
      box.x0 = std::min<float>(box.x0, px), box.y0 = std::min<float>(box.y0, py);
      box.x1 = std::max<float>(box.x1, px + 1), box.y1 = std::max<float>(box.y1, py + 1);
      for (int by = std::max(0, py - kGap); by <= std::min(height - 1, py + kGap); ++by)
        for (int bx = std::max(0, px - kGap); bx <= std::min(width - 1, px + kGap); ++bx)
          blocked[static_cast<size_t>(by) * width + bx] = 1;
    }
  return box;
}

// Sensor noise in [-3, 3] over everything, so no region is perfectly flat.
void add_noise(image::Image& img, std::uint32_t seed) {
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      std::uint8_t* p = img.at(x, y);
      const std::uint32_t h = hash3(static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y), seed);
      for (int k = 0; k < 3; ++k) {
        const int n = static_cast<int>(((h >> (8 * k)) & 0xffu) % 7u) - 3;
        p[k] = static_cast<std::uint8_t>(std::clamp(p[k] + n, 0, 255));
      }
    }
}

}  // namespace

Scene draw_scene(const SceneSpec& spec, std::uint64_t seed) {
  if (spec.width < 16 || spec.height < 16 || spec.classes.empty() || spec.min_frac <= 0 ||
      spec.max_frac < spec.min_frac || spec.max_frac > 1)
    throw Error("synth: invalid scene spec");
  Rng rng(seed);
  Scene scene;
  scene.image = image::Image(spec.width, spec.height, 3);
  scene.objects = image::Image(spec.width, spec.height, 1);
  paint_background(scene.image, rng);
  std::vector<std::uint8_t> blocked(static_cast<size_t>(spec.width) * spec.height, 0);
  const double side = std::min(spec.width, spec.height);
  for (const int cls : spec.classes) {
    Placement place;
    if (!try_place(spec, blocked, rng, &place)) continue;
    const Texture tex = class_texture(cls, side, rng);
    const int label = static_cast<int>(scene.boxes.size()) + 1;
    scene.boxes.push_back(paint_object(place, tex, label, rng, scene, blocked));
    scene.classes.push_back(cls);
  }
  add_noise(scene.image, static_cast<std::uint32_t>(rng.next()));
  if (scene.boxes.empty()) throw Error("synth: could not place any object (image too small?)");
  return scene;
}

}  // namespace c2am::synth
