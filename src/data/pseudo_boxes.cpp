#include "data/pseudo_boxes.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace c2am::data {

namespace {

PseudoBox parse_line(const std::string& line, std::string* name) {
  const nlohmann::json j = nlohmann::json::parse(line);  // throws on malformed JSON
  *name = j.at("name").get<std::string>();
  const auto b = j.at("box").get<std::array<double, 4>>();
  const auto size = j.at("image_size").get<std::array<int, 2>>();
  for (double v : b)
    if (!std::isfinite(v)) throw std::invalid_argument("a box coordinate is not finite");
  if (b[0] > b[2] || b[1] > b[3]) throw std::invalid_argument("the box has x0 > x1 or y0 > y1");
  if (size[0] <= 0 || size[1] <= 0) throw std::invalid_argument("image_size is not positive");
  return PseudoBox{image::Box{static_cast<float>(b[0]), static_cast<float>(b[1]), static_cast<float>(b[2]),
                              static_cast<float>(b[3])},
                   size};
}

}  // namespace

PseudoBoxes read_pseudo_boxes(const std::string& path) {
  PseudoBoxes out;
  out.file =
      std::filesystem::is_directory(path) ? (std::filesystem::path(path) / "boxes.jsonl").string() : path;
  std::ifstream in(out.file);
  if (!in) {
    throw IoError(fmt::format(
        "cannot read pseudo boxes '{}' (the boxes.jsonl of c2am extract-boxes, or its folder)", out.file));
  }
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::string name;
    try {
      const PseudoBox box = parse_line(line, &name);
      if (!out.by_name.emplace(name, box).second)
        throw std::invalid_argument("'" + name + "' has a box already");
    } catch (const std::exception& e) {
      throw Error(fmt::format("{}:{}: not a pseudo box line ({})", out.file, lineno, e.what()));
    }
  }
  if (out.by_name.empty()) throw Error(fmt::format("{}: no pseudo boxes in it", out.file));
  return out;
}

}  // namespace c2am::data
