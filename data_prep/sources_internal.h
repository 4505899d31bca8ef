// Implements: helpers shared by the per-layout scanners (sources*.cpp); not
// part of the data_prep interface.
#pragma once
#include <string>
#include <vector>

#include "data_prep/sources.h"

namespace c2am::data_prep::detail {

// A non-blank line of a text file, trimmed, with its 1-based line number.
struct NumberedLine {
  int number = 0;
  std::string text;
};
std::vector<NumberedLine> read_lines(const std::string& path);

// Whitespace-separated tokens of a line.
std::vector<std::string> split_tokens(const std::string& line);

// .jpg / .jpeg / .png, any case.
bool is_image_name(const std::string& file_name);

// Image files under `dir` (recursively), as '/'-separated paths relative to
// `dir`, sorted. Throws IoError naming `dir` if it is not a folder.
std::vector<std::string> list_images(const std::string& dir);

// `root`/`rel`, '/'-separated.
std::string join(const std::string& root, const std::string& rel);

// The file name without folders and extension.
std::string stem_of(const std::string& rel);

// Throws c2am::Error "<path>: no such file (<why>)" unless `path` is a regular file.
void require_file(const std::string& path, const std::string& why);

// Throws c2am::Error naming `root` unless `name` is a relative path without a
// '..' component (textual: symbolic links below the root are followed).
void check_confined(const std::string& name, const std::string& root);

// Sorts by name and rejects duplicate names.
void sort_records(std::vector<SourceRecord>& records, const std::string& root);

SourceListing scan_imagenet(const std::string& root, const std::string& split);
SourceListing scan_voc(const std::string& root, const std::string& split);

}  // namespace c2am::data_prep::detail
