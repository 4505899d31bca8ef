// Implements: reading the pseudo boxes that `c2am extract-boxes` writes
// (OUT/boxes.jsonl, docs/wsol.md: one JSON object a line with the image's
// "name", its "box" [x0, y0, x1, y1] in the stored image's pixels and its
// "image_size" [w, h]), the targets of the box regressor (model.kind =
// "regressor"). Torch-free.
#pragma once
#include <array>
#include <string>
#include <unordered_map>

#include "image/image.h"

namespace c2am::data {

struct PseudoBox {
  image::Box box;                   // stored image pixels
  std::array<int, 2> image_size{};  // (w, h) of the image the box was extracted from
};

struct PseudoBoxes {
  std::string file;  // the boxes.jsonl read, for messages
  std::unordered_map<std::string, PseudoBox> by_name;
};

// Reads `path`: a boxes.jsonl file, or a folder holding one. Each line must be
// a JSON object with a string "name", a finite "box" of 4 numbers with
// x0 <= x1, y0 <= y1, and a positive "image_size"; a name twice, a bad line or
// an empty file is an Error naming the file and line.
PseudoBoxes read_pseudo_boxes(const std::string& path);

}  // namespace c2am::data
