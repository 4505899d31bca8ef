// Implements: our per-image class-CAM file (docs/cams.md), the input of
// `c2am refine-cams`: one HDF5 file per image, <dir>/<stem>.h5, holding the
// VOC class indices of its maps (/keys) and the maps at image resolution
// (/cams, float16 or float32, values in [0, 1]). Written atomically
// (temporary name, fsync, rename). No LibTorch here.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace c2am::cams {

inline constexpr const char* kCamsFormat = "c2am-cams";
inline constexpr int kCamsFormatVersion = 1;
inline constexpr int kMaxCamKey = 255;  // class indices fit a uint8 label mask (255 = ignore in VOC)

// The class activation maps of one image.
struct ClassCams {
  std::vector<int> keys;      // the class index (1..255, background excluded) of each map, in order
  int width = 0, height = 0;  // the image's size
  std::vector<float> values;  // keys.size() x height x width, row-major, in [0, 1]
  std::string image;          // the dataset-relative image name (JPEGImages/2007_000032.jpg) or the stem

  std::size_t count() const { return keys.size(); }
  const float* map(std::size_t k) const {
    return values.data() + k * static_cast<std::size_t>(width) * height;
  }
};

// Writes `c` to `path` (a temporary name, then a rename): /keys int32 (K,),
// /cams (K, H, W) float16 when `half`, else float32; root attributes format,
// version, image. K = 0 is allowed. Throws c2am::Error naming the path when
// `c` is inconsistent (sizes, keys outside 1..255 or repeated, values not
// finite or outside [0, 1]) or the file cannot be written.
void write_class_cams(const std::string& path, const ClassCams& c, bool half = true);

// Reads a file written by write_class_cams (or by h5py in the same layout;
// /cams may be any float type). Validates the format and version attributes,
// the shapes (/cams (K, H, W) with K = len(/keys), H, W > 0), the keys (1..255,
// distinct) and the values (finite, in [0, 1] up to 1e-3, which is clipped).
// Errors name the file and what is wrong.
ClassCams read_class_cams(const std::string& path);
// The same without reading the maps: keys, size and image, `values` left
// empty (every check but the values'). For listing and resuming.
ClassCams read_class_cams_header(const std::string& path);

// <dir>/<stem>.h5
std::string class_cams_path(const std::string& dir, const std::string& stem);

}  // namespace c2am::cams
