#!/bin/bash
# Call load: inbound calls through the shipped main-menu flow (greeting, INFO digit 1, Sales
# queue) to a pool of auto-answering sipp agents, RTP both ways (every packet the server sends
# either phone is echoed back: by target/release/rtp-echo, or with ECHO=sipp by sipp's own
# -rtp_echo), held HOLD_MS, then hung up by the customer. Steps the offered rate until a step fails.
# Everything on 127.0.0.1, bounded in count and time; kills what it starts.
#
#   cargo build --release -p switchboard -p switchboard-media   # yours: this script builds nothing
#   bench/call-load.sh                       # defaults below; see bench/call-load/README.md
#   RATES="50 100" HOLD_MS=2000 bench/call-load.sh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
HERE=$REPO/bench/call-load
SB_BIN=${SB_BIN:-$REPO/target/release/switchboard}
AGENTS=${AGENTS:-1500}                  # agent pool (agent000..); must exceed the concurrency
RATES=${RATES:-"20 40 60 80 100"}
STEP_SECONDS=${STEP_SECONDS:-20}        # seconds of offered load per step (-m = RATE*STEP)
HOLD_MS=${HOLD_MS:-10000}               # talk time after the digit (sipp -d)
SB_PORT=${SB_PORT:-5170}
SB_HTTP_PORT=${SB_HTTP_PORT:-5178}
RTP_PORTS=${RTP_PORTS:-40000-47999}
AGENT_PORT=${AGENT_PORT:-5190}          # the agents' one UAS (and the port they register from)
AGENT_MEDIA_PORT=${AGENT_MEDIA_PORT:-6190}  # the agents' echo (RTP here, RTCP +1)
CUST_PORT=${CUST_PORT:-5200}
CUST_MEDIA_PORT=${CUST_MEDIA_PORT:-6200}    # the customers' echo
# Who echoes the media: `tool` (target/release/rtp-echo, one process per side, pinned with
# sipp) or `sipp` (sipp's -rtp_echo, on sipp's one thread: it drops packets from a few hundred
# calls up, which the server counts as lost; see the README).
ECHO=${ECHO:-tool}
ECHO_BIN=${ECHO_BIN:-$REPO/target/release/rtp-echo}
PIN=${PIN:-1}
SIPP_CPUS=${SIPP_CPUS:-0}
SERVER_CPUS=${SERVER_CPUS:-1}
STOP_ON_FAIL=${STOP_ON_FAIL:-1}
MAX_LOST_PER_CALL=${MAX_LOST_PER_CALL:-10}  # concealed frames per call; see README (echo floor)
PROFILE=${PROFILE:-0}                   # 1: perf record the server during the last step run
KEEP_WORKDIR=${KEEP_WORKDIR:-0}
export SWITCHBOARD_LOG=${SWITCHBOARD_LOG:-warn}
BUFF=4194304
export LC_ALL=C

for t in sipp curl; do
  command -v "$t" >/dev/null || { echo "missing $t: sudo apt-get install -y sip-tester curl" >&2; exit 2; }
done
[ -x "$SB_BIN" ] || { echo "no $SB_BIN: run cargo build --release -p switchboard first" >&2; exit 2; }
if [ "$ECHO" = tool ] && [ ! -x "$ECHO_BIN" ]; then
  echo "missing $ECHO_BIN: cargo build --release -p switchboard-media (or ECHO=sipp)" >&2; exit 1
fi
HAVE_SQLITE=1; command -v sqlite3 >/dev/null || { HAVE_SQLITE=0; echo "note: no sqlite3 (apt-get install sqlite3): contact records not counted" >&2; }

WORKDIR=${WORKDIR:-$(mktemp -d /tmp/call-load.XXXXXX)}
mkdir -p "$WORKDIR/conf"
ln -sfn "$REPO/media" "$WORKDIR/media"   # prompts resolve as ../media/prompts from conf/
DATA=$WORKDIR/data
DB=$DATA/switchboard.db
CONFIG=$WORKDIR/conf/call-load.yaml
"$HERE/gen-config.sh" "$AGENTS" "$REPO" "$DATA" "$SB_PORT" "$SB_HTTP_PORT" "$RTP_PORTS" > "$CONFIG"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ "$KEEP_WORKDIR" = 1 ]; then echo "work files: $WORKDIR"; else rm -rf "$WORKDIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PIN_SIPP=(); PIN_SERVER=()
if [ "$PIN" = 1 ]; then PIN_SIPP=(taskset -c "$SIPP_CPUS"); PIN_SERVER=(taskset -c "$SERVER_CPUS"); fi
metric() { # metric NAME: the sum of a Prometheus metric's samples (0 when absent)
  { curl -s --max-time 5 "http://127.0.0.1:$SB_HTTP_PORT/metrics" || true; } |
    awk -v m="$1" '($1 == m || index($1, m "{") == 1) { s += $2 } END { printf "%.0f\n", s + 0 }'
}
sock_drops() { # sock_drops PID: datagrams dropped on that process's UDP sockets (ss skmem d)
  { ss -uamnp 2>/dev/null || true; } | awk -v p="pid=$1," '
    /users:/ { cur = index($0, p) > 0; next }
    cur && /skmem/ { if (match($0, /,d[0-9]+/)) s += substr($0, RSTART + 2, RLENGTH - 2) }
    END { print s + 0 }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
thread_ticks() { # per thread name: utime+stime summed over threads of that name
  for f in /proc/"$1"/task/*/stat; do
    sed -E 's/^[0-9]+ \((.*)\) [A-Z] (.*)$/\1|\2/' "$f" 2>/dev/null  || true
  done | awk -F'|' '{ split($2, a, " "); t[$1] += a[11] + a[12] } END { for (n in t) print n "|" t[n] }'
}
udp_rcvbuf_errors() { awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }
stat_field() { # stat_field CSV FIELD: a column of the last line of a sipp -trace_stat CSV
  awk -F';' -v f="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == f) c = i; next }
    { v = $c } END { print (v == "" ? 0 : v) + 0 }' "$1"
}
contacts() { # total;ended with an agent
  if [ "$HAVE_SQLITE" = 1 ] && [ -f "$DB" ]; then
    sqlite3 -cmd '.timeout 5000' "$DB" \
      "SELECT count(*) || ';' || count(CASE WHEN disconnect_unix_ms IS NOT NULL AND agent_username IS NOT NULL THEN 1 END) FROM contacts" 2>/dev/null || echo "0;0"
  else echo "0;0"; fi
}
TCK=$(getconf CLK_TCK)
MAXSOCK=$(( $(ulimit -n) - 100 ))

# --- server -------------------------------------------------------------------------------
"${PIN_SERVER[@]}" "$SB_BIN" serve --config "$CONFIG" > "$WORKDIR/server.log" 2>&1 &
SB_PID=$!; PIDS+=("$SB_PID")
for _ in $(seq 100); do
  curl -sf --max-time 1 "http://127.0.0.1:$SB_HTTP_PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SB_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$WORKDIR/server.log" >&2; exit 1; }
  sleep 0.2
done
echo "switchboard pid $SB_PID ($SB_BIN, built $(date -u -r "$SB_BIN" +%FT%TZ)), $AGENTS agents, SIP 127.0.0.1:$SB_PORT, pinned=$PIN (sipp CPU $SIPP_CPUS, server CPU $SERVER_CPUS)"

# --- register the pool at the agents' UAS port ---------------------------------------------
DOMAIN=callload.switchboard.test
{ echo SEQUENTIAL; for i in $(seq 0 $((AGENTS - 1))); do printf 'agent%03d;secret;%s\n' "$i" "$DOMAIN"; done; } > "$WORKDIR/agents.csv"
timeout 120 sipp "127.0.0.1:$SB_PORT" -sf "$HERE/register.xml" -inf "$WORKDIR/agents.csv" \
    -i 127.0.0.1 -p "$AGENT_PORT" -r 200 -m "$AGENTS" -timeout 100s -max_socket "$MAXSOCK" -nostdin \
    -trace_err -error_file "$WORKDIR/register-err.log" >/dev/null 2>&1 || true
BINDINGS=$(metric switchboard_sip_active_bindings)
echo "registered: $BINDINGS bindings for $AGENTS agents"
[ "$BINDINGS" -ge "$AGENTS" ] || { echo "registration failed, see $WORKDIR/register-err.log (KEEP_WORKDIR=1)" >&2; exit 1; }

# --- the agents' UAS ---------------------------------------------------------------------
MAX_TOTAL=0   # the UAS outlives every step, and no more
for r in $RATES; do MAX_TOTAL=$((MAX_TOTAL + STEP_SECONDS + HOLD_MS / 1000 + 120)); done
cd "$WORKDIR"
# sipp's media arguments: the port its SDP offers ([echo_port]), and its own echo or not (its
# media sockets then sit 100 ports up, out of the echo tools' way).
sipp_media() { # sipp_media ECHO_PORT
  if [ "$ECHO" = tool ]; then
    echo "-key echo_port $1 -mi 127.0.0.1 -mp $(($1 + 100))"
  else
    echo "-key echo_port $1 -mi 127.0.0.1 -mp $1 -rtp_echo -rtp_buffsize $BUFF"
  fi
}
AGENT_ECHO_PID=0; CUST_ECHO_PID=0
if [ "$ECHO" = tool ]; then
  "${PIN_SIPP[@]}" "$ECHO_BIN" "127.0.0.1:$AGENT_MEDIA_PORT" $((MAX_TOTAL + 120)) > "$WORKDIR/agents-echo.log" 2>&1 &
  AGENT_ECHO_PID=$!; PIDS+=("$AGENT_ECHO_PID")
  "${PIN_SIPP[@]}" "$ECHO_BIN" "127.0.0.1:$CUST_MEDIA_PORT" $((MAX_TOTAL + 120)) > "$WORKDIR/customers-echo.log" 2>&1 &
  CUST_ECHO_PID=$!; PIDS+=("$CUST_ECHO_PID")
fi
# shellcheck disable=SC2046 # word splitting of sipp_media is intended
"${PIN_SIPP[@]}" timeout $((MAX_TOTAL + 120)) sipp "127.0.0.1:$SB_PORT" -sf "$HERE/agent-uas.xml" \
    -i 127.0.0.1 -p "$AGENT_PORT" $(sipp_media "$AGENT_MEDIA_PORT") \
    -buff_size $BUFF -max_socket 1000 -l $((MAXSOCK - 2000)) -nostdin \
    -trace_stat -stf "$WORKDIR/agents-stat.csv" -fd 1 -trace_err -error_file "$WORKDIR/agents-err.log" \
    >/dev/null 2>&1 &
AGENT_SIPP=$!; PIDS+=("$AGENT_SIPP")
sleep 2
AGENT_SIPP_PID=$(pgrep -P "$AGENT_SIPP" -x sipp || echo "$AGENT_SIPP")   # timeout's child

# --- steps ---------------------------------------------------------------------------------
printf '\n%-6s %-8s %-9s %-7s %-6s %-6s %-7s %-7s %-6s %-9s %-11s %-12s %-10s %-6s %-12s %s\n' \
  rate calls "calls/s" ok failed unfin agents peak cpu% "RSS MB" records "lost(/call)" "late(%)" rcvbuf "drops s/a/c" result
best=0; best_peak=0
for rate in $RATES; do
  m=$((rate * STEP_SECONDS))
  step=$WORKDIR/r$rate; mkdir -p "$step"
  lost0=$(metric switchboard_media_packets_lost_total); late0=$(metric switchboard_media_late_ticks_total); ticks0=$(metric switchboard_media_ticks_total)
  cpu0=$(cpu_ticks "$SB_PID"); thread_ticks "$SB_PID" > "$step/threads0"
  rc0=$(udp_rcvbuf_errors); sd0=$(sock_drops "$SB_PID")
  ad0=$(( $(sock_drops "$AGENT_SIPP_PID") + $(sock_drops "$AGENT_ECHO_PID") )); ce0=$(sock_drops "$CUST_ECHO_PID"); ag0=$(stat_field "$WORKDIR/agents-stat.csv" 'SuccessfulCall(C)')
  rec0=$(contacts); t0=$(date +%s.%N)
  limit=$(( rate * (HOLD_MS / 1000 + 10) + 100 ))
  # shellcheck disable=SC2046 # word splitting of sipp_media is intended
  "${PIN_SIPP[@]}" timeout $((STEP_SECONDS + HOLD_MS / 1000 + 90)) sipp "127.0.0.1:$SB_PORT" \
      -sf "$HERE/customer.xml" -s +15550100 -i 127.0.0.1 -p "$CUST_PORT" \
      $(sipp_media "$CUST_MEDIA_PORT") -r "$rate" -m "$m" -l "$limit" -d "$HOLD_MS" \
      -timeout $((STEP_SECONDS + HOLD_MS / 1000 + 60))s -buff_size $BUFF -max_socket 1000 -nostdin \
      -trace_stat -stf "$step/customers-stat.csv" -fd 1 -trace_err -error_file "$step/customers-err.log" \
      -trace_rtt -rtt_freq 1000000 >/dev/null 2>&1 &
  cust=$!; PIDS+=("$cust")
  if [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
    # 10 s of the server in the second half of the offered phase (calls up, media running)
    ( sleep $((STEP_SECONDS / 2)); timeout 10 perf record -g -F 499 -p "$SB_PID" -o "$step/perf.data" >/dev/null 2>&1 ) &
    LAST_PERF=$step/perf.data
  fi
  peak_legs=0; cd1=0
  while kill -0 "$cust" 2>/dev/null; do
    legs=$(metric switchboard_media_active_legs)
    [ "$legs" -gt "$peak_legs" ] && peak_legs=$legs
    cpid=$(pgrep -P "$cust" -x sipp || true)
    [ -n "$cpid" ] && cd1=$(sock_drops "$cpid")   # the customers' sipp: its sockets go when it exits
    sleep 1
  done
  wait "$cust" || true
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks "$SB_PID"); thread_ticks "$SB_PID" > "$step/threads1"
  ok=$(stat_field "$step/customers-stat.csv" 'SuccessfulCall(C)')
  failed=$(stat_field "$step/customers-stat.csv" 'FailedCall(C)')
  # the offered phase: until sipp had started all m calls (its per-second stat lines)
  elapsed=$(awk -F';' -v m="$m" 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "ElapsedTime(C)") c = i; if ($i == "OutgoingCall(C)") o = i }; next }
    { split($c, a, ":"); t = a[1] * 3600 + a[2] * 60 + a[3]; if ($o + 0 >= m) { print t; done = 1; exit } }
    END { if (!done) print t }' "$step/customers-stat.csv")
  unfinished=$((m - ok - failed))
  # records are written behind: wait for them (and the agents' BYE 200s) up to 20 s
  for _ in $(seq 40); do
    rec1=$(contacts); ag1=$(stat_field "$WORKDIR/agents-stat.csv" 'SuccessfulCall(C)')
    [ $(( ${rec1#*;} - ${rec0#*;} )) -ge "$ok" ] && [ $((ag1 - ag0)) -ge "$ok" ] && break
    sleep 0.5
  done
  rec_total=$(( ${rec1%;*} - ${rec0%;*} )); rec_ended=$(( ${rec1#*;} - ${rec0#*;} ))
  agents_ok=$((ag1 - ag0))
  lost=$(( $(metric switchboard_media_packets_lost_total) - lost0 ))
  late=$(( $(metric switchboard_media_late_ticks_total) - late0 ))
  ticks=$(( $(metric switchboard_media_ticks_total) - ticks0 ))
  latep=$(awk -v l="$late" -v t="$ticks" 'BEGIN { printf "%.0f", (t > 0 ? 100 * l / t : 0) }')
  rcv=$(( $(udp_rcvbuf_errors) - rc0 ))
  sdrops=$(( $(sock_drops "$SB_PID") - sd0 ))
  adrops=$(( $(sock_drops "$AGENT_SIPP_PID") + $(sock_drops "$AGENT_ECHO_PID") - ad0 ))
  cd1=$(( cd1 + $(sock_drops "$CUST_ECHO_PID") - ce0 ))
  cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$TCK" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", 100 * (b - a) / t / (e - s) }')
  rss=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SB_PID/status")
  achieved=$(awk -v n="$ok" -v e="$elapsed" 'BEGIN { printf "%.1f", (e > 0 ? n / e : 0) }')
  lpc=$(awk -v l="$lost" -v n="$ok" 'BEGIN { printf "%.1f", (n > 0 ? l / n : l) }')
  peak=$((peak_legs / 2))
  result=PASS
  [ "$failed" = 0 ] && [ "$unfinished" = 0 ] && [ "$ok" = "$m" ] || result=FAIL
  [ "$agents_ok" -ge "$ok" ] || result=FAIL
  [ "$HAVE_SQLITE" = 0 ] || [ "$rec_ended" -ge "$ok" ] || result=FAIL
  awk -v x="$lpc" -v y="$MAX_LOST_PER_CALL" 'BEGIN { exit !(x <= y) }' || result=FAIL
  printf '%-6s %-8s %-9s %-7s %-6s %-6s %-7s %-7s %-6s %-9s %-11s %-12s %-10s %-6s %-12s %s\n' \
    "$rate" "$m" "$achieved" "$ok" "$failed" "$unfinished" "$agents_ok" "$peak" "$cpu" "$rss" \
    "$rec_ended/$rec_total" "$lost($lpc)" "$late($latep%)" "$rcv" "$sdrops/$adrops/$cd1" "$result"
  # which server threads burnt the CPU in this step
  join -t'|' -a 2 -e 0 -o 0,1.2,2.2 <(sort "$step/threads0") <(sort "$step/threads1") |
    awk -F'|' -v t="$TCK" -v s="$t0" -v e="$t1" '{ p = 100 * ($3 - $2) / t / (e - s); if (p >= 0.5) printf "%s %.0f%%\n", $1, p }' |
    sort -t' ' -k2 -rn | head -6 | tr '\n' ' ' | sed 's/^/         threads: /; s/$/\n/' || true
  if [ "$result" = FAIL ]; then
    for f in "$step/customers-err.log" "$WORKDIR/agents-err.log"; do   # sipp's error lines, ids stripped
      [ -s "$f" ] || continue
      echo "         $(basename "$f"):"
      grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}' "$f" | sed -E 's/^[^:]*[0-9.]+: //; s/'"'"'[^'"'"']*'"'"'/X/g; s/[0-9]+/N/g' |
        cut -c1-140 | sort | uniq -c | sort -rn | head -3 | sed 's/^/         /' || true
    done
    [ "$STOP_ON_FAIL" = 1 ] && break
  else
    best=$rate; best_peak=$peak
  fi
  sleep $((HOLD_MS / 1000 > 5 ? 5 : 2))
done

echo
echo "highest passing rate: $best calls/s (peak concurrent calls at that step: $best_peak), HOLD_MS=$HOLD_MS STEP_SECONDS=$STEP_SECONDS AGENTS=$AGENTS"
echo "server totals: $(curl -s "http://127.0.0.1:$SB_HTTP_PORT/metrics" | grep -E '^switchboard_(media_(packets_lost|late_ticks|active_legs)|store_)' | grep -v ' 0$' | tr '\n' ' ' || true)"
echo "server log warnings+errors: $(grep -cE ' (WARN|ERROR) ' "$WORKDIR/server.log" || true)"
grep -E ' (WARN|ERROR) ' "$WORKDIR/server.log" | sed -E 's/^[^ ]+ +//' | cut -c1-100 | sort | uniq -c | sort -rn | head -5 || true
if [ -n "${LAST_PERF:-}" ] && [ -f "$LAST_PERF" ]; then
  perf report -i "$LAST_PERF" --no-children --sort comm,dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25 > "$WORKDIR/perf-top.txt" || true
  echo "perf (server, 10 s of the last step run, self time by thread/library/symbol):"; cat "$WORKDIR/perf-top.txt"
fi
