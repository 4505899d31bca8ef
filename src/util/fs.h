// Implements: crash-safe file writes (temporary file, fsync, rename, fsync of
// the folder) and small whole-file helpers.
#pragma once
#include <string>
#include <string_view>

namespace c2am::util {

// Writes `bytes` to `path` atomically: a crash at any point leaves either the
// old file or the new one, never a torn file.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Reads a whole file; throws IoError naming the path.
std::string read_file(const std::string& path);

// Creates a folder and its parents; throws IoError naming the path.
void make_dirs(const std::string& path);

}  // namespace c2am::util
