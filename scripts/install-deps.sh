#!/usr/bin/env bash
# Installs the Debian packages natgw needs to build, test and run its lab. Idempotent: does
# nothing when everything is present. Run as root.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libyaml-cpp-dev libcpp-httplib-dev
  libpcap-dev
  # the AF_XDP backend (optional: without these natgw builds without it): libxdp, libbpf, and
  # clang (above) with llvm to compile its XDP program
  libxdp-dev libbpf-dev llvm
  # lab and end-to-end tests
  iproute2 ethtool nftables procps psmisc curl jq tcpdump iperf3 nginx-light vsftpd hping3 python3 python3-scapy
  # bench/e2e.sh: new TCP connections per second (ab)
  apache2-utils
  # packaging and the monitoring kit: promtool (prometheus), systemd-analyze, man, strace
  prometheus systemd man-db strace
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Servers the lab starts itself must not also run as system services.
for svc in nginx vsftpd prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done
