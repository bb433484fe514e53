#!/usr/bin/env bash
# Measures how long the pipeline project's commands take to start; `--help` for what it does.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--repeat N]

Times \`python -m batches.<job> --help\` for every batch and \`python -m utils.db --help\` from the pipeline
project's venv (what a developer waits for before any job starts: imports and argument parsing), N times each
(default 5), and prints the median, the fastest and the ratio to a bare \`python -c pass\` of the same venv.

Options:
  --repeat N  runs per command (default 5)
  -h, --help  show this help
USAGE
}

repeat=5
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --repeat) repeat=${2:?--repeat needs a value}; shift ;;
    *) usage >&2; die "unexpected argument: $1" ;;
  esac
  shift
done
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "--repeat $repeat: give a whole number of runs, at least 1"
pipeline_dir="$REPO_ROOT/code/pipeline"
[[ -x $pipeline_dir/.venv/bin/python ]] \
  || die "the pipeline project is not installed ($pipeline_dir/.venv is missing): run \`make setup\`"
cd "$pipeline_dir"

# times_ms COMMAND...: the command's wall time in ms, once per line, $repeat lines.
times_ms() {
  local start
  for _ in $(seq "$repeat"); do
    start=$(date +%s%N)
    "$@" >/dev/null
    echo $((($(date +%s%N) - start) / 1000000))
  done
}

# report NAME BASELINE_MS COMMAND...
report() {
  local name=$1 baseline=$2
  shift 2
  times_ms "$@" | sort -n | awk -v name="$name" -v base="$baseline" '
    { t[NR] = $1 }
    END { m = t[int((NR + 1) / 2)]; printf "%-28s %8.2f s %8.2f s %8.0fx\n", name, m / 1000, t[1] / 1000, m / base }'
}

baseline=$(times_ms .venv/bin/python -c pass | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
((baseline > 0)) || baseline=1
printf '%-28s %10s %10s %9s\n' command median fastest "x python"
printf '%-28s %8.2f s\n' "python -c pass" "$(awk -v b="$baseline" 'BEGIN { print b / 1000 }')"
for job in collection preprocess training evaluation inference lifecycle; do
  report "batches.$job --help" "$baseline" .venv/bin/python -m "batches.$job" --help
done
report "utils.db --help" "$baseline" .venv/bin/python -m utils.db --help
