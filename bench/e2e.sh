#!/usr/bin/env bash
# End-to-end comparison of natgw with the kernel's own NAT (nftables SNAT), same labs, same run,
# offloads left as the kernel sets them (TSO/GSO/checksum offload on: src/lab/README.md).
#
#   bench/e2e.sh [path/to/natgw]              (root; iperf3, ab (apache2-utils), jq, python3)
#
# Gateways: kernel (nftables SNAT), natgw af_packet with 1 worker, natgw af_packet with 2
# workers (WORKERS2=0 skips it), natgw af_xdp with 1 worker (AF_XDP=0 skips it; the lab's
# offloads off, as AF_XDP frames carry no checksum state: docs/running.md "Backends"; its note
# says so, and says when the gateway fell back to af_packet, e.g. a natgw built without AF_XDP).
# OFFLOADS=off runs every lab with `--offloads off` (MTU-sized frames everywhere, no partial
# checksums): the kernel and af_packet rows then compare like for like with the af_xdp row.
# Each gateway gets a lab of its own (`natgw lab up`, name e2e<pid><tag>, 3 VMs); all of them
# are brought up first and coexist (an idle lab costs under 1 % of a CPU), and all are torn down
# after the rounds and, whatever happens (Ctrl-C included), on exit. Every command is bounded
# (timeout).
#
# Measurements, each for BENCH_SECONDS (default 5):
#   tcp1   iperf3, 1 TCP stream vm1 -> internet, Mbit/s received
#   tcp4   iperf3, 4 TCP streams (-P 4) vm1 -> internet, Mbit/s received
#   udp64  iperf3 -u -l 64 -b 0 from vm1, vm2, vm3 at once, datagrams received per second (kpps)
#   conn/s ab -n CONNS (default 20,000) -c 16 (no keep-alive: one TCP connection per request)
#          against nginx from vm1 and vm2 at once, requests per second summed
# and for each the host's CPU use over the measurement (/proc/stat, % of all CPUs: the senders,
# receivers and the gateway share them) and, for natgw, the daemon's own CPU (% of one CPU).
#
# Rounds: the same measurement varies a lot from run to run on a small shared host, so every
# figure is measured ROUNDS times (default 3). In each round, metric by metric, the gateways are
# measured one after another (round 1: kernel tcp1, natgw tcp1, natgw-2w tcp1, af_xdp tcp1,
# kernel tcp4, ...), in the reverse order on even rounds so that drift over the run falls on
# every gateway alike; only one measurement runs at any time. A lab's conn/s measurements start
# at least CONN_GAP s apart (default 125), so that no flood meets the state the previous one left:
# natgw holds the port of a closed TCP connection 65 s (two floods of 2 x CONNS connections to
# one server within that time would run out of ports), and the kernel's conntrack keeps a closed
# connection in TIME_WAIT 120 s (nf_conntrack_tcp_timeout_time_wait): a second flood within
# that time ran at 10-11 k conn/s with a third of the CPU idle, against 16 k for the first.
# The table shows for each gateway and metric the median over the rounds (the mean of the two
# middle values for an even count), the ratio of the medians to the kernel's, and the ratio to
# the kernel in each round ("ratio per round", in round order), which shows the spread. The CPU
# figures are the medians of the per-round figures. A measurement that gave no result is left
# out of the median and named in the gateway's note.
#
# MEMORY=1 (default) then, after the rounds, measures natgw's resident memory with FLOWS
# (default 2,000,000) open UDP flows, opened from vm1 by bench/flowgen.py through the real daemon,
# in a lab of its own.
# shellcheck disable=SC2317  # cleanup and the *_test functions run through the trap and with_cpu
set -euo pipefail

NATGW=${1:-${NATGW:-}}
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z $NATGW ]]; then
  for c in "$here"/build/release/src/cli/natgw "$here"/build/src/cli/natgw "$here"/build-*/src/cli/natgw; do
    if [[ -x $c ]]; then NATGW=$c; break; fi
  done
fi
[[ -n $NATGW && -x $NATGW ]] || { echo "e2e: natgw binary not found; pass its path" >&2; exit 2; }
NATGW=$(readlink -f "$NATGW")
[[ $(id -u) -eq 0 ]] || { echo "e2e: needs root (network namespaces)" >&2; exit 2; }
for tool in iperf3 ab jq awk python3 timeout; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is not installed (scripts/install-deps.sh)" >&2; exit 2; }
done

SECONDS_EACH=${BENCH_SECONDS:-5}
CONNS=${CONNS:-20000}
FLOWS=${FLOWS:-2000000}
MEMORY=${MEMORY:-1}
WORKERS2=${WORKERS2:-1}
AF_XDP=${AF_XDP:-1}
ROUNDS=${ROUNDS:-3}
OFFLOADS=${OFFLOADS:-on}
[[ $OFFLOADS == on || $OFFLOADS == off ]] || { echo "e2e: OFFLOADS must be on or off, not '$OFFLOADS'" >&2; exit 2; }
CONN_GAP=${CONN_GAP:-125}
for v in SECONDS_EACH CONNS FLOWS ROUNDS CONN_GAP; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "e2e: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
SERVER=192.0.2.10
work=$(mktemp -d)
labs=()
BG=  # the measurement running in the background (run_wait), if any
cleanup() {
  local i
  if [[ -n $BG ]]; then  # first, so that a `lab up` under way cannot outlive its `lab down`
    kill "$BG" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$BG" 2>/dev/null || break; sleep 0.2; done
  fi
  for lab in "${labs[@]}"; do timeout 60 "$NATGW" lab down --name "$lab" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs "$@" in the background and waits for it, so that a signal ends the script at once (bash
# runs a trap only once the foreground command is done); the labs' teardown then stops what is
# still running in them. Returns the command's status.
run_wait() {
  "$@" &
  BG=$!
  local rc=0
  wait "$BG" || rc=$?
  BG=
  return "$rc"
}

declare -A V C G  # [gateway,metric,round]: value, host CPU %, natgw CPU %
declare -A LAB PID NOTE MISSING FAILED LAST_CONN DROPS  # [gateway]
busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 " " $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
proc_jiffies() { [[ -n ${1:-} && -r /proc/$1/stat ]] && awk '{ print $14 + $15 }' "/proc/$1/stat" || echo 0; }
HZ=$(getconf CLK_TCK)

# with_cpu KEY PID CMD...: runs CMD and records the host's CPU % (all CPUs) in C[KEY] and, with
# a PID, that natgw daemon's CPU % (one CPU) in G[KEY].
with_cpu() {
  local key=$1 pid=$2
  shift 2
  local b0 t0 p0 b1 t1 p1 s0 s1
  read -r b0 t0 < <(busy_jiffies)
  p0=$(proc_jiffies "$pid")
  s0=$(date +%s.%N)
  run_wait "$@" || true
  s1=$(date +%s.%N)
  read -r b1 t1 < <(busy_jiffies)
  p1=$(proc_jiffies "$pid")
  C[$key]=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }')
  if [[ -n $pid ]]; then
    G[$key]=$(awk -v p=$((p1 - p0)) -v hz="$HZ" -v s="$s0" -v e="$s1" 'BEGIN { printf "%.0f", 100 * p / hz / (e - s) }')
  fi
}

ex() { local lab=$1 ns=$2; shift 2; timeout $((SECONDS_EACH + 30)) "$NATGW" lab exec --name "$lab" "$ns" -- "$@"; }

natgw_pid() {
  local lab=$1 p
  for p in $(ip netns pids "$lab-gw" 2>/dev/null); do
    # The daemon is this natgw binary, whatever its file is called.
    if [[ $(readlink -f "/proc/$p/exe" 2>/dev/null) == "$NATGW" ]]; then echo "$p"; return; fi
  done
}

tcp_test() {  # lab, streams, out json
  ex "$1" vm1 iperf3 -c "$SERVER" -p 5201 -t "$SECONDS_EACH" -P "$2" -J >"$3" 2>&1
}
udp_test() {  # lab, out prefix
  local i
  for i in 1 2 3; do
    ex "$1" "vm$i" iperf3 -c "$SERVER" -p $((5200 + i)) -u -l 64 -b 0 -t "$SECONDS_EACH" -J >"$2-$i.json" 2>&1 &
  done
  wait
}
conn_test() {  # lab, out prefix
  local i
  for i in 1 2; do
    ex "$1" "vm$i" ab -q -s 10 -n "$CONNS" -c 16 "http://$SERVER/index.html" >"$2-$i.txt" 2>&1 &
  done
  wait
}

# up GATEWAY TAG LAB-UP-OPTIONS...: brings up the gateway's lab (LAB[GATEWAY] once it is up).
up() {
  local gw=$1 tag=$2
  shift 2
  local lab="e2e$$$tag"
  labs+=("$lab")
  if ! run_wait timeout 120 "$NATGW" lab up --name "$lab" --vms 3 "$@" >"$work/up-$tag.log" 2>&1; then
    NOTE[$gw]="lab up failed: $(grep -m1 -i error "$work/up-$tag.log" || tail -1 "$work/up-$tag.log"); "
    return 0
  fi
  LAB[$gw]=$lab
  PID[$gw]=$(natgw_pid "$lab")
}

# measure GATEWAY METRIC ROUND: one measurement, into V/C/G[GATEWAY,METRIC,ROUND].
measure() {
  local gw=$1 m=$2 r=$3
  local lab=${LAB[$gw]} pid=${PID[$gw]:-} key="$gw,$m,$r" out="$work/$m-$gw-$r" v='' i x
  case $m in
    tcp1 | tcp4)
      with_cpu "$key" "$pid" tcp_test "$lab" "${m#tcp}" "$out.json"
      v=$(jq -r '.end.sum_received.bits_per_second // empty | . / 1e6 | floor' "$out.json" 2>/dev/null || true)
      ;;
    udp64)
      with_cpu "$key" "$pid" udp_test "$lab" "$out"
      local pps=0 p l s
      for i in 1 2 3; do
        x=$(jq -r '[.end.sum.packets, .end.sum.lost_packets, .end.sum.seconds] | select(all(. != null)) | @tsv' \
          "$out-$i.json" 2>/dev/null || true)
        if [[ -z $x ]]; then pps=; break; fi
        read -r p l s <<<"$x"
        pps=$(awk -v a="$pps" -v p="$p" -v l="$l" -v s="$s" 'BEGIN { print a + (s > 0 ? (p - l) / s : 0) }')
      done
      [[ -z $pps ]] || v=$(awk -v x="$pps" 'BEGIN { printf "%.1f", x / 1000 }')
      ;;
    conn)
      local now
      now=$(date +%s)
      if [[ -n ${LAST_CONN[$gw]:-} ]] && ((now - LAST_CONN[$gw] < CONN_GAP)); then
        run_wait sleep $((CONN_GAP - (now - LAST_CONN[$gw]))) || true
      fi
      with_cpu "$key" "$pid" conn_test "$lab" "$out"
      LAST_CONN[$gw]=$(date +%s)
      local rps=0
      for i in 1 2; do
        x=$(awk '/^Requests per second/ { print $4 }' "$out-$i.txt" 2>/dev/null || true)
        if [[ -z $x ]]; then rps=; break; fi
        rps=$(awk -v a="$rps" -v x="$x" 'BEGIN { print a + x }')
        x=$(awk '/^Failed requests/ { print $3 }' "$out-$i.txt" 2>/dev/null || true)
        FAILED[$gw]=$((${FAILED[$gw]:-0} + ${x:-0}))
      done
      [[ -z $rps ]] || v=$(awk -v x="$rps" 'BEGIN { printf "%.0f", x }')
      ;;
  esac
  V[$key]=$v
  [[ -n $v ]] || MISSING[$gw]="${MISSING[$gw]:-}${MISSING[$gw]:+, }$m round $r"
  echo "e2e: round $r/$ROUNDS $m $gw: ${v:-no result} (CPU ${C[$key]}%${G[$key]:+, natgw ${G[$key]}%})" >&2
}

memory() {
  local lab="e2e$$m"
  labs+=("$lab")
  if ! run_wait timeout 120 "$NATGW" lab up --name "$lab" --vms 1 >"$work/up-m.log" 2>&1; then
    MEM="lab up failed"
    return
  fi
  local pid rss0 mac active=0 i
  pid=$(natgw_pid "$lab")
  if [[ -z $pid ]]; then
    MEM="memory: no natgw daemon found in $lab-gw"
    return
  fi
  rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
  mac=$(ip -n "$lab-gw" -br link show gw-in | awk '{ print $3 }')
  for i in 1 2 3; do
    run_wait timeout 300 ip netns exec "$lab-vm1" python3 "$here/bench/flowgen.py" eth0 10.0.0.11 "$SERVER" "$mac" "$FLOWS" 64 >/dev/null || true
    active=$(ex "$lab" gw curl -s "http://127.0.0.1:9490/metrics" | awk '/^natgw_snat_connections_active\{protocol="udp"\}/ { print $2 }')
    [[ ${active:-0} -ge $((FLOWS - 1)) ]] && break
  done
  local rss hwm
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
  MEM=$(awk -v a="$active" -v r0="$rss0" -v r="$rss" -v h="$hwm" 'BEGIN {
    printf "natgw resident memory with %d open UDP flows: %.1f MiB (peak %.1f MiB; %.1f MiB before the flows); target <= 256 MiB", a, r / 1024, h / 1024, r0 / 1024 }')
  timeout 60 "$NATGW" lab down --name "$lab" >/dev/null 2>&1 || true
}

# The labs, all up before the first measurement.
gws=(kernel natgw)
up kernel k --gateway kernel --offloads "$OFFLOADS"
up natgw n --gateway natgw --offloads "$OFFLOADS"
if [[ $WORKERS2 == 1 ]]; then
  gws+=(natgw-2w)
  up natgw-2w w --gateway natgw --workers 2 --offloads "$OFFLOADS"
fi
if [[ $AF_XDP == 1 ]]; then
  gws+=(af_xdp)
  up af_xdp x --gateway natgw --backend af_xdp --offloads off
fi
sleep 1
if [[ -n ${LAB[af_xdp]:-} ]]; then
  fb=$(grep -m1 "backend af_xdp on" "/run/natgw/labs/${LAB[af_xdp]}/natgw.log" 2>/dev/null || true)
  NOTE[af_xdp]="lab --offloads off; ${fb:+FELL BACK: ${fb#*warn*] }; }"
fi

metrics=(tcp1 tcp4 udp64 conn)
load_before=$(uptime)
echo "e2e: $load_before" >&2
for ((r = 1; r <= ROUNDS; r++)); do
  order=("${gws[@]}")
  if ((r % 2 == 0)); then
    order=()
    for ((i = ${#gws[@]} - 1; i >= 0; i--)); do order+=("${gws[i]}"); done
  fi
  for m in "${metrics[@]}"; do
    for gw in "${order[@]}"; do
      if [[ -n ${LAB[$gw]:-} ]]; then measure "$gw" "$m" "$r"; fi
    done
  done
done
load_after=$(uptime)
for gw in "${gws[@]}"; do
  if [[ -n ${PID[$gw]:-} ]]; then
    DROPS[$gw]=$(ex "${LAB[$gw]}" gw curl -s "http://127.0.0.1:9490/metrics" 2>/dev/null |
      awk '/^natgw_dropped_packets_total/ && $2 > 0 { sub(/natgw_dropped_packets_total\{reason="/, ""); sub(/"\}/, ""); printf "%s=%s ", $1, $2 }' || true)
  fi
done
for gw in "${gws[@]}"; do
  if [[ -n ${LAB[$gw]:-} ]]; then timeout 60 "$NATGW" lab down --name "${LAB[$gw]}" >/dev/null 2>&1 || true; fi
done
if [[ $MEMORY == 1 ]]; then memory; fi

# median VALUE...: the median of the non-empty values (nothing if there are none).
median() {
  printf '%s\n' "$@" | awk 'NF' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio A K: A / K with two decimals, "-" when either is missing or K is 0.
ratio() { awk -v a="${1:-}" -v k="${2:-}" 'BEGIN { if (a == "" || k == "" || k + 0 == 0) print "-"; else printf "%.2f", a / k }'; }
# per_round ARRAY GATEWAY METRIC: the gateway's per-round values of ARRAY (V, C or G), one a word.
per_round() {
  local -n arr=$1
  local r
  for ((r = 1; r <= ROUNDS; r++)); do printf '%s\n' "${arr[$2,$3,$r]:-}"; done
}

declare -A title=([tcp1]="TCP 1 stream Mbit/s" [tcp4]="TCP 4 streams Mbit/s" [udp64]="UDP 64 B kpps (3 senders)" [conn]="new TCP conn/s (ab, 2x16)")
declare -A format=([tcp1]="%.0f" [tcp4]="%.0f" [udp64]="%.1f" [conn]="%.0f")
w=14                                    # a gateway's column
wr=$((5 * ROUNDS + 1 > 16 ? 5 * ROUNDS + 1 : 16))  # a ratio column: one ratio per round
printf '\n%-28s' ""
for gw in "${gws[@]}"; do printf '%*s' "$w" "$gw"; done
for gw in "${gws[@]}"; do [[ $gw == kernel ]] || printf '%*s' "$wr" "$gw/kernel"; done
echo
for m in "${metrics[@]}"; do
  declare -A med=()
  for gw in "${gws[@]}"; do
    mapfile -t vals < <(per_round V "$gw" "$m")
    med[$gw]=$(median "${vals[@]}")
    [[ -z ${med[$gw]} ]] || med[$gw]=$(awk -v x="${med[$gw]}" -v f="${format[$m]}" 'BEGIN { printf f, x }')
  done
  printf '%-28s' "${title[$m]}"
  for gw in "${gws[@]}"; do printf '%*s' "$w" "${med[$gw]:--}"; done
  for gw in "${gws[@]}"; do [[ $gw == kernel ]] || printf '%*s' "$wr" "$(ratio "${med[$gw]}" "${med[kernel]}")"; done
  echo
  if [[ ${#gws[@]} -gt 1 ]]; then
    printf '%-28s%*s' "  ratio per round" $((w * ${#gws[@]})) ""
    for gw in "${gws[@]}"; do
      [[ $gw == kernel ]] && continue
      line=
      for ((r = 1; r <= ROUNDS; r++)); do
        line+="${line:+ }$(ratio "${V[$gw,$m,$r]:-}" "${V[kernel,$m,$r]:-}")"
      done
      printf '%*s' "$wr" "$line"
    done
    echo
  fi
  printf '%-28s' "  host CPU % / natgw CPU %"
  for gw in "${gws[@]}"; do
    mapfile -t vals < <(per_round C "$gw" "$m")
    v=$(median "${vals[@]}")
    [[ -z $v ]] || v=$(awk -v x="$v" 'BEGIN { printf "%.0f", x }')
    mapfile -t vals < <(per_round G "$gw" "$m")
    x=$(median "${vals[@]}")
    [[ -z $x ]] || v="$v / $(awk -v x="$x" 'BEGIN { printf "%.0f", x }')"
    printf '%*s' "$w" "${v:--}"
  done
  echo
  unset med
done
for gw in "${gws[@]}"; do
  note=${NOTE[$gw]:-}
  [[ ${FAILED[$gw]:-0} -eq 0 ]] || note+="ab: ${FAILED[$gw]} failed requests; "
  [[ -z ${MISSING[$gw]:-} ]] || note+="no result: ${MISSING[$gw]}; "
  [[ -z ${DROPS[$gw]:-} ]] || note+="drops: ${DROPS[$gw]}"
  note=${note%; }
  note=${note% }
  [[ -z $note ]] || echo "$gw: $note"
done
echo "(median of $ROUNDS rounds, gateways interleaved, order reversed on even rounds; ${SECONDS_EACH} s per measurement; offloads $OFFLOADS;"
echo " host CPU: % of all $(nproc) CPUs, senders and receivers included; natgw CPU: % of one CPU)"
echo "load: before: ${load_before/*load/load}; after: ${load_after/*load/load}"
if [[ $MEMORY == 1 ]]; then echo "$MEM"; fi
exit 0
