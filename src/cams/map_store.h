// Implements: the HDF5 store of per-image score maps that `c2am infer-maps`
// writes (format in docs/wsss.md): chunk files holding /maps/<stem> as
// height x width float16 datasets (values in [0, 1], attributes none), each
// built in memory and written atomically; and the index file maps.h5 whose
// /maps/<stem> entries are HDF5 external links into the chunk files, so that
// one file shows every map (h5py and HDF5 follow the links; chunk paths are
// relative to the index's folder). Torch-free.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace c2am::cams {

struct ScoreMap {
  int width = 0;
  int height = 0;
  std::vector<float> values;  // row-major, width * height
};

// Collects maps in memory; finish() writes the chunk file atomically.
class MapChunkWriter {
 public:
  explicit MapChunkWriter(std::string path);
  void add(const std::string& stem, const ScoreMap& map);
  void finish();

 private:
  std::string path_;
  std::vector<std::pair<std::string, ScoreMap>> maps_;
};

// Writes `<dir>/maps.h5` (atomically): /maps/<stem> -> external link to
// /maps/<stem> of `chunk` (a path relative to dir), for every (stem, chunk).
void write_map_index(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& links);

// Reads maps from maps.h5 (or from one chunk file). Thread-safe (HDF5 calls are serialised).
class MapReader {
 public:
  explicit MapReader(const std::string& path);
  ~MapReader();
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;
  bool contains(const std::string& stem) const;
  // Errors name the file and the stem.
  ScoreMap read(const std::string& stem) const;
  std::vector<std::string> stems() const;

 private:
  std::string path_;
  long long file_;  // hid_t
};

}  // namespace c2am::cams
