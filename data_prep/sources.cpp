// Implements: the layout dispatch, the shared scanner helpers, and the two
// simplest layouts: CUB_200_2011 (through data/cub_layout.h) and a plain
// folder of images (label = first-level subfolder).
#include "data_prep/sources.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "data/cub_layout.h"
#include "data_prep/sources_internal.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::data_prep {

namespace fs = std::filesystem;

namespace detail {

std::vector<NumberedLine> read_lines(const std::string& path) {
  const std::string text = util::read_file(path);
  std::vector<NumberedLine> lines;
  std::size_t pos = 0;
  int number = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++number;
    const std::string raw = text.substr(pos, end - pos);
    pos = end + 1;
    const auto b = raw.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    lines.push_back(NumberedLine{number, raw.substr(b, raw.find_last_not_of(" \t\r") - b + 1)});
  }
  return lines;
}

std::vector<std::string> split_tokens(const std::string& line) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t b = line.find_first_not_of(" \t\r", i);
    if (b == std::string::npos) break;
    const std::size_t e = std::min(line.find_first_of(" \t\r", b), line.size());
    tokens.push_back(line.substr(b, e - b));
    i = e;
  }
  return tokens;
}

bool is_image_name(const std::string& file_name) {
  const auto dot = file_name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = file_name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "jpg" || ext == "jpeg" || ext == "png";
}

std::vector<std::string> list_images(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError(fmt::format("'{}' is not a folder", dir));
  std::vector<std::string> out;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  if (ec) throw IoError(fmt::format("cannot list '{}': {}", dir, ec.message()));
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) throw IoError(fmt::format("cannot list '{}': {}", dir, ec.message()));
    const std::string file = it->path().filename().string();
    if (!file.empty() && file[0] == '.') {  // hidden files and folders are not part of a dataset
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || !is_image_name(file)) continue;
    out.push_back(fs::relative(it->path(), dir).generic_string());
  }
  if (ec) throw IoError(fmt::format("cannot list '{}': {}", dir, ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

std::string join(const std::string& root, const std::string& rel) {
  return (fs::path(root) / rel).generic_string();
}

std::string stem_of(const std::string& rel) { return fs::path(rel).stem().string(); }

void require_file(const std::string& path, const std::string& why) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(fmt::format("{}: no such file ({})", path, why));
}

void check_confined(const std::string& name, const std::string& root) {
  const fs::path p(name);
  bool escapes = name.empty() || p.is_absolute() || name.front() == '/';
  for (const fs::path& part : p) escapes = escapes || part == "..";
  if (escapes)
    throw Error(
        fmt::format("{}: image '{}' is not a path inside the source folder (absolute, empty or with "
                    "a '..' component)",
                    root, name));
}

void sort_records(std::vector<SourceRecord>& records, const std::string& root) {
  std::sort(records.begin(), records.end(),
            [](const SourceRecord& a, const SourceRecord& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < records.size(); ++i)
    if (records[i].name == records[i - 1].name)
      throw Error(fmt::format("{}: image '{}' is listed twice", root, records[i].name));
}

}  // namespace detail

namespace {

SourceListing scan_cub(const std::string& root, const std::string& split) {
  SourceListing out;
  out.classes = data::read_cub_classes(root);
  const bool want_train = split == "train";
  for (data::CubRecord& r : data::read_cub(root)) {
    if (r.is_train != want_train) continue;
    SourceRecord s;
    s.name = "images/" + r.rel_path;
    s.path = detail::join(root, s.name);
    detail::require_file(s.path, fmt::format("images.txt, image id {}", r.id));
    s.label = r.label;
    s.boxes = std::move(r.boxes);
    s.box_where.assign(s.boxes.size(), r.box_where);
    out.records.push_back(std::move(s));
  }
  return out;
}

SourceListing scan_folder(const std::string& root) {
  SourceListing out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw IoError(fmt::format("'{}' is not a folder", root));
  // Classes: every first-level subfolder (not hidden), sorted, like torchvision's ImageFolder.
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && !n.empty() && n[0] != '.') out.classes.push_back(n);
  }
  std::sort(out.classes.begin(), out.classes.end());
  std::map<std::string, int> label_of;
  for (std::size_t i = 0; i < out.classes.size(); ++i) label_of[out.classes[i]] = static_cast<int>(i);
  for (const std::string& rel : detail::list_images(root)) {
    SourceRecord s;
    s.name = rel;
    s.path = detail::join(root, rel);
    const auto slash = rel.find('/');
    if (slash != std::string::npos) s.label = label_of.at(rel.substr(0, slash));
    out.records.push_back(std::move(s));
  }
  return out;
}

}  // namespace

bool is_known_layout(const std::string& layout) {
  return layout == "cub" || layout == "imagenet" || layout == "voc" || layout == "folder";
}

void check_layout_split(const std::string& layout, const std::string& split) {
  if (!is_known_layout(layout))
    throw UsageError(fmt::format("unknown layout '{}' (expected cub, imagenet, voc or folder)", layout));
  const bool ok = layout == "cub"      ? split == "train" || split == "test"
                  : layout == "folder" ? split == "train" || split == "val" || split == "test"
                                       : split == "train" || split == "val";
  if (!ok) {
    const char* valid = layout == "cub"      ? "train or test"
                        : layout == "folder" ? "train, val or test"
                                             : "train or val";
    throw UsageError(fmt::format("layout '{}' has no split '{}' (expected {})", layout, split, valid));
  }
}

SourceListing scan_source(const std::string& layout, const std::string& split, const std::string& root) {
  check_layout_split(layout, split);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw UsageError(fmt::format("source '{}' is not a folder", root));
  SourceListing out = layout == "cub"        ? scan_cub(root, split)
                      : layout == "imagenet" ? detail::scan_imagenet(root, split)
                      : layout == "voc"      ? detail::scan_voc(root, split)
                                             : scan_folder(root);
  for (const SourceRecord& r : out.records) detail::check_confined(r.name, root);
  detail::sort_records(out.records, root);
  if (out.records.empty())
    throw Error(fmt::format("'{}' holds no images for the {} split of layout '{}'", root, split, layout));
  return out;
}

}  // namespace c2am::data_prep
