#!/usr/bin/env bash
# Tests the Debian package on this machine: builds it (scripts/package.sh), installs it, checks
# what it installed, runs the installed natgw the way natgw.service would, reinstalls it over an
# edited configuration, and purges it. Exits non-zero on the first failure. Run as root on a
# machine where the natgw package is not installed.
#
# Usage: scripts/package-test.sh [--deb FILE | --build-dir DIR] [--force]
#   --deb FILE       test this .deb instead of building one
#   --build-dir DIR  build the .deb from this configured build tree (scripts/package.sh
#                    --build-dir), e.g. build/release after scripts/test.sh, instead of a new one
#   --force          even if a natgw package is installed already (it is purged at the end)
#
# Checks:
#   1. apt-get install ./natgw_<version>_amd64.deb (dpkg -i without apt-get): dependencies resolve,
#      maintainer scripts run
#   2. natgw --version prints the package's version; natgw validate accepts the shipped
#      /etc/natgw/natgw.yaml; it is registered as a conffile; unit, man page, docs, monitoring
#      kit are in place; the man page renders without warnings
#   3. the unit: systemd-analyze verify, systemd-analyze security --offline (exposure at most
#      3.0), promtool check rules on the shipped alerts (each when the tool exists)
#   4. natgw.service's run, without systemd (there is none as PID 1 in a container or in CI):
#      in a network namespace with the shipped config's interfaces, the installed binary runs
#      with the unit's ExecStart= under the unit's identity (an unprivileged uid, only the
#      unit's CapabilityBoundingSet=, no_new_privs) and a $NOTIFY_SOCKET this script listens on:
#      READY=1 comes, /metrics answers, `kill -HUP` (ExecReload=) reloads with RELOADING=1 and a
#      new READY=1, SIGTERM stops it with STOPPING=1 and exit 0. With strace installed, every
#      system call it made is checked against the unit's SystemCallFilter=.
#   5. reinstall over an edited /etc/natgw/natgw.yaml keeps the edit (conffile)
#   6. apt-get purge removes the binary, the unit and /etc/natgw
set -euo pipefail
cd "$(dirname "$0")/.."

deb=""
build_dir=()
force=0
while (($#)); do
  case $1 in
    --deb) deb=$(realpath "$2"); shift 2 ;;
    --build-dir) build_dir=(--build-dir "$2"); shift 2 ;;
    --force) force=1; shift ;;
    *) echo "usage: scripts/package-test.sh [--deb FILE | --build-dir DIR] [--force]" >&2; exit 2 ;;
  esac
done

step() { echo "=== package-test: $*"; }
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
ok() { echo "  ok: $*"; }

[[ $(id -u) -eq 0 ]] || fail "run as root (it installs and removes the natgw package)"
if dpkg-query -W -f='${Status}' natgw 2>/dev/null | grep -q "install ok installed" && ((!force)); then
  fail "a natgw package is installed already; --force tests over it and purges it at the end"
fi

if [[ -z $deb ]]; then
  step "build the package"
  deb=$(scripts/package.sh "${build_dir[@]}" | tail -n 1)
fi
[[ -f $deb ]] || fail "no package at '$deb'"
version=$(dpkg-deb -f "$deb" Version)
echo "package: $deb (natgw $version)"

work=$(mktemp -d /tmp/natgw-package-test.XXXXXX)
ns=""
daemon_pid=""
launcher_pid=""
listener_pid=""
installed=0
cleanup() {
  local rc=$?
  set +e
  [[ -n $daemon_pid ]] && kill -TERM "$daemon_pid" 2>/dev/null
  [[ -n $launcher_pid ]] && { sleep 1; kill -KILL "$launcher_pid" 2>/dev/null; wait "$launcher_pid" 2>/dev/null; }
  [[ -n $listener_pid ]] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
  [[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
  if ((installed)); then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q natgw >/dev/null 2>&1 || dpkg --purge natgw >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

install_deb() {
  if command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" "$deb"
  else
    dpkg -i "$deb"
  fi
}

# --- 1. install -------------------------------------------------------------------------------
step "install"
installed=1
install_deb || fail "installing $deb"
dpkg-query -W -f='${Status}\n' natgw | grep -q "install ok installed" || fail "natgw is not 'install ok installed'"
ok "installed: $(dpkg-query -W -f='${Package} ${Version} ${Architecture}' natgw)"

# --- 2. the files -----------------------------------------------------------------------------
step "installed files"
out=$(natgw --version) || fail "natgw --version exited $?"
[[ $out == "natgw $version" ]] || fail "natgw --version printed '$out', expected 'natgw $version'"
ok "natgw --version: $out"
[[ $(command -v natgw) == /usr/bin/natgw ]] || fail "natgw is $(command -v natgw), expected /usr/bin/natgw"
natgw validate --config /etc/natgw/natgw.yaml || fail "natgw validate rejects the shipped /etc/natgw/natgw.yaml"
ok "natgw validate --config /etc/natgw/natgw.yaml"
dpkg-query -W -f='${Conffiles}\n' natgw | grep -q "^ /etc/natgw/natgw.yaml " ||
  fail "/etc/natgw/natgw.yaml is not a conffile"
ok "/etc/natgw/natgw.yaml is a conffile"
grep -q "^License: Apache-2.0" /usr/share/doc/natgw/copyright || fail "no licence in /usr/share/doc/natgw/copyright"
ok "/usr/share/doc/natgw/copyright names the licence"
unit=/usr/lib/systemd/system/natgw.service
for f in "$unit" /usr/share/man/man1/natgw.1.gz /usr/share/doc/natgw/README.md \
  /usr/share/doc/natgw/README.deploy.md /usr/share/doc/natgw/examples/natgw.yaml \
  /usr/share/doc/natgw/prometheus/natgw-alerts.yml /usr/share/doc/natgw/grafana/natgw-dashboard.json; do
  [[ -s $f ]] || fail "$f is missing or empty"
done
ok "unit, man page, docs, alert rules, dashboard"
grep -qx "ExecStart=/usr/bin/natgw run --config /etc/natgw/natgw.yaml" "$unit" || fail "$unit: unexpected ExecStart="
if command -v groff >/dev/null; then
  warnings=$(zcat /usr/share/man/man1/natgw.1.gz | groff -man -ww -z -Tutf8 2>&1) || fail "groff failed on natgw.1"
  [[ -z $warnings ]] || fail "natgw.1 has roff warnings: $warnings"
fi
if command -v man >/dev/null; then
  page=$(MANWIDTH=100 man natgw 2>/dev/null | col -b) || fail "man natgw failed"
  for cmd in $(natgw --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
    grep -q "natgw $cmd" <<<"$page" || fail "man natgw does not describe 'natgw $cmd'"
  done
  ok "man natgw describes every command"
fi

# --- 3. unit and rules checks -------------------------------------------------------------------
step "unit and monitoring kit checks"
if command -v systemd-analyze >/dev/null; then
  man_opt=--man=no
  command -v man >/dev/null && man_opt=--man=yes
  systemd-analyze verify "$man_opt" "$unit" || fail "systemd-analyze verify $unit"
  ok "systemd-analyze verify $unit"
  # --threshold is on the 0..100 scale of the score shown as 0.0..10.0.
  systemd-analyze security --offline=true --threshold=30 "$unit" >"$work/security.txt" 2>&1 ||
    { tail -n 3 "$work/security.txt" >&2; fail "systemd-analyze security: exposure above 3.0"; }
  ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$work/security.txt")"
else
  echo "  skip: systemd-analyze not installed"
fi
if command -v promtool >/dev/null; then
  promtool check rules /usr/share/doc/natgw/prometheus/natgw-alerts.yml || fail "promtool check rules"
  ok "promtool check rules natgw-alerts.yml"
else
  echo "  skip: promtool not installed (Debian package prometheus)"
fi

# --- 4. the service's run, without systemd --------------------------------------------------------
step "natgw run as natgw.service would run it"
unit_value() { sed -n "s/^$1=//p" "$unit"; }
if ! ip netns add "natgw-pkgtest-$$" 2>/dev/null; then
  fail "cannot create a network namespace (needs root and iproute2)"
fi
ns="natgw-pkgtest-$$"
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up
# The interfaces and addresses of the shipped example (gw-in towards 10.0.0.0/24, gw-out towards
# the next hop 198.51.100.2), each a veth whose peer stays unused in the namespace.
nsx ip link add gw-in type veth peer name gw-in-peer
nsx ip link add gw-out type veth peer name gw-out-peer
for i in gw-in gw-in-peer gw-out gw-out-peer; do nsx ip link set "$i" up; done
nsx ip addr add 10.0.0.1/24 dev gw-in
nsx ip addr add 198.51.100.1/24 dev gw-out

# $NOTIFY_SOCKET: a datagram socket that logs every message, one per line ('\n' inside shown as '|').
command -v python3 >/dev/null || fail "python3 is needed to listen on NOTIFY_SOCKET"
chmod 711 "$work"
notify_sock=$work/notify.sock
python3 - "$notify_sock" "$work/notify.log" <<'PY' &
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
s.settimeout(60)
with open(log, "a", buffering=1) as f:
    while True:
        try:
            msg = s.recv(4096).decode(errors="replace")
        except socket.timeout:
            break
        f.write(msg.replace("\n", "|") + "\n")
        if "STOPPING=1" in msg:
            break
PY
listener_pid=$!
for _ in $(seq 50); do [[ -S $notify_sock ]] && break; sleep 0.1; done
[[ -S $notify_sock ]] || fail "the NOTIFY_SOCKET listener did not start"
touch "$work/notify.log"

# The unit's identity: an unprivileged uid (DynamicUser=yes; nobody stands in), only the
# capabilities of CapabilityBoundingSet= (bounding, inheritable, ambient), no_new_privs.
caps=$(unit_value CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ \+/,/g')
[[ -n $caps ]] || fail "$unit has no CapabilityBoundingSet="
exec_start=$(unit_value ExecStart)
read -r -a argv <<<"$exec_start"
tracer=()
if command -v strace >/dev/null; then
  install -m 666 /dev/null "$work/strace.txt"  # written by the unprivileged uid
  tracer=(strace -f -qq -o "$work/strace.txt")
fi
NOTIFY_SOCKET=$notify_sock ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups \
  --inh-caps="-all,$caps" --ambient-caps="-all,$caps" --bounding-set="-all,$caps" --no-new-privs \
  "${tracer[@]}" "${argv[@]}" >"$work/natgw.log" 2>&1 &
launcher_pid=$!
# ip netns exec and setpriv exec; strace forks natgw as its child (and ignores SIGHUP and
# SIGTERM itself), so the signals of ExecReload= and of a stop go to that child.
daemon_pid=$launcher_pid
if ((${#tracer[@]})); then
  daemon_pid=""
  for _ in $(seq 50); do
    daemon_pid=$(pgrep -P "$launcher_pid" -x natgw || true)
    [[ -n $daemon_pid ]] && break
    sleep 0.1
  done
  [[ -n $daemon_pid ]] || { cat "$work/natgw.log" >&2; fail "natgw did not start under strace"; }
fi
echo "  started: ${argv[*]} (capabilities $caps, uid 65534${tracer:+, under strace})"

wait_for() {  # wait_for PATTERN FILE SECONDS
  local end=$((SECONDS + $3))
  while ((SECONDS < end)); do
    grep -q -- "$1" "$2" 2>/dev/null && return 0
    kill -0 "$daemon_pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}
show_log() { echo "--- natgw log:" >&2; cat "$work/natgw.log" >&2; echo "--- notify messages:" >&2; cat "$work/notify.log" >&2; }
wait_for "READY=1" "$work/notify.log" 15 || { show_log; fail "no READY=1 on NOTIFY_SOCKET within 15 s"; }
ok "READY=1"
api=$(sed -n 's/^ *listen: *\([0-9.:]*\).*/\1/p' /etc/natgw/natgw.yaml)
api=${api:-127.0.0.1:9490}
metrics=$(nsx curl -sf "http://$api/metrics") || { show_log; fail "GET http://$api/metrics failed"; }
grep -q '^natgw_datapath_availability_percent ' <<<"$metrics" || fail "/metrics lacks natgw_datapath_availability_percent"
ok "GET http://$api/metrics ($(grep -c '^natgw_' <<<"$metrics") samples)"
# ExecReload=: natgw validate, then kill -HUP.
natgw validate --config /etc/natgw/natgw.yaml >/dev/null || fail "ExecReload's validate failed"
ready_before=$(grep -c "READY=1" "$work/notify.log")
kill -HUP "$daemon_pid"
wait_for "RELOADING=1" "$work/notify.log" 10 || { show_log; fail "no RELOADING=1 after SIGHUP"; }
end=$((SECONDS + 10))
while (($(grep -c "READY=1" "$work/notify.log") <= ready_before)); do
  ((SECONDS < end)) || { show_log; fail "no READY=1 after the reload"; }
  sleep 0.2
done
grep -q "reloaded" "$work/natgw.log" || { show_log; fail "the log does not say the configuration was reloaded"; }
ok "SIGHUP: RELOADING=1, reloaded, READY=1"
kill -TERM "$daemon_pid"
rc=0
wait "$launcher_pid" || rc=$?  # strace exits with its tracee's status
daemon_pid=""
launcher_pid=""
((rc == 0)) || { show_log; fail "natgw exited $rc after SIGTERM"; }
grep -q "STOPPING=1" "$work/notify.log" || { show_log; fail "no STOPPING=1 on SIGTERM"; }
ok "SIGTERM: STOPPING=1, exit 0"
wait "$listener_pid" 2>/dev/null || true
listener_pid=""

if [[ -s $work/strace.txt ]]; then
  # Syscall names strace saw (calls and resumed calls), against the unit's SystemCallFilter=:
  # allowed = the groups and names of the lines without '~', minus those of the '~' lines.
  awk '{ l = $0; sub(/^[0-9]+ +/, "", l)
         if (match(l, /^[a-z0-9_]+\(/)) print substr(l, 1, RLENGTH - 1)
         else if (match(l, /^<\.\.\. [a-z0-9_]+ resumed/)) { s = substr(l, 5); sub(/ .*/, "", s); print s } }' \
    "$work/strace.txt" | sed '/^$/d' | sort -u >"$work/used.txt"
  expand() {  # names of a syscall group or a name, groups expanded recursively
    local item
    for item in "$@"; do
      if [[ $item == @* ]]; then
        systemd-analyze syscall-filter "$item" 2>/dev/null | sed -n '2,$p' | sed 's/^ *//; /^#/d; /^$/d' |
          while read -r s; do expand "$s"; done
      else
        echo "$item"
      fi
    done
  }
  : >"$work/allow.txt"
  : >"$work/deny.txt"
  while read -r line; do
    if [[ $line == ~* ]]; then
      expand ${line#\~} >>"$work/deny.txt"
    else
      expand $line >>"$work/allow.txt"
    fi
  done < <(unit_value SystemCallFilter)
  sort -u -o "$work/allow.txt" "$work/allow.txt"
  sort -u -o "$work/deny.txt" "$work/deny.txt"
  comm -23 "$work/allow.txt" "$work/deny.txt" >"$work/allowed.txt"
  [[ -s $work/allowed.txt ]] || fail "could not expand the unit's SystemCallFilter= with systemd-analyze"
  refused=$(comm -23 "$work/used.txt" "$work/allowed.txt" | xargs)
  [[ -z $refused ]] || fail "natgw made system calls the unit's SystemCallFilter= refuses: $refused"
  ok "all $(wc -l <"$work/used.txt") system calls natgw made are allowed by SystemCallFilter="
else
  echo "  skip: strace not installed: the system calls were not checked against SystemCallFilter="
fi
ip netns del "$ns"
ns=""

# --- 5. reinstall over an edited configuration ---------------------------------------------------
step "reinstall keeps an edited configuration"
echo "# edited by package-test" >>/etc/natgw/natgw.yaml
install_deb --reinstall -o Dpkg::Options::=--force-confold || fail "reinstalling $deb"
grep -q "^# edited by package-test" /etc/natgw/natgw.yaml || fail "the reinstall replaced the edited /etc/natgw/natgw.yaml"
ok "edited /etc/natgw/natgw.yaml kept"

# --- 6. purge ----------------------------------------------------------------------------------
step "purge"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q natgw || dpkg --purge natgw || fail "purging natgw"
installed=0
for f in /usr/bin/natgw "$unit" /etc/natgw; do
  [[ ! -e $f ]] || fail "$f is still there after the purge"
done
ok "binary, unit and /etc/natgw removed"
echo "package-test: PASS ($deb)"
