# shellcheck shell=bash
# SageMaker local mode from the shell: checks Docker and Compose, keeps each model's local image in step with
# its build inputs, and runs the pipeline project's batches with `--env local` in one run folder.
# Sourced by scripts/local_run/*.sh and scripts/benchmark/local_mode.sh, after scripts/lib/docker.sh.

# Command substitutions such as image=$(ensure_model_image ...) must stop at a failing step too.
shopt -s inherit_errexit

readonly PIPELINE_DIR="$REPO_ROOT/code/pipeline"
readonly COMPOSE_WORKING_DIR_LABEL="com.docker.compose.project.working_dir"
# Lifecycle order, used by the scripts that source this file; collection needs no image.
# shellcheck disable=SC2034
readonly LIFECYCLE=(collection preprocess training evaluation inference)

# chosen_model [NAME]: NAME, else the only model there is; with several and none named, the script ends.
chosen_model() {
  local models
  if [[ -n ${1:-} ]]; then
    echo "$1"
    return
  fi
  read -r -a models <<<"$(list_models)"
  [[ ${models[0]:-none} != none ]] || die "no model under code/container: add one with \`make new-model NAME=...\`"
  [[ -z ${models[1]:-} ]] || die "several models (${models[*]}): choose one with --model NAME"
  echo "${models[0]}"
}

# require_local_mode: Docker, its engine, Compose (v2 plugin or docker-compose v1, as the SDK looks for them)
# and the pipeline project's environment, before anything is built or run.
require_local_mode() {
  require_mountable_runs_dir
  command -v docker >/dev/null \
    || die "SageMaker local mode runs the job images with Docker, and there is no docker command: install Docker (https://docs.docker.com/engine/install/)"
  docker info >/dev/null 2>&1 \
    || die "the Docker engine does not answer \`docker info\`: start it (e.g. \`sudo systemctl start docker\` or Docker Desktop), or check DOCKER_HOST and your access to its socket"
  local version
  version=$(docker compose version 2>/dev/null || true)
  if ! [[ $version =~ version[[:space:]]+v?([0-9]+) && ${BASH_REMATCH[1]} -ge 2 ]] \
    && ! command -v docker-compose >/dev/null; then
    die "SageMaker local mode needs Docker Compose: install the Compose plugin (\`docker compose\`, https://docs.docker.com/compose/install/) or docker-compose"
  fi
  [[ -x $PIPELINE_DIR/.venv/bin/python ]] \
    || die "the pipeline project is not installed ($PIPELINE_DIR/.venv is missing): run \`make setup\`"
}

# require_mountable_runs_dir: the runs folder must be one SageMaker local mode mounts (it refuses any under
# /root, /etc, /var/lib, ~/.config and a few more): one line and the fix before any image is built. Without
# the pipeline project's venv, require_local_mode says what to do instead.
require_mountable_runs_dir() {
  [[ -x $PIPELINE_DIR/.venv/bin/python ]] || return 0
  (cd "$PIPELINE_DIR" && .venv/bin/python -m utils.aws.local_mounts "$(runs_dir)") || exit 1
}

# ensure_model_image MODEL: prints the local image reference (the local config's registry and prefix, tagged by
# the repository's one tag rule, as build.sh tags it), building it first when its build inputs changed or its
# base image is newer than the one it was built on.
# shellcheck disable=SC2154  # image_* are set by load_image_settings, in scripts/lib/docker.sh
ensure_model_image() {
  local model=$1 reference
  load_image_settings local model "$model"
  reference=$image_reference
  if built_on_current_base "$reference" "$image_base"; then
    log "image $reference is up to date with its build inputs"
  else
    log "building $reference (its build inputs or base image changed, or it was never built)"
    docker_build model "$model" runtime "$reference" "$image_platform" "$image_base" \
      || die "building $reference failed (see above); make doctor checks the base image, BASE_IMAGE (or images.base_image) and DOCKER_BUILD_NETWORK adjust the build"
  fi
  echo "$reference"
}

# begin_run MODEL RUN_FOLDER: the start of a script that runs in one new run folder. Checks the model, the run
# folder (a new name when RUN_FOLDER is empty; one that exists ends the script) and local mode, hands INT and
# TERM on to the running command, brings the image up to date, and removes the run's containers on exit. Sets
# model, run_folder, folder (its path), image and started (SECONDS at the start) for the script.
# shellcheck disable=SC2034  # the globals are the script's
begin_run() {
  model=$(chosen_model "$1")
  require_model "$model"
  run_folder=$(checked_or_new_run_folder "$2")
  folder="$(runs_dir)/$run_folder"
  [[ ! -e $folder ]] || die "$folder exists already: a run never overwrites another; pick a new --run-folder"
  stop_on_interrupts
  require_local_mode
  started=$SECONDS
  image=$(ensure_model_image "$model")
  trap 'remove_run_containers "$folder"' EXIT
}

new_run_folder_name() {
  echo "$(date -u +%Y%m%d-%H%M%S)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
}

runs_dir() {
  echo "${PIPELINE_RUNS_DIR:-$REPO_ROOT/runs}"
}

# checked_or_new_run_folder [NAME]: NAME when it is a valid folder name (else the script ends), or a new one.
checked_or_new_run_folder() {
  if [[ -z ${1:-} ]]; then
    new_run_folder_name
  elif [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]]; then
    echo "$1"
  else
    die "run folder '$1': use letters, digits, '.', '_' and '-' (at most 64)"
  fi
}

# pipeline_command RUN_FOLDER MODEL IMAGE COMMAND...: runs a command of the pipeline project for one run folder,
# from the project's venv as \`poetry run\` would, without Poetry's own second of start-up on every job.
# No AWS identity is read: local mode needs neither credentials nor a region lookup.
# It runs in the background and is waited for, so that the script's INT/TERM trap (stop_on_interrupts) runs at
# once rather than after the command (bash runs traps only between foreground commands); a script's background
# commands ignore SIGINT, so the command gets it back before it starts.
pipeline_command() {
  local run_folder=$1 model=$2 image=$3 status=0
  shift 3
  local tag=${image##*:} registry_host=${image%%/*}
  (
    trap - INT QUIT
    cd "$PIPELINE_DIR" || exit 1
    PIPELINE_RUN_FOLDER=$run_folder PIPELINE_MODEL=$model IMAGE_TAG=$tag ECR_REGISTRY=$registry_host \
      AWS_EC2_METADATA_DISABLED=true PATH="$PIPELINE_DIR/.venv/bin:$PATH" exec "$@"
  ) &
  pipeline_pid=$!
  while true; do
    wait "$pipeline_pid" && status=0 || status=$?
    # A trapped signal ends `wait` early, while the command is still stopping its job: wait on.
    kill -0 "$pipeline_pid" 2>/dev/null || break
  done
  pipeline_pid=""
  return "$status"
}

# The pipeline command running now, and the signal (INT or TERM) that interrupted the script, if one did.
pipeline_pid=""
interrupted_by=""

# stop_on_interrupts: from now on INT and TERM are handed on to the running pipeline command (a batch stops its
# job, removes its containers and records it Stopped); with none running the script ends at once. The script
# checks exit_if_interrupted after each command, so it never goes on to the next job.
stop_on_interrupts() {
  trap 'on_interrupt INT' INT
  trap 'on_interrupt TERM' TERM
}

on_interrupt() {
  interrupted_by=$1
  if [[ -n $pipeline_pid ]]; then
    kill -s "$1" "$pipeline_pid" 2>/dev/null || true
  else
    exit_if_interrupted
  fi
}

# exit_if_interrupted: ends the script with the shell's code for the signal (130 for INT, 143 for TERM) when
# one interrupted it; the EXIT trap then removes what is left of the run's containers.
exit_if_interrupted() {
  [[ -n $interrupted_by ]] || return 0
  log "==> stopped by SIG$interrupted_by"
  exit $((128 + $(kill -l "$interrupted_by")))
}

# run_batch RUN_FOLDER MODEL IMAGE JOB ARGS...
run_batch() {
  local run_folder=$1 model=$2 image=$3 job=$4
  shift 4
  pipeline_command "$run_folder" "$model" "$image" python -m "batches.$job" --env local "$@"
}

# remove_run_containers FOLDER: the stopped (or, after an interrupt, still running) job containers whose
# Compose project lives in FOLDER; the batches remove their own, this catches what an interrupt leaves.
remove_run_containers() {
  local folder=$1 id working_dir ours=()
  while read -r id working_dir; do
    [[ -n $id && $working_dir == "$folder"/* ]] && ours+=("$id")
  done < <(docker ps --all --filter "label=$COMPOSE_WORKING_DIR_LABEL" \
    --format '{% raw %}{{.ID}} {{.Label "com.docker.compose.project.working_dir"}}{% endraw %}' 2>/dev/null || true)
  if [[ -n ${ours[*]:-} ]]; then
    docker rm --force "${ours[@]}" >/dev/null 2>&1 || true
  fi
}

seconds_since() {
  echo $((SECONDS - $1))
}
