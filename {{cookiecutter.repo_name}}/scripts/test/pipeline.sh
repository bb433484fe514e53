#!/usr/bin/env bash
# Runs the pipeline project's tests inside the pipeline image (its Dockerfile's test stage).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"
test_image_main pipeline "$0" "$@"
