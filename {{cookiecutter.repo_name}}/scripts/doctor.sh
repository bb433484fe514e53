#!/usr/bin/env bash
# Checks that this machine has what the repo's commands need, one line per check, with the fix when one fails.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/doctor.sh [--aws]

Checks git, Python, Poetry, the Docker engine, the images' base image (BASE_IMAGE, else the configs'
images.base_image, else the Dockerfiles' default) is on this machine or pullable, Docker Compose (v2 plugin or v1 docker-compose), that SageMaker local
mode can mount the runs folder (PIPELINE_RUNS_DIR, default runs/) and the AWS CLI.
  --aws   also check AWS credentials (sts get-caller-identity) and that ECR answers in the dev config's region
Exits non-zero when a check fails.
USAGE
}

check_aws=false
case "${1:-}" in
  "") ;;
  --aws) check_aws=true ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wanted_python=$(tr -d '[:space:]' <"$repo_root/.python-version")
pipeline_python=$repo_root/code/pipeline/.venv/bin/python
failures=0

# config_value ENV KEY [--model MODEL | --pipeline]: one value of `python -m utils.config_reader image`.
config_value() {
  local env=$1 key=$2
  shift 2
  (cd "$repo_root/code/pipeline" && "$pipeline_python" -m utils.config_reader image --env "$env" "$@") \
    | sed -n "s/^$key=//p"
}

# base_images: the base image of every image the local and dev configs build. Every model image comes from the
# one model Dockerfile with the config's one base image, so the first model stands for them all.
base_images() {
  local dockerfile env projects=("$repo_root"/code/container/*/pyproject.toml)
  if [[ -x $pipeline_python ]]; then
    for env in local dev; do
      config_value "$env" base_image --pipeline
      [[ -e ${projects[0]} ]] && config_value "$env" base_image --model "$(basename "$(dirname "${projects[0]}")")"
    done
  else
    for dockerfile in "$repo_root"/scripts/docker/{container,pipeline}/Dockerfile; do
      echo "${BASE_IMAGE:-$(sed -n 's/^ARG BASE_IMAGE=//p' "$dockerfile" | head -n 1)}"
    done
  fi
}

if [[ -t 1 ]]; then ok=$'\e[32m ok \e[0m'; bad=$'\e[31mFAIL\e[0m'; else ok=" ok "; bad="FAIL"; fi

pass() { printf '[%s] %-16s %s\n' "$ok" "$1" "$2"; }
fail() {
  printf '[%s] %-16s %s\n       fix: %s\n' "$bad" "$1" "$2" "$3"
  failures=$((failures + 1))
}

if version=$(git --version 2>/dev/null); then
  pass git "$version"
else
  fail git "not found" "install git"
fi

if version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
  if [[ $version == "$wanted_python" ]]; then
    pass python "$version"
  elif python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    pass python "$version (the images use $wanted_python; the projects support 3.11 to 3.13)"
  else
    fail python "$version is too old" "install Python $wanted_python (pyenv, uv or your package manager)"
  fi
else
  fail python "python3 not found" "install Python $wanted_python"
fi

if version=$(poetry --version 2>/dev/null); then
  if [[ $version =~ version\ ([0-9]+) ]] && ((BASH_REMATCH[1] >= 2)); then
    pass poetry "$version"
  else
    fail poetry "$version" "upgrade to Poetry 2: pipx install --force 'poetry>=2,<3'"
  fi
else
  fail poetry "not found" "pipx install 'poetry>=2,<3'"
fi

if ! command -v docker >/dev/null 2>&1; then
  fail docker "docker CLI not found" "install Docker Engine or Docker Desktop"
elif version=$(docker info 2>/dev/null | awk -F': ' '/Server Version/ {print $2}') && [[ -n $version ]]; then
  pass docker "engine $version"
  # The images' base: BASE_IMAGE for one command, else images.base_image in the configs (with the pipeline
  # project installed to read them), else each Dockerfile's own ARG BASE_IMAGE default.
  manifest=(docker manifest inspect)
  command -v timeout >/dev/null 2>&1 && manifest=(timeout 30 "${manifest[@]}")
  for base in $(base_images | sort -u); do
    if docker image inspect "$base" >/dev/null 2>&1; then
      pass base-image "$base (on this machine)"
    elif "${manifest[@]}" "$base" >/dev/null 2>&1; then
      pass base-image "$base (pullable)"
    else
      fix="pull or build it, or use another: BASE_IMAGE=IMAGE for one command,"
      fix+=" images.base_image in code/pipeline/configs/*.yaml for good"
      fail base-image "$base is neither on this machine nor pullable" "$fix"
    fi
  done
else
  fail docker "the engine does not answer" "start Docker (Docker Desktop, or: sudo systemctl start docker)"
fi

if version=$(docker compose version --short 2>/dev/null); then
  pass compose "docker compose $version"
elif version=$(docker-compose version --short 2>/dev/null); then
  pass compose "docker-compose $version (v1)"
else
  fail compose "neither 'docker compose' nor 'docker-compose' found" "install the Docker Compose plugin"
fi

runs_dir=${PIPELINE_RUNS_DIR:-$repo_root/runs}
if [[ ! -x $pipeline_python ]]; then
  printf '[%s] %-16s %s\n' " -- " runs-folder "$runs_dir not checked yet: it needs \`make setup\` first"
elif refusal=$(cd "$repo_root/code/pipeline" && "$pipeline_python" -m utils.aws.local_mounts "$runs_dir" 2>&1); then
  pass runs-folder "$runs_dir (SageMaker local mode can mount it)"
else
  fail runs-folder "SageMaker local mode cannot mount $runs_dir" "${refusal#error: }"
fi

if version=$(aws --version 2>&1); then
  pass aws-cli "${version%% *}"
elif [[ $version == pyenv:* ]]; then
  # pip-installed into another pyenv Python: this repo's .python-version hides it.
  fail aws-cli "only installed for another pyenv Python (${version%%$'\n'*})" \
    "install the AWS CLI v2 with its own installer, which works whatever Python a folder selects"
else
  fail aws-cli "not found (needed to push images and run on SageMaker)" "install the AWS CLI v2"
fi

if $check_aws; then
  if identity=$(aws sts get-caller-identity --query Arn --output text 2>&1); then
    pass aws-identity "$identity"
  else
    fail aws-identity "no usable credentials" "aws configure sso (or export AWS_PROFILE=...)"
  fi
  region=""
  [[ -x $pipeline_python ]] && region=$(config_value dev region --pipeline)
  if [[ -z $region ]]; then
    fail ecr "no region to check: it comes from code/pipeline/configs/dev.yaml" "run \`make setup\` first"
  elif aws ecr describe-repositories --region "$region" --max-items 1 >/dev/null 2>&1; then
    pass ecr "reachable in $region"
  else
    fail ecr "not reachable in $region" "check credentials, region and ecr:DescribeRepositories permission"
  fi
fi

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
