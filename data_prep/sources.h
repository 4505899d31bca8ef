// Implements: scanning a raw dataset layout (method doc §9: CUB_200_2011,
// ILSVRC2012, VOC2012, or a plain folder of images) into the list of images
// of one split that `c2am pack` writes, with labels, boxes and mask files.
#pragma once
#include <string>
#include <vector>

#include "image/image.h"

namespace c2am::data_prep {

// One image of a split, as found in the raw layout.
struct SourceRecord {
  std::string name;              // path relative to the source root, '/'-separated (unique in the split)
  std::string path;              // the file to read
  int label = -1;                // 0-based class, -1 = none
  std::vector<image::Box> boxes;  // in the original image's pixels; may be empty
  std::vector<std::string> box_where;  // per box: "<file>:<line>" it was read from (for errors)
  std::string mask_path;         // VOC class-index PNG; empty when none
};

struct SourceListing {
  std::vector<SourceRecord> records;  // sorted by name (byte order)
  std::vector<std::string> classes;   // index = label (voc: index = mask value, 0 = background)
};

// Layouts and the splits each one has: cub train|test, imagenet train|val,
// voc train|val, folder train|val|test (the split is only recorded).
bool is_known_layout(const std::string& layout);
// Throws c2am::UsageError naming the layout or split when the pair is not supported.
void check_layout_split(const std::string& layout, const std::string& split);

// Scans `root` for `split`. Errors (c2am::Error) name the file:line at fault,
// or the missing file; an empty split is an error.
SourceListing scan_source(const std::string& layout, const std::string& split, const std::string& root);

}  // namespace c2am::data_prep
