#!/usr/bin/env bash
# Registration load: Switchboard against Kamailio 5.6 under the same sipp load, one after the other.
#
# Every sipp "call" is one authenticated registration (REGISTER -> 401 -> REGISTER with MD5 digest
# -> 200) by one of 1,000 users (bench/users-1000.csv, agent0000..agent0999 / secret). For each
# sipp transport mode (-t u1: one socket; -t un: one socket per call) and each server, the rate
# is stepped up (RATES) for STEP_SECONDS per step, then refined between the last passing and the
# first failing rate. A step passes when sipp reports no failed and no unfinished calls and
# achieves at least PASS_FRACTION of the offered rate. Printed per step: achieved reg/s,
# failures, retransmissions (sipp's counters), server CPU per registration, UdpRcvbufErrors delta
# (/proc/net/snmp, whole host) and drops on the server's own socket; then a summary with the
# highest passing rate for each server and the ratio Switchboard/Kamailio.
#
# Installs nothing. Traffic goes to 127.0.0.1 only; every sipp run is bounded by -m and by a
# timeout; servers started here are stopped on exit. See bench/README.md.
#
# Usage: bench/register-load.sh            (full run, about 10-15 minutes)
#        QUICK=1 bench/register-load.sh    (three short steps per series, a smoke test)
# Knobs (environment): RATES, STEP_SECONDS, REFINE, PASS_FRACTION, TRANSPORTS, TARGETS,
#   SB_BIN, SB_CONFIG, SB_PORT, SB_HTTP_PORT, KAM_PORT, KAMAILIO_CHILDREN, KAMAILIO_SHM_MB, KAMAILIO_MEM,
#   SIPP_PORT, MAX_RETRANS, RETRY, PIN, SIPP_CPUS, SERVER_CPUS, WORKDIR, KEEP_WORKDIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"

RATES=${RATES:-"500 1000 2000 3000 4000 5000 6000 8000 10000 12000 15000"}
STEP_SECONDS=${STEP_SECONDS:-10}
REFINE=${REFINE:-2}
PASS_FRACTION=${PASS_FRACTION:-0.90}
# sipp retransmissions allowed in a passing step (a retransmission means a lost or >500 ms late answer).
MAX_RETRANS=${MAX_RETRANS:-0}
# A failing step is run once more after a pause, and fails only if it fails again: this host is
# shared and a neighbour's compile can cost a step.
RETRY=${RETRY:-1}
TRANSPORTS=${TRANSPORTS:-"u1 un"}
TARGETS=${TARGETS:-"switchboard kamailio"}
if [ "${QUICK:-0}" = 1 ]; then
  RATES=${QUICK_RATES:-"200 500 1000"}
  STEP_SECONDS=3
  REFINE=0
fi
SB_BIN=${SB_BIN:-"$ROOT/target/release/switchboard"}
SB_CONFIG=${SB_CONFIG:-"$BENCH/loadtest.yaml"}
SB_PORT=${SB_PORT:-5070}
SB_HTTP_PORT=${SB_HTTP_PORT:-5078}
KAM_PORT=${KAM_PORT:-5080}
KAMAILIO_CHILDREN=${KAMAILIO_CHILDREN:-8}
KAMAILIO_SHM_MB=${KAMAILIO_SHM_MB:-2048}
# Kamailio's memory manager: tlsf. The packaged default (qm, q_malloc, built for debugging) spends
# most of Kamailio's CPU in qm_malloc here (162 vs 61 us of CPU per registration).
KAMAILIO_MEM=${KAMAILIO_MEM:-tlsf}
KAM_CFG="$BENCH/kamailio/kamailio.cfg"
SIPP_PORT=${SIPP_PORT:-5090}
# CPU pinning: sipp on one CPU, the server on the others, so the load generator never starves
# (a starved sipp overflows its own socket and that looks like a server failure). PIN=0: no pinning.
NCPU=$(nproc)
if [ "${PIN:-1}" = 1 ] && [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
  SIPP_CPUS=${SIPP_CPUS:-0}
  SERVER_CPUS=${SERVER_CPUS:-1-$((NCPU - 1))}
  SIPP_PIN=(taskset -c "$SIPP_CPUS"); SERVER_PIN=(taskset -c "$SERVER_CPUS")
else
  SIPP_CPUS=any; SERVER_CPUS=any; SIPP_PIN=(); SERVER_PIN=()
fi
SCENARIO="$BENCH/register-load.xml"
# sipp refuses to start when -max_socket (default 50000) exceeds the open-file limit (-t un).
# Sockets plus open calls must stay under it too; with -t un every open call holds a socket.
NOFILE=$(ulimit -n)
MAX_SOCKET=$(( NOFILE / 2 ))
MAX_CALLS=$(( NOFILE / 2 - 200 ))
USERS="$BENCH/users-1000.csv"
WORKDIR=${WORKDIR:-"$(mktemp -d /tmp/sb-regload.XXXXXX)"}
mkdir -p "$WORKDIR"

# ---------------------------------------------------------------------------------------------
# Prerequisites: report, never install.
missing=""
command -v sipp >/dev/null 2>&1 || missing="$missing sip-tester"
command -v kamailio >/dev/null 2>&1 || missing="$missing kamailio"
for t in curl ss awk timeout; do
  command -v "$t" >/dev/null 2>&1 || { echo "register-load: '$t' is required" >&2; exit 2; }
done
if [ -n "$missing" ]; then
  echo "register-load: missing packages:$missing" >&2
  echo "install them with:  sudo apt-get install -y$missing" >&2
  exit 2
fi
if [[ " $TARGETS " == *" switchboard "* ]] && [ ! -x "$SB_BIN" ]; then
  echo "register-load: $SB_BIN not found; build it with:  cargo build --release -p switchboard" >&2
  exit 2
fi

# The realm is the SIP domain of the load-test config.
DOMAIN=$(awk '/^sip:/{s=1; next} /^[^ #]/{s=0} s && $1=="domain:"{print $2; exit}' "$SB_CONFIG")
[ -n "$DOMAIN" ] || { echo "register-load: no sip.domain in $SB_CONFIG" >&2; exit 2; }
# sipp 3.6.1 answers the FIRST WWW-Authenticate and only knows MD5.
if ! grep -Eq '^ +algorithms: *\[ *MD5 *\]' "$SB_CONFIG"; then
  echo "register-load: warning: $SB_CONFIG does not set sip.auth.algorithms: [MD5];" \
       "sipp (MD5 only) will fail if Switchboard challenges with SHA-256 first" >&2
fi

# Users: agent0000..agent0999 / secret; field3 is the Contact port (fixed per user).
if [ ! -s "$USERS" ] || ! grep -q ";$DOMAIN;" "$USERS"; then
  USERS="$WORKDIR/users-1000.csv"
  {
    echo SEQUENTIAL
    for i in $(seq 0 999); do printf 'agent%04d;secret;%s;%d\n' "$i" "$DOMAIN" $((20000 + i)); done
  } > "$USERS"
fi
USER_COUNT=$(($(wc -l < "$USERS") - 1))

# ---------------------------------------------------------------------------------------------
# Servers.
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  if [ "${KEEP_WORKDIR:-0}" != 1 ]; then rm -rf "$WORKDIR"; else echo "work files kept in $WORKDIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_of() { case "$1" in switchboard) echo "$SB_PORT" ;; kamailio) echo "$KAM_PORT" ;; esac; }

udp_listening() { ss -H -uln "sport = :$1" 2>/dev/null | grep -q "127.0.0.1:$1"; }

start_switchboard() {
  rm -f "$WORKDIR"/sb.db*
  # cwd = WORKDIR so relative data directories from the config land there.
  (cd "$WORKDIR" && exec "${SERVER_PIN[@]}" env SWITCHBOARD_LOG=${SWITCHBOARD_LOG:-warn} "$SB_BIN" serve \
    --config "$SB_CONFIG" \
    --sip-udp "127.0.0.1:$SB_PORT" --sip-tcp "127.0.0.1:$SB_PORT" \
    --http "127.0.0.1:$SB_HTTP_PORT" \
    --database-url "sqlite://$WORKDIR/sb.db") 2>>"$WORKDIR/switchboard.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$SB_HTTP_PORT/metrics" >/dev/null 2>&1 && udp_listening "$SB_PORT"; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "register-load: switchboard did not come up; its log:" >&2
  tail -n 20 "$WORKDIR/switchboard.log" >&2
  return 1
}

start_kamailio() {
  local db="$WORKDIR/kamailio-db"
  mkdir -p "$db"
  {
    echo "key_name(str) key_type(int) value_type(int) key_value(str) expires(int)"
    awk -F';' 'NR > 1 { printf "%s:0:0:%s:0\n", $1, $2 }' "$USERS"
  } > "$db/users"
  printf 'table_name(str) table_version(int)\nusers:2\n' > "$db/version"
  "${SERVER_PIN[@]}" kamailio -f "$KAM_CFG" -x "$KAMAILIO_MEM" -m "$KAMAILIO_SHM_MB" -DD -E -n "$KAMAILIO_CHILDREN" \
    -l "udp:127.0.0.1:$KAM_PORT" -l "tcp:127.0.0.1:$KAM_PORT" \
    -A "DBURL=\"text://$db\"" -A "REALM=\"$DOMAIN\"" >>"$WORKDIR/kamailio.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if udp_listening "$KAM_PORT"; then sleep 0.5; return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "register-load: kamailio did not come up; its log:" >&2
  tail -n 20 "$WORKDIR/kamailio.log" >&2
  return 1
}

# CPU ticks (user+system) of the server and all its descendants (Kamailio forks workers).
server_ticks() {
  local pids total=0 p
  pids="$SERVER_PID $(pgrep -P "$SERVER_PID" 2>/dev/null | tr '\n' ' ')"
  for p in $pids; do
    if [ -r "/proc/$p/stat" ]; then
      total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
    fi
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

udp_rcvbuf_errors() { awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }
# Drops counted on the server's own UDP socket (ss skmem d...).
socket_drops() {
  ss -H -uamn "sport = :$1" 2>/dev/null | grep -o 'd[0-9]*)' | tr -dc '0-9\n' | awk '{s += $1} END {print s + 0}'
}

# ---------------------------------------------------------------------------------------------
# One step: RATE registrations/s for STEP_SECONDS. Sets STEP_* globals and prints one line.
run_step_once() {
  local target=$1 transport=$2 rate=$3
  local port calls limit stf err rb0 rb1 sd0 sd1 cpu0 cpu1 rc line
  port=$(port_of "$target")
  calls=$((rate * STEP_SECONDS))
  limit=$((STEP_SECONDS * 3 + 30))
  stf="$WORKDIR/stat-$target-$transport-$rate.csv"
  err="$WORKDIR/errors-$target-$transport-$rate.log"
  rm -f "$stf" "$err"
  local portarg=()
  [ "$transport" = u1 ] && portarg=(-p "$SIPP_PORT")
  rb0=$(udp_rcvbuf_errors); sd0=$(socket_drops "$port"); cpu0=$(server_ticks)
  set +e
  timeout -k 5 $((limit + 15)) "${SIPP_PIN[@]}" sipp "127.0.0.1:$port" -sf "$SCENARIO" -inf "$USERS" -nd \
    -t "$transport" "${portarg[@]}" -i 127.0.0.1 \
    -r "$rate" -rp 1000 -m "$calls" -l $(( rate * 4 + 100 < MAX_CALLS ? rate * 4 + 100 : MAX_CALLS )) \
    -buff_size 4194304 -max_socket "$MAX_SOCKET" \
    -timeout "${limit}s" -recv_timeout 16000 \
    -trace_stat -stf "$stf" -fd 1 -trace_err -error_file "$err" \
    -nostdin >"$WORKDIR/sipp-$target-$transport-$rate.out" 2>&1
  rc=$?
  set -e
  rb1=$(udp_rcvbuf_errors); sd1=$(socket_drops "$port"); cpu1=$(server_ticks)
  STEP_RCVBUF=$((rb1 - rb0)); STEP_SOCKDROP=$((sd1 - sd0))
  if [ ! -s "$stf" ]; then
    echo "  sipp produced no statistics (exit $rc); its output:" >&2
    tail -n 5 "$WORKDIR/sipp-$target-$transport-$rate.out" >&2
    STEP_OK=0; STEP_FAILED=$calls; STEP_INCOMPLETE=0; STEP_RETRANS=0; STEP_ACHIEVED=0; STEP_PASS=0
    STEP_CPU=0; SUM_FAILED=$((SUM_FAILED + calls))
    return
  fi
  # Last line of the stat file holds the cumulative (C) counters; find columns by name.
  # ElapsedTime has whole-second resolution; StartTime/CurrentTime end in epoch seconds with
  # microseconds ("date<TAB>time<TAB>epoch").
  line=$(awk -F';' '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { last = $0 }
    END {
      split(last, f, ";")
      n1 = split(f[col["StartTime"]], a, "\t"); n2 = split(f[col["CurrentTime"]], b, "\t")
      printf "%.3f %d %d %d\n", b[n2] - a[n1], f[col["SuccessfulCall(C)"]], \
        f[col["FailedCall(C)"]], f[col["Retransmissions(C)"]]
    }' "$stf")
  read -r STEP_ELAPSED STEP_OK STEP_FAILED STEP_RETRANS <<<"$line"
  STEP_INCOMPLETE=$((calls - STEP_OK - STEP_FAILED))
  [ "$STEP_INCOMPLETE" -lt 0 ] && STEP_INCOMPLETE=0
  STEP_ACHIEVED=$(awk -v ok="$STEP_OK" -v s="$STEP_ELAPSED" 'BEGIN { printf "%.0f", (s > 0 ? ok / s : 0) }')
  local cpu_us
  STEP_CPU=$(awk -v d=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v ok="$STEP_OK" \
    'BEGIN { printf "%.0f", (ok > 0 ? d / hz * 1e6 / ok : 0) }')
  cpu_us=$STEP_CPU
  STEP_PASS=0
  if [ "$STEP_FAILED" -eq 0 ] && [ "$STEP_INCOMPLETE" -eq 0 ] && [ "$STEP_RETRANS" -le "$MAX_RETRANS" ] &&
     awk -v a="$STEP_ACHIEVED" -v r="$rate" -v f="$PASS_FRACTION" 'BEGIN { exit !(a >= r * f) }'; then
    STEP_PASS=1
  fi
  # Totals over the series count every attempt, retries included.
  SUM_FAILED=$((SUM_FAILED + STEP_FAILED + STEP_INCOMPLETE)); SUM_RETRANS=$((SUM_RETRANS + STEP_RETRANS))
  SUM_RCVBUF=$((SUM_RCVBUF + STEP_RCVBUF))
  printf '  %-11s %-2s offered %6d/s x %ss: achieved %6s reg/s  ok %7d  failed %5d  unfinished %5d  retrans %6d  cpu %4s us/reg  UdpRcvbufErrors +%d (server socket +%d)  %s\n' \
    "$target" "$transport" "$rate" "$STEP_SECONDS" "$STEP_ACHIEVED" "$STEP_OK" "$STEP_FAILED" \
    "$STEP_INCOMPLETE" "$STEP_RETRANS" "$cpu_us" "$STEP_RCVBUF" "$STEP_SOCKDROP" \
    "$([ $STEP_PASS = 1 ] && echo PASS || echo FAIL)"
  if [ "$STEP_FAILED" -gt 0 ] && [ -s "$err" ]; then
    grep -o "Aborting call[^']*'[^']*\|received '[^\r]*" "$err" | sort | uniq -c | sort -rn | head -n 3 | sed 's/^/      /'
  fi
}

# A step, run again once (after a pause) when it fails, if RETRY=1.
run_step() {
  run_step_once "$@"
  if [ "$STEP_PASS" = 0 ] && [ "$RETRY" = 1 ]; then
    sleep 5
    echo "    (retrying the failed step once)"
    run_step_once "$@"
  fi
}

# One series: a fresh server, rates stepped up, then refined. Sets BEST_* for the summary.
run_series() {
  local target=$1 transport=$2 rate last_pass=0 first_fail=0 i
  BEST_RATE=0; BEST_ACHIEVED=0; BEST_RETRANS=0; BEST_RCVBUF=0; BEST_SOCKDROP=0; BEST_CPU=0
  SUM_FAILED=0; SUM_RETRANS=0; SUM_RCVBUF=0
  "start_$target" || return 1
  # One registration to prove the set-up (realm, algorithm, credentials) before measuring.
  set +e
  local probeport=()
  [ "$transport" = u1 ] && probeport=(-p "$SIPP_PORT")
  timeout 20 sipp "127.0.0.1:$(port_of "$target")" -sf "$SCENARIO" -inf "$USERS" -nd -t "$transport" \
    "${probeport[@]}" -i 127.0.0.1 -max_socket "$MAX_SOCKET" -m 1 -recv_timeout 5000 -timeout 15s -trace_err -error_file "$WORKDIR/probe.err" \
    -nostdin >"$WORKDIR/probe.out" 2>&1
  local probe=$?
  set -e
  if [ $probe -ne 0 ]; then
    echo "  $target $transport: a single registration fails (sipp exit $probe); not measuring." >&2
    [ -s "$WORKDIR/probe.err" ] && head -c 1500 "$WORKDIR/probe.err" >&2 && echo >&2
    stop_server
    return 1
  fi
  for rate in $RATES; do
    run_step "$target" "$transport" "$rate"
    if [ "$STEP_PASS" = 1 ]; then
      last_pass=$rate; BEST_ACHIEVED=$STEP_ACHIEVED; BEST_RETRANS=$STEP_RETRANS; BEST_RCVBUF=$STEP_RCVBUF
      BEST_SOCKDROP=$STEP_SOCKDROP; BEST_CPU=$STEP_CPU
    else
      first_fail=$rate
      break
    fi
    sleep 2
  done
  i=0
  while [ "$first_fail" -gt 0 ] && [ "$i" -lt "$REFINE" ]; do
    rate=$(( (last_pass + first_fail) / 2 / 100 * 100 ))
    [ "$rate" -le "$last_pass" ] && break
    sleep 5   # let the failed step's backlog drain
    run_step "$target" "$transport" "$rate"
    if [ "$STEP_PASS" = 1 ]; then
      last_pass=$rate; BEST_ACHIEVED=$STEP_ACHIEVED; BEST_RETRANS=$STEP_RETRANS; BEST_RCVBUF=$STEP_RCVBUF
      BEST_SOCKDROP=$STEP_SOCKDROP; BEST_CPU=$STEP_CPU
    else
      first_fail=$rate
    fi
    i=$((i + 1))
  done
  BEST_RATE=$last_pass
  BEST_FIRST_FAIL=$first_fail
  if [ "$target" = switchboard ]; then
    curl -fsS "http://127.0.0.1:$SB_HTTP_PORT/metrics" 2>/dev/null |
      grep -E '^switchboard_(sip|store)_' |
      grep -v ' 0$' | head -n 16 | sed 's/^/      metrics: /' || true
  fi
  stop_server
  sleep 1
}

# ---------------------------------------------------------------------------------------------
echo "Registration load: $USER_COUNT users in realm $DOMAIN, scenario $(basename "$SCENARIO")"
echo "  switchboard: $SB_BIN with $(basename "$SB_CONFIG") on 127.0.0.1:$SB_PORT"
echo "  kamailio:    $(kamailio -v 2>/dev/null | head -n 1 | awk '{print $2, $3}') with bench/kamailio/kamailio.cfg on 127.0.0.1:$KAM_PORT" \
     "(-x $KAMAILIO_MEM -m $KAMAILIO_SHM_MB, $KAMAILIO_CHILDREN UDP workers)"
echo "  sipp:        $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -n 1), -buff_size 4194304; rates: $RATES; $STEP_SECONDS s per step;" \
     "pass = 0 failed, 0 unfinished," \
     "<= $MAX_RETRANS retransmissions, achieved >= $PASS_FRACTION x offered; a failed step is retried $RETRY time(s)"
echo "  cpus:        sipp on CPU $SIPP_CPUS, server on CPU $SERVER_CPUS"
echo "  host:        $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u '+%F %T UTC')"
echo

declare -A RESULT
for transport in $TRANSPORTS; do
  for target in $TARGETS; do
    echo "== $target, sipp -t $transport"
    if run_series "$target" "$transport"; then
      RESULT[$target.$transport]="$BEST_RATE $BEST_ACHIEVED $BEST_RETRANS $BEST_RCVBUF $BEST_SOCKDROP $BEST_CPU ${BEST_FIRST_FAIL:-0} $SUM_FAILED $SUM_RETRANS $SUM_RCVBUF"
    else
      RESULT[$target.$transport]="- - - - - - - - - -"
    fi
  done
done

echo
echo "Summary: the highest offered rate that passed (0 failed, 0 unfinished), with the achieved rate,"
echo "sipp retransmissions, UdpRcvbufErrors delta (whole host), drops on the server's socket and server"
echo "CPU per registration at that step; then the first failing rate and totals over the whole series."
printf '  %-3s %-12s %9s %9s %8s %8s %8s %8s %10s  %10s %11s %10s\n' \
  "-t" server "max reg/s" achieved retrans rcvbuf sockdrop "us/reg" "first fail" "sum failed" "sum retrans" "sum rcvbuf"
for transport in $TRANSPORTS; do
  for target in $TARGETS; do
    read -r best ach rt rb sd cpu ff sf sr srb <<<"${RESULT[$target.$transport]}"
    [ "$ff" = 0 ] && ff="none"
    printf '  %-3s %-12s %9s %9s %8s %8s %8s %8s %10s  %10s %11s %10s\n' \
      "$transport" "$target" "$best" "$ach" "$rt" "$rb" "$sd" "$cpu" "$ff" "$sf" "$sr" "$srb"
  done
  read -r sb _ _ _ _ sbcpu _ <<<"${RESULT[switchboard.$transport]:-- - - - - - -}"
  read -r ka _ _ _ _ kacpu _ <<<"${RESULT[kamailio.$transport]:-- - - - - - -}"
  if [[ "$sb" =~ ^[0-9]+$ && "$ka" =~ ^[0-9]+$ && "$ka" -gt 0 ]]; then
    printf '  %-3s ratio switchboard/kamailio: max reg/s %s, CPU per registration at that rate %s\n' "$transport" \
      "$(awk -v a="$sb" -v b="$ka" 'BEGIN { printf "%.2f", a / b }')" \
      "$(awk -v a="$sbcpu" -v b="$kacpu" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
  fi
done
echo "  (a rate that passes at the top of RATES means the ceiling was not reached: raise RATES)"
