#!/usr/bin/env bash
# The compose stack (docker/compose.yaml: PostgreSQL, API, two probe nodes) with podman, where there is no
# Docker engine and no registry: podman-compose (a pinned one in its own venv; Debian 12's 1.0.3 lacks
# !reset, depends_on conditions and network_mode handling), docker/compose.podman.yaml on top (host
# networking, local PostgreSQL image), images built locally.
#
#   scripts/podman-stack.sh build        # camsvc image (docker/build.sh) + localhost/camsvc-postgres:15
#   scripts/podman-stack.sh up           # build when missing, then `up -d`
#   scripts/podman-stack.sh down         # stop and remove containers and volumes
#   scripts/podman-stack.sh ps|logs ...  # anything else goes to podman-compose as it is
#
# Environment: CAMSVC_IMAGE (camsvc:latest), CAMSVC_POSTGRES_IMAGE (localhost/camsvc-postgres:15),
# CAMSVC_STACK_PROJECT (camsvc: the compose project, so tests run their own), CAMSVC_SECRETS_DIR
# (docker/secrets: db_password + camsvc.yaml, see docker/secrets.example/), CAMSVC_PG_PORT,
# CAMSVC_API_PORT, CAMSVC_PROBE_BAC_PORT, CAMSVC_PROBE_NAM_PORT (ports on 127.0.0.1),
# PODMAN_COMPOSE_VERSION (1.6.0), REBUILD=1 (build even when the images exist).
set -euo pipefail
cd "$(dirname "$0")/.."
export ENGINE=podman
# shellcheck source=docker/engine.sh
. docker/engine.sh
select_engine
ensure_apt_packages catatonit  # podman's --init (compose `init: true`)

export CAMSVC_IMAGE=${CAMSVC_IMAGE:-camsvc:latest}
export CAMSVC_POSTGRES_IMAGE=${CAMSVC_POSTGRES_IMAGE:-localhost/camsvc-postgres:15}
export CAMSVC_SECRETS_DIR=${CAMSVC_SECRETS_DIR:-$PWD/docker/secrets}
PROJECT=${CAMSVC_STACK_PROJECT:-camsvc}
PC_VERSION=${PODMAN_COMPOSE_VERSION:-1.6.0}
PC_VENV=${XDG_CACHE_HOME:-$HOME/.cache}/camsvc/podman-compose-$PC_VERSION

podman_compose() {
  if [ ! -x "$PC_VENV/bin/podman-compose" ]; then
    echo "installing podman-compose $PC_VERSION into $PC_VENV (pip)" >&2
    python3 -m venv "$PC_VENV"
    "$PC_VENV/bin/pip" install -q "podman-compose==$PC_VERSION"
  fi
  "$PC_VENV/bin/podman-compose" -p "$PROJECT" -f docker/compose.yaml -f docker/compose.podman.yaml "$@"
}

build_images() {
  local force=${1:-0}
  if [ "$force" = 1 ] || ! "${CTR[@]}" image exists "$CAMSVC_IMAGE"; then
    IMAGE=$CAMSVC_IMAGE docker/build.sh
  fi
  if [ "$force" = 1 ] || ! "${CTR[@]}" image exists "$CAMSVC_POSTGRES_IMAGE"; then
    local t0
    t0=$(date +%s)
    "${CTR[@]}" build --format docker --network host --build-arg BASE=localhost/debian:bookworm-slim \
      -t "$CAMSVC_POSTGRES_IMAGE" docker/postgres
    echo "built $CAMSVC_POSTGRES_IMAGE in $(($(date +%s) - t0)) s" >&2
  fi
}

check_secrets() {
  local f
  for f in db_password camsvc.yaml secret.key; do
    if [ ! -s "$CAMSVC_SECRETS_DIR/$f" ]; then
      echo "missing $CAMSVC_SECRETS_DIR/$f: copy docker/secrets.example/ to $CAMSVC_SECRETS_DIR and edit it" >&2
      exit 2
    fi
  done
}

cmd=${1:-up}
[ $# -gt 0 ] && shift
case "$cmd" in
  build) build_images "${REBUILD:-1}" ;;
  up)
    check_secrets
    build_images "${REBUILD:-0}"
    podman_compose up -d "$@"
    ;;
  down) podman_compose down -v "$@" ;;
  *) podman_compose "$cmd" "$@" ;;
esac
