#!/usr/bin/env bash
# Builds the srt-relay image (Containerfile) with Debian's podman, without an image registry,
# runs it, and publishes and plays one stream through the running container:
#
#   deploy/container/build.sh            all of what follows (as root; ~10 min the first time)
#   deploy/container/build.sh base       the base image: mmdebstrap bookworm minbase → tarball →
#                                        podman import srt-relay-base:bookworm
#   deploy/container/build.sh image      podman build -t srt-relay (scripts/container-smoke.sh context first)
#   deploy/container/build.sh run        podman run srt-relay; /healthz, the image's HEALTHCHECK,
#                                        srt-live-transmit publishes and plays one stream through it
#   deploy/container/build.sh compose    the images compose.yaml builds (redis, nginx), then
#                                        podman-compose up: Redis, three nodes, the nginx UDP load
#                                        balancer; one stream published and played through nginx
#
# Needs: apt-get install podman uidmap fuse-overlayfs slirp4netns mmdebstrap runc podman-compose
# srt-tools curl. On a host that is itself a container (no CAP_SYS_RESOURCE, cgroups v1 + an
# empty cgroup2 hierarchy) podman's defaults fail; PODMAN holds what works there: cgroupfs, file
# events, runc behind deploy/container/oci-runtime-no-rlimits (overlay storage; PODMAN_STORAGE=vfs
# where overlay cannot mount; PODMAN_ROOT for another storage root). docs/deploy.md ("Container")
# has what was run and the errors it works around.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=deploy/container
say() { printf 'container: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

RUNTIME=$(readlink -f "$HERE/oci-runtime-no-rlimits")
read -r -a PODMAN <<< "${PODMAN:-podman ${PODMAN_ROOT:+--root $PODMAN_ROOT} --storage-driver ${PODMAN_STORAGE:-overlay} --cgroup-manager cgroupfs --events-backend file --runtime $RUNTIME}"
BASE_TAR=${BASE_TAR:-/var/tmp/srt-relay-base-bookworm.tar}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

free_port() { node -e "const s=require('dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

base() {
  [[ $(id -u) == 0 ]] || fail 'run as root (mmdebstrap, podman)'
  command -v mmdebstrap > /dev/null || fail 'apt-get install mmdebstrap'
  if [[ ! -s $BASE_TAR ]]; then
    say "mmdebstrap bookworm minbase into $BASE_TAR"
    mmdebstrap --variant=minbase --include=ca-certificates bookworm "$BASE_TAR" \
      "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb ${MIRROR%/debian}/debian-security bookworm-security main"
  fi
  "${PODMAN[@]}" import "$BASE_TAR" srt-relay-base:bookworm > /dev/null
  say "OK: base image srt-relay-base:bookworm from $BASE_TAR"
}

image() {
  bash scripts/container-smoke.sh context
  local t0=$SECONDS
  # --format docker: the OCI image format has no HEALTHCHECK.
  "${PODMAN[@]}" build --format docker --network host -f Containerfile -t srt-relay .
  say "OK: image srt-relay built in $((SECONDS - t0)) s"
}

# publish_play: scripts/lib/publish-play.sh
# shellcheck source=../../scripts/lib/publish-play.sh
source scripts/lib/publish-play.sh

wait_healthz() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$1/healthz" > /dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

run() {
  local srt api id
  srt=$(free_port); api=$(free_port)
  # The host network: the node's ports are the host's (SRT_RELAY_* variables choose them).
  id=$("${PODMAN[@]}" run -d --rm --network host \
    -e SRT_RELAY_SRT_PORT="$srt" -e SRT_RELAY_API_PORT="$api" -e SRT_RELAY_API_HOST=127.0.0.1 -e SRT_RELAY_LOG_LEVEL=warn \
    srt-relay)
  # shellcheck disable=SC2064 # expanded now
  trap "${PODMAN[*]} rm -f $id > /dev/null 2>&1 || true" EXIT
  wait_healthz "$api" || fail "the container did not answer /healthz: $("${PODMAN[@]}" logs "$id" 2>&1 | tail -20)"
  say "OK: container $id (user $("${PODMAN[@]}" exec "$id" id -un)) answers /healthz on $api"
  "${PODMAN[@]}" healthcheck run "$id" > /dev/null || fail "the image's HEALTHCHECK failed"
  say 'OK: the image HEALTHCHECK (GET /healthz) passes'
  publish_play "$srt" "$api"
}

compose() {
  command -v podman-compose > /dev/null || fail 'apt-get install podman-compose'
  [[ -n ${SRT_RELAY_CLUSTER_SECRET:-} ]] || export SRT_RELAY_CLUSTER_SECRET=compose-demo-secret-$RANDOM$RANDOM
  # podman-compose runs `podman`: a wrapper gives it the same options as PODMAN.
  local wrapper
  wrapper=$(mktemp)
  printf '#!/bin/sh\nexec %s "$@"\n' "${PODMAN[*]}" > "$wrapper"
  chmod +x "$wrapper"
  local pc=(podman-compose --podman-path "$wrapper" -f compose.yaml)
  # shellcheck disable=SC2064 # expanded now
  trap "${pc[*]} down > /dev/null 2>&1 || true; rm -f '$wrapper'" EXIT
  "${pc[@]}" up -d
  for api in 4241 4242 4243; do wait_healthz "$api" || fail "node with API $api did not answer /healthz: $("${pc[@]}" logs 2>&1 | tail -30)"; done
  say 'OK: three nodes answer /healthz (API 127.0.0.1:4241-4243)'
  # Through nginx (UDP 8889): the publish and the play may land on different nodes.
  publish_play 8889 4241
}

case "${1:-all}" in
  base) base ;;
  image) image ;;
  run) run ;;
  compose) compose ;;
  all) base && image && run ;;
  *) fail "usage: $0 [all|base|image|run|compose]" ;;
esac
