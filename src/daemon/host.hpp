// What natgw needs to know about, and check on, the host it runs on.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/types.hpp"

namespace natgw::daemon {

// IPv4 addresses assigned to an interface (getifaddrs).
[[nodiscard]] std::vector<net::Ipv4> interface_addresses(const std::string& ifname);

// Generic receive offload state (ethtool); nullopt when it cannot be read.
[[nodiscard]] std::optional<bool> gro_enabled(const std::string& ifname);

// A warning when frames larger than the MTU would be dropped: the port opened on `ifname` does
// not carry offloads (PACKET_VNET_HDR refused) and GRO is on. nullopt when all is well.
[[nodiscard]] std::optional<std::string> offload_warning(const std::string& ifname,
                                                         bool port_offloads);

// Problems that stop the gateway from starting, each a full sentence with the fix, and
// warnings about settings that cost packets. Checks: the interfaces exist and are up, they are
// different, IPv4 forwarding is off on both (the kernel would forward the same packets). GRO,
// TSO and checksum offloads may stay on: natgw carries super-frames and partial checksums whole
// (io::Port::offloads()); see offload_warning for a kernel that cannot.
struct HostCheck {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};
[[nodiscard]] HostCheck check_host(const std::string& inside, const std::string& outside);

// The kernel sees every frame natgw reads (a packet socket is a tap) and, with forwarding off,
// routes it only to drop it: with offloads, GRO, ip_rcv and a route lookup per frame, paid on
// the datapath's CPUs (perf on the lab: ip_rcv was 9% of the natgw thread's cycles during a
// connection flood). These nftables rules (table `netdev natgw`, ingress hook, which runs after
// the packet sockets got their copy) drop the kernel's copy early: on the inside, unicast IPv4
// to the interface's MAC that is not for one of its addresses; on the outside, IPv4 to a public
// IP. ARP, the hosts' own traffic and everything else stay the kernel's.
[[nodiscard]] std::string ingress_discard_ruleset(const std::string& inside,
                                                  const std::string& outside,
                                                  const std::vector<net::Ipv4>& inside_addresses,
                                                  const std::vector<net::Ipv4>& public_ips);
// Runs `nft -f -` with `ruleset` (bounded: 10 s). Empty string on success, else why not.
[[nodiscard]] std::string run_nft(const std::string& ruleset);
inline constexpr const char* kIngressDiscardRemove = "delete table netdev natgw\n";

}  // namespace natgw::daemon
