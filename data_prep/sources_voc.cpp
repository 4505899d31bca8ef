// Implements: the VOC2012 scanner: the image ids of an ImageSets/Segmentation
// list, JPEGImages/<id>.jpg, the class-index mask (SegmentationClassAug for
// train_aug, SegmentationClass otherwise) and the Annotations boxes.
#include <fmt/core.h>

#include <filesystem>

#include "data_prep/pascal_xml.h"
#include "data_prep/sources_internal.h"
#include "util/error.h"

namespace c2am::data_prep::detail {
namespace {

namespace fs = std::filesystem;

constexpr const char* kVocClasses[] = {
    "background", "aeroplane", "bicycle",     "bird",  "boat",        "bottle", "bus",
    "car",        "cat",       "chair",       "cow",   "diningtable", "dog",    "horse",
    "motorbike",  "person",    "pottedplant", "sheep", "sofa",        "train",  "tvmonitor"};

}  // namespace

SourceListing scan_voc(const std::string& root, const std::string& split) {
  std::error_code ec;
  std::string list = join(root, "ImageSets/Segmentation/" + split + ".txt");
  std::string mask_dir = "SegmentationClass";
  if (split == "train" && fs::is_regular_file(join(root, "ImageSets/Segmentation/train_aug.txt"), ec)) {
    list = join(root, "ImageSets/Segmentation/train_aug.txt");
    mask_dir = "SegmentationClassAug";
  }
  require_file(list, fmt::format("the list of the {} split", split));
  const bool has_annotations = fs::is_directory(join(root, "Annotations"), ec);

  SourceListing out;
  out.classes.assign(std::begin(kVocClasses), std::end(kVocClasses));
  for (const NumberedLine& l : read_lines(list)) {
    // "2007_000032", or the DeepLab form "/JPEGImages/2007_000032.jpg /SegmentationClassAug/2007_000032.png".
    const std::string id = stem_of(split_tokens(l.text).front());
    const std::string where = fmt::format("listed at {}:{}", list, l.number);
    SourceRecord r;
    r.name = "JPEGImages/" + id + ".jpg";
    r.path = join(root, r.name);
    require_file(r.path, where);
    r.mask_path = join(root, mask_dir + "/" + id + ".png");
    require_file(r.mask_path, where);
    const std::string xml = join(root, "Annotations/" + id + ".xml");
    if (has_annotations && fs::is_regular_file(xml, ec)) {
      // VOC boxes are 1-based and inclusive; ours are (x0, y0) = first pixel, (x1, y1) = last + 1.
      for (const XmlObject& o : read_pascal_objects(xml)) {
        r.boxes.push_back(image::Box{o.box.x0 - 1, o.box.y0 - 1, o.box.x1, o.box.y1});
        r.box_where.push_back(fmt::format("{}:{}", xml, o.line));
      }
    }
    out.records.push_back(std::move(r));
  }
  return out;
}

}  // namespace c2am::data_prep::detail
