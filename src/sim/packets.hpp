// The packets the simulator sends through the engine: real IPv4/TCP/UDP headers with valid
// checksums, written into a caller's buffer without allocating.
#pragma once

#include <cstdint>

#include "net/types.hpp"

namespace natgw::sim {

inline constexpr std::size_t kPacketBuffer = 128;  // room for every packet the simulator writes
inline constexpr std::uint16_t kPayload = 24;      // bytes of data in a request or response

// Writes an IPv4/TCP segment with `payload` zero bytes of data; returns its length.
std::uint16_t write_tcp(std::uint8_t* buf, net::Endpoint src, net::Endpoint dst, std::uint8_t flags,
                        std::uint32_t seq, std::uint32_t ack, std::uint16_t payload) noexcept;

// Writes an IPv4/UDP datagram with `payload` zero bytes; returns its length.
std::uint16_t write_udp(std::uint8_t* buf, net::Endpoint src, net::Endpoint dst,
                        std::uint16_t payload) noexcept;

// The source endpoint of an IPv4 TCP/UDP packet (as translated by the engine).
[[nodiscard]] net::Endpoint source_of(const std::uint8_t* ip) noexcept;

}  // namespace natgw::sim
