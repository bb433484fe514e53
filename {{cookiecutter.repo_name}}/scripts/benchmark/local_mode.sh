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
Compose, the training toolkit or the database) and prints both times, the overhead per job and the whole
lifecycle's time. The image is brought up to date first and is not part of any time.

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

printf '%-12s %12s %12s %12s %8s\n' job "local mode" "direct" overhead ratio
for job in "${LIFECYCLE[@]}"; do
  if [[ -n ${direct_ms[$job]:-} ]]; then
    awk -v job="$job" -v l="${local_ms[$job]}" -v d="${direct_ms[$job]}" \
      'BEGIN { printf "%-12s %10.1f s %10.1f s %10.1f s %7.1fx\n", job, l / 1000, d / 1000, (l - d) / 1000, l / d }'
  else
    awk -v job="$job" -v l="${local_ms[$job]}" \
      'BEGIN { printf "%-12s %10.1f s %12s %12s   (no container: reads the database)\n", job, l / 1000, "-", "-" }'
  fi
done
awk -v t="$total_ms" 'BEGIN { printf "%-12s %10.1f s   (the image built beforehand)\n", "lifecycle", t / 1000 }'
