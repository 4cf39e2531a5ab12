// Read-only queries about the host's network stack, for the daemon's start-up checks. They read
// the calling thread's network namespace, may block briefly and throw; never on the hot path.
#pragma once

#include <optional>
#include <string>

#include "net/ethernet.hpp"
#include "net/types.hpp"

namespace natgw::io {

// True when the kernel forwards IPv4 arriving on `ifname`
// (/proc/sys/net/ipv4/conf/<ifname>/forwarding). natgw's packet socket only taps the interface,
// so the kernel forwarding the same packets would send them twice. Throws std::system_error when
// the interface does not exist or the file cannot be read.
[[nodiscard]] bool interface_forwarding_enabled(const std::string& ifname);

// The kernel's neighbour-table entry for `ip` on interface `ifindex`, read with rtnetlink
// (RTM_GETNEIGH). Only usable entries count (reachable, stale, delay, probe, permanent, noarp
// with an address); incomplete or failed entries give nullopt. Throws std::system_error when
// netlink fails.
[[nodiscard]] std::optional<net::MacAddress> kernel_neighbor(int ifindex, net::Ipv4 ip);

}  // namespace natgw::io
