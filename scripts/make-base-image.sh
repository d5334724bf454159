#!/usr/bin/env bash
# Build the base image the tests and the example use, without any registry:
# Debian bookworm with python3, pip and venv, made by mmdebstrap and imported.
set -euo pipefail
NAME="${1:-imagecheck-test/base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if ! command -v mmdebstrap >/dev/null; then
  echo "make-base-image: mmdebstrap is missing (apt-get install -y mmdebstrap)" >&2
  exit 3
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "make-base-image: building $NAME with mmdebstrap (about 30 s)"
mmdebstrap --quiet --variant=apt --include=python3,python3-pip,python3-venv \
  bookworm "$work/base.tar" "$MIRROR"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  "$work/base.tar" "$NAME" >/dev/null
echo "make-base-image: $NAME ready"
