#include "comm/preempt.h"

#include <csignal>
#include <cstring>
#include <unistd.h>

namespace c2am::comm {

namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  if (g_signal != 0 && sig == SIGTERM) {
    // Asked twice: do not wait for the next step boundary.
    std::signal(SIGTERM, SIG_DFL);
    std::raise(SIGTERM);
    return;
  }
  g_signal = sig;
}

}  // namespace

void install_preemption_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool preemption_requested() { return g_signal != 0; }

int preemption_signal() { return static_cast<int>(g_signal); }

void request_preemption(int signal) { g_signal = signal; }

}  // namespace c2am::comm
