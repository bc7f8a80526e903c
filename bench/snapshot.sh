#!/usr/bin/env bash
# Copies the working tree to a private directory and builds it there (addon, TypeScript, C
# floor programs), so a long benchmark run is not disturbed by edits or rebuilds in the
# repository while it runs (a `node-gyp rebuild` deletes build/ for a while).
#
#   bash bench/snapshot.sh [--head] [DIR]      (default /tmp/srt-relay-bench)
#   cd DIR && node dist/bench/throughput.js --out "$OLDPWD/bench/results"
#
# --head: the last commit (git archive HEAD) with the working tree's bench/ on top, so
# uncommitted work in progress elsewhere in the tree is not measured.
#
# DIR/.bench-source.json records the commit and the files that differed from it; the benches
# copy it into their results.
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HEAD_ONLY=0
if [ "${1:-}" = "--head" ]; then HEAD_ONLY=1; shift; fi
DST="${1:-/tmp/srt-relay-bench}"
rm -rf "$DST"
mkdir -p "$DST"
commit="$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)"
if [ "$HEAD_ONLY" = 1 ]; then
  git -C "$SRC" archive HEAD | tar -xf - -C "$DST"
  (cd "$SRC" && tar --exclude=./bench/results --exclude=./bench/floor/bin -cf - ./bench) | tar -xf - -C "$DST"
  dirty="bench/ from the working tree"
else
  (cd "$SRC" && tar --exclude=./.git --exclude=./node_modules --exclude=./build --exclude=./dist \
    --exclude=./bench/results --exclude=./bench/floor/bin -cf - .) | tar -xf - -C "$DST"
  dirty="$(git -C "$SRC" status --porcelain 2>/dev/null | awk '{print $2}' | paste -sd, - || true)"
fi
ln -sfn "$SRC/node_modules" "$DST/node_modules"
printf '{"commit":"%s","dirty":"%s","snapshot":"%s"}\n' "$commit" "$dirty" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$DST/.bench-source.json"
cd "$DST"
npm run build:native >/dev/null 2>&1 || { echo "snapshot: addon build failed (npm run build:native in $DST)" >&2; exit 1; }
npx tsc -p tsconfig.json >/dev/null 2>&1 || echo "snapshot: tsc reported errors (output emitted anyway; check dist/bench exists)" >&2
bash bench/floor/build.sh
test -f dist/bench/throughput.js && test -f dist/bench/fanout.js
echo "$DST"
