#!/usr/bin/env bash
# Build the camsvc image from this work tree.
#
#   docker/build.sh                      # camsvc:latest (the service)
#   WITH_SIMULATOR=1 docker/build.sh     # camsvc:demo (+ GStreamer RTSP server and footage: `camsvc demo`)
#
# Environment: IMAGE (tag; default camsvc:latest, or camsvc:demo with the simulator), WITH_SIMULATOR=0|1,
# WITH_POSTGRES=1|0 (psycopg driver), ENGINE=docker|podman (default: docker if an engine answers).
# Extra arguments go to `build` as they are (e.g. --no-cache).
#
# With Docker this is a plain `docker build`. Without a Docker engine it uses podman with four
# adjustments (docs/deploy.md): runc + no default ulimits (docker/engine.sh); a local
# localhost/debian:bookworm-slim made with debootstrap when absent (no registry pulls); --network host;
# the host's CA bundle and a pip.conf naming it mounted for the build only. The Dockerfile has none of it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/engine.sh
. docker/engine.sh

WITH_SIMULATOR=${WITH_SIMULATOR:-0}
WITH_POSTGRES=${WITH_POSTGRES:-1}
if [ "$WITH_SIMULATOR" = 1 ]; then IMAGE=${IMAGE:-camsvc:demo}; else IMAGE=${IMAGE:-camsvc:latest}; fi
LOCAL_BASE=localhost/debian:bookworm-slim

# The first Debian mirror URI in apt's own sources (deb822 or one-line style); $1=security picks the
# security archive's. Prints nothing when none is found.
debian_mirror() {
  local want=${1:-main} f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
    [ -f "$f" ] || continue
    if [[ "$f" == *.sources ]]; then
      awk -v want="$want" '
        /^URIs:/ { for (i = 2; i <= NF; i++) { sec = ($i ~ /security/); if ((want == "security") == sec && $i ~ /debian/) { print $i; exit } } }
      ' "$f"
    else
      awk -v want="$want" '
        $1 == "deb" { i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                      sec = ($i ~ /security/); if ((want == "security") == sec && $i ~ /debian/) { print $i; exit } }
      ' "$f"
    fi
  done | head -n 1
}

make_local_base() {
  ensure_apt_packages debootstrap
  local mirror security rootfs t0
  t0=$(date +%s)
  mirror=$(debian_mirror main)
  mirror=${mirror:-http://deb.debian.org/debian}
  security=$(debian_mirror security)
  security=${security:-http://deb.debian.org/debian-security}
  rootfs="$CAMSVC_TMP/rootfs"
  echo "making $LOCAL_BASE with debootstrap from $mirror (once)" >&2
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$CAMSVC_TMP/debootstrap.log" 2>&1 || {
    tail -n 30 "$CAMSVC_TMP/debootstrap.log" >&2
    return 1
  }
  # Like the official slim image: updates + security sources, no docs/man/locales from later installs.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
SLIM
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "${CTR[@]}" import --change 'CMD ["bash"]' - "$LOCAL_BASE" >/dev/null
  rm -rf "$rootfs"
  echo "made $LOCAL_BASE in $(($(date +%s) - t0)) s" >&2
}

select_engine
build_args=(--build-arg "WITH_SIMULATOR=$WITH_SIMULATOR" --build-arg "WITH_POSTGRES=$WITH_POSTGRES")
start=$(date +%s)
if [ "$ENGINE" = docker ]; then
  docker build -f docker/Dockerfile "${build_args[@]}" -t "$IMAGE" "$@" .
else
  "${CTR[@]}" image exists "$LOCAL_BASE" || make_local_base
  printf '[global]\ncert = /run/host-ca.crt\n' >"$CAMSVC_TMP/pip.conf"
  "${CTR[@]}" build --format docker --network host \
    --build-arg "BASE=$LOCAL_BASE" "${build_args[@]}" \
    -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro \
    -v "$CAMSVC_TMP/pip.conf:/etc/pip.conf:ro" \
    -f docker/Dockerfile -t "$IMAGE" "$@" .
fi
end=$(date +%s)
size=$("${CTR[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "built $IMAGE with $ENGINE in $((end - start)) s; size $((size / 1000000)) MB"
