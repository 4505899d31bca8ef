// Implements: reading the CUB_200_2011 raw layout (images.txt,
// bounding_boxes.txt, train_test_split.txt, image_class_labels.txt,
// classes.txt), with consistency checks whose errors name file:line.
#pragma once
#include <string>
#include <vector>

#include "image/image.h"

namespace c2am::data {

struct CubRecord {
  int id = 0;            // the 1-based id of images.txt
  std::string rel_path;  // as in images.txt: relative to <root>/images/
  int label = 0;         // 0-based class (image_class_labels.txt value minus 1)
  bool is_train = false;
  std::vector<image::Box> boxes;  // CUB has one per image: (x, y, x + w, y + h)
  std::string box_where;          // "<root>/bounding_boxes.txt:<line>" of the box, for errors
};

// Parses and cross-checks the five files under `root`; records sorted by id.
// Every id must appear exactly once in each per-image file and every label
// must be a class of classes.txt; errors (c2am::Error) name file:line.
std::vector<CubRecord> read_cub(const std::string& root);

// classes.txt names ("001.Black_footed_Albatross", ...) by 0-based label.
std::vector<std::string> read_cub_classes(const std::string& root);

}  // namespace c2am::data
