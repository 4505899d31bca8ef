#include "comm/context.h"
#include "comm/mpi_detail.h"

#include <fmt/core.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace c2am::comm {

namespace {

Context g_context;
bool g_initialised = false;
MPI_Comm g_world = MPI_COMM_NULL;

bool has_env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "?";
  return buf;
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(fmt::format("{} failed: {}", what, mpi_error_text(rc)));
}

}  // namespace

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, static_cast<size_t>(len));
}

bool launched_by_mpi() {
  // OpenMPI's mpirun sets OMPI_COMM_WORLD_SIZE; PMIx launchers (srun --mpi=pmix,
  // prterun) set PMIX_RANK; PMI-1/2 launchers set PMI_RANK.
  return has_env("OMPI_COMM_WORLD_SIZE") || has_env("PMIX_RANK") || has_env("PMI_RANK");
}

const Context& init() {
  if (g_initialised) return g_context;
  g_initialised = true;
  g_context.host = hostname();
  if (!launched_by_mpi()) return g_context;

  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  if (provided < MPI_THREAD_SERIALIZED) {
    throw Error(fmt::format("the MPI library gives thread level {}, c2am needs MPI_THREAD_SERIALIZED", provided));
  }
  g_context.mpi = true;
  check(MPI_Comm_dup(MPI_COMM_WORLD, &g_world), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(g_world, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(g_world, &g_context.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(g_world, &g_context.world), "MPI_Comm_size");
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(g_world, MPI_COMM_TYPE_SHARED, g_context.rank, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  check(MPI_Comm_rank(node, &g_context.local_rank), "MPI_Comm_rank (node)");
  check(MPI_Comm_size(node, &g_context.local_world), "MPI_Comm_size (node)");
  MPI_Comm_free(&node);
  g_context.launcher = has_env("OMPI_COMM_WORLD_SIZE") ? "mpirun" : has_env("SLURM_PROCID") ? "srun" : "PMI";
  return g_context;
}

const Context& context() { return g_context; }

void finalize() {
  if (!g_context.mpi) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (g_world != MPI_COMM_NULL) MPI_Comm_free(&g_world);
  MPI_Finalize();
}

void abort_job(int status) {
  if (!g_context.mpi) return;
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, status);
}

int end_process(int status, const char* error_message) {
  if (error_message != nullptr) {
    if (g_context.world > 1) {
      fmt::print(stderr, "c2am: error on rank {} of {} ({}): {}\n", g_context.rank, g_context.world, g_context.host,
                 error_message);
      abort_job(status);
    }
    fmt::print(stderr, "c2am: error: {}\n", error_message);
  }
  finalize();
  return status;
}

MPI_Comm world_comm() {
  if (g_world == MPI_COMM_NULL) throw Error("MPI is not initialised: the job was not started by mpirun or srun");
  return g_world;
}

}  // namespace c2am::comm
