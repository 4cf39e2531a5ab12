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
};

struct Limits {
  std::uint32_t per_destination = 50'000;  // live connections per public IP per destination
  std::uint32_t max_connections = 2'000'000;  // live connections per gateway
  std::uint16_t port_min = 1024;              // SNAT port range, inclusive
  std::uint16_t port_max = 65535;
  // Flow slots beyond max_connections for ports in hold-down; 0 means max_connections / 4.
  std::uint32_t holddown_reserve = 0;
};

struct EngineConfig {
  std::vector<net::Ipv4> public_ips;  // at most kMaxPublicIps
  std::vector<net::Prefix> subnets;   // sources translated; anything else is dropped
  Timers timers;
  Limits limits;
  bool block_smtp = true;             // outbound TCP to port 25
  // Flow logs (nat/flow_events.hpp): when on, the engine keeps per-flow byte and packet counters
  // (40 bytes per flow slot, allocated at construction) and writes an event per connection start,
  // end and refused attempt into a ring of `flow_log_ring` events. Off: neither is allocated.
  // Changes only with a restart (Engine::reconfigure refuses a change).
  bool flow_log = false;
  std::uint32_t flow_log_ring = 65536;
  // Active FTP (nat/ftp_alg.cpp): PORT/EPRT on outbound control connections to port 21 are
  // rewritten to the public IP and a public port, TCP sequence numbers adjusted, and the
  // server's data connection to that port is let in. Off in profile azure (active FTP is not
  // supported there). Tables are allocated at construction only when on; changes need a restart.
  // The caller's packet buffers must have Engine::kFtpAlgGrowth bytes of room past each packet.
  bool ftp_alg = false;
  Duration ftp_data_timeout = std::chrono::minutes(5);  // how long a PORT/EPRT's port waits
  std::uint64_t seed = 1;             // randomness is an input: same seed, same choices
};

inline constexpr std::size_t kMaxPublicIps = 16;

// Azure NAT Gateway (Standard) behaviour: the defaults above.
[[nodiscard]] inline EngineConfig azure_profile() { return EngineConfig{}; }

}  // namespace natgw::nat
