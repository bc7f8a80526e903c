# Sourced by deploy/container/build.sh and scripts/container-smoke.sh (needs `say` and `fail`).
#
# publish_play SRT_PORT API_PORT [WHAT]
# Publishes 4 s of data to srt://127.0.0.1:SRT_PORT with srt-live-transmit and plays it back
# through the same port; fails unless the player got > 100 kB. API_PORT: the node's API, polled
# until the stream is "live". srt-live-transmit does not exit at the end of its input: the
# publisher feeds 40 × 100 ms of data and is stopped; the player runs 4 s once the stream is live.
# WHAT names the node in the messages (default: srt://127.0.0.1:SRT_PORT).
publish_play() {
  local srt=$1 api=$2 what=${3:-srt://127.0.0.1:$1} out
  out=$(mktemp)
  (for _ in $(seq 1 40); do head -c 131600 /dev/urandom; sleep 0.1; done) |
    srt-live-transmit -a:no file://con "srt://127.0.0.1:$srt?streamid=publish:smoke" 2> "$out.pub.log" &
  local publisher=$!
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$api/api/v1/streams/smoke" 2> /dev/null | grep -q '"state":"live"' && break
    sleep 0.1
  done
  timeout 4 srt-live-transmit -a:no "srt://127.0.0.1:$srt?streamid=read:smoke" file://con > "$out" 2> "$out.play.log" || true
  kill "$publisher" 2> /dev/null || true
  wait "$publisher" 2> /dev/null || true
  local got
  got=$(stat -c %s "$out")
  if ((got <= 100000)); then
    fail "the player got $got bytes through $what (logs: $out.play.log, $out.pub.log)"
  fi
  rm -f "$out" "$out.pub.log" "$out.play.log"
  say "OK: published and played $got bytes through $what"
}
