# Automatic restarts after a lost rank (like torchrun's --max-restarts), shared
# by launch/mpirun.sh (--restarts N) and launch/slurm/train.sbatch
# (C2AM_RESTARTS): which c2am commands may be rerun and how, which exit
# statuses call for a restart, and the log line. The rules: docs/training.md,
# "Restarts after a lost rank". Sourced; bash.
# shellcheck shell=bash disable=SC2034  # RESTART_COMMAND, RESTART_NOTE are for the caller

# Training commands continue from the run folder's newest checkpoint; the
# per-image jobs skip the chunks already done.
readonly RESTART_TRAINING=" train train-classifier train-saliency train-regressor "
readonly RESTART_JOBS=" extract-boxes infer-maps infer-cams predict-saliency bg-cues "

# The c2am subcommand of COMMAND... (the word after the first one named c2am*).
restart_subcommand() {
  while (($# > 1)); do
    [[ $(basename -- "$1") == c2am* ]] && { echo "$2"; return; }
    shift
  done
}

# The run folder of a training COMMAND... (-o/--out, else --set run.out=), or "".
restart_run_folder() {
  local out="" set_out=""
  while (($#)); do
    case $1 in
      -o | --out) out=${2-}; shift ;;
      --out=*) out=${1#--out=} ;;
      -o?*) out=${1#-o} ;;
      --set) [[ ${2-} == run.out=* ]] && set_out=${2#run.out=}; shift ;;
      --set=run.out=*) set_out=${1#--set=run.out=} ;;
    esac
    shift
  done
  echo "${out:-$set_out}"
}

# The newest checkpoint file of RUN ("" if none). Names are zero-padded steps;
# temporary files (ckpt-N.pt.tmp.PID) do not end in .pt.
restart_newest_checkpoint() {
  [[ -n $1 && -d $1/checkpoints ]] || return 0
  find "$1/checkpoints" -maxdepth 1 -name 'ckpt-*.pt' | sort | tail -n 1
}

# Whether COMMAND... may be restarted; else says why and exits 2.
restart_check() {
  local sub resume=""
  sub=$(restart_subcommand "$@")
  if [[ $RESTART_JOBS == *" $sub "* ]]; then return 0; fi
  if [[ -z $sub || $RESTART_TRAINING != *" $sub "* ]]; then
    echo "restarts: '${sub:-$1}' cannot resume; restarts rerun c2am${RESTART_TRAINING% }" \
         "or the resumable per-image jobs${RESTART_JOBS% } (docs/training.md)" >&2
    exit 2
  fi
  while (($#)); do
    case $1 in --resume) resume=${2-}; shift ;; --resume=*) resume=${1#--resume=} ;; esac
    shift
  done
  if [[ -n $resume && $resume != auto && -z $(restart_run_folder "$@") ]]; then
    echo "restarts: '--resume $resume' needs -o RUN (a restart resumes from RUN's own checkpoints)" >&2
    exit 2
  fi
}

# Whether exit STATUS calls for a restart: not success, not bad usage or
# config (2: the same command would fail again), not preempted (75: the
# checkpoint is written, the scheduler requeues the job).
restart_wanted() { (($1 != 0 && $1 != 2 && $1 != 75)); }

# Sets the array RESTART_COMMAND to the command a restart of COMMAND... runs,
# and RESTART_NOTE to what it resumes from. Training: --resume auto in place of any --resume,
# unless the run folder holds no checkpoint yet (then the command as given:
# a fresh start, or the --resume PATH it started from). Per-image jobs: the
# command without --force (which would discard the chunks already done).
restart_plan() {
  local sub run ckpt arg skip=0
  sub=$(restart_subcommand "$@")
  RESTART_COMMAND=()
  if [[ $RESTART_JOBS == *" $sub "* ]]; then
    for arg; do [[ $arg == --force ]] || RESTART_COMMAND+=("$arg"); done
    RESTART_NOTE="rerunning c2am $sub: the chunks already done are skipped"
    return
  fi
  run=$(restart_run_folder "$@")
  ckpt=$(restart_newest_checkpoint "$run")
  if [[ -n $run && -z $ckpt ]]; then
    RESTART_COMMAND=("$@")
    RESTART_NOTE="no checkpoint in $run/checkpoints yet: starting again as given"
    return
  fi
  for arg; do
    if ((skip)); then skip=0; continue; fi
    case $arg in --resume) skip=1 ;; --resume=*) ;; *) RESTART_COMMAND+=("$arg") ;; esac
  done
  RESTART_COMMAND+=(--resume auto)
  RESTART_NOTE="resuming from ${ckpt:-the newest checkpoint of the run folder (run.out)}"
}

# Why a launcher exited with STATUS, in words.
restart_reason() {
  if (($1 > 128)); then
    echo "a rank killed by signal $(($1 - 128)), SIG$(kill -l "$(($1 - 128))" 2>/dev/null || echo '?')"
  else
    echo "a rank failed"
  fi
}
