#!/usr/bin/env bash
# Runs one job of a model in SageMaker local mode (Docker on this machine, no AWS); `--help` for usage.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/local_run.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/local_run.sh"

# wants_help ARGS...: whether the job's options ask for its help.
wants_help() {
  local arg
  for arg in "$@"; do
    [[ $arg == -h || $arg == --help ]] && return 0
  done
  return 1
}

# batch_help JOB: the batch's own options, from the host (no image is built, no run folder is made).
batch_help() {
  [[ -x $PIPELINE_DIR/.venv/bin/python ]] \
    || die "the pipeline project is not installed ($PIPELINE_DIR/.venv is missing): run \`make setup\`"
  (cd "$PIPELINE_DIR" && .venv/bin/python -m "batches.$1" --help)
  echo "$(basename "$0") passes --env local and --model itself: give the other options after $1."
}

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--model NAME] [--run-folder NAME] JOB [JOB OPTIONS...]

Runs one job in SageMaker local mode: the model's image runs under Docker Compose on this machine, reading
and writing files under runs/<run folder>/ and recording the job in the local database (runs/local.sqlite3).
No AWS account, credentials or network access is used.

JOB is one of: ${LIFECYCLE[*]}, or build (only bring the image up to date and print its reference).

The image is tagged with the digest of its build inputs (the Dockerfile, the files it copies, the base image
and the platform), as build.sh tags it: it is built when that tag is missing or its base image changed, so an
edited job is never run from a stale image and an unchanged one is never rebuilt.

Each call opens a new run folder; the job takes the latest completed upstream run from the database (or
the one named with --<upstream>-run-id). Job options go to the batch, e.g.:
  $(basename "$0") training --hyperparameter learning_rate=0.05 --hyperparameter max_depth=4
  $(basename "$0") preprocess --param seed=7
  $(basename "$0") evaluation --training-run-id 20260101-120000-abcdef
See all of them with: $(basename "$0") JOB --help

Options:
  --model NAME       model under code/container (default: the only one; models: $(list_models))
  --run-folder NAME  run folder under runs/ (default: a new one); it must not hold this job's stage yet
  -h, --help         show this help

Environment: BASE_IMAGE, DOCKER_BUILD_NETWORK as for scripts/docker/container/build.sh (the local config,
code/pipeline/configs/local.yaml, names the image); PIPELINE_RUNS_DIR moves runs/; DATABASE_URL uses another
job database.
USAGE
}

model=""
run_folder=""
job=""
job_args=()
while [[ $# -gt 0 ]]; do
  if [[ -n $job ]]; then
    case $1 in
      --model) model=${2:?--model needs a value}; shift ;;
      --run-folder) run_folder=${2:?--run-folder needs a value}; shift ;;
      *) job_args+=("$1") ;;
    esac
    shift
    continue
  fi
  case $1 in
    -h | --help) usage; exit 0 ;;
    --model) model=${2:?--model needs a value}; shift ;;
    --run-folder) run_folder=${2:?--run-folder needs a value}; shift ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) job=$1 ;;
  esac
  shift
done
[[ -n $job ]] || { usage >&2; die "name the job to run"; }
case " ${LIFECYCLE[*]} build " in
  *" $job "*) ;;
  *) die "unknown job '$job': expected one of ${LIFECYCLE[*]} build" ;;
esac
model=$(chosen_model "$model")
require_model "$model"
if [[ $job != build ]] && wants_help "${job_args[@]}"; then
  batch_help "$job"
  exit 0
fi
run_folder=$(checked_or_new_run_folder "$run_folder")

stop_on_interrupts
require_local_mode
image=$(ensure_model_image "$model")
if [[ $job == build ]]; then
  echo "$image"
  exit 0
fi

folder="$(runs_dir)/$run_folder"
trap 'remove_run_containers "$folder"' EXIT
if [[ $job == collection ]]; then
  # The first collection creates the database; later ones find the schema and the data in place.
  pipeline_command "$run_folder" "$model" "$image" python -m utils.db init --env local >&2
fi
log "==> $job of $model in local mode, run folder $run_folder ($image)"
started=$SECONDS
status=0
run_batch "$run_folder" "$model" "$image" "$job" "${job_args[@]}" || status=$?
if ((status != 0)); then
  exit_if_interrupted
  if ((status == 2)); then  # the batch refused its input before any record or container
    log "==> $job was not started (see the error above)"
    exit 2
  fi
  log "==> $job failed after $(seconds_since "$started") s (see the error above)"
  exit 1
fi
exit_if_interrupted
log "==> $job completed in $(seconds_since "$started") s; outputs under $folder/$job:"
find "$folder/$job" -path "$folder/$job/container-*" -prune -o -type f -print | sort
