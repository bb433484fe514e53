#!/usr/bin/env bash
# Measures what SageMaker local mode costs on top of the jobs themselves; `--help` for what it does.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/local_run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/local_run.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--model NAME]

Runs the lifecycle once job by job with scripts/local_run/local_mode.sh (one run folder, in a temporary
runs folder and database), timing each call as a developer sees it. Then runs each job's own entry point
directly with \`docker run\` on the same inputs (the job's script on a plain container, without the SDK,
Compose, the training toolkit or the database). Then runs scripts/local_run/pipeline.sh twice: in a new runs
folder (it creates and seeds the job database and creates the MLflow store), and beside the job-by-job run.
Prints each job's time alone and within the second lifecycle, its overhead over the direct run in both, and
each lifecycle's time. The image is brought up to date first and is not part of any time.

Options:
  --model NAME  model under code/container (default: the only one; models: $(list_models))
  -h, --help    show this help

Environment: BASE_IMAGE and DOCKER_BUILD_NETWORK as for scripts/docker/container/build.sh.
USAGE
}

model=""
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --model) model=${2:?--model needs a value}; shift ;;
    *) usage >&2; die "unexpected argument: $1" ;;
  esac
  shift
done
model=$(chosen_model "$model")
require_model "$model"
require_local_mode
image=$(ensure_model_image "$model")

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
export PIPELINE_RUNS_DIR=$workdir/runs
run_folder=benchmark
folder=$PIPELINE_RUNS_DIR/$run_folder

now_ms() {
  echo $(($(date +%s%N) / 1000000))
}

declare -A local_ms direct_ms
total_ms=0
for job in "${LIFECYCLE[@]}"; do
  log "==> local mode: $job"
  start=$(now_ms)
  "$REPO_ROOT/scripts/local_run/local_mode.sh" --model "$model" --run-folder "$run_folder" "$job" >/dev/null
  local_ms[$job]=$(($(now_ms) - start))
  total_ms=$((total_ms + local_ms[$job]))
done

# direct JOB ARGS...: the job's entry point in a plain container, as the calling user so its files stay ours.
direct() {
  local job=$1 start
  shift
  log "==> direct: $job"
  start=$(now_ms)
  docker run --rm --network none --user "$(id -u):$(id -g)" --env MPLCONFIGDIR=/tmp "$@" >/dev/null
  direct_ms[$job]=$(($(now_ms) - start))
}

out=$workdir/direct
mkdir -p "$out"/{train,validation,test,model,output,evaluation,predictions}
direct preprocess \
  --volume "$folder/collection/raw:/opt/ml/processing/input/raw:ro" \
  --volume "$out/train:/opt/ml/processing/output/train" \
  --volume "$out/validation:/opt/ml/processing/output/validation" \
  --volume "$out/test:/opt/ml/processing/output/test" \
  --entrypoint python3 "$image" -m jobs.preprocess
direct training \
  --volume "$folder/preprocess/train:/data/train:ro" --env SM_CHANNEL_TRAIN=/data/train \
  --volume "$folder/preprocess/validation:/data/validation:ro" --env SM_CHANNEL_VALIDATION=/data/validation \
  --volume "$out/model:/model" --env SM_MODEL_DIR=/model \
  --volume "$out/output:/output" --env SM_OUTPUT_DIR=/output \
  --entrypoint python3 "$image" -m jobs.training
direct evaluation \
  --volume "$folder/training/model:/opt/ml/processing/input/model:ro" \
  --volume "$folder/preprocess/test:/opt/ml/processing/input/test:ro" \
  --volume "$out/report:/opt/ml/processing/output/report" \
  --entrypoint python3 "$image" -m jobs.evaluation
direct inference \
  --volume "$folder/training/model:/opt/ml/processing/input/model:ro" \
  --volume "$folder/collection/raw:/opt/ml/processing/input/data:ro" \
  --volume "$out/predictions:/opt/ml/processing/output/predictions" \
  --entrypoint python3 "$image" -m jobs.inference

# lifecycle NAME RUNS_DIR: pipeline.sh in RUNS_DIR; its time, and each stage's as it printed it.
declare -A lifecycle_ms
declare -A stage_s
lifecycle() {
  local name=$1 runs=$2 start progress
  log "==> lifecycle: $name"
  progress=$workdir/$name.log
  start=$(now_ms)
  PIPELINE_RUNS_DIR=$runs "$REPO_ROOT/scripts/local_run/pipeline.sh" --model "$model" --run-folder "$name" \
    >/dev/null 2>"$progress"
  lifecycle_ms[$name]=$(($(now_ms) - start))
  while read -r stage seconds; do
    stage_s[$stage]=$seconds
  done < <(sed -nE 's/^==> \[[0-9]+\/[0-9]+\] ([a-z]+) done in ([0-9.]+) s$/\1 \2/p' "$progress")
}
lifecycle first "$workdir/new-runs"  # creates and seeds the job database, creates the MLflow store
lifecycle next "$PIPELINE_RUNS_DIR"  # beside the job-by-job run: both exist already

printf '%-12s %10s %14s %10s %10s %14s\n' job alone "in lifecycle" direct overhead "in lifecycle"
for job in "${LIFECYCLE[@]}"; do
  awk -v job="$job" -v l="${local_ms[$job]}" -v p="${stage_s[$job]:-0}" -v d="${direct_ms[$job]:-}" 'BEGIN {
    if (d == "") {
      printf "%-12s %8.1f s %12.1f s %10s %10s %14s   (no container: reads the database)\n", job, l / 1000, p, "-", "-", "-"
    } else {
      printf "%-12s %8.1f s %12.1f s %8.1f s %8.1f s %12.1f s\n", job, l / 1000, p, d / 1000, (l - d) / 1000, p - d / 1000
    }
  }'
done
awk -v t="$total_ms" -v f="${lifecycle_ms[first]}" -v n="${lifecycle_ms[next]}" 'BEGIN {
  printf "%-48s %6.1f s\n", "lifecycle, job by job (local_mode.sh)", t / 1000
  printf "%-48s %6.1f s\n", "lifecycle (pipeline.sh) in a new runs folder", f / 1000
  printf "%-48s %6.1f s\n", "lifecycle (pipeline.sh), the next one", n / 1000
  print "(the image built beforehand; overhead: time over the direct run of the same job)"
}'
