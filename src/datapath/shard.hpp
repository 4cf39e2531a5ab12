// Several datapath workers, shared nothing: how the gateway is cut into shards and how frames
// find the shard that owns them (ARCHITECTURE.md, "Per-worker state, shared nothing").
//
// Worker i of n owns:
//  - the SNAT ports [port_min + i*slice, port_min + (i+1)*slice - 1] (the last slice ends at
//    port_max), slice = ceil(range / n), on every public IP and for both protocols;
//  - the outbound connections that hash to i (owner_of_inside). With InsideSteering::flow (the
//    usual case) the hash is of the source address and port: one busy host's connections spread
//    over every worker, and its connections to one destination can use every worker's share of
//    the per-destination limit. With InsideSteering::host it is of the source address alone: all
//    of a host's packets reach one worker, for engines that keep state per host (a per-host port
//    allowance) or that need every fragment of a datagram in one place (forwarded UDP
//    fragments, whose later fragments carry no port);
//  - 1/n of the connection limits (split_engine_config), so that the workers together never
//    exceed the gateway's limits, and no locks are needed to enforce them.
// The kernel steers each received frame to its owner without a lock or a copy: each side's
// packet sockets form one fanout group (PACKET_FANOUT_CBPF) whose classic BPF program computes
// exactly owner_of_inside (inside) or owner_of_port (outside: by destination port, for an ICMP
// echo reply by its identifier, for an ICMP error by the quoted packet's source port: the public
// port, or identifier, the owner allocated).
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

// What the inside fanout program hashes: the source address and port, or the address alone.
enum class InsideSteering : std::uint8_t { flow, host };

// The worker that owns an outbound packet from `source`, port `source_port`. Steered by host,
// and for packets without a port to steer by (fragments, ICMP, other protocols), pass port 0:
// the owner is then the one of every packet of the host without a port.
[[nodiscard]] std::size_t owner_of_inside(net::Ipv4 source, std::uint16_t source_port,
                                          std::size_t count) noexcept;
// The worker that owns a connection from `source`:`source_port` (`ported`: TCP or UDP, whose
// packets the program steers by port), as the inside fanout program steers its packets.
[[nodiscard]] std::size_t owner_of_connection(InsideSteering steering, net::Ipv4 source,
                                              std::uint16_t source_port, bool ported,
                                              std::size_t count) noexcept;

// The fanout programs. Outside: frames that are not IPv4 (ARP), or that carry no port
// (fragments, other protocols, ICMP other than echo replies and errors, errors with IP options
// in the outer header) go to worker 0. Inside: frames that are not IPv4 go to worker 0; with
// InsideSteering::flow, unfragmented TCP and UDP are hashed with their source port, an ICMP error
// about TCP/UDP with the quoted packet's destination port (the host's port of the flow it is
// about), everything else with port 0.
[[nodiscard]] std::vector<io::BpfInstruction> inside_steering_program(InsideSteering steering);
[[nodiscard]] std::vector<io::BpfInstruction> outside_steering_program(std::uint16_t port_min,
                                                                       std::uint16_t port_max,
                                                                       std::size_t count);

}  // namespace natgw::datapath
