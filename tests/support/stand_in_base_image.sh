#!/usr/bin/env bash
# Builds a stand-in for the public python:<version>-slim image on machines that cannot pull from any image
# registry. The image is a Debian root filesystem with CPython, pip and venv, and the host's CA bundle so that
# pip inside builds trusts the same proxy the host does. Only the template's tests use it.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: $(basename "$0") PYTHON_VERSION [TAG]

Builds a stand-in base image for PYTHON_VERSION (3.11, 3.12 or 3.13) and tags it TAG
(default: local/python:PYTHON_VERSION). Does nothing if TAG already exists.
  3.11  Debian bookworm's python3
  3.13  Debian trixie's python3
  3.12  Debian bookworm with the host's pyenv build of CPython 3.12 at the same path
USAGE
}

[[ $# -ge 1 && $1 != -h && $1 != --help ]] || { usage; [[ $# -ge 1 ]]; exit $?; }
version=$1
tag=${2:-local/python:$version}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

command -v mmdebstrap >/dev/null || { echo "mmdebstrap is missing: apt-get install -y mmdebstrap" >&2; exit 1; }
ca_bundle=/etc/ssl/certs/ca-certificates.crt
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

packages=ca-certificates
case $version in
  3.11) suite=bookworm; packages+=,python3,python3-venv,python3-pip,python3-dev ;;
  3.13) suite=trixie; packages+=,python3,python3-venv,python3-pip,python3-dev ;;
  3.12) suite=bookworm
        packages+=,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,libuuid1,libgdbm6
        pyenv_root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
        pyenv_python=$(find "$pyenv_root/versions" -maxdepth 1 -name '3.12.*' | sort -V | tail -n 1)
        [[ -n $pyenv_python ]] || { echo "no pyenv CPython 3.12 under $pyenv_root/versions" >&2; exit 1; } ;;
  *) echo "unsupported Python version: $version (3.11, 3.12 or 3.13)" >&2; exit 2 ;;
esac

# Trimmed as the public image is: merged /usr without the usrmerge package (and the perl it pulls in), no
# documentation, manual pages or translations (Debian's container images drop them the same way), and no static
# libpython (python:*-slim builds a shared one only).
slim_options=(--hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr)
for excluded in '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/groff/*' \
  '/usr/share/lintian/*' '/usr/share/locale/*' '/usr/lib/python3*/config-*/libpython*.a'; do
  slim_options+=("--dpkgopt=path-exclude=$excluded")
done

echo "building stand-in $tag from Debian $suite" >&2
mmdebstrap --quiet --variant=minbase "${slim_options[@]}" --include="$packages" "$suite" "$workdir/rootfs.tar" >&2

cat >"$workdir/Dockerfile" <<DOCKERFILE
FROM scratch
ADD rootfs.tar /
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    LANG=C.UTF-8
CMD ["python3"]
DOCKERFILE
cp "$ca_bundle" "$workdir/ca-certificates.crt"

if [[ $version == 3.12 ]]; then
  # pyenv builds link libpython with an rpath to their own prefix: keep that prefix inside the image.
  mkdir -p "$workdir/python"
  tar -C / --exclude='site-packages/*' -cf - "${pyenv_python#/}" | tar -C "$workdir/python" -xf -
  site=$(find "$workdir/python" -maxdepth 5 -type d -path '*/lib/python3.12' | head -n 1)
  mkdir -p "$site/site-packages"
  cat >>"$workdir/Dockerfile" <<DOCKERFILE
COPY python/ /
RUN ln -s "$pyenv_python/bin/python3.12" /usr/local/bin/python3 \
 && ln -s "$pyenv_python/bin/python3.12" /usr/local/bin/python \
 && /usr/local/bin/python3 -m ensurepip --upgrade >/dev/null
DOCKERFILE
fi

docker build --quiet --network host -t "$tag" "$workdir" >&2
echo "$tag"
