#!/usr/bin/env bash
# End-to-end comparison of natgw with the kernel's own NAT (nftables SNAT), same lab, same run,
# offloads left as the kernel sets them (TSO/GSO/checksum offload on: src/lab/README.md).
#
#   bench/e2e.sh [path/to/natgw]              (root; iperf3, ab (apache2-utils), jq, python3)
#
# Gateways: kernel (nftables SNAT), natgw af_packet with 1 worker, natgw af_packet with 2
# workers (WORKERS2=0 skips it), natgw af_xdp with 1 worker (AF_XDP=0 skips it; the lab's
# offloads off, as AF_XDP frames carry no checksum state: docs/running.md "Backends"; its note
# says so, and says when the gateway fell back to af_packet, e.g. a natgw built without AF_XDP).
# Each gateway gets a lab of its own (`natgw lab up`, name e2e<pid><tag>, 3 VMs), torn down
# after its measurements and, whatever happens, on exit. Every command is bounded (timeout).
# Measurements, in this order, each for BENCH_SECONDS (default 5):
#   tcp1   iperf3, 1 TCP stream vm1 -> internet, Mbit/s received
#   tcp4   iperf3, 4 TCP streams (-P 4) vm1 -> internet, Mbit/s received
#   udp64  iperf3 -u -l 64 -b 0 from vm1, vm2, vm3 at once, datagrams received per second (kpps)
#   conn/s ab -n CONNS -c 16 (no keep-alive: one TCP connection per request) against nginx from
#          vm1 and vm2 at once, requests per second summed
# and for each the host's CPU use over the measurement (/proc/stat, % of all CPUs: the senders,
# receivers and the gateway share them) and, for natgw, the daemon's own CPU (% of one CPU).
# MEMORY=1 (default) then measures natgw's resident memory with FLOWS (default 2,000,000) open UDP
# flows, opened from vm1 by bench/flowgen.py through the real daemon.
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
SERVER=192.0.2.10
work=$(mktemp -d)
labs=()
cleanup() {
  for lab in "${labs[@]}"; do timeout 60 "$NATGW" lab down --name "$lab" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A R  # R[gateway,metric]
busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 " " $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
proc_jiffies() { [[ -n ${1:-} && -r /proc/$1/stat ]] && awk '{ print $14 + $15 }' "/proc/$1/stat" || echo 0; }
HZ=$(getconf CLK_TCK)

# Runs "$@" and records host CPU % (all CPUs) and the natgw daemon's CPU % (one CPU) in
# R[$gw,$metric-cpu] / R[$gw,$metric-gwcpu].
with_cpu() {
  local gw=$1 metric=$2 pid=$3
  shift 3
  local b0 t0 p0 b1 t1 p1 s0 s1
  read -r b0 t0 < <(busy_jiffies)
  p0=$(proc_jiffies "$pid")
  s0=$(date +%s.%N)
  "$@" || true
  s1=$(date +%s.%N)
  read -r b1 t1 < <(busy_jiffies)
  p1=$(proc_jiffies "$pid")
  R[$gw,$metric-cpu]=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }')
  if [[ -n $pid ]]; then
    R[$gw,$metric-gwcpu]=$(awk -v p=$((p1 - p0)) -v hz="$HZ" -v s="$s0" -v e="$s1" 'BEGIN { printf "%.0f", 100 * p / hz / (e - s) }')
  fi
}

ex() { local lab=$1 ns=$2; shift 2; timeout $((SECONDS_EACH + 30)) "$NATGW" lab exec --name "$lab" "$ns" -- "$@"; }

natgw_pid() {
  local lab=$1 p
  for p in $(ip netns pids "$lab-gw" 2>/dev/null); do
    if [[ $(cat "/proc/$p/comm" 2>/dev/null) == natgw ]]; then echo "$p"; return; fi
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

measure() {
  local gw=$1 tag=$2
  shift 2
  local lab="e2e$$$tag"
  labs+=("$lab")
  if ! timeout 120 "$NATGW" lab up --name "$lab" --vms 3 "$@" >"$work/up-$tag.log" 2>&1; then
    R[$gw,note]="lab up failed: $(grep -m1 -i error "$work/up-$tag.log" || tail -1 "$work/up-$tag.log")"
    return
  fi
  local pid
  pid=$(natgw_pid "$lab")
  sleep 1
  if [[ " $* " == *" af_xdp "* ]]; then
    local fb
    fb=$(grep -m1 "backend af_xdp on" "/run/natgw/labs/$lab/natgw.log" 2>/dev/null || true)
    R[$gw,note]="lab --offloads off; ${fb:+FELL BACK: ${fb#*warn*] }; }"
  fi
  with_cpu "$gw" tcp1 "$pid" tcp_test "$lab" 1 "$work/tcp1-$tag.json"
  R[$gw,tcp1]=$(jq -r '(.end.sum_received.bits_per_second // 0) / 1e6 | floor' "$work/tcp1-$tag.json" 2>/dev/null || echo 0)
  with_cpu "$gw" tcp4 "$pid" tcp_test "$lab" 4 "$work/tcp4-$tag.json"
  R[$gw,tcp4]=$(jq -r '(.end.sum_received.bits_per_second // 0) / 1e6 | floor' "$work/tcp4-$tag.json" 2>/dev/null || echo 0)
  with_cpu "$gw" udp64 "$pid" udp_test "$lab" "$work/udp-$tag"
  local pps=0 f p l s
  for f in "$work/udp-$tag"-?.json; do
    read -r p l s < <(jq -r '[.end.sum.packets // 0, .end.sum.lost_packets // 0, .end.sum.seconds // 1] | @tsv' "$f" 2>/dev/null || echo "0 0 1")
    pps=$(awk -v a="$pps" -v p="$p" -v l="$l" -v s="$s" 'BEGIN { print a + (p - l) / s }')
  done
  R[$gw,udp64]=$(awk -v x="$pps" 'BEGIN { printf "%.1f", x / 1000 }')
  with_cpu "$gw" conn "$pid" conn_test "$lab" "$work/ab-$tag"
  local rps=0 r failed=0 x
  for f in "$work/ab-$tag"-?.txt; do
    r=$(awk '/^Requests per second/ { print $4 }' "$f")
    x=$(awk '/^Failed requests/ { print $3 }' "$f")
    rps=$(awk -v a="$rps" -v r="${r:-0}" 'BEGIN { print a + r }')
    failed=$((failed + ${x:-0}))
  done
  R[$gw,conn]=$(awk -v x="$rps" 'BEGIN { printf "%.0f", x }')
  [[ $failed -eq 0 ]] || R[$gw,note]="${R[$gw,note]:-}ab: $failed failed requests; "
  if [[ -n $pid ]]; then
    R[$gw,drops]=$(ex "$lab" gw curl -s "http://127.0.0.1:9490/metrics" 2>/dev/null |
      awk '/^natgw_dropped_packets_total/ && $2 > 0 { sub(/natgw_dropped_packets_total\{reason="/, ""); sub(/"\}/, ""); printf "%s=%s ", $1, $2 }')
  fi
  timeout 60 "$NATGW" lab down --name "$lab" >/dev/null 2>&1 || true
}

memory() {
  local lab="e2e$$m"
  labs+=("$lab")
  if ! timeout 120 "$NATGW" lab up --name "$lab" --vms 1 >"$work/up-m.log" 2>&1; then
    MEM="lab up failed"
    return
  fi
  local pid rss0 mac active=0 i
  pid=$(natgw_pid "$lab")
  rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
  mac=$(ip -n "$lab-gw" -br link show gw-in | awk '{ print $3 }')
  for i in 1 2 3; do
    timeout 300 ip netns exec "$lab-vm1" python3 "$here/bench/flowgen.py" eth0 10.0.0.11 "$SERVER" "$mac" "$FLOWS" 64 >/dev/null || true
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

load_before=$(uptime)
echo "e2e: $load_before" >&2
gws=(kernel natgw)
measure kernel k --gateway kernel
measure natgw n --gateway natgw
if [[ $WORKERS2 == 1 ]]; then
  gws+=(natgw-2w)
  measure natgw-2w w --gateway natgw --workers 2
fi
if [[ $AF_XDP == 1 ]]; then
  gws+=(af_xdp)
  measure af_xdp x --gateway natgw --backend af_xdp --offloads off
fi
load_after=$(uptime)
if [[ $MEMORY == 1 ]]; then memory; fi

metrics=(tcp1 tcp4 udp64 conn)
declare -A title=([tcp1]="TCP 1 stream Mbit/s" [tcp4]="TCP 4 streams Mbit/s" [udp64]="UDP 64 B kpps (3 senders)" [conn]="new TCP conn/s (ab, 2x16)")
printf '\n%-28s' ""
for gw in "${gws[@]}"; do printf '%14s' "$gw"; done
for gw in "${gws[@]}"; do [[ $gw == kernel ]] || printf '%14s' "$gw/kernel"; done
echo
for m in "${metrics[@]}"; do
  printf '%-28s' "${title[$m]}"
  for gw in "${gws[@]}"; do printf '%14s' "${R[$gw,$m]:--}"; done
  for gw in "${gws[@]}"; do
    [[ $gw == kernel ]] && continue
    printf '%14s' "$(awk -v a="${R[$gw,$m]:-}" -v k="${R[kernel,$m]:-}" 'BEGIN { if (a == "" || k + 0 == 0) print "-"; else printf "%.2f", a / k }')"
  done
  echo
  printf '%-28s' "  host CPU % / natgw CPU %"
  for gw in "${gws[@]}"; do
    v=${R[$gw,$m-cpu]:-}
    [[ -n ${R[$gw,$m-gwcpu]:-} ]] && v="$v / ${R[$gw,$m-gwcpu]}"
    printf '%14s' "${v:--}"
  done
  echo
done
for gw in "${gws[@]}"; do
  [[ -n ${R[$gw,note]:-} || -n ${R[$gw,drops]:-} ]] && echo "$gw: ${R[$gw,note]:-}${R[$gw,drops]:+drops: ${R[$gw,drops]}}"
done
echo "(${SECONDS_EACH} s per measurement; host CPU: % of all $(nproc) CPUs, senders and receivers included; natgw CPU: % of one CPU)"
echo "load: before: ${load_before/*load/load}; after: ${load_after/*load/load}"
[[ $MEMORY == 1 ]] && echo "$MEM"
exit 0
