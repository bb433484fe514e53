#!/usr/bin/env bash
# Runs a model's whole lifecycle in SageMaker local mode (Docker on this machine, no AWS); `--help` for usage.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/local_run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/local_run.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--model NAME] [--run-folder NAME]

Runs ${LIFECYCLE[*]} one after the other in SageMaker local mode, all in one new run folder
runs/<run folder>/, each stage on the outputs of the one before, in one process (python -m batches.lifecycle).
Prints each stage's progress, then a summary: the run folder, every job's status and metrics, and the paths of
the model, the evaluation report with its plots, the predictions and the job database. Stops at the first
failing stage with its failure reason.

The model image is brought up to date first (see scripts/local_run/local_mode.sh --help). No AWS account,
credentials or network access is used.

Options:
  --model NAME       model under code/container (default: the only one; models: $(list_models))
  --run-folder NAME  new run folder under runs/ (default: UTC time and random digits); it must not exist
  -h, --help         show this help

Environment: BASE_IMAGE, DOCKER_BUILD_NETWORK as for scripts/docker/container/build.sh; PIPELINE_RUNS_DIR
moves runs/; DATABASE_URL uses another job database.
USAGE
}

model=""
run_folder=""
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --model) model=${2:?--model needs a value}; shift ;;
    --run-folder) run_folder=${2:?--run-folder needs a value}; shift ;;
    *) usage >&2; die "unexpected argument: $1" ;;
  esac
  shift
done
begin_run "$model" "$run_folder"
log "==> lifecycle of $model in local mode, run folder $run_folder ($image)"
pipeline_command "$run_folder" "$model" "$image" python -m utils.db init --env local >&2

# The stages run in one process (batches.lifecycle), which prints each one's progress.
if ! pipeline_command "$run_folder" "$model" "$image" python -m batches.lifecycle --env local; then
  pipeline_command "$run_folder" "$model" "$image" python -m utils.db folder "$run_folder" --env local || true
  exit_if_interrupted
  exit 1
fi
exit_if_interrupted
pipeline_command "$run_folder" "$model" "$image" python -m utils.db folder "$run_folder" --env local
