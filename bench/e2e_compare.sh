#!/usr/bin/env bash
# End-to-end throughput of natgw against the kernel's own NAT (nftables SNAT) in the same
# namespace lab (src/lab/README.md): iperf3 from the lab's VMs to its internet server.
#
#   bench/e2e_compare.sh [path/to/natgw]        (root; iperf3, jq and the lab's tools)
#
# Figures: TCP, one stream for TCP_SECONDS (default 5) from vm1; UDP, 64-byte datagrams at
# unlimited rate for UDP_SECONDS (default 5) from vm1 and vm2 at once, counted as datagrams per
# second that reached the server. natgw is measured only if this build has `natgw run` and its
# lab comes up; otherwise the row says why it was skipped. Every lab made here is removed on
# exit, whatever happens. Traffic stays inside the lab's namespaces.
set -euo pipefail

NATGW=${1:-${NATGW:-}}
if [[ -z $NATGW ]]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  for c in "$here"/build/src/cli/natgw "$here"/build-*/src/cli/natgw; do
    if [[ -x $c ]]; then NATGW=$c; break; fi
  done
fi
if [[ -z $NATGW || ! -x $NATGW ]]; then
  echo "e2e_compare: natgw binary not found; pass its path as the first argument" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then echo "e2e_compare: needs root (network namespaces)" >&2; exit 2; fi
for tool in iperf3 jq awk; do
  command -v "$tool" >/dev/null || { echo "e2e_compare: $tool is not installed" >&2; exit 2; }
done

TCP_SECONDS=${TCP_SECONDS:-5}
UDP_SECONDS=${UDP_SECONDS:-5}
SERVER=192.0.2.10
work=$(mktemp -d)
labs=()

cleanup() {
  for lab in "${labs[@]}"; do "$NATGW" lab down --name "$lab" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A tcp_mbps udp_kpps udp_loss note

# iperf3 from a VM of the lab to the server; its JSON report to $3.
iperf() {
  local lab=$1 vm=$2 out=$3
  shift 3
  timeout 60 "$NATGW" lab exec --name "$lab" "$vm" -- iperf3 -c "$SERVER" -J "$@" >"$out" 2>&1 || true
}

measure() {
  local gw=$1 lab="e2e$$${1:0:1}"
  labs+=("$lab")
  if ! "$NATGW" lab up --name "$lab" --gateway "$gw" --vms 2 >"$work/up-$gw.log" 2>&1; then
    note[$gw]="skipped: lab up --gateway $gw failed: $(grep -m1 'natgw lab up' "$work/up-$gw.log" || tail -1 "$work/up-$gw.log")"
    return
  fi

  iperf "$lab" vm1 "$work/tcp-$gw.json" -p 5201 -t "$TCP_SECONDS"
  tcp_mbps[$gw]=$(jq -r '(.end.sum_received.bits_per_second // 0) / 1e6 | floor' "$work/tcp-$gw.json" 2>/dev/null || echo 0)

  iperf "$lab" vm1 "$work/udp1-$gw.json" -p 5201 -u -l 64 -b 0 -t "$UDP_SECONDS" &
  iperf "$lab" vm2 "$work/udp2-$gw.json" -p 5202 -u -l 64 -b 0 -t "$UDP_SECONDS" &
  wait
  local pps=0 sent=0 lost=0 f p l s
  for f in "$work/udp1-$gw.json" "$work/udp2-$gw.json"; do
    read -r p l s < <(jq -r '[.end.sum.packets // 0, .end.sum.lost_packets // 0, .end.sum.seconds // 1] | @tsv' "$f" 2>/dev/null || echo "0 0 1")
    pps=$(awk -v a="$pps" -v p="$p" -v l="$l" -v s="$s" 'BEGIN { print a + (p - l) / s }')
    sent=$((sent + p))
    lost=$((lost + l))
  done
  udp_kpps[$gw]=$(awk -v x="$pps" 'BEGIN { printf "%.1f", x / 1000 }')
  udp_loss[$gw]=$(awk -v s="$sent" -v l="$lost" 'BEGIN { printf "%.1f%%", s ? 100 * l / s : 0 }')
  for f in "$work"/tcp-"$gw".json "$work"/udp?-"$gw".json; do
    if err=$(jq -er '.error' "$f" 2>/dev/null); then note[$gw]="iperf3: $err"; fi
  done

  "$NATGW" lab down --name "$lab" >/dev/null 2>&1 || true
}

measure kernel
if "$NATGW" --help 2>/dev/null | grep -q '^  run '; then
  measure natgw
else
  note[natgw]="skipped: this natgw has no 'run' command yet"
fi

printf '\n%-8s  %14s  %18s  %9s  %s\n' gateway "TCP Mbit/s" "UDP 64 B kpps" "UDP loss" ""
for gw in kernel natgw; do
  if [[ -n ${tcp_mbps[$gw]:-} ]]; then
    printf '%-8s  %14s  %18s  %9s  %s\n' "$gw" "${tcp_mbps[$gw]}" "${udp_kpps[$gw]}" \
      "${udp_loss[$gw]}" "${note[$gw]:-}"
  else
    printf '%-8s  %14s  %18s  %9s  %s\n' "$gw" - - - "${note[$gw]:-}"
  fi
done
if [[ -n ${tcp_mbps[natgw]:-} && -n ${tcp_mbps[kernel]:-} ]]; then
  awk -v nt="${tcp_mbps[natgw]}" -v kt="${tcp_mbps[kernel]}" -v nu="${udp_kpps[natgw]}" \
    -v ku="${udp_kpps[kernel]}" 'BEGIN {
      printf "%-8s  %14s  %18s\n", "ratio", (kt > 0 ? sprintf("%.2f", nt / kt) : "-"),
        (ku > 0 ? sprintf("%.2f", nu / ku) : "-") }'
else
  echo "ratio natgw/kernel: - (natgw not measured)"
fi
echo "(TCP: 1 stream, ${TCP_SECONDS} s, vm1; UDP: 64-byte datagrams, -b 0, vm1 + vm2 for ${UDP_SECONDS} s, received/s)"
