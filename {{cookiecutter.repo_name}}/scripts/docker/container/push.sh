#!/usr/bin/env bash
# Pushes to ECR the job image of one model; `push.sh --help` explains the options.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/docker.sh"
push_main model "$0" "$@"
