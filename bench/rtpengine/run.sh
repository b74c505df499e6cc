#!/bin/sh
# Relay the media-load packet load through rtpengine (userspace forwarding, no kernel
# module) and measure its CPU per call. Loopback only; rtpengine is started here, bounded by
# `timeout`, and stopped by its own pid. See README.md.
#   bench/rtpengine/run.sh CALLS SECS [THREADS]
# CHRT="chrt -r 10" runs rtpengine and the load tool under SCHED_RR, as media-load's figures.
# Run from the repository root after
#   CARGO_TARGET_DIR=target-media cargo build --release -p switchboard-media --bin rtpengine-load
set -eu
CALLS=${1:-500}
SECS=${2:-10}
THREADS=${3:-1}
NG=127.0.0.1:22223
LOG=${TMPDIR:-/tmp}/rtpengine-load.$$.log
${CHRT:-} timeout $((SECS + 60)) rtpengine --config-file=none --foreground --log-stderr \
  --table=-1 --interface=127.0.0.1 --listen-ng=$NG \
  --port-min=40000 --port-max=49999 --num-threads="$THREADS" -L 4 >"$LOG" 2>&1 &
TPID=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
  grep -q "Startup complete" "$LOG" && break
  sleep 1
done
RPID=$(pgrep -P "$TPID" -x rtpengine)
trap 'kill "$RPID" 2>/dev/null || true; wait "$TPID" 2>/dev/null || true' EXIT
${CHRT:-} target-media/release/rtpengine-load --pid "$RPID" --ng "$NG" \
  --calls "$CALLS" --secs "$SECS" --warmup 3
echo "  rtpengine log: $LOG"
