# Shared by the slurm tests (sourced after c2am, repo and work are set): the
# local SLURM, the synthetic data set, a tiny training config, job helpers and
# the failure report (job output, slurmctld and slurmd log tails).
# shellcheck shell=bash disable=SC2034,SC2154
export SLURM_CONF=${C2AM_SLURM_DIR:-/tmp/c2am-slurm}/slurm.conf
slurm_local=$repo/cluster/slurm-local.sh
# The demo config made tiny: 64 images, 64x64 crops, 8 steps per epoch (4 images per rank).
tiny=(-c "$repo/configs/synth_demo.toml" --data "$work/data" --set data.train_resize=72
      --set data.train_crop=64 --set train.batch_size=8 --set run.threads=1)

make_data() {
  rm -rf "$work" && mkdir -p "$work"
  "$c2am" synth cub "$work/raw" --train 64 --test 16 --seed 1 >/dev/null
  "$c2am" pack "$work/raw" -o "$work/data/train" --layout cub --split train >/dev/null 2>&1
}

submit() {  # OUTPUT_FILE C2AM_TRAIN_ARGS... (prints the job id)
  C2AM_BIN=$c2am "$repo/launch/slurm/submit.sh" "$repo/cluster/profiles/local.sh" \
    --parsable --job-name="test-$(basename "$work")" --output="$1" -- "${@:2}"
}

job_field() { scontrol show job "$1" | grep -o " $2=[^ ]*" | cut -d= -f2; }  # JOBID FIELD

newest_ckpt() { find "$1/checkpoints" -name 'ckpt-*.pt' 2>/dev/null | sort | tail -n 1; }  # RUN

fail() {  # MESSAGE [JOB OUTPUT FILES...]
  echo "FAIL: $1"
  local f
  for f in "${@:2}"; do echo "--- $f (tail)"; tail -n 60 "$f"; done
  for f in slurmctld slurmd; do echo "--- $f.log (tail)"; tail -n 20 "${SLURM_CONF%/*}/log/$f.log"; done
  exit 1
}
