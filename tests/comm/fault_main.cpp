// A deliberately failing distributed program for the fail-fast tests
// (fail_fast.sh): under mpirun -np 2,
//   dist_fault throw  rank 1 throws while rank 0 waits in an all-reduce;
//   dist_fault hang   rank 1 never joins the all-reduce (timeout 3 s).
// Both must end the whole job with a non-zero status and a message naming
// the rank, as c2am's main does.
#include <fmt/core.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "comm/communicator.h"
#include "comm/context.h"
#include "util/error.h"

int main(int argc, char** argv) {
  try {
    if (argc != 2 || (std::strcmp(argv[1], "throw") != 0 && std::strcmp(argv[1], "hang") != 0)) {
      throw c2am::UsageError("usage: dist_fault throw|hang");
    }
    const c2am::comm::Context& ctx = c2am::comm::init();
    c2am::config::DistConfig cfg;
    cfg.timeout_s = 3;
    auto comm = c2am::comm::make_communicator(ctx, cfg, torch::Device(torch::kCPU));
    torch::Tensor t = torch::ones({1000});
    comm->allreduce(t);  // everybody is up
    if (ctx.rank == 1) {
      if (std::strcmp(argv[1], "throw") == 0) throw c2am::Error("injected failure on purpose");
      std::this_thread::sleep_for(std::chrono::minutes(10));  // "hang": never joins
    }
    comm->allreduce(t);
    return c2am::comm::end_process(0, nullptr);
  } catch (const std::exception& e) {
    return c2am::comm::end_process(1, e.what());
  }
}
