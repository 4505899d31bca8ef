#!/usr/bin/env bash
# A single-node SLURM for tests: munged, slurmctld and slurmd on this machine,
# no systemd, no cgroups, no accounting. Slurm 22.05 and munge from Debian 12;
# run as root. See cluster/README.md.
# Usage: cluster/slurm-local.sh install | start | stop | status | wait JOBID [TIMEOUT_S]
#   wait: until the job leaves the queue; exit 0 only if it COMPLETED with 0:0
#         (a job still queued after TIMEOUT_S is cancelled).
# Environment:
#   C2AM_SLURM_DIR   slurm.conf, state, spool, logs (default /tmp/c2am-slurm)
#   C2AM_SLURM_CPUS  CPUs the node claims (default 4, so 2-task jobs fit on 2 cores)
# Clients (sbatch, srun, squeue, scontrol) need SLURM_CONF=$C2AM_SLURM_DIR/slurm.conf;
# jobs inherit it.
set -euo pipefail

DIR=${C2AM_SLURM_DIR:-/tmp/c2am-slurm}
CPUS=${C2AM_SLURM_CPUS:-4}
export SLURM_CONF=$DIR/slurm.conf
MUNGE_PID=/run/munge/munged.pid

log() { echo "slurm-local: $*" >&2; }
running() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
node_up() { sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; }

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge
}

write_conf() {
  local host mem
  host=$(hostname -s)
  mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  cat >"$SLURM_CONF" <<EOF
# Written by cluster/slurm-local.sh: one node, one partition, no accounting.
ClusterName=c2am-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
# Credentials live 15 s (default 120): a requeued job waits that long (+1 s)
# before it may start again, which is what lets slurmd forget the old
# instance's revoked credential; tests then need not release it early.
AuthInfo=cred_expire=15
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
KillWait=5
MinJobAge=600
# The node claims $CPUS CPUs whatever slurmd detects.
SlurmdParameters=config_overrides
NodeName=$host CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  command -v slurmctld >/dev/null || { log "SLURM is not installed: run '$0 install'"; exit 1; }
  # systemd would create /run/munge; the Debian postinst normally creates the key.
  install -d -o munge -g munge -m 0755 /run/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  fi
  write_conf
  if ! running $MUNGE_PID; then
    runuser -u munge -- /usr/sbin/munged
    touch "$DIR/munged.ours"  # stop ends only a munged that start started
  fi
  for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  running "$DIR/slurmctld.pid" || slurmctld -f "$SLURM_CONF"
  running "$DIR/slurmd.pid" || slurmd -f "$SLURM_CONF"
  for _ in $(seq 150); do node_up && break; sleep 0.2; done
  if ! node_up; then
    log "the node did not come up"; sinfo -N -l || true; tail -n 20 "$DIR"/log/*.log; exit 1
  fi
  sinfo
  log "up; export SLURM_CONF=$SLURM_CONF"
}

stop_daemon() {  # NAME PIDFILE
  running "$2" || { rm -f "$2"; return 0; }
  local pid; pid=$(cat "$2")
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "$1 ignored TERM: KILL"; kill -KILL "$pid"; fi
  rm -f "$2"
  log "stopped $1 (pid $pid)"
}

stop() {
  if running "$DIR/slurmctld.pid"; then  # jobs first: no job outlives slurmd
    squeue -h -o %i | xargs -r scancel || true
    for _ in $(seq 100); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 0.2; done
  fi
  stop_daemon slurmd "$DIR/slurmd.pid"
  stop_daemon slurmctld "$DIR/slurmctld.pid"
  if [[ -f $DIR/munged.ours ]]; then stop_daemon munged $MUNGE_PID; rm -f "$DIR/munged.ours"; fi
}

status() {
  local name
  for name in munged slurmctld slurmd; do
    local pidfile=$DIR/$name.pid; [[ $name == munged ]] && pidfile=$MUNGE_PID
    if running "$pidfile"; then echo "$name: running (pid $(cat "$pidfile"))"; else echo "$name: down"; fi
  done
  sinfo 2>/dev/null || true
}

wait_job() {  # JOBID [TIMEOUT_S]
  local job=$1 timeout=${2:-0} info state code
  while [[ -n $(squeue -h -j "$job" -o %i 2>/dev/null) ]]; do
    if ((timeout > 0 && SECONDS >= timeout)); then
      log "job $job still queued after ${timeout} s: cancelling it"; scancel "$job"; timeout=0
    fi
    sleep 1
  done
  info=$(scontrol show job "$job") || { log "job $job is unknown"; return 1; }
  state=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<<"$info")
  code=$(sed -n 's/.* ExitCode=\([0-9]*:[0-9]*\).*/\1/p' <<<"$info")
  echo "job $job $state ExitCode=$code"
  [[ $state == COMPLETED && $code == 0:0 ]]
}

case ${1:-} in
  install) install_packages ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  wait) shift; wait_job "$@" ;;
  *) echo "usage: $0 install | start | stop | status | wait JOBID [TIMEOUT_S]" >&2; exit 2 ;;
esac
