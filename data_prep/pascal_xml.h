// Implements: the minimal XML reader for PASCAL-style annotations (VOC
// Annotations/*.xml, ImageNet val_boxes/val/*.xml): a small element-tree
// parser (no attributes, no namespaces, no DTDs) and the object/box walk.
#pragma once
#include <string>
#include <vector>

#include "image/image.h"

namespace c2am::data_prep {

// One <object>: its <name> and <bndbox> values exactly as written in the file.
struct XmlObject {
  std::string name;
  image::Box box;  // xmin, ymin, xmax, ymax
  int line = 0;   // of the <object> tag
};

// Every <object> of the root element, in file order. Errors (c2am::Error) name
// `path`:line: malformed XML, a missing <name>/<bndbox>/<xmin>..., a value
// that is not a number.
std::vector<XmlObject> parse_pascal_objects(const std::string& text, const std::string& path);

// Reads and parses the file at `path`.
std::vector<XmlObject> read_pascal_objects(const std::string& path);

}  // namespace c2am::data_prep
