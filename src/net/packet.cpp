#include "net/packet.hpp"

#include "net/checksum.hpp"

namespace natgw::net {
namespace {

constexpr std::uint16_t kFlagMf = 0x2000;
constexpr std::uint16_t kOffsetMask = 0x1FFF;

// IPv4 options must each fit inside the header (RFC 791 section 3.1).
bool options_well_formed(const std::uint8_t* opt, std::size_t len) noexcept {
  std::size_t i = 0;
  while (i < len) {
    const std::uint8_t type = opt[i];
    if (type == 0) return true;  // end of option list
    if (type == 1) {             // no-operation
      ++i;
      continue;
    }
    if (i + 1 >= len) return false;
    const std::uint8_t olen = opt[i + 1];
    if (olen < 2 || i + olen > len) return false;
    i += olen;
  }
  return true;
}

// Validates an IPv4 header at `p` of which `avail` bytes exist; returns its length or 0.
std::size_t ipv4_header_len(const std::uint8_t* p, std::size_t avail) noexcept {
  if (avail < kIpv4MinHeader || (p[0] >> 4) != 4) return 0;
  const std::size_t ihl = std::size_t{p[0] & 0x0Fu} * 4;
  if (ihl < kIpv4MinHeader || ihl > avail) return 0;
  return ihl;
}

std::size_t l4_checksum_offset(std::uint8_t proto) noexcept {
  return proto == static_cast<std::uint8_t>(Proto::tcp) ? 16 : 6;
}

// Applies an address and port change to the transport checksum at `csum`.
void fix_l4_checksum(std::uint8_t* csum, bool udp, std::uint32_t old_addr, std::uint32_t new_addr,
                     std::uint16_t old_port, std::uint16_t new_port) noexcept {
  std::uint16_t c = load16(csum);
  if (udp && c == 0) return;  // no checksum: stays absent
  c = csum_replace32(c, old_addr, new_addr);
  c = csum_replace16(c, old_port, new_port);
  if (udp && c == 0) c = 0xFFFF;
  store16(csum, c);
}

// Rewrites the address at IPv4 header offset `addr_off` (12 src, 16 dst) and the transport port
// at `port_off` (0 src, 2 dst).
void rewrite(PacketView& v, std::size_t addr_off, std::size_t port_off, Ipv4 addr,
             std::uint16_t port) noexcept {
  std::uint8_t* ip = v.ip;
  const std::uint32_t old_addr = load32(ip + addr_off);
  std::uint32_t new_addr;
  put_be32(reinterpret_cast<std::uint8_t*>(&new_addr), addr.value());
  store32(ip + addr_off, new_addr);
  store16(ip + 10, csum_replace32(load16(ip + 10), old_addr, new_addr));

  if ((!v.fragment || v.first_fragment) && (v.is_tcp() || v.is_udp())) {
    std::uint8_t* l4 = v.l4();
    const std::uint16_t old_port = load16(l4 + port_off);
    std::uint16_t new_port;
    put_be16(reinterpret_cast<std::uint8_t*>(&new_port), port);
    store16(l4 + port_off, new_port);
    std::uint8_t* csum = l4 + l4_checksum_offset(v.proto);
    if (v.csum_partial) {
      // The field is the folded pseudo-header sum, not complemented: add the address change
      // (RFC 1624 on the complemented form, complemented back). Ports are summed later.
      store16(csum, static_cast<std::uint16_t>(~csum_replace32(
                        static_cast<std::uint16_t>(~load16(csum)), old_addr, new_addr)));
    } else {
      fix_l4_checksum(csum, v.is_udp(), old_addr, new_addr, old_port, new_port);
    }
  }
}

// ICMP echo: the identifier is the port, both ways; the ICMP checksum has no pseudo-header.
void rewrite_echo_id(PacketView& v, std::uint16_t id) noexcept {
  std::uint8_t* l4 = v.l4();
  const std::uint16_t old_id = load16(l4 + 4);
  std::uint16_t new_id;
  put_be16(reinterpret_cast<std::uint8_t*>(&new_id), id);
  store16(l4 + 4, new_id);
  store16(l4 + 2, csum_replace16(load16(l4 + 2), old_id, new_id));
  v.sport = v.dport = id;
}

// Rewrites, inside an ICMP error, the quoted packet's address at `addr_off` and port at
// `port_off`, and the outer address at `outer_addr_off`.
void icmp_rewrite(PacketView& v, std::size_t outer_addr_off, std::size_t addr_off,
                  std::size_t port_off, Ipv4 addr, std::uint16_t port) noexcept {
  std::uint8_t* ip = v.ip;
  std::uint8_t* icmp_csum = v.l4() + 2;
  std::uint16_t ic = load16(icmp_csum);

  std::uint32_t new_addr;
  put_be32(reinterpret_cast<std::uint8_t*>(&new_addr), addr.value());
  std::uint16_t new_port;
  put_be16(reinterpret_cast<std::uint8_t*>(&new_port), port);

  // Outer header (not covered by the ICMP checksum).
  const std::uint32_t old_outer = load32(ip + outer_addr_off);
  store32(ip + outer_addr_off, new_addr);
  store16(ip + 10, csum_replace32(load16(ip + 10), old_outer, new_addr));

  // Quoted IPv4 header: address and its header checksum; both are ICMP payload.
  std::uint8_t* in = v.inner_ip();
  const std::uint32_t old_addr = load32(in + addr_off);
  store32(in + addr_off, new_addr);
  ic = csum_replace32(ic, old_addr, new_addr);
  const std::uint16_t old_hc = load16(in + 10);
  const std::uint16_t new_hc = csum_replace32(old_hc, old_addr, new_addr);
  store16(in + 10, new_hc);
  ic = csum_replace16(ic, old_hc, new_hc);

  // Quoted transport header: the port, and its checksum when the quote reaches it.
  std::uint8_t* l4 = v.inner_l4();
  if (v.inner_proto == static_cast<std::uint8_t>(Proto::icmp)) {
    // A quoted ICMP echo: the identifier, and the quoted ICMP checksum (no pseudo-header).
    const std::uint16_t old_id = load16(l4 + 4);
    store16(l4 + 4, new_port);
    ic = csum_replace16(ic, old_id, new_port);
    const std::uint16_t old_c = load16(l4 + 2);
    const std::uint16_t new_c = csum_replace16(old_c, old_id, new_port);
    store16(l4 + 2, new_c);
    ic = csum_replace16(ic, old_c, new_c);
    store16(icmp_csum, ic);
    return;
  }
  const std::uint16_t old_port = load16(l4 + port_off);
  store16(l4 + port_off, new_port);
  ic = csum_replace16(ic, old_port, new_port);
  const std::size_t coff = l4_checksum_offset(v.inner_proto);
  if (v.inner_l4_len >= coff + 2) {
    const std::uint16_t old_c = load16(l4 + coff);
    fix_l4_checksum(l4 + coff, v.inner_proto == static_cast<std::uint8_t>(Proto::udp), old_addr,
                    new_addr, old_port, new_port);
    ic = csum_replace16(ic, old_c, load16(l4 + coff));
  }
  store16(icmp_csum, ic);
}

}  // namespace

ParseResult parse(std::uint8_t* data, std::size_t len, PacketView& v) noexcept {
  v = PacketView{};
  const std::size_t ihl = ipv4_header_len(data, len);
  if (ihl == 0) return ParseResult::malformed;
  const std::size_t total = get_be16(data + 2);
  if (total < ihl || total > len) return ParseResult::malformed;
  if (csum_fold(csum_partial(data, ihl)) != 0xFFFF) return ParseResult::malformed;
  if (ihl > kIpv4MinHeader && !options_well_formed(data + kIpv4MinHeader, ihl - kIpv4MinHeader)) {
    return ParseResult::malformed;
  }
  v.ip = data;
  v.total_len = static_cast<std::uint16_t>(total);
  v.ihl = static_cast<std::uint8_t>(ihl);
  v.ttl = data[8];
  v.proto = data[9];
  v.src = Ipv4{get_be32(data + 12)};
  v.dst = Ipv4{get_be32(data + 16)};
  const std::uint16_t frag = get_be16(data + 6);
  v.fragment = (frag & (kFlagMf | kOffsetMask)) != 0;
  if (v.fragment) {
    // Transport header absent or incomplete; a UDP first fragment has its ports (the checksum
    // covers the whole datagram, so it is updated incrementally like any other).
    const std::size_t l4_len = total - ihl;
    if ((frag & kOffsetMask) == 0 && v.proto == static_cast<std::uint8_t>(Proto::udp) &&
        l4_len >= kUdpHeader) {
      v.first_fragment = true;
      v.sport = get_be16(data + ihl);
      v.dport = get_be16(data + ihl + 2);
    }
    return ParseResult::ok;
  }

  const std::uint8_t* l4 = data + ihl;
  const std::size_t l4_len = total - ihl;
  switch (v.proto) {
    case static_cast<std::uint8_t>(Proto::tcp): {
      if (l4_len < kTcpMinHeader) return ParseResult::malformed;
      const std::size_t doff = static_cast<std::size_t>(l4[12] >> 4) * 4;
      if (doff < kTcpMinHeader || doff > l4_len) return ParseResult::malformed;
      v.sport = get_be16(l4);
      v.dport = get_be16(l4 + 2);
      v.tcp_flags = l4[13];
      return ParseResult::ok;
    }
    case static_cast<std::uint8_t>(Proto::udp): {
      if (l4_len < kUdpHeader) return ParseResult::malformed;
      const std::size_t ulen = get_be16(l4 + 4);
      if (ulen < kUdpHeader || ulen > l4_len) return ParseResult::malformed;
      v.sport = get_be16(l4);
      v.dport = get_be16(l4 + 2);
      return ParseResult::ok;
    }
    case static_cast<std::uint8_t>(Proto::icmp): {
      if (l4_len < kIcmpHeader) return ParseResult::malformed;
      v.icmp_type = l4[0];
      v.icmp_code = l4[1];
      if (v.icmp_type == kIcmpEchoRequest || v.icmp_type == kIcmpEchoReply) {
        v.sport = v.dport = get_be16(l4 + 4);  // identifier
        return ParseResult::ok;
      }
      if (v.icmp_type != kIcmpDestUnreachable && v.icmp_type != kIcmpTimeExceeded &&
          v.icmp_type != kIcmpParameterProblem) {
        return ParseResult::ok;
      }
      // An error must quote at least the IPv4 header and 8 bytes of what followed (RFC 792).
      const std::uint8_t* in = l4 + kIcmpHeader;
      const std::size_t avail = l4_len - kIcmpHeader;
      const std::size_t in_ihl = ipv4_header_len(in, avail);
      if (in_ihl == 0 || avail < in_ihl + 8) return ParseResult::malformed;
      const std::uint8_t in_proto = in[9];
      const bool quoted_first_fragment = (get_be16(in + 6) & kOffsetMask) == 0;
      const bool quoted_echo = in_proto == static_cast<std::uint8_t>(Proto::icmp) &&
                               (in[in_ihl] == kIcmpEchoRequest || in[in_ihl] == kIcmpEchoReply);
      if ((in_proto != static_cast<std::uint8_t>(Proto::tcp) &&
           in_proto != static_cast<std::uint8_t>(Proto::udp) && !quoted_echo) ||
          !quoted_first_fragment) {
        return ParseResult::ok;  // an error about something natgw never translates
      }
      v.icmp_error = !quoted_echo;
      v.quoted_echo = quoted_echo;
      v.inner_ihl = static_cast<std::uint8_t>(in_ihl);
      v.inner_proto = in_proto;
      v.inner_l4_len = static_cast<std::uint16_t>(avail - in_ihl);
      v.inner_src = Ipv4{get_be32(in + 12)};
      v.inner_dst = Ipv4{get_be32(in + 16)};
      v.inner_sport = get_be16(in + in_ihl + (quoted_echo ? 4 : 0));
      v.inner_dport = get_be16(in + in_ihl + (quoted_echo ? 4 : 2));
      return ParseResult::ok;
    }
    default:
      return ParseResult::ok;
  }
}

void set_source(PacketView& v, Ipv4 addr, std::uint16_t port) noexcept {
  rewrite(v, 12, 0, addr, port);
  v.src = addr;
  v.sport = port;
}

void set_destination(PacketView& v, Ipv4 addr, std::uint16_t port) noexcept {
  rewrite(v, 16, 2, addr, port);
  v.dst = addr;
  v.dport = port;
}

void set_echo_source(PacketView& v, Ipv4 addr, std::uint16_t id) noexcept {
  rewrite(v, 12, 0, addr, 0);  // the address only: ICMP has no ports
  v.src = addr;
  rewrite_echo_id(v, id);
}

void set_echo_destination(PacketView& v, Ipv4 addr, std::uint16_t id) noexcept {
  rewrite(v, 16, 2, addr, 0);
  v.dst = addr;
  rewrite_echo_id(v, id);
}

void decrement_ttl(PacketView& v) noexcept {
  std::uint8_t* ip = v.ip;
  // The TTL/protocol word is built in a register: reloading it after a 1-byte store would stall
  // on store forwarding.
  const std::uint8_t old_bytes[2] = {ip[8], ip[9]};
  const std::uint8_t new_bytes[2] = {static_cast<std::uint8_t>(ip[8] - 1), ip[9]};
  ip[8] = new_bytes[0];
  store16(ip + 10, csum_replace16(load16(ip + 10), load16(old_bytes), load16(new_bytes)));
  v.ttl = new_bytes[0];
}

void icmp_error_rewrite_inbound(PacketView& v, Ipv4 inside_addr, std::uint16_t inside_port) noexcept {
  // The error answers a packet the inside host sent: the quote's source is the public
  // endpoint, the outer destination the public address.
  icmp_rewrite(v, 16, 12, 0, inside_addr, inside_port);
  v.dst = inside_addr;
  v.inner_src = inside_addr;
  v.inner_sport = inside_port;
}

void icmp_error_rewrite_outbound(PacketView& v, Ipv4 public_addr, std::uint16_t public_port) noexcept {
  // The inside host reports an error about a packet it received: the quote's destination and
  // the outer source become the public endpoint.
  icmp_rewrite(v, 12, 16, 2, public_addr, public_port);
  v.src = public_addr;
  v.inner_dst = public_addr;
  v.inner_dport = public_port;
}

std::uint16_t transport_checksum(const std::uint8_t* ip) noexcept {
  const std::size_t ihl = std::size_t{ip[0] & 0x0Fu} * 4;
  const std::size_t total = get_be16(ip + 2);
  const std::uint8_t proto = ip[9];
  std::size_t l4_len = total - ihl;
  // UDP covers its own length, which may be shorter than the IP payload (RFC 768).
  if (proto == static_cast<std::uint8_t>(Proto::udp)) {
    const std::size_t ulen = get_be16(ip + ihl + 4);
    if (ulen >= kUdpHeader && ulen <= l4_len) l4_len = ulen;
  }
  std::uint8_t pseudo[12];
  std::memcpy(pseudo, ip + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = proto;
  put_be16(pseudo + 10, static_cast<std::uint16_t>(l4_len));
  const std::uint8_t* l4 = ip + ihl;
  const std::size_t coff = l4_checksum_offset(proto);
  // Sum with the checksum field treated as zero.
  std::uint64_t sum = csum_partial(pseudo, sizeof pseudo);
  sum = csum_partial(l4, coff, sum);
  sum = csum_partial(l4 + coff + 2, l4_len - coff - 2, sum);
  std::uint16_t c = static_cast<std::uint16_t>(~csum_fold(sum));
  if (proto == static_cast<std::uint8_t>(Proto::udp) && c == 0) c = 0xFFFF;
  return c;
}

std::uint16_t write_rst_reply(PacketView& v) noexcept {
  std::uint8_t* ip = v.ip;
  const std::uint8_t* l4 = v.l4();
  const std::uint32_t src = load32(ip + 12);
  const std::uint32_t dst = load32(ip + 16);
  const std::uint16_t sport = load16(l4);
  const std::uint16_t dport = load16(l4 + 2);
  const std::uint32_t seq = get_be32(l4 + 4);
  const std::uint32_t ack = get_be32(l4 + 8);
  const std::uint8_t flags = l4[13];
  const std::size_t doff = static_cast<std::size_t>(l4[12] >> 4) * 4;
  const std::uint32_t seg_len = static_cast<std::uint32_t>(v.l4_len() - doff) +
                                ((flags & kTcpSyn) ? 1u : 0u) + ((flags & kTcpFin) ? 1u : 0u);

  constexpr std::uint16_t kLen = kIpv4MinHeader + kTcpMinHeader;
  ip[0] = 0x45;
  ip[1] = 0;
  put_be16(ip + 2, kLen);
  put_be16(ip + 4, 0);       // identification
  put_be16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = static_cast<std::uint8_t>(Proto::tcp);
  store16(ip + 10, 0);
  store32(ip + 12, dst);
  store32(ip + 16, src);
  store16(ip + 10, checksum(ip, kIpv4MinHeader));

  std::uint8_t* t = ip + kIpv4MinHeader;  // may overlap the old header: all fields read above
  store16(t, dport);
  store16(t + 2, sport);
  if (flags & kTcpAck) {
    put_be32(t + 4, ack);
    put_be32(t + 8, 0);
    t[13] = kTcpRst;
  } else {
    put_be32(t + 4, 0);
    put_be32(t + 8, seq + seg_len);
    t[13] = kTcpRst | kTcpAck;
  }
  t[12] = 5 << 4;
  put_be16(t + 14, 0);  // window
  store16(t + 16, 0);
  put_be16(t + 18, 0);  // urgent pointer
  store16(t + 16, transport_checksum(ip));

  v.total_len = kLen;
  v.ihl = kIpv4MinHeader;
  v.csum_partial = false;  // computed in full above
  return kLen;
}

}  // namespace natgw::net
