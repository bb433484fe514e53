#!/usr/bin/env bash
# Measures the developer's loop: `make setup` on a fresh copy, and `make test`; `--help` for what it does.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--skip-setup]

Copies the repository's files (tracked and untracked, not ignored: no venv, no runs) to a temporary folder and
times \`make setup\` there, as a new clone on this machine would run it with Poetry's cache as it is now; then
times \`make test\` in this repository and prints each project's test time and the whole. Nothing of this
repository changes; the copy is removed at the end.

Options:
  --skip-setup  time \`make test\` only
  -h, --help    show this help
USAGE
}

setup=true
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --skip-setup) setup=false ;;
    *) usage >&2; die "unexpected argument: $1" ;;
  esac
  shift
done
cd "$REPO_ROOT"

seconds_since() { awk -v start="$1" -v now="$(date +%s%N)" 'BEGIN { printf "%.1f", (now - start) / 1e9 }'; }

if $setup; then
  copy=$(mktemp -d)
  trap 'rm -rf "$copy"' EXIT
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$copy"
  log "==> make setup in a fresh copy ($copy)"
  start=$(date +%s%N)
  make -C "$copy" setup >"$copy.setup.log" 2>&1 || { cat "$copy.setup.log" >&2; die "make setup failed"; }
  setup_seconds=$(seconds_since "$start")
  rm -f "$copy.setup.log"
fi

log "==> make test"
start=$(date +%s%N)
output=$(make test 2>&1) || { echo "$output" >&2; die "make test failed"; }
test_seconds=$(seconds_since "$start")

printf '%-44s %9s\n' measure seconds
if $setup; then printf '%-44s %9s\n' "make setup (fresh copy)" "$setup_seconds"; fi
# Each project's own pytest summary line: "==> tests of PROJECT" then "... N passed ... in S s ...".
echo "$output" | awk '
  /^==> tests of / { project = $4 }
  / in [0-9.]+s/ && project != "" {
    for (i = 1; i <= NF; i++) if ($i == "in") { sub(/s.*/, "", $(i + 1)); printf "%-44s %9.1f\n", "pytest " project, $(i + 1) }
    project = ""
  }'
printf '%-44s %9s\n' "make test (wall, every project at once)" "$test_seconds"
