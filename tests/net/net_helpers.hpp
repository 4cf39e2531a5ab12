// Helpers shared by the src/net tests. Reference checksums come from tests/support/packets.hpp,
// which does not use src/net/checksum.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "net/packet.hpp"
#include "net/types.hpp"
#include "support/packets.hpp"

namespace natgw::test {

// Addresses of the examples: an inside host, a public IP of the gateway, a server on the
// internet and a router on the path.
inline constexpr net::Ipv4 kInside{10, 0, 0, 5};
inline constexpr net::Ipv4 kPublic{203, 0, 113, 10};
inline constexpr net::Ipv4 kServer{198, 51, 100, 7};
inline constexpr net::Ipv4 kRouter{192, 0, 2, 1};

// A copy of the first `n` bytes in a buffer of exactly `n` bytes, so that AddressSanitizer
// reports any read past the end.
inline Bytes exact(const Bytes& b, std::size_t n) {
  return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
}

// Recomputes the IPv4 header checksum (reference implementation) after a test edits the header.
inline void fix_ip_checksum(Bytes& p) {
  const std::size_t ihl = std::size_t(p[0] & 0x0F) * 4;
  wr16(&p[10], 0);
  wr16(&p[10], ref_checksum(p.data(), ihl));
}

// Sets the IPv4 total length to `len` and fixes the header checksum.
inline void set_total_length(Bytes& p, std::size_t len) {
  wr16(&p[2], static_cast<std::uint16_t>(len));
  fix_ip_checksum(p);
}

inline net::ParseResult parse_bytes(Bytes& p, net::PacketView& v) {
  return net::parse(p.data(), p.size(), v);
}

inline net::ParseResult parse_bytes(Bytes& p) {
  net::PacketView v;
  return net::parse(p.data(), p.size(), v);
}

inline Bytes text_bytes(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

}  // namespace natgw::test
