// Implements: Google Benchmark micro-benchmarks of the training loader's
// per-sample stages on one realistic image (a 500x375 q90 JPEG of photo-like
// synthetic content): the decode (DCT-scaled as the loader does: full size
// for 500x375 and a 256 resize), the resample (PIL full image, PIL
// window, fast window), crop + flip (copies vs folded into the window), the
// normalised and uint8 CHW writes, and the whole old and new paths. Before
// the timings it prints kFast's difference from PIL over a set of images
// (and over the JPEGs under --photos DIR, if given).
// Usage: c2am_bench_micro_stages [--photos DIR] [--benchmark_* flags]
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "image/chw.h"
#include "image/jpeg.h"
#include "image/resample_window.h"
#include "image/resize.h"

namespace {

using namespace c2am::image;

constexpr int kResize = 256;
constexpr int kCrop = 224;
constexpr std::array<double, 3> kMean{0.485, 0.456, 0.406};
constexpr std::array<double, 3> kStd{0.229, 0.224, 0.225};

// Photo-like content: smooth shading, a disc, hard-edged blocks, fine texture, noise.
Image photo_like(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Image img(w, h, 3);
  const double cx = u(rng) * w, cy = u(rng) * h, r = (0.2 + 0.2 * u(rng)) * std::min(w, h);
  const double fx = 0.005 + 0.02 * u(rng), fy = 0.005 + 0.02 * u(rng), tex = 0.1 + 0.4 * u(rng);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = img.at(x, y);
      const bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
      for (int c = 0; c < 3; ++c) {
        double v = 90 + 60 * std::sin(fx * (c + 1) * x + fy * y) + 25 * std::sin(tex * x * (c + 1)) * std::cos(tex * y);
        if (inside) v = 200 - 0.3 * v;
        if ((x / 37 + y / 29) % 7 == 0) v = 30 + c * 20;
        v += 12 * (u(rng) - 0.5);
        p[c] = static_cast<std::uint8_t>(std::min(255.0, std::max(0.0, v)));
      }
    }
  return img;
}

const std::vector<std::uint8_t>& jpeg_bytes() {
  static const std::vector<std::uint8_t> bytes = encode_jpeg(photo_like(500, 375, 1), 90);
  return bytes;
}

// The loader's decode: DCT-scaled (1/2, 1/4, 1/8) only where both sides stay >= 256
// (image/jpeg.h), so a 500x375 image is decoded at full size.
Image decode_scaled(const std::vector<std::uint8_t>& bytes) {
  return decode_jpeg(bytes.data(), bytes.size(), "bench.jpg", kResize);
}

const Image& decoded() {
  static const Image img = decode_scaled(jpeg_bytes());
  return img;
}

const Image& resized() {
  static const Image img = resize_bilinear(decoded(), kResize, kResize);
  return img;
}

const Window kWindow{17, 9, kCrop, kCrop};

// data::normalise_chw's loop, verbatim (the data module needs LibTorch).
void normalise_chw_loop(const Image& rgb, const std::array<double, 3>& mean, const std::array<double, 3>& std,
                        float* dst) {
  const size_t plane = static_cast<size_t>(rgb.width) * static_cast<size_t>(rgb.height);
  for (int c = 0; c < 3; ++c) {
    const float scale = static_cast<float>(1.0 / (255.0 * std[c]));
    const float shift = static_cast<float>(mean[c] / std[c]);
    for (size_t p = 0; p < plane; ++p) dst[c * plane + p] = rgb.pixels[p * 3 + c] * scale - shift;
  }
}

void BM_Decode_Scaled256(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(decode_scaled(jpeg_bytes()));
}

void BM_Resample_PilFull(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(resize_bilinear(decoded(), kResize, kResize));
}

void BM_Resample_PilWindow(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(resize_window(decoded(), kResize, kResize, kWindow, false, Resample::kPil));
}

void BM_Resample_FastWindow(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(resize_window(decoded(), kResize, kResize, kWindow, false, Resample::kFast));
}

void BM_CropFlip_OldCopies(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(hflip(crop(resized(), kWindow.x, kWindow.y, kCrop, kCrop)));
}

void BM_CropFlip_FoldedPilWindow(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(resize_window(decoded(), kResize, kResize, kWindow, true, Resample::kPil));
}

void BM_CropFlip_FoldedFastWindow(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(resize_window(decoded(), kResize, kResize, kWindow, true, Resample::kFast));
}

void BM_Normalise_OldLoop(benchmark::State& state) {
  const Image window = crop(resized(), kWindow.x, kWindow.y, kCrop, kCrop);
  std::vector<float> out(3 * kCrop * kCrop);
  for (auto _ : state) {
    normalise_chw_loop(window, kMean, kStd, out.data());
    benchmark::ClobberMemory();
  }
}

void BM_Normalise_WriteChw(benchmark::State& state) {
  const Image window = crop(resized(), kWindow.x, kWindow.y, kCrop, kCrop);
  std::vector<float> out(3 * kCrop * kCrop);
  for (auto _ : state) {
    write_chw_normalised(window, kMean, kStd, out.data());
    benchmark::ClobberMemory();
  }
}

void BM_WriteChwU8(benchmark::State& state) {
  const Image window = crop(resized(), kWindow.x, kWindow.y, kCrop, kCrop);
  std::vector<std::uint8_t> out(3 * kCrop * kCrop);
  for (auto _ : state) {
    write_chw_u8(window, out.data());
    benchmark::ClobberMemory();
  }
}

// Everything after the read: today's loader path, and the two new ones.
void BM_Sample_Old(benchmark::State& state) {
  std::vector<float> out(3 * kCrop * kCrop);
  for (auto _ : state) {
    Image img = decode_scaled(jpeg_bytes());
    img = resize_bilinear(img, kResize, kResize);
    img = hflip(crop(img, kWindow.x, kWindow.y, kCrop, kCrop));
    normalise_chw_loop(img, kMean, kStd, out.data());
    benchmark::ClobberMemory();
  }
}

void sample_new(benchmark::State& state, Resample mode) {
  std::vector<float> out(3 * kCrop * kCrop);
  for (auto _ : state) {
    const Image img = resize_window(decode_scaled(jpeg_bytes()), kResize, kResize, kWindow, true, mode);
    write_chw_normalised(img, kMean, kStd, out.data());
    benchmark::ClobberMemory();
  }
}
void BM_Sample_NewPil(benchmark::State& state) { sample_new(state, Resample::kPil); }
void BM_Sample_NewFast(benchmark::State& state) { sample_new(state, Resample::kFast); }

BENCHMARK(BM_Decode_Scaled256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Resample_PilFull)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Resample_PilWindow)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Resample_FastWindow)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CropFlip_OldCopies)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CropFlip_FoldedPilWindow)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CropFlip_FoldedFastWindow)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Normalise_OldLoop)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Normalise_WriteChw)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WriteChwU8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Sample_Old)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Sample_NewPil)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Sample_NewFast)->Unit(benchmark::kMicrosecond);

// kFast vs kPil over decoded JPEGs, the loader's transform with random windows and flips.
struct Accuracy {
  int images = 0;
  int max = 0;
  double sum = 0;
  size_t values = 0;
  size_t off_by_more_than_one = 0;
};

void compare(const Image& decoded_img, std::mt19937& rng, Filter filter, Accuracy& acc) {
  std::uniform_int_distribution<int> offset(0, kResize - kCrop);
  const Window w{offset(rng), offset(rng), kCrop, kCrop};
  const bool flip = rng() & 1u;
  const Image fast = resize_window(decoded_img, kResize, kResize, w, flip, Resample::kFast, filter);
  const Image pil = resize_window(decoded_img, kResize, kResize, w, flip, Resample::kPil, filter);
  for (size_t i = 0; i < fast.pixels.size(); ++i) {
    const int d = std::abs(int(fast.pixels[i]) - int(pil.pixels[i]));
    acc.max = std::max(acc.max, d);
    acc.sum += d;
    acc.off_by_more_than_one += d > 1;
  }
  acc.values += fast.pixels.size();
  ++acc.images;
}

void print_accuracy(const std::string& what, const Accuracy& a) {
  fmt::print("{:<58} {:>6} {:>8} {:>10.4f} {:>12}\n", what, a.images, a.max, a.sum / std::max<size_t>(a.values, 1),
             a.off_by_more_than_one);
}

void accuracy_report(const std::string& photos) {
  fmt::print("kFast vs kPil, decode hint 256 -> resize 256x256 -> random 224 window, random flip\n");
  fmt::print("{:<58} {:>6} {:>8} {:>10} {:>12}\n", "set", "images", "max|d|", "mean|d|", "|d|>1 values");
  for (Filter filter : {Filter::kBilinear, Filter::kBicubic}) {
    const char* name = filter == Filter::kBilinear ? "bilinear" : "bicubic";
    std::mt19937 rng(2026);
    Accuracy synthetic;
    for (unsigned seed = 0; seed < 40; ++seed) {
      const std::vector<std::uint8_t> bytes = encode_jpeg(photo_like(500, 375, 100 + seed), 90);
      compare(decode_scaled(bytes), rng, filter, synthetic);
    }
    print_accuracy(fmt::format("{}: 40 photo-like 500x375 q90 JPEGs", name), synthetic);
    if (photos.empty()) continue;
    Accuracy folder;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(photos)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".jpg" && ext != ".jpeg" && ext != ".JPEG")) continue;
      std::ifstream f(entry.path(), std::ios::binary);
      const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(f), {}};
      compare(decode_scaled(bytes), rng, filter, folder);
    }
    print_accuracy(fmt::format("{}: JPEGs under {}", name, photos), folder);
  }
  fmt::print("\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string photos;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--photos" && i + 1 < argc) {
      photos = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  accuracy_report(photos);
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
