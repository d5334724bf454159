#!/usr/bin/env bash
# Build the examples' images: examples/backend (healthy) and examples/orders (its own
# code broken on purpose). Their pinned wheels are downloaded on the host (the
# containers cannot reach PyPI), then each is built with them in its context.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for name in backend orders; do
  cd "$root/examples/$name"
  mkdir -p wheels
  echo "build-example: downloading pinned wheels into examples/$name/wheels"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform any -d wheels -r requirements.txt
  echo "build-example: docker build -t imagecheck-example/$name:latest examples/$name"
  docker build -q -t "imagecheck-example/$name:latest" . >/dev/null
  echo "build-example: imagecheck-example/$name:latest ready"
done
