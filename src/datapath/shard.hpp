// Several datapath workers, shared nothing: how the gateway is cut into shards and how frames
// find the shard that owns them (ARCHITECTURE.md, "Per-worker state, shared nothing").
//
// Worker i of n owns:
//  - the SNAT ports [port_min + i*slice, port_min + (i+1)*slice - 1] (the last slice ends at
//    port_max), slice = ceil(range / n), on every public IP and for both protocols;
//  - the inside hosts whose address hashes to i (owner_of_inside): all of a host's connections
//    are made by one worker, so what the engine knows per host stays whole;
//  - 1/n of the connection limits (split_engine_config), so that the workers together never
//    exceed the gateway's limits, and no locks are needed to enforce them.
// The kernel steers each received frame to its owner without a lock or a copy: each side's
// packet sockets form one fanout group (PACKET_FANOUT_CBPF) whose classic BPF program computes
// exactly owner_of_inside (inside: by source address) or owner_of_port (outside: by destination
// port, or for an ICMP error by the quoted packet's source port, the public port).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/af_packet.hpp"
#include "nat/config.hpp"
#include "net/types.hpp"

namespace natgw::datapath {

// The engine configuration of worker `index` of `count` (1 <= count <= the port range): its
// port slice, its share of max_connections, per_destination and the hold-down reserve (shares
// differ by at most one; at least one each), and a seed of its own.
[[nodiscard]] nat::EngineConfig shard_config(const nat::EngineConfig& whole, std::size_t index,
                                             std::size_t count);

// Ports per slice for `count` workers.
[[nodiscard]] std::uint32_t port_slice(std::uint16_t port_min, std::uint16_t port_max,
                                       std::size_t count) noexcept;

// The worker that owns a public port (ports outside the range: worker 0, which drops them).
[[nodiscard]] std::size_t owner_of_port(std::uint16_t port, std::uint16_t port_min,
                                        std::uint16_t port_max, std::size_t count) noexcept;

// The worker that owns an inside host.
[[nodiscard]] std::size_t owner_of_inside(net::Ipv4 source, std::size_t count) noexcept;

// The fanout programs. Frames that are not IPv4 (ARP), or that carry no port (fragments, other
// protocols; ICMP errors with IP options in the outer header), go to worker 0.
[[nodiscard]] std::vector<io::BpfInstruction> inside_steering_program();
[[nodiscard]] std::vector<io::BpfInstruction> outside_steering_program(std::uint16_t port_min,
                                                                       std::uint16_t port_max,
                                                                       std::size_t count);

}  // namespace natgw::datapath
