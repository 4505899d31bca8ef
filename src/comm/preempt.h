// Implements: preemption requests. SIGUSR1 (SLURM's --signal=B:USR1@T,
// forwarded by launch/slurm/train.sbatch) and SIGTERM (scancel, the time
// limit, mpirun ending the job) set a flag that the trainer reads at each step
// boundary; all ranks then agree, rank 0 checkpoints, and c2am exits with
// kExitPreempted (75) so the batch script requeues the job. A second SIGTERM
// or SIGINT ends the process at once. Torch-free.
#pragma once

namespace c2am::comm {

// Installs the handlers (idempotent).
void install_preemption_handlers();

// True once SIGUSR1 or SIGTERM arrived; the signal number, or 0.
bool preemption_requested();
int preemption_signal();

// Sets the flag as a signal would (tests).
void request_preemption(int signal);

}  // namespace c2am::comm
