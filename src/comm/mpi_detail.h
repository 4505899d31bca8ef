// Implements: what the dist module's MPI code shares and nothing outside it
// includes: the job's duplicated world communicator (errors return codes) and
// MPI error text.
#pragma once
#include <mpi.h>

#include <string>

namespace c2am::comm {

// The job's communicator (a duplicate of MPI_COMM_WORLD with
// MPI_ERRORS_RETURN); throws when MPI is not initialised.
MPI_Comm world_comm();

std::string mpi_error_text(int code);

}  // namespace c2am::comm
