#!/usr/bin/env bash
# Smoke-test the built image: run it, wait for /healthz, read /api/status, print OK or FAIL, stop it.
#
#   docker/run-smoke.sh                                   # camsvc:latest, `camsvc serve`
#   IMAGE=camsvc:demo SMOKE_MIN_CAMERAS=6 SMOKE_MIN_UP=1 \
#     docker/run-smoke.sh demo --roadside 2 --household 4 # the simulated fleet inside the container
#
# Arguments (default: serve) are the camsvc command line inside the container. Environment:
#   IMAGE (camsvc:latest), CAMSVC_SMOKE_PORT (18080), SMOKE_TIMEOUT_S (180: the whole wait),
#   SMOKE_MIN_CAMERAS (0: /api/status "total" must reach it), SMOKE_MIN_UP (0: cameras checked "up"),
#   SMOKE_RUN_ARGS (more `run` options, word-split, e.g. "-e CAMSVC_LOG_LEVEL=DEBUG"), ENGINE (docker|podman).
# The container uses the host's network (no port mapping needed, works with podman here) and listens on
# 127.0.0.1:$CAMSVC_SMOKE_PORT only. Exit status 0 only on OK.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/engine.sh
. docker/engine.sh

IMAGE=${IMAGE:-camsvc:latest}
PORT=${CAMSVC_SMOKE_PORT:-18080}
TIMEOUT_S=${SMOKE_TIMEOUT_S:-180}
MIN_CAMERAS=${SMOKE_MIN_CAMERAS:-0}
MIN_UP=${SMOKE_MIN_UP:-0}
NAME=camsvc-smoke-$$
BASE_URL="http://127.0.0.1:$PORT"
[ $# -gt 0 ] || set -- serve

select_engine
if curl -fsS -m 2 -o /dev/null "$BASE_URL/healthz" 2>/dev/null; then
  echo "FAIL: something already answers on $BASE_URL; set CAMSVC_SMOKE_PORT" >&2
  exit 1
fi

stop_container() {
  "${CTR[@]}" stop -t 10 "$NAME" >/dev/null 2>&1 || true
  "${CTR[@]}" rm -f -v "$NAME" >/dev/null 2>&1 || true
}
trap 'stop_container; rm -rf "$CAMSVC_TMP"' EXIT

fail() {
  echo "--- container log (last 40 lines) ---" >&2
  "${CTR[@]}" logs "$NAME" 2>&1 | tail -n 40 >&2 || true
  echo "FAIL: $*"
  exit 1
}

run_opts=(-d --name "$NAME" --network host -e "CAMSVC_HOST=127.0.0.1" -e "CAMSVC_PORT=$PORT")
# shellcheck disable=SC2206
run_opts+=(${SMOKE_RUN_ARGS:-})
echo "running $IMAGE: camsvc $* (port $PORT)"
start=$(date +%s)
# podman schedules HEALTHCHECKs with systemd timers and complains where systemd is absent: that noise is
# dropped (the check is run by hand below); any other failure to start is shown.
"${CTR[@]}" run "${run_opts[@]}" "$IMAGE" "$@" >/dev/null 2>"$CAMSVC_TMP/run.err" || {
  cat "$CAMSVC_TMP/run.err" >&2
  echo "FAIL: could not start $IMAGE"
  exit 1
}
grep -v 'systemd connection' "$CAMSVC_TMP/run.err" >&2 || true

deadline=$((start + TIMEOUT_S))
until curl -fsS -m 5 -o /dev/null "$BASE_URL/healthz" 2>/dev/null; do
  running=$("${CTR[@]}" inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null || echo false)
  [ "$running" = true ] || fail "the container exited before /healthz answered"
  [ "$(date +%s)" -lt "$deadline" ] || fail "/healthz did not answer within $TIMEOUT_S s"
  sleep 1
done
echo "/healthz answered after $(($(date +%s) - start)) s: $(curl -fsS -m 5 "$BASE_URL/healthz")"

code=$(curl -sS -m 10 -o "$CAMSVC_TMP/index.html" -w '%{http_code}' "$BASE_URL/" 2>&1) || true
[ "$code" = 200 ] || fail "GET / (dashboard) answered $code"
echo "dashboard GET /: 200, $(wc -c <"$CAMSVC_TMP/index.html") bytes"

if [ "$ENGINE" = podman ]; then
  "${CTR[@]}" healthcheck run "$NAME" >/dev/null || fail "the image's HEALTHCHECK failed"
  echo "image HEALTHCHECK: healthy"
fi

# /api/status: a JSON object with "total" and "by_state"; wait (bounded) for the cameras asked for.
status_ok() {
  curl -fsS -m 10 "$BASE_URL/api/status" >"$CAMSVC_TMP/status.json" 2>"$CAMSVC_TMP/curl.err" || return 2
  python3 - "$CAMSVC_TMP/status.json" "$MIN_CAMERAS" "$MIN_UP" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
total, by_state = data["total"], data["by_state"]
print(f"/api/status: total {total}, by_state {by_state}")
sys.exit(0 if total >= int(sys.argv[2]) and by_state.get("up", 0) >= int(sys.argv[3]) else 1)
PY
}
while true; do
  rc=0
  out=$(status_ok 2>&1) || rc=$?
  [ "$rc" = 0 ] && break
  [ "$rc" = 2 ] && fail "GET /api/status: $(cat "$CAMSVC_TMP/curl.err")"
  [ "$(date +%s)" -lt "$deadline" ] || fail "want total >= $MIN_CAMERAS and up >= $MIN_UP within $TIMEOUT_S s; last: $out"
  sleep 2
done
echo "$out"
echo "OK: $IMAGE served /healthz and /api/status in $(($(date +%s) - start)) s"
