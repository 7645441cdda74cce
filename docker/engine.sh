# shellcheck shell=bash
# Sourced by build.sh and run-smoke.sh: pick the container engine and set it up.
#
# Docker when an engine answers (`docker info`); otherwise podman with what machines without a Docker
# engine need (see docs/deploy.md): the runc runtime, no default ulimits (containers.conf in a temporary
# directory named by CONTAINERS_CONF), host networking. ENGINE=docker|podman forces a choice.
# Sets: ENGINE (docker|podman), CTR (array: the command to run), CAMSVC_TMP (removed on exit).

CAMSVC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/camsvc-docker.XXXXXX")
trap 'rm -rf "$CAMSVC_TMP"' EXIT

_as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_apt_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt)" >&2
    _as_root apt-get update -qq
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

select_engine() {
  if [ -z "${ENGINE:-}" ]; then
    if command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
      ENGINE=docker
    else
      ENGINE=podman
    fi
  fi
  case "$ENGINE" in
    docker)
      CTR=(docker)
      ;;
    podman)
      ensure_apt_packages podman runc
      # crun fails on hybrid cgroups; raising ulimits is forbidden on some hosts: set none.
      printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$CAMSVC_TMP/containers.conf"
      export CONTAINERS_CONF="$CAMSVC_TMP/containers.conf"
      CTR=(podman --runtime runc)
      ;;
    *)
      echo "ENGINE must be docker or podman, not '$ENGINE'" >&2
      return 2
      ;;
  esac
  echo "container engine: ${CTR[*]}" >&2
}
