// Test packets written as data, readable as a sentence:
//   auto p = PacketBuilder().ipv4(inside, server).tcp(40000, 443, kSyn).build();
// Checksums are computed from scratch by an implementation independent of src/net (a plain
// RFC 1071 loop), so tests can verify natgw's incremental updates against it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/types.hpp"

namespace natgw::test {

using Bytes = std::vector<std::uint8_t>;

// Reference RFC 1071 checksum: sum 16-bit big-endian words, fold, complement.
inline std::uint16_t ref_checksum(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += (std::uint32_t{p[i]} << 8) | p[i + 1];
  if (n & 1) sum += std::uint32_t{p[n - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

inline std::uint16_t rd16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
inline std::uint32_t rd32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline void wr16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void wr32(std::uint8_t* p, std::uint32_t v) {
  wr16(p, static_cast<std::uint16_t>(v >> 16));
  wr16(p + 2, static_cast<std::uint16_t>(v));
}

// True when the IPv4 header checksum of the packet at `ip` verifies.
inline bool ip_checksum_ok(const std::uint8_t* ip) {
  const std::size_t ihl = std::size_t(ip[0] & 0x0F) * 4;
  return ref_checksum(ip, ihl) == 0;
}

// True when the TCP/UDP checksum (with pseudo-header) or ICMP checksum verifies. A UDP
// checksum of 0 means "none" and verifies.
// Checksum offload (CHECKSUM_PARTIAL): replaces a TCP/UDP packet's checksum with the folded
// pseudo-header sum, as a sender's stack leaves it for the NIC.
inline void make_partial(std::uint8_t* ip) {
  const std::size_t ihl = std::size_t(ip[0] & 0x0F) * 4;
  const std::uint8_t proto = ip[9];
  std::uint32_t sum = rd16(ip + 12) + rd16(ip + 14) + rd16(ip + 16) + rd16(ip + 18) + proto +
                      static_cast<std::uint32_t>(rd16(ip + 2) - ihl);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  wr16(ip + ihl + (proto == 6 ? 16 : 6), static_cast<std::uint16_t>(sum));
}
// What the NIC (or the kernel's GSO) does with it: sums the segment, partial field included.
inline void complete_partial(std::uint8_t* ip) {
  const std::size_t ihl = std::size_t(ip[0] & 0x0F) * 4;
  std::uint8_t* l4 = ip + ihl;
  const std::size_t off = ip[9] == 6 ? 16 : 6;
  wr16(l4 + off, ref_checksum(l4, rd16(ip + 2) - ihl));
}

inline bool l4_checksum_ok(const std::uint8_t* ip) {
  const std::size_t ihl = std::size_t(ip[0] & 0x0F) * 4;
  const std::size_t total = rd16(ip + 2);
  const std::uint8_t proto = ip[9];
  const std::uint8_t* l4 = ip + ihl;
  const std::size_t len = total - ihl;
  if (proto == 1) return ref_checksum(l4, len) == 0;
  if (proto == 17 && rd16(l4 + 6) == 0) return true;
  std::uint32_t sum = rd16(ip + 12) + rd16(ip + 14) + rd16(ip + 16) + rd16(ip + 18) + proto +
                      static_cast<std::uint32_t>(len);
  return ref_checksum(l4, len, sum) == 0;
}

class PacketBuilder {
 public:
  PacketBuilder& ipv4(net::Ipv4 src, net::Ipv4 dst, std::uint8_t ttl = 64) {
    src_ = src;
    dst_ = dst;
    ttl_ = ttl;
    return *this;
  }
  PacketBuilder& ip_options(Bytes opts) {  // padded to a multiple of 4 by the caller
    options_ = std::move(opts);
    return *this;
  }
  PacketBuilder& fragment(bool more, std::uint16_t offset_units) {
    frag_ = static_cast<std::uint16_t>((more ? 0x2000 : 0) | (offset_units & 0x1FFF));
    return *this;
  }
  PacketBuilder& tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags,
                     std::uint32_t seq = 1000, std::uint32_t ack = 0) {
    proto_ = 6;
    l4_.assign(20, 0);
    wr16(&l4_[0], sport);
    wr16(&l4_[2], dport);
    wr32(&l4_[4], seq);
    wr32(&l4_[8], ack);
    l4_[12] = 5 << 4;
    l4_[13] = flags;
    wr16(&l4_[14], 65535);
    return *this;
  }
  PacketBuilder& udp(std::uint16_t sport, std::uint16_t dport) {
    proto_ = 17;
    l4_.assign(8, 0);
    wr16(&l4_[0], sport);
    wr16(&l4_[2], dport);
    return *this;
  }
  PacketBuilder& icmp(std::uint8_t type, std::uint8_t code, std::uint32_t rest = 0) {
    proto_ = 1;
    l4_.assign(8, 0);
    l4_[0] = type;
    l4_[1] = code;
    wr32(&l4_[4], rest);
    return *this;
  }
  PacketBuilder& proto(std::uint8_t p) {  // any other protocol, empty payload
    proto_ = p;
    l4_.clear();
    return *this;
  }
  PacketBuilder& payload(const Bytes& b) {
    payload_ = b;
    return *this;
  }
  PacketBuilder& payload(const std::string& s) { return payload(Bytes(s.begin(), s.end())); }
  PacketBuilder& udp_no_checksum() {
    udp_zero_ = true;
    return *this;
  }

  Bytes build() const {
    const std::size_t ihl = 20 + options_.size();
    Bytes p(ihl + l4_.size() + payload_.size(), 0);
    p[0] = static_cast<std::uint8_t>(0x40 | (ihl / 4));
    wr16(&p[2], static_cast<std::uint16_t>(p.size()));
    wr16(&p[4], 0x1234);
    wr16(&p[6], frag_);
    p[8] = ttl_;
    p[9] = proto_;
    wr32(&p[12], src_.value());
    wr32(&p[16], dst_.value());
    std::copy(options_.begin(), options_.end(), p.begin() + 20);
    wr16(&p[10], ref_checksum(p.data(), ihl));
    std::uint8_t* l4 = p.data() + ihl;
    std::copy(l4_.begin(), l4_.end(), l4);
    std::copy(payload_.begin(), payload_.end(), l4 + l4_.size());
    const std::size_t len = p.size() - ihl;
    if (l4_.empty()) return p;  // raw protocol payload (e.g. a non-first fragment): no header
    if (proto_ == 17) wr16(l4 + 4, static_cast<std::uint16_t>(len));
    if (proto_ == 6 || (proto_ == 17 && !udp_zero_)) {
      const std::size_t off = proto_ == 6 ? 16 : 6;
      std::uint32_t sum = (src_.value() >> 16) + (src_.value() & 0xFFFF) + (dst_.value() >> 16) +
                          (dst_.value() & 0xFFFF) + proto_ + static_cast<std::uint32_t>(len);
      std::uint16_t c = ref_checksum(l4, len, sum);
      if (proto_ == 17 && c == 0) c = 0xFFFF;
      wr16(l4 + off, c);
    } else if (proto_ == 1) {
      wr16(l4 + 2, ref_checksum(l4, len));
    }
    return p;
  }

 private:
  net::Ipv4 src_, dst_;
  std::uint8_t ttl_ = 64;
  std::uint8_t proto_ = 6;
  std::uint16_t frag_ = 0;
  Bytes options_, l4_, payload_;
  bool udp_zero_ = false;
};

// An ICMP error of `type`/`code` from `from` to `to` that quotes `quoted` (its IP header and
// the first `quote_l4` bytes of its transport header, as routers do; 8 is the RFC 792 minimum).
inline Bytes icmp_error(net::Ipv4 from, net::Ipv4 to, std::uint8_t type, std::uint8_t code,
                        const Bytes& quoted, std::size_t quote_l4 = 8) {
  const std::size_t ihl = std::size_t(quoted[0] & 0x0F) * 4;
  Bytes q(quoted.begin(), quoted.begin() + static_cast<std::ptrdiff_t>(
                                               std::min(quoted.size(), ihl + quote_l4)));
  return PacketBuilder().ipv4(from, to).icmp(type, code).payload(q).build();
}

// TCP flag shorthands for fixtures.
inline constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

}  // namespace natgw::test
