#!/usr/bin/env bash
# The demo: installs what is missing, builds natgw, brings up a lab (two VMs behind natgw, an
# internet with servers), shows a VM reaching the internet through the NAT public IP, shows the
# gateway's status and metrics, and tears everything down. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "demo: run as root (it creates network namespaces)" >&2
  exit 1
fi
scripts/install-deps.sh
natgw=$(pwd)/$(scripts/build.sh Release | tail -n 1)/src/cli/natgw
lab=demo$$
cleanup() { "$natgw" lab down --name "$lab" >/dev/null 2>&1 || true; }
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "natgw lab up: VMs 10.0.0.11-12 behind natgw (public IP 203.0.113.10), servers on 192.0.2.10"
"$natgw" lab up --name "$lab" --vms 2

step "vm1 asks the internet's echo service which address it sees"
"$natgw" lab exec --name "$lab" vm1 -- bash -c 'exec 3<>/dev/tcp/192.0.2.10/7; head -n1 <&3'

step "vm1 fetches a page from the internet's web server"
"$natgw" lab exec --name "$lab" vm1 -- curl -sS -o /dev/null -w 'HTTP %{http_code}, %{size_download} bytes in %{time_total}s\n' http://192.0.2.10/

step "vm2 downloads a file over passive FTP"
"$natgw" lab exec --name "$lab" vm2 -- curl -sS -o /dev/null -w 'FTP %{size_download} bytes\n' ftp://192.0.2.10/test.txt || true

step "the internet tries to reach a VM unsolicited (dropped and counted)"
"$natgw" lab exec --name "$lab" inet -- timeout 3 bash -c 'exec 3<>/dev/tcp/203.0.113.10/22' 2>/dev/null ||
  echo "connection to 203.0.113.10:22 got no answer, as it should (natgw drops unsolicited inbound packets)"

sleep 2
step "natgw status (the gateway's API, inside the gateway namespace)"
"$natgw" lab exec --name "$lab" gw -- "$natgw" status

step "natgw flows"
"$natgw" lab exec --name "$lab" gw -- "$natgw" flows --limit 10

step "natgw doctor (the troubleshooting guide, run against the gateway)"
"$natgw" lab exec --name "$lab" gw -- "$natgw" doctor --config "/run/natgw/labs/$lab/natgw.yaml" || true

step "natgw metrics (per minute, as the portal shows them)"
"$natgw" lab exec --name "$lab" gw -- "$natgw" metrics

step "tearing down"
