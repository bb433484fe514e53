#!/usr/bin/env bash
# Runs a model's SageMaker pipeline definition on this machine (Docker, no AWS); `--help` for usage.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/local_run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/local_run.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--model NAME] [--run-folder NAME] [--parameter NAME=VALUE ...]

Runs the model's SageMaker pipeline, the definition \`batches.pipeline definition\` prints, on this machine:
collects the source data into a new run folder runs/<run folder>/, then runs the pipeline's steps on it with
SageMaker's local pipeline runner (each job in Docker), and copies every step's outputs into the run folder.
When the quality gate passes, the model is registered in the job database as PendingManualApproval
(\`batches.registry --env local list\`); when it fails, the run ends with the metric, its value and the
threshold. See code/pipeline/README.md for what differs from a run on SageMaker.

The model image is brought up to date first (see scripts/local_run/local_mode.sh --help). No AWS account,
credentials or network access is used: the pipeline's S3 is an in-memory server on 127.0.0.1 for the run.

Options:
  --model NAME            model under code/container (default: the only one; models: $(list_models))
  --run-folder NAME       new run folder under runs/ (default: UTC time and random digits); it must not exist
  --parameter NAME=VALUE  a pipeline parameter for this run (repeatable), e.g. QualityThreshold=0.95
  -h, --help              show this help

Environment: BASE_IMAGE, DOCKER_BUILD_NETWORK as for scripts/docker/container/build.sh; PIPELINE_RUNS_DIR
moves runs/; DATABASE_URL uses another job database.
USAGE
}

model=""
run_folder=""
parameters=()
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --model) model=${2:?--model needs a value}; shift ;;
    --run-folder) run_folder=${2:?--run-folder needs a value}; shift ;;
    --parameter) parameters+=(--parameter "${2:?--parameter needs NAME=VALUE}"); shift ;;
    *) usage >&2; die "unexpected argument: $1" ;;
  esac
  shift
done
begin_run "$model" "$run_folder"
log "==> SageMaker pipeline of $model on this machine, run folder $run_folder ($image)"
pipeline_command "$run_folder" "$model" "$image" python -m utils.db init --env local >&2
log "==> collection"
if ! run_batch "$run_folder" "$model" "$image" collection; then
  exit_if_interrupted
  exit 1
fi
exit_if_interrupted
log "==> pipeline"
status=0
pipeline_command "$run_folder" "$model" "$image" \
  python -m batches.pipeline --env local start --wait "${parameters[@]}" || status=$?
exit_if_interrupted
[[ $status -eq 0 ]] || exit "$status"
log "==> done in $(seconds_since "$started") s"
