#!/usr/bin/env bash
# Provides Docker Compose v2 as a CLI plugin in its own Docker config folder, for machines whose distribution
# ships only `docker-compose` v1 (Debian bookworm). Tests point DOCKER_CONFIG at the folder to run a job with v2
# while the rest of the suite keeps v1: both must work.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: $(basename "$0") DOCKER_CONFIG_DIR

Puts Debian trixie's docker-compose (v2) at DOCKER_CONFIG_DIR/cli-plugins/docker-compose, fetched with apt
inside the trixie stand-in base image (tests/support/stand_in_base_image.sh 3.13). Does nothing if it is there.
USAGE
}

[[ $# -eq 1 && $1 != -h && $1 != --help ]] || { usage; [[ $# -eq 1 ]]; exit $?; }
config_dir=$1
plugin="$config_dir/cli-plugins/docker-compose"
if [[ -x $plugin ]]; then
  echo "$config_dir"
  exit 0
fi

image=$("$(dirname "$0")/stand_in_base_image.sh" 3.13)
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
docker run --rm --network host -v "$workdir:/out" "$image" sh -c \
  'apt-get update -qq >/dev/null && cd /out && apt-get download -qq docker-compose >/dev/null && chmod -R a+rw /out'
dpkg-deb -x "$workdir"/docker-compose_*.deb "$workdir/root"
mkdir -p "$config_dir/cli-plugins"
install -m 0755 "$workdir/root/usr/libexec/docker/cli-plugins/docker-compose" "$plugin"
DOCKER_CONFIG=$config_dir docker compose version >&2
echo "$config_dir"
