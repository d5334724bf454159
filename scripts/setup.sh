#!/usr/bin/env bash
# Set up a machine for imagecheck: the package with its test tools, a running Docker
# engine, the base image and (unless --no-example) the example backend's image.
# Idempotent: what is already there is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

example=1
for arg in "$@"; do
  case "$arg" in
    --no-example) example=0 ;;
    *) echo "setup: unknown option $arg (use --no-example)" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*"; }

say "installing imagecheck and its test tools"
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

engine_up() { docker info >/dev/null 2>&1; }

if ! engine_up; then
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    if ! command -v dockerd >/dev/null; then
      say "installing Debian's docker.io"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq docker.io >/dev/null
    fi
    say "starting dockerd (log: /tmp/dockerd.log)"
    setsid dockerd >/tmp/dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
      engine_up && break
      sleep 1
    done
    engine_up || { echo "setup: dockerd did not come up; see /tmp/dockerd.log" >&2; exit 3; }
  else
    echo "setup: no Docker engine answers. Start one (Docker Desktop, 'sudo systemctl start docker'," >&2
    echo "       or set DOCKER_HOST), then run this again." >&2
    exit 3
  fi
fi
say "engine: $(docker version --format '{{.Server.Version}}')"

if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    say "installing Debian's docker-compose (the tests run real compose stacks)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker-compose >/dev/null
  else
    echo "setup: install Docker Compose (v2 plugin or docker-compose v1) for the stack tests" >&2
    exit 3
  fi
fi

missing=""
for tool in docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils; do
  command -v "${tool%%:*}" >/dev/null || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    # The registry tests run their own docker-registry on 127.0.0.1:5101-5104 (never
    # the packaged service) and push to it with skopeo; htpasswd makes their logins.
    say "installing$missing (the registry: tests' reference registry and pusher)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
  else
    echo "setup: install$missing for the registry tests (Debian: apt-get install$missing)" >&2
    exit 3
  fi
fi

# The podman: and containerd: sources are tested against the real stores (issue 16).
for tool in podman:podman ctr:containerd; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
      say "installing Debian's ${tool#*:} (the podman: and containerd: source tests)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq "${tool#*:}" >/dev/null
    else
      say "no ${tool#*:}: its source tests will be skipped (install it to run them)"
    fi
  fi
done

if ! docker image inspect imagecheck-test/base:bookworm >/dev/null 2>&1; then
  if ! command -v mmdebstrap >/dev/null; then
    if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq mmdebstrap >/dev/null
    else
      echo "setup: install mmdebstrap to build the base image" >&2
      exit 3
    fi
  fi
  bash scripts/make-base-image.sh imagecheck-test/base:bookworm
fi

if [ "$example" = 1 ]; then
  bash scripts/build-example.sh
fi
say "done"
