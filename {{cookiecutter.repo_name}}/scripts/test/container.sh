#!/usr/bin/env bash
# Runs a model's tests inside its image (the Dockerfile's test stage); `container.sh --help` for usage.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"
test_image_main model "$0" "$@"
