// The service manager's readiness protocol (sd_notify(3)), without libsystemd: a datagram of
// "KEY=value" lines sent to the unix socket named by $NOTIFY_SOCKET. A name that starts with '@'
// is in the abstract namespace; one that starts with '/' is a path. Every function is a harmless
// no-op when NOTIFY_SOCKET is unset (natgw started by hand, by the lab, or by a test), so callers
// never need to know whether systemd started them.
//
// Return value of every function, as sd_notify(3):
//    1  the message was sent;
//    0  NOTIFY_SOCKET is unset or empty: nothing to do;
//   <0  a negative errno: EINVAL for a NOTIFY_SOCKET that is neither a path nor an abstract name
//       (vsock addresses are not supported) or too long, or the error socket()/sendmsg() gave.
// Failures are for the caller to log once; the gateway runs on regardless.
//
// Thread-safe (each call opens, sends on and closes its own socket), not async-signal-safe, and
// not for the packet path.
#pragma once

#include <string_view>

namespace natgw::daemon {

// Sends `state` (one or more "KEY=value" lines, separated by '\n') as one datagram.
int notify(std::string_view state);

// READY=1: start-up finished (interfaces open, API listening). Also sent after a reload ends,
// as systemd expects after RELOADING=1.
int notify_ready();

// RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC now, µs> (which Type=notify-reload units of
// systemd >= 253 require): a configuration reload began. Follow it with notify_ready().
int notify_reloading();

// STOPPING=1: a clean stop began.
int notify_stopping();

// STATUS=<text>: one line shown by `systemctl status`. Line breaks in `text` become spaces.
int notify_status(std::string_view text);

}  // namespace natgw::daemon
