#!/usr/bin/env bash
# Adds a model next to the existing ones: its job code, tests and locked Poetry project, copied from a model
# that already works, with its own settings block in every configs/<env>.yaml, installed, so the build, push,
# test and local-run scripts, the Makefile and CI pick it up as it is.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/new_model.sh NAME [--from MODEL]

Creates code/container/NAME and tests/container/NAME from MODEL (default: the first model, alphabetically),
renamed to NAME, gives NAME a copy of MODEL's settings under models: in code/pipeline/configs/*.yaml (edit them
afterwards: hyperparameters, instance types, thresholds) and of MODEL's pipeline-definition snapshots, and
installs NAME's Poetry project. NAME must be lowercase letters, digits and single underscores, start with a
letter, be at most 64 characters, not be a Python keyword and not be "pipeline" (the pipeline image's name).
Needs \`make setup\` to have run.
Nothing is written when a check fails, a failure on the way undoes every step, and an existing model is never
overwritten.
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

# The rule is the one the template's questions and the pipeline's config apply (code/pipeline/utils/naming.py).
problem=$(python3 code/pipeline/utils/naming.py model-name "$name" 2>&1) || die "$problem"
[[ ! -e code/container/$name && ! -e tests/container/$name ]] || die "model '$name' already exists"

if [[ -z $source ]]; then
  for project in code/container/*/pyproject.toml; do
    [[ -e $project ]] && { source=$(basename "$(dirname "$project")"); break; }
  done
fi
[[ -n $source && -f code/container/$source/pyproject.toml ]] || die "no model '${source:-}' to copy from under code/container"
pipeline_python=code/pipeline/.venv/bin/python
[[ -x $pipeline_python ]] || die "the pipeline project is not installed (it edits the configs): run \`make setup\` first"
command -v poetry >/dev/null || die "Poetry is needed to install the new model's project (https://python-poetry.org/docs/#installation)"

# Copy into a scratch folder beside the targets first, and undo every step on failure: nothing is left half-made.
staging=$(mktemp -d "$repo_root/.new-model.XXXXXX")
done=false
undo() {
  if [[ $done != true ]]; then
    rm -rf "code/container/$name" "tests/container/$name"
    rm -f tests/pipeline/snapshots/pipeline-*-"$name".json
    if [[ -d $staging/configs ]]; then
      cp -p "$staging"/configs/*.yaml code/pipeline/configs/
    fi
    echo "error: model '$name' was not added; the repository is as it was" >&2
  fi
  rm -rf "$staging"
}
trap undo EXIT
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

mkdir "$staging/configs"
cp -p code/pipeline/configs/*.yaml "$staging/configs/"
(cd code/pipeline && .venv/bin/python -m utils.config_reader add-model "$name" --from "$source")
# The pipeline definition's reviewed snapshots keep model names as placeholders: the copy's read the same.
for env in dev prod; do
  snapshot=tests/pipeline/snapshots/pipeline-$env-$source.json
  [[ ! -f $snapshot ]] || cp -p "$snapshot" "tests/pipeline/snapshots/pipeline-$env-$name.json"
done
mv "$staging/code" "code/container/$name"
mv "$staging/tests" "tests/container/$name"
echo "==> poetry install in code/container/$name"
(cd "code/container/$name" && poetry install --no-interaction && { .venv/bin/python -m compileall -qq -j 0 .venv/lib || true; })
done=true
echo "Added model '$name' (copied from '$source'):"
echo "  code/container/$name/    tests/container/$name/    models.$name in code/pipeline/configs/*.yaml"
echo "  tests/pipeline/snapshots/pipeline-*-$name.json (its pipeline definition, to review when its settings change)"
echo "Next: make test, then scripts/local_run/pipeline.sh --model $name"
