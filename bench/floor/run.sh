#!/usr/bin/env bash
# Runs the floor programs against each other on loopback and prints one
# labelled JSON line per program. Scenarios:
#   direct   srt-blast -> srt-sink at $RATE Mbit/s
#   max      srt-blast --rate 0 -> srt-sink --rcvbuf 64M (as fast as libsrt takes it)
#   fanout   srt-blast -> srt-fanout-floor -> $VIEWERS x srt-sink at $FAN_RATE Mbit/s
#   slt      srt-blast -> srt-live-transmit (SRT to SRT relay) -> srt-sink at $RATE Mbit/s
#   all      all of the above (default)
# Environment: SECS (3), RATE (50), FAN_RATE (10), VIEWERS (3), REUSEPORT (0),
# LATENCY (libsrt default 120), PORT_BASE (19100). Traffic stays on 127.0.0.1.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/build.sh"
BIN="$HERE/bin"

SECS="${SECS:-3}"
RATE="${RATE:-50}"
FAN_RATE="${FAN_RATE:-10}"
VIEWERS="${VIEWERS:-3}"
REUSEPORT="${REUSEPORT:-0}"
PORT_BASE="${PORT_BASE:-19100}"
LAT=()
[ -n "${LATENCY:-}" ] && LAT=(--latency "$LATENCY")

OUT="$(mktemp -d "${TMPDIR:-/tmp}/srt-floor.XXXXXX")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT

# Receiver's --seconds: long enough for the whole run, the sink stops earlier
# when the sender closes.
SINK_SECS=$((SECS + 3))

show() { # label file
  printf '%-22s %s\n' "$1" "$(tail -n 1 "$2")"
}

direct() { # label rate port [extra sink args...]
  local label="$1" rate="$2" port="$3"
  shift 3
  "$BIN/srt-sink" --listen "127.0.0.1:$port" --seconds "$SINK_SECS" "${LAT[@]}" "$@" >"$OUT/sink" 2>"$OUT/sink.err" &
  local sink=$!
  sleep 0.3
  "$BIN/srt-blast" --connect "127.0.0.1:$port" --rate "$rate" --seconds "$SECS" "${LAT[@]}" >"$OUT/blast" 2>"$OUT/blast.err" || true
  wait "$sink" || true
  show "$label blast" "$OUT/blast"
  show "$label sink" "$OUT/sink"
}

fanout() {
  local in=$((PORT_BASE + 10)) out=$((PORT_BASE + 11)) i
  local rp=()
  [ "$REUSEPORT" -gt 0 ] && rp=(--reuseport "$REUSEPORT")
  "$BIN/srt-fanout-floor" --in "127.0.0.1:$in" --out "127.0.0.1:$out" "${rp[@]}" "${LAT[@]}" \
    >"$OUT/fan" 2>"$OUT/fan.err" &
  local fan=$!
  PIDS+=("$fan")
  sleep 0.3
  local sinks=()
  for ((i = 1; i <= VIEWERS; i++)); do
    "$BIN/srt-sink" --connect "127.0.0.1:$out" --seconds "$SINK_SECS" "${LAT[@]}" >"$OUT/fsink$i" 2>"$OUT/fsink$i.err" &
    sinks+=($!)
  done
  sleep 0.5
  "$BIN/srt-blast" --connect "127.0.0.1:$in" --rate "$FAN_RATE" --seconds "$SECS" "${LAT[@]}" >"$OUT/fblast" 2>"$OUT/fblast.err" || true
  # Viewers stay connected to the relay after the publisher leaves: stop the
  # sinks once the tail has been delivered, then the relay.
  sleep 1
  for i in "${sinks[@]}"; do kill -TERM "$i" 2>/dev/null || true; done
  for i in "${sinks[@]}"; do wait "$i" || true; done
  kill -TERM "$fan" 2>/dev/null || true
  wait "$fan" || true
  show "fanout blast" "$OUT/fblast"
  show "fanout relay" "$OUT/fan"
  for ((i = 1; i <= VIEWERS; i++)); do show "fanout sink$i" "$OUT/fsink$i"; done
}

slt() {
  local in=$((PORT_BASE + 20)) out=$((PORT_BASE + 21))
  local lat=""
  [ -n "${LATENCY:-}" ] && lat="&latency=$LATENCY"
  local timer=()
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '{"user_s":%U,"sys_s":%S}' -o "$OUT/slt.time")
  "${timer[@]}" srt-live-transmit -q -a:no "srt://127.0.0.1:$in?mode=listener$lat" "srt://127.0.0.1:$out?mode=listener$lat" \
    >"$OUT/slt" 2>&1 &
  local relay=$!
  PIDS+=("$relay")
  sleep 0.3
  "$BIN/srt-sink" --connect "127.0.0.1:$out" --seconds "$SINK_SECS" "${LAT[@]}" >"$OUT/ssink" 2>"$OUT/ssink.err" &
  local sink=$!
  sleep 0.5
  "$BIN/srt-blast" --connect "127.0.0.1:$in" --rate "$RATE" --seconds "$SECS" "${LAT[@]}" >"$OUT/sblast" 2>"$OUT/sblast.err" || true
  wait "$sink" || true
  wait "$relay" || true
  show "slt blast" "$OUT/sblast"
  show "slt sink" "$OUT/ssink"
  [ -s "$OUT/slt.time" ] && show "slt relay (user/sys)" "$OUT/slt.time"
  return 0
}

case "${1:-all}" in
  direct) direct direct "$RATE" "$PORT_BASE" ;;
  max) direct max 0 "$((PORT_BASE + 1))" --rcvbuf 67108864 ;;
  fanout) fanout ;;
  slt) slt ;;
  all)
    direct direct "$RATE" "$PORT_BASE"
    direct max 0 "$((PORT_BASE + 1))" --rcvbuf 67108864
    fanout
    slt
    ;;
  *) echo "usage: $0 [direct|max|fanout|slt|all]" >&2; exit 2 ;;
esac
