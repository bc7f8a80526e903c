#!/usr/bin/env bash
# Builds the bench/floor C programs into bench/floor/bin/ (skips the ones
# that are up to date). Needs a C compiler, pkg-config and libsrt-openssl-dev
# (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

CC="${CC:-cc}"
CFLAGS="${CFLAGS:--O2 -Wall -Wextra}"
SRT_FLAGS="$(pkg-config --cflags --libs srt)"

mkdir -p bin
for src in srt-blast.c srt-sink.c srt-fanout-floor.c udp-impair.c; do
  out="bin/${src%.c}"
  if [ -x "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt common.h ] && [ "$out" -nt build.sh ]; then
    continue
  fi
  echo "build: $out" >&2
  # shellcheck disable=SC2086 # word splitting of the flags is intended
  "$CC" $CFLAGS -o "$out" "$src" $SRT_FLAGS -lpthread
done
