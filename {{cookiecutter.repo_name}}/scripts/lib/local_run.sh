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

# The models' default: the only one there is, else the one named in the local config.
default_model() {
  local models
  read -r -a models <<<"$(list_models)"
  if [[ -n ${models[0]:-} && -z ${models[1]:-} && ${models[0]} != none ]]; then
    echo "${models[0]}"
  else
    sed -n 's/^model_name: *//p' "$PIPELINE_DIR/configs/local.yaml"
  fi
}

# require_local_mode: Docker, its engine, Compose (v2 plugin or docker-compose v1, as the SDK looks for them)
# and the pipeline project's environment, before anything is built or run.
require_local_mode() {
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

# image_inputs_hash MODEL: a digest of everything the model image is built from (the Dockerfile, the build
# context's ignore file, every file of the model's project, the base image and the platform), so the local tag
# changes exactly when a rebuild could change the image.
image_inputs_hash() {
  local model=$1 base_image base_id
  base_image=${BASE_IMAGE:-$(sed -n 's/^ARG BASE_IMAGE=//p' "$(dockerfile_for model)" | head -n 1)}
  base_id=$(docker images --no-trunc --quiet "$base_image" 2>/dev/null | head -n 1)
  {
    echo "base $base_image $base_id"
    echo "platform ${LOCAL_PLATFORM:-native}"
    cd "$REPO_ROOT" && find scripts/docker/container .dockerignore "code/container/$model" \
      \( -name .venv -o -name __pycache__ -o -name .pytest_cache -o -name .mypy_cache -o -name .ruff_cache \) \
      -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-12
}

# local_image_registry: the registry part of local image names, the same as build.sh's (ECR_REGISTRY wins).
local_image_registry() {
  registry "$DEFAULT_AWS_ACCOUNT_ID" "$DEFAULT_AWS_REGION"
}

# ensure_model_image MODEL: prints the local image reference, building it first when its inputs changed.
ensure_model_image() {
  local model=$1 name tag reference
  name=$(image_name model "$model")
  tag="local-$(image_inputs_hash "$model")"
  reference="$(local_image_registry)/$name:$tag"
  if docker image inspect "$reference" >/dev/null 2>&1; then
    log "image $reference is up to date with its build inputs"
  else
    log "building $reference (its build inputs changed or it was never built)"
    docker_build model "$model" runtime "$reference" "${LOCAL_PLATFORM:-}" \
      || die "building $reference failed (see above); BASE_IMAGE and DOCKER_BUILD_NETWORK adjust the build"
  fi
  echo "$reference"
}

new_local_run_id() {
  echo "$(date -u +%Y%m%d-%H%M%S)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
}

runs_dir() {
  echo "${PIPELINE_RUNS_DIR:-$REPO_ROOT/runs}"
}

# checked_or_new_run_id [ID]: ID when it is a valid folder name (else the script ends), or a new run id.
checked_or_new_run_id() {
  if [[ -z ${1:-} ]]; then
    new_local_run_id
  elif [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]]; then
    echo "$1"
  else
    die "run id '$1': use letters, digits, '.', '_' and '-' (at most 64)"
  fi
}

# pipeline_command RUN_ID MODEL IMAGE COMMAND...: runs a command of the pipeline project for one run folder,
# from the project's venv as \`poetry run\` would, without Poetry's own second of start-up on every job.
# No AWS identity is read: local mode needs neither credentials nor a region lookup.
pipeline_command() {
  local run_id=$1 model=$2 image=$3
  shift 3
  local tag=${image##*:} registry_host=${image%%/*}
  (
    cd "$PIPELINE_DIR" || exit 1
    PIPELINE_RUN_ID=$run_id PIPELINE_MODEL=$model IMAGE_TAG=$tag ECR_REGISTRY=$registry_host \
      AWS_EC2_METADATA_DISABLED=true PATH="$PIPELINE_DIR/.venv/bin:$PATH" "$@"
  )
}

# run_batch RUN_ID MODEL IMAGE JOB ARGS...
run_batch() {
  local run_id=$1 model=$2 image=$3 job=$4
  shift 4
  pipeline_command "$run_id" "$model" "$image" python -m "batches.$job" --env local "$@"
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
