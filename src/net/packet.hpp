// A parsed view of one IPv4 packet in a mutable buffer, and the in-place rewrites a NAT needs.
// Parsing validates every length before it is used: any inconsistency is `malformed`, never a
// read outside the buffer. Rewrites keep every checksum correct incrementally (RFC 1624).
#pragma once

#include <cstddef>
#include <cstdint>

#include "net/types.hpp"

namespace natgw::net {

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestUnreachable = 3;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpTimeExceeded = 11;
inline constexpr std::uint8_t kIcmpParameterProblem = 12;

inline constexpr std::size_t kIpv4MinHeader = 20;
inline constexpr std::size_t kTcpMinHeader = 20;
inline constexpr std::size_t kUdpHeader = 8;
inline constexpr std::size_t kIcmpHeader = 8;

enum class ParseResult : std::uint8_t { ok, malformed };

struct PacketView {
  std::uint8_t* ip = nullptr;      // first byte of the IPv4 header
  std::uint16_t total_len = 0;     // IPv4 total length; bytes after it (padding) are ignored
  std::uint8_t ihl = 0;            // IPv4 header length in bytes
  std::uint8_t proto = 0;          // IP protocol number
  std::uint8_t ttl = 0;
  bool fragment = false;        // MF set or offset > 0: transport fields are not parsed ...
  bool first_fragment = false;  // ... except in a UDP first fragment (offset 0): ports parsed
  // Set by the caller after parse(), never by it: the TCP/UDP checksum field holds only the
  // pseudo-header sum (checksum offload, e.g. a GSO super-frame); the rest is summed when the
  // packet is finally sent. Rewrites then update that partial sum for a changed address (it is
  // in the pseudo-header) and leave it for a changed port (in the summed part).
  bool csum_partial = false;
  // Set by the caller too: a GSO super-packet's payload bytes per wire segment (0: not GSO).
  std::uint16_t gso_size = 0;
  Ipv4 src;
  Ipv4 dst;
  // TCP/UDP: ports. ICMP: type and code.
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t tcp_flags = 0;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  // ICMP error (destination unreachable, time exceeded, parameter problem) that quotes the
  // header of a TCP or UDP packet (icmp_error) or of an ICMP echo (quoted_echo: its identifier
  // is both inner ports). `inner_*` describe the quoted packet.
  bool icmp_error = false;
  bool quoted_echo = false;
  std::uint8_t inner_ihl = 0;
  std::uint8_t inner_proto = 0;
  std::uint16_t inner_l4_len = 0;  // quoted transport bytes present (at least 8)
  Ipv4 inner_src;
  Ipv4 inner_dst;
  std::uint16_t inner_sport = 0;
  std::uint16_t inner_dport = 0;

  [[nodiscard]] std::uint8_t* l4() const noexcept { return ip + ihl; }
  [[nodiscard]] std::uint16_t l4_len() const noexcept {
    return static_cast<std::uint16_t>(total_len - ihl);
  }
  [[nodiscard]] std::uint8_t* inner_ip() const noexcept { return l4() + kIcmpHeader; }
  [[nodiscard]] std::uint8_t* inner_l4() const noexcept { return inner_ip() + inner_ihl; }
  [[nodiscard]] bool is_tcp() const noexcept { return proto == static_cast<std::uint8_t>(Proto::tcp); }
  [[nodiscard]] bool is_udp() const noexcept { return proto == static_cast<std::uint8_t>(Proto::udp); }
  [[nodiscard]] bool is_icmp() const noexcept {
    return proto == static_cast<std::uint8_t>(Proto::icmp);
  }
};

// What a packet is on the wire: one packet of total_len bytes, or for a GSO super-packet
// (gso_size > 0) the segments it is cut into, each with a copy of the IP and TCP/UDP headers.
struct WireSize {
  std::uint32_t packets = 1;
  std::uint32_t bytes = 0;
};
[[nodiscard]] inline WireSize wire_size(const PacketView& v) noexcept {
  if (v.gso_size == 0 || v.fragment || !(v.is_tcp() || v.is_udp())) return {1, v.total_len};
  const std::uint32_t headers =
      v.ihl + (v.is_tcp() ? static_cast<std::uint32_t>(v.l4()[12] >> 4) * 4u
                          : static_cast<std::uint32_t>(kUdpHeader));
  if (v.total_len <= headers) return {1, v.total_len};
  const std::uint32_t payload = v.total_len - headers;
  const std::uint32_t segments = (payload + v.gso_size - 1) / v.gso_size;
  return {segments, v.total_len + (segments - 1) * headers};
}

// Parses an IPv4 packet starting at `data`. `len` is the buffer length (may exceed the
// packet's total length, e.g. Ethernet padding). Checks version, header length, total length,
// header checksum, IPv4 option lengths, and for unfragmented TCP/UDP/ICMP the transport header
// and, for ICMP errors, the quoted header.
[[nodiscard]] ParseResult parse(std::uint8_t* data, std::size_t len, PacketView& v) noexcept;

// Rewrites the source (or destination) address and TCP/UDP port, fixing the IPv4 header
// checksum and the transport checksum (a UDP checksum of 0 stays 0; a computed 0 becomes 0xFFFF),
// or with csum_partial the partial pseudo-header sum.
void set_source(PacketView& v, Ipv4 addr, std::uint16_t port) noexcept;
void set_destination(PacketView& v, Ipv4 addr, std::uint16_t port) noexcept;

// ICMP echo request/reply: rewrites the source (or destination) address and the identifier,
// fixing the IPv4 header checksum and the ICMP checksum (set_source leaves ICMP's body alone).
void set_echo_source(PacketView& v, Ipv4 addr, std::uint16_t id) noexcept;
void set_echo_destination(PacketView& v, Ipv4 addr, std::uint16_t id) noexcept;

// Decrements TTL and fixes the header checksum. Callers drop packets with TTL <= 1 first.
void decrement_ttl(PacketView& v) noexcept;

// ICMP errors: rewrites the outer destination (or source) address and the quoted packet's
// source (or destination) address and port, fixing the outer header checksum, the quoted
// header checksum, the quoted transport checksum when it was quoted, and the ICMP checksum.
// Used to translate an error about a translated packet back to the host that sent it (RFC 5508).
void icmp_error_rewrite_inbound(PacketView& v, Ipv4 inside_addr, std::uint16_t inside_port) noexcept;
void icmp_error_rewrite_outbound(PacketView& v, Ipv4 public_addr, std::uint16_t public_port) noexcept;

// Overwrites the TCP segment in `v` with the RST that answers it (RFC 9293 section 3.10.7.1:
// seq = SEG.ACK if ACK was set, else seq 0 and ack = SEG.SEQ + SEG.LEN), addressed back to its
// sender. Returns the new packet length (40 bytes). `v` no longer describes the buffer.
[[nodiscard]] std::uint16_t write_rst_reply(PacketView& v) noexcept;

// The TCP/UDP checksum of the whole segment, pseudo-header included, computed from scratch.
// Used for packets natgw builds itself and by tests as the reference.
[[nodiscard]] std::uint16_t transport_checksum(const std::uint8_t* ip) noexcept;

}  // namespace natgw::net
