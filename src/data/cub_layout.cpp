// Implements: the CUB_200_2011 text-file parser: one small tokenizer, one
// "id -> line" table per file, then cross-file checks.
#include "data/cub_layout.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>

#include "util/error.h"
#include "util/fs.h"

namespace c2am::data {
namespace {

struct Line {
  int number = 0;
  std::vector<std::string> tokens;
  std::string rest;  // the text after the first token, trimmed
};

struct TextFile {
  std::string path;
  std::vector<Line> lines;  // non-blank lines only

  [[noreturn]] void fail(int line, const std::string& what) const {
    throw Error(fmt::format("{}:{}: {}", path, line, what));
  }
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

TextFile load(const std::string& root, const std::string& name) {
  TextFile f;
  f.path = (std::filesystem::path(root) / name).string();
  const std::string text = util::read_file(f.path);
  size_t pos = 0;
  int number = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(text.substr(pos, end - pos));
    ++number;
    pos = end + 1;
    if (line.empty()) continue;
    Line l;
    l.number = number;
    size_t i = 0;
    while (i < line.size()) {
      const size_t j = line.find_first_of(" \t", i);
      const size_t stop = j == std::string::npos ? line.size() : j;
      if (stop > i) l.tokens.push_back(line.substr(i, stop - i));
      i = stop + 1;
    }
    const size_t gap = line.find_first_of(" \t");
    l.rest = gap == std::string::npos ? "" : trim(line.substr(gap));
    f.lines.push_back(std::move(l));
  }
  return f;
}

int parse_int(const TextFile& f, const Line& l, const std::string& token, const char* what) {
  int v = 0;
  const auto r = std::from_chars(token.data(), token.data() + token.size(), v);
  if (r.ec != std::errc() || r.ptr != token.data() + token.size())
    f.fail(l.number, fmt::format("{} '{}' is not an integer", what, token));
  return v;
}

float parse_float(const TextFile& f, const Line& l, const std::string& token, const char* what) {
  float v = 0;
  const auto r = std::from_chars(token.data(), token.data() + token.size(), v);
  if (r.ec != std::errc() || r.ptr != token.data() + token.size())
    f.fail(l.number, fmt::format("{} '{}' is not a number", what, token));
  return v;
}

// images.txt paths stay inside <root>/images/: relative, no '..' component.
// The check is on the text; symbolic links below the root are followed.
void check_confined(const TextFile& f, int line, const std::string& rel) {
  const std::filesystem::path p(rel);
  if (p.is_absolute() || rel.front() == '/')
    f.fail(line, fmt::format("path '{}' is absolute; it must be relative to the images/ folder", rel));
  for (const std::filesystem::path& part : p)
    if (part == "..")
      f.fail(line,
             fmt::format("path '{}' has a '..' component; it must stay inside the images/ folder", rel));
}

// id -> line index; each id once; `columns` tokens per line (0 = at least 2).
std::map<int, size_t> index_by_id(const TextFile& f, size_t columns, const char* format) {
  std::map<int, size_t> by_id;
  for (size_t i = 0; i < f.lines.size(); ++i) {
    const Line& l = f.lines[i];
    if (columns != 0 ? l.tokens.size() != columns : l.tokens.size() < 2)
      f.fail(l.number, fmt::format("expected \"{}\", got {} field(s)", format, l.tokens.size()));
    const int id = parse_int(f, l, l.tokens[0], "id");
    const auto [it, fresh] = by_id.emplace(id, i);
    if (!fresh)
      f.fail(l.number, fmt::format("id {} appears again (first on line {})", id, f.lines[it->second].number));
  }
  return by_id;
}

// Every id of images.txt exactly once in `f`, and nothing else.
void check_same_ids(const TextFile& images, const std::map<int, size_t>& image_ids, const TextFile& f,
                    const std::map<int, size_t>& ids) {
  for (const auto& [id, i] : ids)
    if (image_ids.count(id) == 0)
      f.fail(f.lines[i].number, fmt::format("image id {} is not in {}", id, images.path));
  for (const auto& [id, i] : image_ids)
    if (ids.count(id) == 0)
      throw Error(fmt::format("{}: no line for image id {} (listed at {}:{})", f.path, id, images.path,
                              images.lines[i].number));
}

}  // namespace

std::vector<std::string> read_cub_classes(const std::string& root) {
  const TextFile f = load(root, "classes.txt");
  const auto by_id = index_by_id(f, 0, "class_id name");
  std::vector<std::string> names;
  int expect = 1;
  for (const auto& [id, i] : by_id) {
    if (id != expect)
      f.fail(f.lines[i].number,
             fmt::format("class ids must run 1, 2, ... without gaps; expected {}, got {}", expect, id));
    names.push_back(f.lines[i].rest);
    ++expect;
  }
  if (names.empty()) throw Error(fmt::format("{}: no classes", f.path));
  return names;
}

std::vector<CubRecord> read_cub(const std::string& root) {
  const size_t num_classes = read_cub_classes(root).size();
  const TextFile images = load(root, "images.txt");
  const TextFile boxes = load(root, "bounding_boxes.txt");
  const TextFile split = load(root, "train_test_split.txt");
  const TextFile labels = load(root, "image_class_labels.txt");
  const auto image_ids = index_by_id(images, 0, "image_id path");
  const auto box_ids = index_by_id(boxes, 5, "image_id x y width height");
  const auto split_ids = index_by_id(split, 2, "image_id is_training_image");
  const auto label_ids = index_by_id(labels, 2, "image_id class_id");
  if (image_ids.empty()) throw Error(fmt::format("{}: no images", images.path));
  check_same_ids(images, image_ids, boxes, box_ids);
  check_same_ids(images, image_ids, split, split_ids);
  check_same_ids(images, image_ids, labels, label_ids);

  std::vector<CubRecord> records;
  records.reserve(image_ids.size());
  for (const auto& [id, i] : image_ids) {
    CubRecord r;
    r.id = id;
    r.rel_path = images.lines[i].rest;
    check_confined(images, images.lines[i].number, r.rel_path);

    const Line& b = boxes.lines[box_ids.at(id)];
    const float x = parse_float(boxes, b, b.tokens[1], "x"), y = parse_float(boxes, b, b.tokens[2], "y");
    const float w = parse_float(boxes, b, b.tokens[3], "width"),
                h = parse_float(boxes, b, b.tokens[4], "height");
    if (!std::isfinite(x) || !std::isfinite(y) || !std::isfinite(w) || !std::isfinite(h) ||
        !std::isfinite(x + w) || !std::isfinite(y + h))
      boxes.fail(b.number, fmt::format("box ({}, {}, {}, {}) of image id {} is not finite", b.tokens[1],
                                       b.tokens[2], b.tokens[3], b.tokens[4], id));
    if (w < 0 || h < 0 || x < 0 || y < 0)
      boxes.fail(b.number, fmt::format("negative box value for image id {}", id));
    r.boxes.push_back(image::Box{x, y, x + w, y + h});
    r.box_where = fmt::format("{}:{}", boxes.path, b.number);

    const Line& s = split.lines[split_ids.at(id)];
    const int train = parse_int(split, s, s.tokens[1], "is_training_image");
    if (train != 0 && train != 1)
      split.fail(s.number, fmt::format("is_training_image must be 0 or 1, got {}", train));
    r.is_train = train == 1;

    const Line& l = labels.lines[label_ids.at(id)];
    const int cls = parse_int(labels, l, l.tokens[1], "class_id");
    if (cls < 1 || static_cast<size_t>(cls) > num_classes)
      labels.fail(l.number, fmt::format("class {} is not in classes.txt (1..{})", cls, num_classes));
    r.label = cls - 1;
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace c2am::data
