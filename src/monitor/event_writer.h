// Implements: the TensorBoard event-file writer of a run: scalars, PNG images
// and markdown text as Event records in TFRecord framing, one file per
// session in `<run>/tb/`, and the resume rule: a session whose first step is
// S (a resume from the checkpoint of step S - 1) first removes the earlier
// sessions' records at step >= S from their files and then writes a
// SessionLog START at S, as TensorBoard expects (docs/monitoring.md).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace c2am::monitor {

inline constexpr const char* kFileVersion = "brain.Event:2";

struct PurgeReport {
  std::int64_t records_removed = 0;
  int files_rewritten = 0;
  int files_deleted = 0;           // nothing but the file version was left
  std::vector<std::string> damaged;  // files cut at a bad checksum or a torn tail (kept up to it)
};

// Removes every record at step >= `from_step` (except file-version records)
// from the event files of `dir`; each changed file is rewritten atomically,
// a file left without data is deleted. A missing folder is no error.
PurgeReport purge_event_files(const std::string& dir, std::int64_t from_step);

// The event files of `dir` ("*tfevents*"), in the order TensorBoard reads them (by name).
std::vector<std::string> list_event_files(const std::string& dir);

class EventWriter {
 public:
  // Creates `dir`, purges it from `start_step` on (purge_event_files), and
  // starts a new file named events.out.tfevents.<seconds>.<host>.<pid>.c2am
  // (its seconds after every existing file's, so it sorts last) with the file
  // version and a SessionLog START at `start_step`.
  EventWriter(const std::string& dir, std::int64_t start_step);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // One Event holding every value (float32, as TensorBoard stores scalars).
  void add_scalars(std::int64_t step, const std::vector<std::pair<std::string, double>>& values);
  void add_scalar(const std::string& tag, std::int64_t step, double value) { add_scalars(step, {{tag, value}}); }
  // `png` is a whole PNG file; its size and colour type come from its header.
  void add_image(const std::string& tag, std::int64_t step, const std::string& png);
  // Markdown shown by TensorBoard's text dashboard.
  void add_text(const std::string& tag, std::int64_t step, const std::string& markdown);
  void flush();

  const std::string& file() const { return path_; }
  std::int64_t records() const { return records_; }
  const PurgeReport& purge_report() const { return purged_; }

 private:
  void append(const std::string& event_bytes);

  std::string path_;
  std::FILE* file_ = nullptr;
  std::int64_t records_ = 0;
  PurgeReport purged_;
};

// Width, height and TensorBoard colour space (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)
// from a PNG header; throws c2am::Error when `png` is not a PNG file.
struct PngInfo {
  int width = 0;
  int height = 0;
  int colorspace = 3;
};
PngInfo png_info(const std::string& png);

}  // namespace c2am::monitor
