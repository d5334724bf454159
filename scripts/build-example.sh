#!/usr/bin/env bash
# Build the example backend's image: download its pinned wheels on the host (the
# containers cannot reach PyPI), then docker build with them in the context.
set -euo pipefail
cd "$(dirname "$0")/../examples/backend"
mkdir -p wheels
echo "build-example: downloading pinned wheels into examples/backend/wheels"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.11 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform any -d wheels -r requirements.txt
echo "build-example: docker build -t imagecheck-example/backend:latest examples/backend"
docker build -q -t imagecheck-example/backend:latest . >/dev/null
echo "build-example: imagecheck-example/backend:latest ready"
