// Implements: the process's place in a distributed job, from the MPI
// launcher (mpirun, or srun --mpi=pmix): rank, world size, local rank on the
// node (shared-memory split) and the device index it maps to. Without a
// launcher the job is one process and MPI is never initialised. The MPI
// control plane (bootstrap, NCCL id exchange, aborts) lives here; tensors
// travel through comm::Communicator. Torch-free.
#pragma once
#include <string>

namespace c2am::comm {

struct Context {
  int rank = 0;
  int world = 1;
  int local_rank = 0;   // rank among the processes of this node
  int local_world = 1;  // processes on this node
  bool mpi = false;     // MPI is initialised (started by a launcher)
  std::string launcher; // "mpirun", "srun" or "" (single process)
  std::string host;
};

// True when this process was started by an MPI launcher (OpenMPI's mpirun or
// a PMIx/PMI launcher such as srun --mpi=pmix).
bool launched_by_mpi();

// Initialises MPI when launched_by_mpi() (thread level: serialized), once per
// process; returns the context. Later calls return the same context.
const Context& init();

// The context of init(), or the single-process context before it.
const Context& context();

// Ends MPI cleanly (all ranks), if it was initialised. Idempotent.
void finalize();

// Ends every rank of the job now with `status` (MPI_Abort); returns only when
// MPI is not initialised.
void abort_job(int status);

// Ends this process's part of the job and returns `status` for main() to
// return. With an error message: prints it (naming rank and host when the
// world has several ranks) and, in a multi-rank job, aborts every rank so no
// peer waits for this one. Without one: finalises MPI.
int end_process(int status, const char* error_message);

}  // namespace c2am::comm
