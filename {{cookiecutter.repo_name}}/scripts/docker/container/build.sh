#!/usr/bin/env bash
# Builds the job image of one model; `build.sh --help` explains the options.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/docker.sh"
build_main model "$0" "$@"
