// The engine's configuration: every knob as a named field. Profiles are presets of this struct;
// validation with messages for people lives in control/, the engine only asserts invariants.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "net/types.hpp"

namespace natgw::nat {

using Duration = std::chrono::nanoseconds;
// A point on the caller's monotonic clock, as time since its (arbitrary) epoch.
using Time = std::chrono::nanoseconds;

struct Timers {
  Duration tcp_idle = std::chrono::minutes(4);       // established TCP, refreshed both ways
  Duration tcp_half_open = std::chrono::seconds(30);  // SYN seen, not established
  Duration udp_idle = std::chrono::minutes(4);        // see nat/README.md for what refreshes it
  Duration holddown_fin = std::chrono::seconds(65);   // after FIN both ways
  Duration holddown_rst = std::chrono::seconds(16);   // after RST
  Duration holddown_udp = std::chrono::seconds(65);   // after a UDP flow idles out
  Duration holddown_idle = std::chrono::seconds(65);  // after a TCP flow idles out
  // Profiles beyond azure (SPEC section 3; nat/README.md "Profiles"):
  Duration tcp_closing = Duration::zero();           // fin_out / fin_in; zero: same as tcp_idle
  Duration icmp_idle = std::chrono::seconds(60);     // ICMP echo mappings (Behaviour::icmp_echo)
  Duration holddown_icmp = std::chrono::seconds(1);  // after an ICMP echo mapping idles out
  // true (azure): a UDP flow lives while each direction was heard from within udp_idle.
  // false: any packet, either way, refreshes it (RFC 4787 REQ-6 and the other clouds).
  bool udp_refresh_each_direction = true;
};

struct Limits {
  std::uint32_t per_destination = 50'000;  // live connections per public IP per destination
  std::uint32_t max_connections = 2'000'000;  // live connections per gateway
  std::uint16_t port_min = 1024;              // SNAT port range, inclusive
  std::uint16_t port_max = 65535;
  // Flow slots beyond max_connections for ports in hold-down; 0 means max_connections / 4.
  std::uint32_t holddown_reserve = 0;
};

// How a new connection's public IP is chosen.
enum class IpSelection : std::uint8_t {
  // Uniformly random among the IPs with room for the destination (Azure's behaviour).
  per_connection,
  // Each inside host has one public IP (highest-random-weight hashing of its address over the IPs
  // in service, so adding or draining an IP moves only the hosts it gains or loses); another IP
  // is used only when the host's IP has no room for the destination. Keeps a passive FTP data
  // connection on its control connection's IP.
  per_host,
};

// Mapping (RFC 4787 section 4.1): which public IP:port a new connection gets.
enum class Mapping : std::uint8_t {
  endpoint_dependent,    // a random IP:port per connection; ports overlap across destinations
  endpoint_independent,  // one public IP:port per inside IP:port, for every destination
};
// Filtering (RFC 4787 section 5): what may come in to a public IP:port.
enum class Filtering : std::uint8_t {
  endpoint_dependent,    // only the destination a flow was opened to (address and port dependent)
  endpoint_independent,  // anyone, to a live endpoint-independent mapping
};
// Whom a late segment of an idle-expired TCP flow is answered with an RST.
enum class LateRst : std::uint8_t { sender, inside_only, none };

// How the engine behaves where the clouds differ (the profiles of SPEC section 3). The defaults
// are azure's; nat/README.md "Profiles" has the table.
struct Behaviour {
  Mapping mapping = Mapping::endpoint_dependent;
  Filtering filtering = Filtering::endpoint_dependent;  // endpoint_independent needs that mapping
  bool icmp_echo = false;      // translate ICMP echo (the identifier is the port)
  bool udp_fragments = false;  // forward UDP fragments (TCP and ICMP fragments stay dropped)
  std::uint32_t fragment_table = 4096;  // entries (a power of two) when udp_fragments
  bool hairpinning = false;  // inside to a public IP:port of this gateway comes back inside
  LateRst late_rst = LateRst::sender;
  // Per-host port allowance (endpoint-independent mapping only; 0: none): a host (inside
  // address) holds at most `ports_per_host_min` mappings per protocol; when it needs more, its
  // allowance doubles up to `ports_per_host_max` (dynamic allocation when max > min).
  std::uint32_t ports_per_host_min = 0;
  std::uint32_t ports_per_host_max = 0;
  // Destination ports refused outbound (TCP and UDP), reason port_blocked. Port 25 over TCP is
  // block_smtp's (reason smtp_blocked).
  std::vector<std::uint16_t> blocked_ports;
};

struct EngineConfig {
  std::vector<net::Ipv4> public_ips;  // at most kMaxPublicIps
  std::vector<net::Prefix> subnets;   // sources translated; anything else is dropped
  Timers timers;
  Limits limits;
  bool block_smtp = true;             // outbound TCP to port 25
  IpSelection ip_selection = IpSelection::per_connection;
  Behaviour behaviour;
  // Flow logs (nat/flow_events.hpp): when on, the engine keeps per-flow byte and packet counters
  // (40 bytes per flow slot, allocated at construction) and writes an event per connection start,
  // end and refused attempt into a ring of `flow_log_ring` events. Off: neither is allocated.
  // Changes only with a restart (Engine::reconfigure refuses a change).
  bool flow_log = false;
  std::uint32_t flow_log_ring = 65536;
  // Active FTP (nat/ftp_alg.cpp): PORT/EPRT on outbound control connections to port 21 are
  // rewritten to the public IP and a public port, TCP sequence numbers adjusted, and the
  // server's data connection to that port is let in. On in profile rfc; off in azure, aws and
  // gcp (active FTP is not supported there). Tables are allocated at construction only when on;
  // changes need a restart. The caller's packet buffers must have Engine::kFtpAlgGrowth bytes of
  // room past each packet (the datapath copies such packets: nat/README.md "FTP ALG").
  bool ftp_alg = false;
  Duration ftp_data_timeout = std::chrono::minutes(5);  // how long a PORT/EPRT's port waits
  std::uint64_t seed = 1;             // randomness is an input: same seed, same choices
};

inline constexpr std::size_t kMaxPublicIps = 16;

// Azure NAT Gateway (Standard) behaviour: the defaults above.
[[nodiscard]] inline EngineConfig azure_profile() { return EngineConfig{}; }
// The other presets (nat/profiles.cpp; nat/README.md "Profiles" says where each figure is from).
[[nodiscard]] EngineConfig aws_profile();
[[nodiscard]] EngineConfig gcp_profile();
[[nodiscard]] EngineConfig rfc_profile();

}  // namespace natgw::nat
