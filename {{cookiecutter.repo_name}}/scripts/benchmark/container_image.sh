#!/usr/bin/env bash
# Measures what the multi-stage job image buys: its size against the base image and against a single-stage
# build of the same Dockerfile steps, the cold build time, and the rebuild time after a code-only change.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") MODEL

Builds the model's runtime image from scratch (no layer cache) in a temporary copy of the build context,
then changes one job file and rebuilds, then builds a single-stage variant of the same Dockerfile, and prints
sizes and times. Leaves the repository untouched and removes the images it tagged. Takes a few minutes.

Environment: BASE_IMAGE and DOCKER_BUILD_NETWORK as for scripts/docker/container/build.sh (base image: the
local config's, as local runs build it).
Models: $(list_models)
USAGE
}

case ${1:-} in
  "" | -h | --help) usage; [[ -n ${1:-} ]]; exit $? ;;
esac
model=$1
require_model "$model"

dockerfile=$REPO_ROOT/scripts/docker/container/Dockerfile
load_image_settings local model "$model"
base_image=$image_base
workdir=$(mktemp -d)
run_id=$(basename "$workdir" | tr '[:upper:]' '[:lower:]' | tr -cd 'a-z0-9')
tags=("benchmark/$model:multi-$run_id" "benchmark/$model:rebuild-$run_id" "benchmark/$model:single-$run_id")
cleanup() {
  docker image rm "${tags[@]}" >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT

# A copy of the build context, so the code-only change never touches the working tree.
tar -C "$REPO_ROOT" --exclude=.venv --exclude=__pycache__ --exclude=.pytest_cache --exclude=.mypy_cache \
  -cf - .dockerignore scripts/docker/container "code/container/$model" | tar -C "$workdir" -xf -

# The single-stage variant runs the builder's steps and the runtime's steps in one stage.
awk '
  /^FROM .* AS builder/ { stage = "builder"; print "FROM ${BASE_IMAGE}"; next }
  /^FROM .* AS runtime/ { stage = "runtime"; next }
  /^FROM / { stage = "other" }
  stage == "other" { next }
  stage == "runtime" && /^COPY --from=/ { next }
  continued { continued = /\\$/; next }
  /\/opt\/test-packages/ { continued = /\\$/; next }
  { print }
' "$dockerfile" >"$workdir/Dockerfile.single"

build() {
  local file=$1 tag=$2
  shift 2
  local args=(build --file "$file" --tag "$tag" --build-arg "BASE_IMAGE=$base_image"
    --build-arg "MODEL_NAME=$model" "$@")
  [[ -n ${DOCKER_BUILD_NETWORK:-} ]] && args+=(--network "$DOCKER_BUILD_NETWORK")
  docker "${args[@]}" "$workdir" >&2
}

now_ms() {
  echo $(($(date +%s%N) / 1000000))
}

seconds_since() {
  awk -v start="$1" -v now="$(now_ms)" 'BEGIN { printf "%.1f", (now - start) / 1000 }'
}

size_mb() {
  local bytes
  bytes=$(docker image inspect "$1" | sed -n 's/^ *"Size": \([0-9]*\),$/\1/p' | head -n 1)
  awk -v bytes="$bytes" 'BEGIN { printf "%.0f", bytes / 1000000 }'
}

log "cold build of the runtime image (no cache)..."
start=$(now_ms)
build "$workdir/scripts/docker/container/Dockerfile" "${tags[0]}" --no-cache --target runtime
cold=$(seconds_since "$start")

log "rebuild after a code-only change..."
echo "# benchmark: code-only change" >>"$workdir/code/container/$model/jobs/training.py"
start=$(now_ms)
build "$workdir/scripts/docker/container/Dockerfile" "${tags[1]}" --target runtime
rebuild=$(seconds_since "$start")

log "single-stage build of the same steps..."
build "$workdir/Dockerfile.single" "${tags[2]}"

compiler=$(docker run --rm --entrypoint sh "${tags[0]}" -c 'command -v gcc || command -v cc || true')
base_mb=$(size_mb "$base_image")
runtime_mb=$(size_mb "${tags[0]}")
single_mb=$(size_mb "${tags[2]}")

awk -v base="$base_mb" -v runtime="$runtime_mb" -v single="$single_mb" -v cold="$cold" -v rebuild="$rebuild" \
  -v base_image="$base_image" -v compiler="${compiler:-none}" 'BEGIN {
  printf "%-30s %s\n", "base image", base_image
  printf "%-30s %7d MB\n", "base image size", base
  printf "%-30s %7d MB  (%.2fx single-stage)\n", "runtime image (multi-stage)", runtime, runtime / single
  printf "%-30s %7d MB\n", "single-stage image", single
  printf "%-30s %7d MB\n", "runtime minus base", runtime - base
  printf "%-30s %s\n", "compiler in runtime image", compiler
  printf "%-30s %7.1f s\n", "cold build (no cache)", cold
  printf "%-30s %7.1f s   (%.1f%% of cold)\n", "code-only rebuild", rebuild, 100 * rebuild / cold
}'
