// Implements: the ILSVRC2012 scanner: train/<wnid>/*.JPEG labelled by the
// line order of LOC_synset_mapping.txt; val/*.JPEG with boxes from
// val_boxes/val/<id>.xml (preferred) or LOC_val_solution.csv, the label being
// the first box's wnid.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "data_prep/pascal_xml.h"
#include "data_prep/sources_internal.h"
#include "util/error.h"

namespace c2am::data_prep::detail {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMapping = "LOC_synset_mapping.txt";
constexpr const char* kValCsv = "LOC_val_solution.csv";

struct Synsets {
  std::vector<std::string> wnids;  // index = label
  std::unordered_map<std::string, int> label;
  std::string path;
};

Synsets read_synsets(const std::string& root) {
  Synsets s;
  s.path = join(root, kMapping);
  require_file(s.path, "ILSVRC2012 maps each wnid to its label with it");
  for (const NumberedLine& l : read_lines(s.path)) {
    const std::string wnid = split_tokens(l.text).front();
    const auto [it, fresh] = s.label.emplace(wnid, static_cast<int>(s.wnids.size()));
    if (!fresh) throw Error(fmt::format("{}:{}: wnid '{}' appears again", s.path, l.number, wnid));
    s.wnids.push_back(wnid);
  }
  if (s.wnids.empty()) throw Error(fmt::format("{}: no wnids", s.path));
  return s;
}

std::vector<SourceRecord> scan_train(const std::string& root, const Synsets& syn) {
  const std::string train = join(root, "train");
  std::error_code ec;
  if (!fs::is_directory(train, ec)) throw Error(fmt::format("{}: no such folder (the train split)", train));
  std::vector<SourceRecord> out;
  std::vector<std::string> folders;
  for (const auto& e : fs::directory_iterator(train)) {
    const std::string n = e.path().filename().string();
    if (n.empty() || n[0] == '.') continue;
    if (!e.is_directory()) {
      if (is_image_name(n))
        throw Error(
            fmt::format("{}: train images belong in train/<wnid>/ folders", e.path().generic_string()));
      continue;
    }
    if (syn.label.count(n) == 0)
      throw Error(fmt::format("{}: folder '{}' is not a wnid of {}", e.path().generic_string(), n, syn.path));
    folders.push_back(n);
  }
  std::sort(folders.begin(), folders.end());
  for (const std::string& wnid : folders) {
    for (const std::string& rel : list_images(join(train, wnid))) {
      SourceRecord r;
      r.name = "train/" + wnid + "/" + rel;
      r.path = join(root, r.name);
      r.label = syn.label.at(wnid);
      out.push_back(std::move(r));
    }
  }
  return out;
}

struct ValEntry {
  std::vector<image::Box> boxes;
  std::vector<std::string> box_where;  // "<file>:<line>" per box
  int label = -1;
};

// "ImageId,PredictionString" then "<id>,<wnid x0 y0 x1 y1>..." per line.
std::unordered_map<std::string, ValEntry> read_val_csv(const std::string& path, const Synsets& syn) {
  std::unordered_map<std::string, ValEntry> out;
  for (const NumberedLine& l : read_lines(path)) {
    if (l.number == 1 && l.text.rfind("ImageId", 0) == 0) continue;  // header
    const auto comma = l.text.find(',');
    if (comma == std::string::npos)
      throw Error(fmt::format("{}:{}: expected \"ImageId,PredictionString\"", path, l.number));
    const std::string id = l.text.substr(0, comma);
    const std::vector<std::string> t = split_tokens(l.text.substr(comma + 1));
    if (t.empty() || t.size() % 5 != 0)
      throw Error(
          fmt::format("{}:{}: the prediction string must repeat \"wnid x0 y0 x1 y1\", got {} field(s)", path,
                      l.number, t.size()));
    ValEntry e;
    for (std::size_t k = 0; k < t.size(); k += 5) {
      const auto it = syn.label.find(t[k]);
      if (it == syn.label.end())
        throw Error(fmt::format("{}:{}: '{}' is not a wnid of {}", path, l.number, t[k], syn.path));
      if (e.label < 0) e.label = it->second;
      float v[4];
      for (int j = 0; j < 4; ++j) {
        const std::string& s = t[k + 1 + j];
        char* end = nullptr;
        v[j] = std::strtof(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size())
          throw Error(fmt::format("{}:{}: box value '{}' is not a number", path, l.number, s));
        if (!std::isfinite(v[j]))
          throw Error(fmt::format("{}:{}: box value '{}' is not finite", path, l.number, s));
      }
      if (v[2] < v[0] || v[3] < v[1])
        throw Error(
            fmt::format("{}:{}: box ({}, {}, {}, {}) has max < min", path, l.number, v[0], v[1], v[2], v[3]));
      e.boxes.push_back(image::Box{v[0], v[1], v[2], v[3]});
      e.box_where.push_back(fmt::format("{}:{}", path, l.number));
    }
    if (!out.emplace(id, std::move(e)).second)
      throw Error(fmt::format("{}:{}: image '{}' appears again", path, l.number, id));
  }
  return out;
}

ValEntry read_val_xml(const std::string& path, const Synsets& syn) {
  ValEntry e;
  for (const XmlObject& o : read_pascal_objects(path)) {
    const auto it = syn.label.find(o.name);
    if (it == syn.label.end())
      throw Error(fmt::format("{}:{}: '{}' is not a wnid of {}", path, o.line, o.name, syn.path));
    if (e.label < 0) e.label = it->second;
    e.boxes.push_back(o.box);
    e.box_where.push_back(fmt::format("{}:{}", path, o.line));
  }
  if (e.boxes.empty()) throw Error(fmt::format("{}: no <object>, so the image has no label", path));
  return e;
}

std::vector<SourceRecord> scan_val(const std::string& root, const Synsets& syn) {
  const std::string val = join(root, "val");
  const std::string xml_dir = join(root, "val_boxes/val");
  const std::string csv = join(root, kValCsv);
  std::error_code ec;
  const bool use_xml = fs::is_directory(xml_dir, ec);
  if (!use_xml && !fs::is_regular_file(csv, ec))
    throw Error(
        fmt::format("'{}' has neither val_boxes/val/ nor {}: the val split needs its boxes", root, kValCsv));
  std::unordered_map<std::string, ValEntry> table;
  if (!use_xml) table = read_val_csv(csv, syn);
  std::vector<SourceRecord> out;
  for (const std::string& rel : list_images(val)) {
    SourceRecord r;
    r.name = "val/" + rel;
    r.path = join(root, r.name);
    const std::string id = stem_of(rel);
    ValEntry e;
    if (use_xml) {
      const std::string xml = join(xml_dir, id + ".xml");
      require_file(xml, fmt::format("the boxes of {}", r.name));
      e = read_val_xml(xml, syn);
    } else {
      const auto it = table.find(id);
      if (it == table.end()) throw Error(fmt::format("{}: no line for val image '{}' ({})", csv, id, r.name));
      e = it->second;
    }
    r.label = e.label;
    r.boxes = std::move(e.boxes);
    r.box_where = std::move(e.box_where);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

SourceListing scan_imagenet(const std::string& root, const std::string& split) {
  const Synsets syn = read_synsets(root);
  SourceListing out;
  out.classes = syn.wnids;
  out.records = split == "train" ? scan_train(root, syn) : scan_val(root, syn);
  return out;
}

}  // namespace c2am::data_prep::detail
