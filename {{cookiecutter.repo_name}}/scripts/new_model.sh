#!/usr/bin/env bash
# Adds a model next to the existing ones: its job code, tests and locked Poetry project, copied from a model
# that already works, so the build, push, test and local-run scripts, the Makefile and CI pick it up as it is.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/new_model.sh NAME [--from MODEL]

Creates code/container/NAME and tests/container/NAME from MODEL (default: the first model, alphabetically),
renamed to NAME. NAME must be lowercase letters, digits and single underscores, start with a letter, be at most
64 characters, not be a Python keyword and not be "pipeline" (the pipeline image's name).
Nothing is written when a check fails, and an existing model is never overwritten.
USAGE
}

die() {
  echo "error: $*" >&2
  exit 1
}

name="" source=""
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --from) source=${2:?--from needs a model name}; shift ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) [[ -z $name ]] || die "one model name at a time"; name=$1 ;;
  esac
  shift
done
[[ -n $name ]] || { usage >&2; die "name the new model"; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

[[ $name =~ ^[a-z][a-z0-9]*(_[a-z0-9]+)*$ && $name =~ ^.{1,64}$ ]] \
  || die "model name '$name' must be 1-64 lowercase letters, digits and single underscores, starting with a letter (it is a Python identifier and an ECR repository name segment)"
python3 -c 'import keyword, sys; sys.exit(keyword.iskeyword(sys.argv[1]) or keyword.issoftkeyword(sys.argv[1]))' "$name" \
  || die "model name '$name' is a Python keyword"
[[ $name != pipeline ]] || die "'pipeline' is the pipeline image's name; choose another model name"
[[ ! -e code/container/$name && ! -e tests/container/$name ]] || die "model '$name' already exists"

if [[ -z $source ]]; then
  for project in code/container/*/pyproject.toml; do
    [[ -e $project ]] && { source=$(basename "$(dirname "$project")"); break; }
  done
fi
[[ -n $source && -f code/container/$source/pyproject.toml ]] || die "no model '${source:-}' to copy from under code/container"

# Copy into a scratch folder beside the targets first, so a failure leaves nothing half-made.
staging=$(mktemp -d "$repo_root/.new-model.XXXXXX")
trap 'rm -rf "$staging"' EXIT
copy_tree() {
  tar -C "$1" --exclude=.venv --exclude=__pycache__ --exclude=.pytest_cache --exclude=.mypy_cache \
    --exclude=.ruff_cache -cf - . | tar -C "$2" -xf -
}
mkdir -p "$staging/code" "$staging/tests"
copy_tree "code/container/$source" "$staging/code"
copy_tree "tests/container/$source" "$staging/tests"

# The model's name appears only in its pyproject.toml: the project name and the paths of its tests.
sed -i.bak -e "s|^name = \"$source\"$|name = \"$name\"|" -e "s|tests/container/$source\"|tests/container/$name\"|g" \
  "$staging/code/pyproject.toml"
rm "$staging/code/pyproject.toml.bak"
grep -q "^name = \"$name\"$" "$staging/code/pyproject.toml" || die "could not rename the project in pyproject.toml"

mv "$staging/code" "code/container/$name"
mv "$staging/tests" "tests/container/$name"
echo "Added model '$name' (copied from '$source'):"
echo "  code/container/$name/    tests/container/$name/"
echo "Next: make setup && make test, then scripts/docker/container/build.sh $name"
