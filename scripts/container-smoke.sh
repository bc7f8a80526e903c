#!/usr/bin/env bash
# The container image (Containerfile), without an image registry:
#
#   scripts/container-smoke.sh check          static checks of the Containerfile against the repo
#                                             and Debian 12 (seconds; run by test/container-file.test.ts)
#   scripts/container-smoke.sh context        fills .container/node/ with this host's Node.js
#                                             (binary, npm, headers) for the build stage
#   scripts/container-smoke.sh rootfs [DIR]   the runtime stage by hand, no engine needed (as root):
#                                             a Debian 12 minbase rootfs by debootstrap with the
#                                             runtime stage's packages, the runtime stage's files
#                                             copied in, the node started in it (chroot, user
#                                             srt-relay), /healthz asked, one stream published and
#                                             played through it with srt-live-transmit (minutes)
#   scripts/container-smoke.sh build          the real image: deploy/container/build.sh (podman;
#                                             base by mmdebstrap + import, build, run, publish and
#                                             play through the container)
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=Containerfile
say() { printf 'container-smoke: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
# publish_play
# shellcheck source=lib/publish-play.sh
source scripts/lib/publish-play.sh

# The Containerfile with continuation lines joined: one instruction per line.
instructions() { sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$FILE" | grep -vE '^\s*#'; }

# Packages of the `apt-get install` commands of stage N (1 build, 2 runtime; all without N).
packages() {
  instructions | awk -v want="${1:-0}" '/^FROM /{n++} /^RUN / && (want == 0 || n == want) {print}' |
    grep -oE 'apt-get install [^&]*' | sed 's/^apt-get install//' | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u
}

runtime_packages() { packages 2; }

check() {
  [[ -f $FILE ]] || fail "$FILE missing"
  local errors=0
  # Every COPY from the build context names a path in the repo (.container/ is made by `context`).
  while read -r src; do
    [[ $src == .container/* ]] && continue
    [[ -e $src ]] || { say "COPY source '$src' does not exist"; errors=$((errors + 1)); }
  done < <(grep -E '^COPY ' "$FILE" | grep -v -- '--from=' | sed -E 's/^COPY +//' | awk '{for (i = 1; i < NF; i++) print $i}')
  # What the runtime stage copies from the build stage exists in a local build (npm ci made it).
  while read -r src; do
    local rel=${src#/src/}
    [[ -e $rel ]] || { say "build output '$rel' (COPY --from=build $src) is not made by npm ci here"; errors=$((errors + 1)); }
  done < <(grep -E '^COPY --from=build /src/' "$FILE" | awk '{print $3}')
  # Every apt package exists in Debian 12 (apt-cache, as set up on this host).
  local pkgs
  pkgs=$(packages)
  for p in $pkgs; do
    apt-cache show "$p" > /dev/null 2>&1 || { say "apt package '$p' not found (apt-get update first?)"; errors=$((errors + 1)); }
  done
  # The ports it exposes are the defaults (SRT 8889/udp, API 4242/tcp), and the health check asks /healthz.
  grep -qE '^EXPOSE 8889/udp 4242/tcp$' "$FILE" || { say 'EXPOSE is not "8889/udp 4242/tcp"'; errors=$((errors + 1)); }
  grep -q '"port": 8889' docs/config.md || { say 'docs/config.md no longer gives 8889 as the default SRT port'; errors=$((errors + 1)); }
  grep -q '`4242`' docs/config.md || { say 'docs/config.md no longer gives 4242 as the default API port'; errors=$((errors + 1)); }
  instructions | grep -qE "^HEALTHCHECK .*127\.0\.0\.1:' \+ \(process\.env\.SRT_RELAY_API_PORT \|\| 4242\) \+ '/healthz" || { say 'HEALTHCHECK does not ask /healthz on SRT_RELAY_API_PORT or 4242'; errors=$((errors + 1)); }
  grep -qE '^USER srt-relay$' "$FILE" || { say 'the image does not run as srt-relay'; errors=$((errors + 1)); }
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  ((major >= 20)) || { say "host Node.js $major: the build stage needs 20+"; errors=$((errors + 1)); }
  ((errors == 0)) || fail "$errors problem(s) in $FILE"
  say "OK: $FILE's context paths, build outputs, Debian packages ($(echo "$pkgs" | wc -w)), ports, health check and user check out"
}

context() {
  local node prefix
  node=$(readlink -f "$(command -v node)")
  prefix=$(dirname "$(dirname "$node")")
  rm -rf .container/node && mkdir -p .container/node/bin .container/node/lib/node_modules .container/node/include
  cp "$node" .container/node/bin/node
  cp -r "$prefix/lib/node_modules/npm" .container/node/lib/node_modules/npm
  cp -r "$prefix/include/node" .container/node/include/node
  printf '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js "$@"\n' > .container/node/bin/npm
  chmod +x .container/node/bin/npm
  # The build host's extra CA certificates, for npm ci in the build stage (often none).
  rm -rf .container/ca && mkdir -p .container/ca
  find /usr/local/share/ca-certificates -maxdepth 2 -name '*.crt' -exec cp {} .container/ca/ \; 2> /dev/null || true
  say "OK: .container/node has Node.js $(node -v), npm and headers from $prefix; .container/ca has $(find .container/ca -name '*.crt' | wc -l) extra CA certificate(s)"
}

free_port() { node -e "const s=require('dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

rootfs() {
  local dir=${1:-/tmp/srt-relay-rootfs}
  [[ $(id -u) == 0 ]] || fail 'rootfs needs root (debootstrap, chroot)'
  command -v debootstrap > /dev/null || fail 'install debootstrap (apt-get install debootstrap)'
  local pkgs
  pkgs=$(runtime_packages | paste -sd, -)
  if [[ ! -x $dir/usr/bin/apt-get ]]; then
    say "debootstrap bookworm minbase + $pkgs into $dir"
    debootstrap --variant=minbase --include="$pkgs" bookworm "$dir" http://deb.debian.org/debian > "$dir.log" 2>&1 || fail "debootstrap failed, see $dir.log"
  fi
  [[ -f dist/src/index.js && -f build/Release/srt_native.node ]] || fail 'build first (npm ci)'
  # The runtime stage's files, as its COPY lines place them (the build stage's output is this checkout's npm ci).
  chroot "$dir" sh -c 'id srt-relay > /dev/null 2>&1 || useradd --system --home /var/lib/srt-relay --shell /usr/sbin/nologin srt-relay'
  rm -rf "$dir/opt/srt-relay" && mkdir -p "$dir/opt/srt-relay/dist" "$dir/opt/srt-relay/build/Release"
  cp "$(readlink -f "$(command -v node)")" "$dir/usr/local/bin/node"
  cp -r package.json bin schema docs node_modules "$dir/opt/srt-relay/"
  cp -r dist/src dist/workers "$dir/opt/srt-relay/dist/"
  cp build/Release/srt_native.node "$dir/opt/srt-relay/build/Release/"
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
  local srt api pid
  srt=$(free_port); api=$(free_port)
  chroot --userspec=srt-relay:srt-relay "$dir" /usr/local/bin/node /opt/srt-relay/bin/srt-relay.js \
    --srt-port "$srt" --api-port "$api" --log-level warn > "$dir.relay.log" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064 # expanded now: the function's locals are gone when the trap runs
  trap "kill $pid 2> /dev/null && wait $pid 2> /dev/null; umount '$dir/proc' 2> /dev/null || true" EXIT INT TERM
  local ok=''
  for _ in $(seq 1 50); do
    if curl -fsS "http://127.0.0.1:$api/healthz" > /dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [[ -n $ok ]] || fail "the node in the rootfs did not answer /healthz: $(cat "$dir.relay.log")"
  say "node in the Debian 12 rootfs (user srt-relay, libsrt from Debian) answers /healthz"
  publish_play "$srt" "$api" "the node in the rootfs"
}

build() {
  # The image with podman, base by mmdebstrap, run, publish and play through it.
  exec bash deploy/container/build.sh all
}

case "${1:-check}" in
  check) check ;;
  context) context ;;
  rootfs) rootfs "${2:-}" ;;
  build) build ;;
  *) fail "usage: $0 [check|context|rootfs [DIR]|build]" ;;
esac
