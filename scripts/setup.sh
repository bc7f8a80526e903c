#!/usr/bin/env bash
# srt-relay set-up: installs what is missing on a Debian 12 / Ubuntu machine,
# then builds the project (npm ci: native addon + TypeScript) when needed.
#
#   bash scripts/setup.sh               install only
#   bash scripts/setup.sh start [args]  install, then run a node (bin/srt-relay.js)
#   bash scripts/setup.sh test          install, stop the system's nginx and redis-server
#                                       (a test machine's), then run the whole test suite
#
# Only `test` stops services: installing and `start` never stop or disable the host's nginx or
# redis-server (test/setup-script.test.ts). Idempotent and silent when everything is in place.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the project needs at build, run or test time.
PACKAGES=(
  libsrt-openssl-dev   # libsrt 1.5.1 headers + library (the addon links it)
  srt-tools            # srt-live-transmit, used by tests and benchmarks
  ffmpeg               # test streams (ffmpeg/ffprobe with libsrt)
  redis-server         # cluster tests start their own redis-server
  nginx                # UDP load balancer in cluster tests (own config, own port)
  libnginx-mod-stream  # nginx "stream" module for UDP proxying
  build-essential      # C/C++ toolchain for the addon and bench/floor
  pkg-config           # finds libsrt's flags
  python3              # node-gyp
  iproute2             # ip/ss/tc for network tests
  prometheus           # promtool: the /metrics test runs promtool check metrics
  gstreamer1.0-tools   # gst-launch-1.0: GStreamer srtsink/srtsrc interop tests
  gstreamer1.0-plugins-bad  # srtsink, srtsrc and tsparse
  chromium             # headless browser for the dashboard tests (test/dashboard-*.test.ts)
  tmux                 # a pseudo-terminal for the log-format test (pretty on a terminal)
)

log() { printf 'setup: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    SUDO=(__no_sudo__)
  fi
fi

as_root() {
  if [ "${SUDO[0]:-}" = "__no_sudo__" ]; then
    die "need root (or sudo) to run: $*"
  fi
  "${SUDO[@]}" "$@"
}

is_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

install_packages() {
  command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian/Ubuntu only"
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0

  local logfile
  logfile="$(mktemp "${TMPDIR:-/tmp}/srt-relay-setup.XXXXXX.log")"
  log "installing ${#missing[@]} packages: ${missing[*]}"
  if ! {
    as_root apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}"
  } >"$logfile" 2>&1 </dev/null; then
    log "package installation failed; last lines of $logfile:"
    tail -n 30 "$logfile" >&2 || true
    exit 1
  fi
  rm -f "$logfile"
}

# Debian's postinst scripts may start the system nginx and redis-server. The tests start their
# own instances on their own ports; on a test machine (the `test` command only) the system
# services are stopped so that nothing answers on ports 80 / 6379 but what a test started, and
# are not enabled at boot. Best effort, never fatal. Never run for `start` or a plain install:
# on a host that runs srt-relay, nginx (e.g. the UDP load balancer) and Redis are its services.
stop_system_services() {
  [ "${SUDO[0]:-}" = "__no_sudo__" ] && return 0
  local svc
  for svc in nginx redis-server; do
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      if systemctl is-active --quiet "$svc" 2>/dev/null; then
        as_root systemctl stop "$svc" >/dev/null 2>&1 || true
        as_root systemctl disable "$svc" >/dev/null 2>&1 || true
      fi
    elif command -v service >/dev/null 2>&1 && [ -x "/etc/init.d/$svc" ]; then
      if service "$svc" status >/dev/null 2>&1; then
        as_root service "$svc" stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null 2>&1; then
          as_root update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
      fi
    fi
  done
  return 0
}

check_node() {
  command -v node >/dev/null 2>&1 || die "node not found: Node.js >= 20 is required"
  command -v npm >/dev/null 2>&1 || die "npm not found: Node.js >= 20 with npm is required"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js >= 20 is required (found $(node -v))"
}

# npm ci builds the addon (install script: node-gyp rebuild) and the
# TypeScript (prepare script: tsc). Only run it when something is stale.
npm_install() {
  cd "$ROOT"
  if [ ! -f node_modules/.package-lock.json ] ||
    [ node_modules/.package-lock.json -ot package-lock.json ] ||
    [ ! -f build/Release/srt_native.node ]; then
    local logfile
    logfile="$(mktemp "${TMPDIR:-/tmp}/srt-relay-npm-ci.XXXXXX.log")"
    log "npm ci (dependencies, native addon, TypeScript)"
    if ! npm ci --no-audit --no-fund --loglevel=error </dev/null >"$logfile" 2>&1; then
      log "npm ci failed; last lines of $logfile:"
      tail -n 60 "$logfile" >&2 || true
      exit 1
    fi
    rm -f "$logfile"
  fi
}

install_packages
check_node
npm_install

cd "$ROOT"
case "${1:-}" in
  "") ;;
  start)
    shift
    exec node bin/srt-relay.js "$@"
    ;;
  test)
    shift
    stop_system_services
    exec npm test
    ;;
  *)
    die "unknown subcommand '$1' (use: start [args...] | test)"
    ;;
esac
