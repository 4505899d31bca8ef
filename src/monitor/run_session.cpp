// Implements: sessions.jsonl and what it says about the machine (see run_session.h).
#include "monitor/run_session.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/clock.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::monitor {

namespace {

using Json = nlohmann::ordered_json;
constexpr const char* kSessionsFile = "/sessions.jsonl";

// The value after "key<spaces>:" on the first line of `file` that starts with key.
std::string proc_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return {};
}

}  // namespace

Machine this_machine() {
  Machine m;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) m.host = host;
  utsname u{};
  if (uname(&u) == 0) m.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
  m.cpu = proc_field("/proc/cpuinfo", "model name");
  m.logical_cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  const std::string mem = proc_field("/proc/meminfo", "MemTotal");  // "16318352 kB"
  if (!mem.empty()) m.memory_gib = std::stod(mem) / (1024.0 * 1024.0);
  return m;
}

Session new_session(const std::string& run_dir, const std::string& command, std::int64_t start_step) {
  Session s;
  s.command = command;
  s.started = util::iso8601_now(/*utc=*/false);
  s.start_step = start_step;
  std::error_code ec;
  const auto size = std::filesystem::file_size(run_dir + "/metrics.jsonl", ec);
  s.metrics_offset = ec ? 0 : static_cast<std::int64_t>(size);
  s.machine = this_machine();
  return s;
}

void append_session(const std::string& run_dir, const Session& s) {
  const Json j = {{"command", s.command},
                  {"started", s.started},
                  {"start_step", s.start_step},
                  {"metrics_offset", s.metrics_offset},
                  {"world", s.world},
                  {"launcher", s.launcher},
                  {"device", s.device},
                  {"threads", s.threads},
                  {"version", s.version},
                  {"host", s.machine.host},
                  {"os", s.machine.os},
                  {"cpu", s.machine.cpu},
                  {"logical_cpus", s.machine.logical_cpus},
                  {"memory_gib", s.machine.memory_gib}};
  util::make_dirs(run_dir);
  const std::string path = run_dir + kSessionsFile;
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) throw_errno("cannot open", path);
  const std::string line = j.dump() + "\n";
  const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  if (std::fclose(f) != 0 || !ok) throw_errno("cannot write", path);
}

std::vector<Session> read_sessions(const std::string& run_dir) {
  std::vector<Session> out;
  std::ifstream in(run_dir + kSessionsFile);
  std::string line;
  while (std::getline(in, line)) {
    const Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    Session s;
    s.command = j.value("command", "");
    s.started = j.value("started", "");
    s.start_step = j.value("start_step", std::int64_t{0});
    s.metrics_offset = j.value("metrics_offset", std::int64_t{0});
    s.world = j.value("world", 1);
    s.launcher = j.value("launcher", "");
    s.device = j.value("device", "");
    s.threads = j.value("threads", 0);
    s.version = j.value("version", "");
    s.machine.host = j.value("host", "");
    s.machine.os = j.value("os", "");
    s.machine.cpu = j.value("cpu", "");
    s.machine.logical_cpus = j.value("logical_cpus", 0);
    s.machine.memory_gib = j.value("memory_gib", 0.0);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace c2am::monitor
