// Implements: the event-file writer and the resume purge (see event_writer.h).
#include "monitor/event_writer.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "monitor/tensorboard_event.pb.h"
#include "monitor/tfrecord.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::monitor {

namespace fs = std::filesystem;

namespace {

constexpr const char* kNamePrefix = "events.out.tfevents.";

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string serialize(const tb::Event& event) {
  std::string bytes;
  if (!event.SerializeToString(&bytes)) throw Error("cannot serialise a TensorBoard event");
  return bytes;
}

// The seconds field of an event file name written by TensorFlow, PyTorch or us; -1 if none.
long long name_seconds(const std::string& name) {
  if (name.rfind(kNamePrefix, 0) != 0) return -1;
  const std::string rest = name.substr(std::char_traits<char>::length(kNamePrefix));
  const size_t dot = rest.find('.');
  const std::string digits = rest.substr(0, dot);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "host";
  std::string h(buf);
  std::replace(h.begin(), h.end(), '/', '_');
  return h.empty() ? "host" : h;
}

}  // namespace

std::vector<std::string> list_event_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.find("tfevents") != std::string::npos &&
        name.find(".tmp.") == std::string::npos) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

PurgeReport purge_event_files(const std::string& dir, std::int64_t from_step) {
  PurgeReport report;
  for (const std::string& path : list_event_files(dir)) {
    std::string kept;
    bool has_data = false;
    std::int64_t removed = 0;
    bool damaged = false;
    RecordReader reader(path);
    try {
      while (std::optional<std::string> record = reader.next()) {
        tb::Event event;
        const bool parsed = event.ParseFromString(*record);
        if (parsed && !event.has_file_version() && event.step() >= from_step) {
          ++removed;
          continue;
        }
        if (!parsed || !event.has_file_version()) has_data = true;
        kept += frame_record(*record);
      }
    } catch (const Error&) {
      damaged = true;  // a bad checksum: keep the records before it
    }
    damaged = damaged || reader.truncated();
    if (damaged) report.damaged.push_back(path);
    if (removed == 0 && !damaged) continue;
    report.records_removed += removed;
    if (!has_data) {
      fs::remove(path);
      ++report.files_deleted;
    } else {
      util::write_file_atomic(path, kept);
      ++report.files_rewritten;
    }
  }
  return report;
}

PngInfo png_info(const std::string& png) {
  static const std::string kSignature = "\x89PNG\r\n\x1a\n";
  if (png.size() < 33 || png.compare(0, 8, kSignature) != 0 || png.compare(12, 4, "IHDR") != 0) {
    throw Error("not a PNG image");
  }
  auto be32 = [&](size_t at) {
    return static_cast<int>(static_cast<unsigned char>(png[at]) << 24 | static_cast<unsigned char>(png[at + 1]) << 16 |
                            static_cast<unsigned char>(png[at + 2]) << 8 | static_cast<unsigned char>(png[at + 3]));
  };
  PngInfo info;
  info.width = be32(16);
  info.height = be32(20);
  switch (static_cast<unsigned char>(png[25])) {
    case 0: info.colorspace = 1; break;
    case 4: info.colorspace = 2; break;
    case 6: info.colorspace = 4; break;
    default: info.colorspace = 3; break;  // RGB, palette
  }
  return info;
}

EventWriter::EventWriter(const std::string& dir, std::int64_t start_step) {
  util::make_dirs(dir);
  purged_ = purge_event_files(dir, start_step);
  long long seconds = static_cast<long long>(wall_time_now());
  for (const std::string& existing : list_event_files(dir)) {
    seconds = std::max(seconds, name_seconds(fs::path(existing).filename().string()) + 1);
  }
  path_ = fmt::format("{}/{}{:010d}.{}.{}.c2am", dir, kNamePrefix, seconds, host_name(), getpid());
  file_ = std::fopen(path_.c_str(), "ab");
  if (file_ == nullptr) throw_errno("cannot create event file", path_);

  tb::Event version;
  version.set_wall_time(wall_time_now());
  version.set_file_version(kFileVersion);
  append(serialize(version));
  tb::Event start;
  start.set_wall_time(wall_time_now());
  start.set_step(start_step);
  start.mutable_session_log()->set_status(tb::SessionLog::START);
  append(serialize(start));
  flush();
}

EventWriter::~EventWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void EventWriter::append(const std::string& event_bytes) {
  const std::string record = frame_record(event_bytes);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) throw_errno("cannot write", path_);
  ++records_;
}

void EventWriter::flush() {
  if (std::fflush(file_) != 0) throw_errno("cannot write", path_);
}

void EventWriter::add_scalars(std::int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  if (values.empty()) return;
  tb::Event event;
  event.set_wall_time(wall_time_now());
  event.set_step(step);
  tb::Summary* summary = event.mutable_summary();
  for (const auto& [tag, value] : values) {
    tb::Summary::Value* v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  append(serialize(event));
  flush();
}

void EventWriter::add_image(const std::string& tag, std::int64_t step, const std::string& png) {
  const PngInfo info = png_info(png);
  tb::Event event;
  event.set_wall_time(wall_time_now());
  event.set_step(step);
  tb::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  tb::Summary::Image* image = v->mutable_image();
  image->set_width(info.width);
  image->set_height(info.height);
  image->set_colorspace(info.colorspace);
  image->set_encoded_image_string(png);
  append(serialize(event));
  flush();
}

void EventWriter::add_text(const std::string& tag, std::int64_t step, const std::string& markdown) {
  tb::Event event;
  event.set_wall_time(wall_time_now());
  event.set_step(step);
  tb::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  tb::TensorProto* tensor = v->mutable_tensor();
  tensor->set_dtype(tb::DT_STRING);
  tensor->mutable_tensor_shape()->add_dim()->set_size(1);
  tensor->add_string_val(markdown);
  append(serialize(event));
  flush();
}

}  // namespace c2am::monitor
