# shellcheck shell=bash
# Build, push and test the repository's images: one job image per model (scripts/docker/container) and the
# pipeline image (scripts/docker/pipeline). Sourced by the thin scripts next to each Dockerfile and by
# scripts/test/*.sh; the image kind is their only difference.

readonly PIPELINE_IMAGE="pipeline"
# Labels of every image built here: the base image and the local id it had, so that a local run rebuilds an
# image whose base was pulled or rebuilt since (the tag follows the base's name, not its content).
readonly BASE_NAME_LABEL="org.opencontainers.image.base.name"
readonly BASE_ID_LABEL="base-image-id"

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO_ROOT

die() {
  echo "error: $*" >&2
  exit 1
}

log() {
  echo "$*" >&2
}

# require_model MODEL: the script ends unless MODEL has a project under code/container.
require_model() {
  local model=${1:-}
  [[ -n $model ]] || die "name the model to use (one of: $(list_models))"
  [[ $model != "$PIPELINE_IMAGE" ]] || die "'$PIPELINE_IMAGE' is the pipeline image's name, not a model"
  [[ -f $REPO_ROOT/code/container/$model/pyproject.toml ]] \
    || die "no model '$model' under code/container (models: $(list_models))"
}

list_models() {
  local project models=()
  for project in "$REPO_ROOT"/code/container/*/pyproject.toml; do
    [[ -e $project ]] && models+=("$(basename "$(dirname "$project")")")
  done
  echo "${models[*]:-none}"
}

dockerfile_for() {
  case $1 in
    model) echo "$REPO_ROOT/scripts/docker/container/Dockerfile" ;;
    pipeline) echo "$REPO_ROOT/scripts/docker/pipeline/Dockerfile" ;;
    *) die "unknown image kind: $1" ;;
  esac
}

# The settings of one image, read by load_image_settings from code/pipeline/configs/<env>.yaml.
image_reference="" image_registry="" image_repository="" image_tag="" image_region="" image_base="" image_platform=""

# load_image_settings ENV KIND MODEL [PLATFORM]: the image's reference (registry, repository and tag by the
# repository's one tag rule, utils/image_inputs.py), region, base image and platform, as the batches see them;
# IMAGE_TAG, ECR_REGISTRY and BASE_IMAGE override the config here as they do there.
load_image_settings() {
  local env=$1 kind=$2 model=$3 platform=${4:-} output key value
  local python=$REPO_ROOT/code/pipeline/.venv/bin/python
  [[ -x $python ]] \
    || die "the pipeline project is not installed (code/pipeline/.venv is missing): run \`make setup\`; its configs give the images' registry, prefix, region and base image"
  local args=(-m utils.config_reader image --env "$env")
  if [[ $kind == pipeline ]]; then args+=(--pipeline); else args+=(--model "$model"); fi
  [[ -n $platform ]] && args+=(--platform "$platform")
  output=$(cd "$REPO_ROOT/code/pipeline" && "$python" "${args[@]}") \
    || die "code/pipeline/configs/$env.yaml cannot name the image (see above)"
  while IFS='=' read -r key value; do
    case $key in
      reference) image_reference=$value ;;
      registry) image_registry=$value ;;
      repository) image_repository=$value ;;
      tag) image_tag=$value ;;
      region) image_region=$value ;;
      base_image) image_base=$value ;;
      platform) image_platform=$value ;;
    esac
  done <<<"$output"
}

# local_image_id IMAGE: the image's id on this machine, or nothing.
local_image_id() {
  docker images --no-trunc --quiet "$1" 2>/dev/null | head -n 1
}

# docker_build KIND MODEL TARGET REFERENCE PLATFORM BASE: progress goes to stderr.
docker_build() {
  local kind=$1 model=$2 target=$3 reference=$4 platform=$5 base=$6
  local args=(build --file "$(dockerfile_for "$kind")" --platform "$platform" --build-arg "BASE_IMAGE=$base"
    --label "$BASE_NAME_LABEL=$base")
  local base_id
  base_id=$(local_image_id "$base")
  [[ -n $base_id ]] && args+=(--label "$BASE_ID_LABEL=$base_id")
  [[ $kind == model ]] && args+=(--build-arg "MODEL_NAME=$model")
  # Some networks only let builds reach package indexes through the host's network (e.g. host).
  [[ -n ${DOCKER_BUILD_NETWORK:-} ]] && args+=(--network "$DOCKER_BUILD_NETWORK")
  # The classic builder leaves each build's builder stage behind as an untagged image of about 1 GB. Naming it
  # (REPOSITORY:build-cache) keeps one per image, the newest, whose layers the next build reuses; the one it
  # replaces is removed.
  local cache="${reference%:*}:build-cache" previous
  previous=$(local_image_id "$cache")
  log "docker ${args[*]} --target $target --tag $reference $REPO_ROOT"
  # `|| return`: callers test this function (`docker_build ... || die`), and bash runs a tested function
  # without `set -e`, so a failed build would otherwise go on and end in success.
  docker "${args[@]}" --target "$target" --tag "$reference" "$REPO_ROOT" >&2 || return
  docker "${args[@]}" --target builder --tag "$cache" --quiet "$REPO_ROOT" >/dev/null || return
  if [[ -n $previous && $previous != "$(local_image_id "$cache")" ]]; then
    docker image rm "$previous" >/dev/null 2>&1 || true
  fi
}

# built_on_current_base REFERENCE BASE: the image exists here and was built on BASE as BASE is now (or BASE
# is not on this machine, so there is nothing newer to compare with).
built_on_current_base() {
  local reference=$1 base=$2 base_id
  [[ -n $(local_image_id "$reference") ]] || return 1
  base_id=$(local_image_id "$base")
  [[ -z $base_id ]] && return 0
  [[ -n $(docker images --quiet --filter "label=$BASE_ID_LABEL=$base_id" "$reference" 2>/dev/null) ]]
}

env_option_help() {
  cat <<HELP
  --env ENV            the config whose registry, prefix, region and base image to use: dev (default) or prod
                       (code/pipeline/configs/ENV.yaml)
HELP
}

build_usage() {
  local kind=$1 script=$2 what="MODEL"
  [[ $kind == pipeline ]] && what=""
  cat <<USAGE
Usage: $script [options] $what

Builds the ${kind/model/model job} image from $(dockerfile_for "$kind" | sed "s|^$REPO_ROOT/||") and prints
its full reference as the last line. The tag is a digest of the image's build inputs (the Dockerfile, the
files it copies, the base image and the platform), the tag push.sh pushes and the batches submit, so a branch
or an edited tree gets its own tag and an unchanged tree keeps it.

Options:
$(env_option_help)
  --platform PLATFORM  target platform (default: the config's images.platform, else linux/amd64, what
                       SageMaker instances run)
  -h, --help           show this help

Environment:
  IMAGE_TAG             tag instead of the digest of the build inputs
  BASE_IMAGE            base image instead of the config's images.base_image or the Dockerfile's default
  ECR_REGISTRY          registry host instead of the config's images.registry
  DOCKER_BUILD_NETWORK  network mode of the build's RUN steps (e.g. host)
USAGE
}

# build_main KIND ARGS... : the whole of scripts/docker/{container,pipeline}/build.sh.
build_main() {
  local kind=$1 script=$2
  shift 2
  local env=dev platform="" model=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      -h | --help) build_usage "$kind" "$script"; return 0 ;;
      --env) env=${2:?--env needs a value}; shift ;;
      --platform) platform=${2:?--platform needs a value}; shift ;;
      -*) build_usage "$kind" "$script" >&2; die "unknown option: $1" ;;
      *) [[ $kind == model && -z $model ]] || die "unexpected argument: $1"; model=$1 ;;
    esac
    shift
  done
  [[ $kind == pipeline ]] || require_model "$model"
  load_image_settings "$env" "$kind" "$model" "$platform"
  docker_build "$kind" "$model" runtime "$image_reference" "$image_platform" "$image_base"
  echo "$image_reference"
}

push_usage() {
  local kind=$1 script=$2 what="MODEL"
  [[ $kind == pipeline ]] && what=""
  cat <<USAGE
Usage: $script [options] $what

Pushes the image build.sh built from this tree to Amazon ECR: logs in, creates the repository if missing
(scan on push, immutable tags) and pushes. A tag that is already in the repository is left as it is, so
running it twice is safe. Prints the pushed image reference as the last line.

Options:
$(env_option_help)
  --tag TAG            push this tag instead of the one of this tree's build inputs
  --platform PLATFORM  the platform build.sh was given (default: as build.sh)
  --dry-run            print what would be done; call neither AWS nor the registry
  -h, --help           show this help

Environment:
  IMAGE_TAG, BASE_IMAGE, ECR_REGISTRY  as for build.sh
  AWS_ENDPOINT_URL  AWS API endpoint (the AWS CLI's own setting; e.g. a local emulator)
  AWS_PROFILE and the other AWS CLI settings choose the credentials
USAGE
}

# run_or_show DRY_RUN COMMAND...: runs the command, or prints it in a dry run.
run_or_show() {
  local dry_run=$1
  shift
  if [[ $dry_run == true ]]; then
    log "would run: $*"
  else
    "$@"
  fi
}

ensure_repository() {
  local repository=$1 region=$2 dry_run=$3
  if [[ $dry_run == true ]]; then
    log "would create ECR repository $repository if missing (scan on push, immutable tags)"
    return
  fi
  if aws ecr describe-repositories --region "$region" --repository-names "$repository" >/dev/null 2>&1; then
    log "ECR repository $repository exists"
    return
  fi
  log "creating ECR repository $repository"
  aws ecr create-repository --region "$region" --repository-name "$repository" \
    --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE >/dev/null
}

tag_in_repository() {
  local repository=$1 tag=$2 region=$3
  aws ecr describe-images --region "$region" --repository-name "$repository" \
    --image-ids "imageTag=$tag" >/dev/null 2>&1
}

# push_main KIND ARGS... : the whole of scripts/docker/{container,pipeline}/push.sh.
push_main() {
  local kind=$1 script=$2
  shift 2
  local env=dev platform="" dry_run=false model="" tag=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      -h | --help) push_usage "$kind" "$script"; return 0 ;;
      --env) env=${2:?--env needs a value}; shift ;;
      --tag) tag=${2:?--tag needs a value}; shift ;;
      --platform) platform=${2:?--platform needs a value}; shift ;;
      --dry-run) dry_run=true ;;
      -*) push_usage "$kind" "$script" >&2; die "unknown option: $1" ;;
      *) [[ $kind == model && -z $model ]] || die "unexpected argument: $1"; model=$1 ;;
    esac
    shift
  done
  [[ $kind == pipeline ]] || require_model "$model"
  load_image_settings "$env" "$kind" "$model" "$platform"
  local name=$image_repository host=$image_registry region=$image_region
  [[ -n $tag ]] || tag=$image_tag
  local reference="$host/$name:$tag"
  if [[ $dry_run == false ]]; then
    local build_flags="--env $env"
    [[ -n $platform ]] && build_flags+=" --platform $platform"
    [[ -n $(local_image_id "$reference") ]] \
      || die "no local image $reference: build it first with $(dirname "$script")/build.sh $build_flags${model:+ $model} (with the same BASE_IMAGE and IMAGE_TAG, if set)"
    command -v aws >/dev/null || die "the AWS CLI (aws) is needed to push"
  fi
  ensure_repository "$name" "$region" "$dry_run"
  if [[ $dry_run == false ]] && tag_in_repository "$name" "$tag" "$region"; then
    log "$reference is already in ECR; tags are immutable, nothing to push"
    echo "$reference"
    return 0
  fi
  if [[ $dry_run == true ]]; then
    log "would run: aws ecr get-login-password --region $region | docker login --username AWS --password-stdin $host"
  else
    aws ecr get-login-password --region "$region" \
      | docker login --username AWS --password-stdin "$host" >&2
  fi
  run_or_show "$dry_run" docker push "$reference" >&2
  echo "$reference"
}

# test_image_main KIND ARGS... : builds the Dockerfile's test stage and runs the tests inside it.
test_image_main() {
  local kind=$1 script=$2
  shift 2
  local model=""
  if [[ $kind == model ]]; then
    case ${1:-} in
      "" | -h | --help)
        echo "Usage: $script MODEL [PYTEST_ARGS...]"
        echo
        echo "Builds the model image's test stage (runtime image + test tools + tests/container/MODEL)"
        echo "and runs pytest inside it. Models: $(list_models)"
        [[ -n ${1:-} ]]; return $? ;;
    esac
    model=$1
    shift
  elif [[ ${1:-} == -h || ${1:-} == --help ]]; then
    echo "Usage: $script [PYTEST_ARGS...]"
    echo
    echo "Builds the pipeline image's test stage and runs pytest inside it."
    return 0
  fi
  [[ $kind == pipeline ]] || require_model "$model"
  load_image_settings local "$kind" "$model"
  local reference="$image_repository:test"
  docker_build "$kind" "$model" test "$reference" "$image_platform" "$image_base"
  log "running the tests in $reference"
  docker run --rm --network none --entrypoint python3 "$reference" -m pytest "$@"
}
