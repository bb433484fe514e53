# shellcheck shell=bash
# Build, push and test the repository's images: one job image per model (scripts/docker/container) and the
# pipeline image (scripts/docker/pipeline). Sourced by the thin scripts next to each Dockerfile and by
# scripts/test/*.sh; the image kind is their only difference.

# Where images go unless flags or ECR_REGISTRY say otherwise (answers given when the repository was created).
readonly DEFAULT_AWS_ACCOUNT_ID="{{ cookiecutter.aws_account_id }}"
readonly DEFAULT_AWS_REGION="{{ cookiecutter.aws_region }}"
readonly ECR_REPOSITORY_PREFIX="{{ cookiecutter.ecr_repository_prefix }}"
readonly PIPELINE_IMAGE="pipeline"
# SageMaker runs x86_64 instances unless told otherwise; building for it on an ARM laptop keeps jobs runnable.
readonly DEFAULT_PLATFORM="linux/amd64"

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO_ROOT

die() {
  echo "error: $*" >&2
  exit 1
}

log() {
  echo "$*" >&2
}

# image_name KIND [MODEL] -> the image's name under the ECR prefix, after checking MODEL exists.
image_name() {
  local kind=$1 model=${2:-}
  if [[ $kind == pipeline ]]; then
    echo "$ECR_REPOSITORY_PREFIX/$PIPELINE_IMAGE"
    return
  fi
  [[ -n $model ]] || die "name the model to use (one of: $(list_models))"
  [[ $model != "$PIPELINE_IMAGE" ]] || die "'$PIPELINE_IMAGE' is the pipeline image's name, not a model"
  [[ -f $REPO_ROOT/code/container/$model/pyproject.toml ]] \
    || die "no model '$model' under code/container (models: $(list_models))"
  echo "$ECR_REPOSITORY_PREFIX/$model"
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

# registry ACCOUNT REGION -> the registry host, in the region's partition (by the naming rules the pipeline
# uses); ECR_REGISTRY replaces it (a local registry in tests).
registry() {
  if [[ -n ${ECR_REGISTRY:-} ]]; then
    echo "$ECR_REGISTRY"
  else
    python3 "$REPO_ROOT/code/pipeline/utils/naming.py" ecr-registry "$1" "$2" \
      || die "--account-id and --region must name an AWS account and region (see above)"
  fi
}

# image_tag ALLOW_DIRTY -> the commit's short SHA; a tree with uncommitted changes gets "-dirty" when allowed.
image_tag() {
  local allow_dirty=$1 sha
  sha=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null) \
    || die "images are tagged with the git commit: $REPO_ROOT has no commit yet"
  if [[ -n $(git -C "$REPO_ROOT" status --porcelain --untracked-files=normal) ]]; then
    [[ $allow_dirty == true ]] \
      || die "uncommitted changes: commit them, or pass --allow-dirty to tag the image $sha-dirty"
    echo "$sha-dirty"
  else
    echo "$sha"
  fi
}

# docker_build KIND MODEL TARGET REFERENCE PLATFORM: progress goes to stderr.
docker_build() {
  local kind=$1 model=$2 target=$3 reference=$4 platform=$5
  local args=(build --file "$(dockerfile_for "$kind")" --target "$target" --tag "$reference")
  [[ -n $platform ]] && args+=(--platform "$platform")
  [[ -n ${BASE_IMAGE:-} ]] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
  [[ $kind == model ]] && args+=(--build-arg "MODEL_NAME=$model")
  # Some networks only let builds reach package indexes through the host's network (e.g. host).
  [[ -n ${DOCKER_BUILD_NETWORK:-} ]] && args+=(--network "$DOCKER_BUILD_NETWORK")
  log "docker ${args[*]} $REPO_ROOT"
  docker "${args[@]}" "$REPO_ROOT" >&2
}

build_usage() {
  local kind=$1 script=$2 what="MODEL"
  [[ $kind == pipeline ]] && what=""
  cat <<USAGE
Usage: $script [options] $what

Builds the ${kind/model/model job} image from $(dockerfile_for "$kind" | sed "s|^$REPO_ROOT/||"),
tagged with the current commit's short SHA, and prints the full image reference as the last line.

Options:
  --allow-dirty        build from a tree with uncommitted changes; the tag gets a -dirty suffix
  --platform PLATFORM  target platform (default: $DEFAULT_PLATFORM, what SageMaker instances run)
  --account-id ID      AWS account of the registry (default: $DEFAULT_AWS_ACCOUNT_ID)
  --region REGION      AWS region of the registry (default: $DEFAULT_AWS_REGION)
  -h, --help           show this help

Environment:
  BASE_IMAGE            base image (default: the Dockerfile's ARG BASE_IMAGE)
  ECR_REGISTRY          registry host instead of ACCOUNT.dkr.ecr.REGION.<the region's AWS domain>
  DOCKER_BUILD_NETWORK  network mode of the build's RUN steps (e.g. host)
USAGE
}

# build_main KIND ARGS... : the whole of scripts/docker/{container,pipeline}/build.sh.
build_main() {
  local kind=$1 script=$2
  shift 2
  local allow_dirty=false platform=$DEFAULT_PLATFORM account=$DEFAULT_AWS_ACCOUNT_ID region=$DEFAULT_AWS_REGION
  local model=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      -h | --help) build_usage "$kind" "$script"; return 0 ;;
      --allow-dirty) allow_dirty=true ;;
      --platform) platform=${2:?--platform needs a value}; shift ;;
      --account-id) account=${2:?--account-id needs a value}; shift ;;
      --region) region=${2:?--region needs a value}; shift ;;
      -*) build_usage "$kind" "$script" >&2; die "unknown option: $1" ;;
      *) [[ $kind == model && -z $model ]] || die "unexpected argument: $1"; model=$1 ;;
    esac
    shift
  done
  local name tag reference
  name=$(image_name "$kind" "$model")
  tag=$(image_tag "$allow_dirty")
  reference="$(registry "$account" "$region")/$name:$tag"
  docker_build "$kind" "$model" runtime "$reference" "$platform"
  echo "$reference"
}

push_usage() {
  local kind=$1 script=$2 what="MODEL"
  [[ $kind == pipeline ]] && what=""
  cat <<USAGE
Usage: $script [options] $what

Pushes the image built by build.sh for the current commit to Amazon ECR: logs in, creates the repository
if missing (scan on push, immutable tags) and pushes. A tag that is already in the repository is left as it
is, so running it twice is safe. Prints the pushed image reference as the last line.

Options:
  --allow-dirty        push the -dirty image of a tree with uncommitted changes
  --tag TAG            push this tag instead of the current commit's
  --account-id ID      AWS account of the registry (default: $DEFAULT_AWS_ACCOUNT_ID)
  --region REGION      AWS region of the registry (default: $DEFAULT_AWS_REGION)
  --dry-run            print what would be done; call neither AWS nor the registry
  -h, --help           show this help

Environment:
  ECR_REGISTRY      registry host instead of ACCOUNT.dkr.ecr.REGION.<the region's AWS domain> (as build.sh)
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
  local allow_dirty=false account=$DEFAULT_AWS_ACCOUNT_ID region=$DEFAULT_AWS_REGION dry_run=false
  local model="" tag=""
  while [[ $# -gt 0 ]]; do
    case $1 in
      -h | --help) push_usage "$kind" "$script"; return 0 ;;
      --allow-dirty) allow_dirty=true ;;
      --tag) tag=${2:?--tag needs a value}; shift ;;
      --account-id) account=${2:?--account-id needs a value}; shift ;;
      --region) region=${2:?--region needs a value}; shift ;;
      --dry-run) dry_run=true ;;
      -*) push_usage "$kind" "$script" >&2; die "unknown option: $1" ;;
      *) [[ $kind == model && -z $model ]] || die "unexpected argument: $1"; model=$1 ;;
    esac
    shift
  done
  local name host reference
  name=$(image_name "$kind" "$model")
  [[ -n $tag ]] || tag=$(image_tag "$allow_dirty")
  host=$(registry "$account" "$region")
  reference="$host/$name:$tag"
  if [[ $dry_run == false ]]; then
    docker image inspect "$reference" >/dev/null 2>&1 \
      || die "no local image $reference: build it first with $(dirname "$script")/build.sh"
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
  local name reference
  name=$(image_name "$kind" "$model")
  reference="$name:test"
  docker_build "$kind" "$model" test "$reference" ""
  log "running the tests in $reference"
  docker run --rm --network none --entrypoint python3 "$reference" -m pytest "$@"
}
