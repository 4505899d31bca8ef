// Implements: the session log of a run folder, `<run>/sessions.jsonl`: one
// JSON line per start of a command on the run (a fresh start or a resume):
// the first step it logs, how long metrics.jsonl was then (so a reader can
// drop the earlier sessions' lines at steps it repeats), the machine and the
// ranks. The report reads it; rank 0 writes it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace c2am::monitor {

struct Machine {
  std::string host;
  std::string os;         // uname: system, release, architecture
  std::string cpu;        // /proc/cpuinfo model name
  int logical_cpus = 0;
  double memory_gib = 0;  // /proc/meminfo MemTotal
};
Machine this_machine();

struct Session {
  std::string command;           // e.g. "train", "eval-wsol"
  std::string started;           // local time, ISO 8601
  std::int64_t start_step = 0;     // the first step it logs: earlier sessions' lines at steps >= it are void
  std::int64_t metrics_offset = 0;  // bytes of metrics.jsonl before this session
  int world = 1;
  std::string launcher;  // how the ranks were started (mpirun, srun, single)
  std::string device;
  int threads = 0;
  std::string version;
  Machine machine;
};

// A session of `command` on this machine, starting now at `start_step`, with
// the current size of `<run_dir>/metrics.jsonl` as its metrics offset.
Session new_session(const std::string& run_dir, const std::string& command, std::int64_t start_step);
void append_session(const std::string& run_dir, const Session& session);
// Sessions in the order they started; missing file = none; bad lines are skipped.
std::vector<Session> read_sessions(const std::string& run_dir);

}  // namespace c2am::monitor
