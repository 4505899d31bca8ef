// Implements: eval-seg's sample sheet (see seg_samples.h).
#include "cli/seg_samples.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include "image/jpeg.h"
#include "data/loader.h"
#include "image/png.h"
#include "eval/heatmap.h"

namespace c2am::cli {

namespace fs = std::filesystem;

namespace {

constexpr int kTileSide = 128;

image::Image coloured(const image::Image& labels, const image::Palette& palette) {
  image::Image out(labels.width, labels.height, 3);
  for (size_t i = 0; i < static_cast<size_t>(labels.width) * labels.height; ++i) {
    const auto& c = palette[labels.pixels[i * labels.channels]];
    std::copy(c.begin(), c.end(), out.pixels.begin() + static_cast<std::ptrdiff_t>(3 * i));
  }
  return out;
}

image::Image blank() {
  image::Image img(kTileSide, kTileSide, 3);
  std::fill(img.pixels.begin(), img.pixels.end(), 200);
  return img;
}

image::Image read_or_blank(const std::string& path, const image::Palette* palette) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return blank();
  const image::Image img = image::read_png(path);
  if (palette != nullptr && img.channels == 1) return coloured(img, *palette);
  return img;
}

image::Image decode_any(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (bytes.size() > 8 && bytes[0] == 0x89 && bytes[1] == 'P') {
    return image::decode_png(bytes.data(), bytes.size(), name, /*expand_palette=*/true);
  }
  return image::decode_jpeg(bytes.data(), bytes.size(), name);
}

}  // namespace

int write_seg_samples(const wsss::EvalSegOptions& o, const std::string& out_png, int count) {
  const bool have_pred = !o.pred_dir.empty();
  std::vector<std::string> ids =
      wsss::image_ids(o.list_file, have_pred ? o.pred_dir : o.cams_dir, have_pred ? "png" : "h5");
  if (ids.empty() || (!have_pred && o.cues_dir.empty())) return 0;
  ids.resize(std::min(ids.size(), static_cast<size_t>(count)));
  std::unique_ptr<data::Dataset> dataset;
  std::map<std::string, size_t> by_stem;
  if (o.gt_dir.empty() && o.data) {
    dataset = std::make_unique<data::Dataset>(data::open_split(*o.data, o.split));
    for (size_t i = 0; i < dataset->samples.size(); ++i) by_stem[data::sample_stem(dataset->samples[i])] = i;
  }
  const image::Palette palette = image::voc_palette();
  std::vector<image::Image> tiles;
  int columns = 0;
  for (const std::string& id : ids) {
    std::vector<image::Image> row;
    if (dataset) {
      const auto it = by_stem.find(id);
      if (it == by_stem.end()) {
        row.push_back(blank());
        row.push_back(blank());
      } else {
        const data::Sample& s = dataset->samples[it->second];
        row.push_back(decode_any(dataset->bytes(s), dataset->where(s)));
        row.push_back(coloured(dataset->mask(s), palette));
      }
    } else if (!o.gt_dir.empty()) {
      row.push_back(read_or_blank(o.gt_dir + "/" + id + ".png", &palette));
    }
    if (have_pred) row.push_back(read_or_blank(o.pred_dir + "/" + id + ".png", &palette));
    if (!o.cues_dir.empty()) row.push_back(read_or_blank(o.cues_dir + "/" + id + ".png", nullptr));
    columns = static_cast<int>(row.size());
    for (image::Image& t : row) tiles.push_back(std::move(t));
  }
  image::write_png(out_png, eval::contact_sheet(tiles, columns, kTileSide));
  return static_cast<int>(ids.size());
}

}  // namespace c2am::cli
