// net::parse: the fields of every kind of packet, and `malformed` (never a read out of bounds)
// for every kind of broken one. Buffers are exact-size vectors so that the Sanitize build
// catches any overrun.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "net/net_helpers.hpp"
#include "net/packet.hpp"

namespace natgw::test {
namespace {

using net::PacketView;
using net::ParseResult;

Bytes tcp_packet() {
  return PacketBuilder()
      .ipv4(kInside, kServer, 63)
      .tcp(40000, 443, kSyn | kAck)
      .payload("hello")
      .build();
}
Bytes udp_packet() {
  return PacketBuilder().ipv4(kInside, kServer).udp(5353, 53).payload("query").build();
}

TEST(Parse, Tcp) {
  Bytes p = tcp_packet();
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  EXPECT_EQ(v.ip, p.data());
  EXPECT_EQ(v.total_len, 45);
  EXPECT_EQ(v.ihl, 20);
  EXPECT_EQ(v.proto, 6);
  EXPECT_TRUE(v.is_tcp());
  EXPECT_FALSE(v.is_udp());
  EXPECT_FALSE(v.is_icmp());
  EXPECT_EQ(v.ttl, 63);
  EXPECT_FALSE(v.fragment);
  EXPECT_EQ(v.src, kInside);
  EXPECT_EQ(v.dst, kServer);
  EXPECT_EQ(v.sport, 40000);
  EXPECT_EQ(v.dport, 443);
  EXPECT_EQ(v.tcp_flags, kSyn | kAck);
  EXPECT_FALSE(v.icmp_error);
  EXPECT_EQ(v.l4(), p.data() + 20);
  EXPECT_EQ(v.l4_len(), 25);
}

TEST(Parse, TcpWithOptionsAndEveryFlag) {
  Bytes p = PacketBuilder().ipv4(kInside, kServer).tcp(1, 65535, 0xFF).payload("x").build();
  // Grow the TCP header to 24 bytes with one MSS-sized option slot (the builder writes none).
  p.insert(p.begin() + 40, {2, 4, 0x05, 0xB4});
  p[32] = 6 << 4;
  set_total_length(p, p.size());
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  EXPECT_EQ(v.sport, 1);
  EXPECT_EQ(v.dport, 65535);
  EXPECT_EQ(v.tcp_flags, 0xFF);
  EXPECT_EQ(v.l4_len(), 25);
}

TEST(Parse, Udp) {
  Bytes p = udp_packet();
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  EXPECT_TRUE(v.is_udp());
  EXPECT_EQ(v.proto, 17);
  EXPECT_EQ(v.total_len, 33);
  EXPECT_EQ(v.src, kInside);
  EXPECT_EQ(v.dst, kServer);
  EXPECT_EQ(v.sport, 5353);
  EXPECT_EQ(v.dport, 53);
  EXPECT_EQ(v.tcp_flags, 0);
  EXPECT_EQ(v.l4_len(), 13);
  EXPECT_FALSE(v.fragment);
}

TEST(Parse, UdpWithoutChecksum) {
  Bytes p = PacketBuilder().ipv4(kInside, kServer).udp(1000, 2000).udp_no_checksum().build();
  ASSERT_EQ(rd16(&p[26]), 0);
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  EXPECT_EQ(v.sport, 1000);
  EXPECT_EQ(v.dport, 2000);
  EXPECT_EQ(v.l4_len(), 8);
}

TEST(Parse, UdpLengthShorterThanIpPayloadIsAccepted) {
  // Trailing bytes inside the IP datagram after the UDP datagram: the UDP length is what counts.
  Bytes p = PacketBuilder().ipv4(kInside, kServer).udp(1000, 2000).payload("abcd").build();
  wr16(&p[24], 10);
  PacketView v;
  EXPECT_EQ(parse_bytes(p, v), ParseResult::ok);
  EXPECT_EQ(v.sport, 1000);
}

TEST(Parse, IcmpEcho) {
  for (const std::uint8_t type :
       std::initializer_list<std::uint8_t>{net::kIcmpEchoRequest, net::kIcmpEchoReply}) {
    Bytes p =
        PacketBuilder().ipv4(kInside, kServer).icmp(type, 0, 0x1234'0007).payload("ping").build();
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    EXPECT_TRUE(v.is_icmp());
    EXPECT_EQ(v.icmp_type, type);
    EXPECT_EQ(v.icmp_code, 0);
    EXPECT_EQ(v.sport, 0x1234);  // the identifier, in both port fields
    EXPECT_EQ(v.dport, 0x1234);
    EXPECT_FALSE(v.icmp_error);
    EXPECT_EQ(v.l4_len(), 12);
  }
}

TEST(Parse, OtherIcmpTypes) {
  for (const std::uint8_t type : std::initializer_list<std::uint8_t>{4, 5, 9, 13, 14, 255}) {
    Bytes p = PacketBuilder().ipv4(kServer, kPublic).icmp(type, 7, 0xAABBCCDD).build();
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok) << int(type);
    EXPECT_EQ(v.icmp_type, type);
    EXPECT_EQ(v.icmp_code, 7);
    EXPECT_FALSE(v.icmp_error);
    EXPECT_EQ(v.sport, 0);
  }
}

struct ErrorCase {
  std::uint8_t type, code;
};
constexpr ErrorCase kErrors[] = {{3, 0},  {3, 1},  {3, 3},  {3, 4},
                                 {3, 13}, {11, 0}, {11, 1}, {12, 0}};

TEST(Parse, IcmpErrorsQuotingTcp) {
  const Bytes quoted = PacketBuilder().ipv4(kPublic, kServer, 1).tcp(1024, 443, kSyn).build();
  for (const auto& e : kErrors) {
    for (std::size_t quote_l4 : {std::size_t{8}, std::size_t{20}}) {
      Bytes p = icmp_error(kRouter, kPublic, e.type, e.code, quoted, quote_l4);
      PacketView v;
      ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
      EXPECT_TRUE(v.is_icmp());
      EXPECT_EQ(v.src, kRouter);
      EXPECT_EQ(v.dst, kPublic);
      EXPECT_EQ(v.icmp_type, e.type);
      EXPECT_EQ(v.icmp_code, e.code);
      EXPECT_TRUE(v.icmp_error);
      EXPECT_EQ(v.inner_ihl, 20);
      EXPECT_EQ(v.inner_proto, 6);
      EXPECT_EQ(v.inner_l4_len, quote_l4);
      EXPECT_EQ(v.inner_src, kPublic);
      EXPECT_EQ(v.inner_dst, kServer);
      EXPECT_EQ(v.inner_sport, 1024);
      EXPECT_EQ(v.inner_dport, 443);
      EXPECT_EQ(v.inner_ip(), p.data() + 28);
      EXPECT_EQ(v.inner_l4(), p.data() + 48);
    }
  }
}

TEST(Parse, IcmpErrorsQuotingUdp) {
  const Bytes quoted = PacketBuilder().ipv4(kInside, kServer).udp(40000, 53).payload("q").build();
  for (const auto& e : kErrors) {
    Bytes p = icmp_error(kServer, kInside, e.type, e.code, quoted, 100);  // all of it
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    EXPECT_TRUE(v.icmp_error);
    EXPECT_EQ(v.inner_proto, 17);
    EXPECT_EQ(v.inner_l4_len, 9);
    EXPECT_EQ(v.inner_src, kInside);
    EXPECT_EQ(v.inner_dst, kServer);
    EXPECT_EQ(v.inner_sport, 40000);
    EXPECT_EQ(v.inner_dport, 53);
  }
}

TEST(Parse, IcmpErrorQuotingAHeaderWithOptions) {
  const Bytes quoted =
      PacketBuilder().ipv4(kPublic, kServer).ip_options({1, 1, 1, 0}).udp(1024, 53).build();
  Bytes p = icmp_error(kRouter, kPublic, 11, 0, quoted);
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  EXPECT_TRUE(v.icmp_error);
  EXPECT_EQ(v.inner_ihl, 24);
  EXPECT_EQ(v.inner_l4_len, 8);
  EXPECT_EQ(v.inner_sport, 1024);
  EXPECT_EQ(v.inner_dport, 53);
}

TEST(Parse, IcmpErrorsAboutWhatNatgwNeverTranslates) {
  // Quoting ICMP, GRE, or a non-first fragment: a valid packet, but not an `icmp_error`.
  const Bytes quotes[] = {
      PacketBuilder().ipv4(kPublic, kServer).icmp(8, 0, 1).build(),
      PacketBuilder().ipv4(kPublic, kServer).proto(47).payload("12345678").build(),
      PacketBuilder().ipv4(kPublic, kServer).fragment(false, 100).udp(1, 2).build(),
  };
  for (const auto& q : quotes) {
    Bytes p = icmp_error(kRouter, kPublic, 3, 1, q);
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    EXPECT_FALSE(v.icmp_error);
    EXPECT_EQ(v.icmp_type, 3);
  }
  // A first fragment (MF set, offset 0) carries the ports: translated.
  const Bytes first = PacketBuilder().ipv4(kPublic, kServer).fragment(true, 0).udp(7, 9).build();
  Bytes p = icmp_error(kRouter, kPublic, 3, 4, first);
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  EXPECT_TRUE(v.icmp_error);
  EXPECT_EQ(v.inner_sport, 7);
  EXPECT_EQ(v.inner_dport, 9);
}

TEST(Parse, OtherProtocols) {
  for (const std::uint8_t proto : std::initializer_list<std::uint8_t>{47, 50, 41, 132, 0, 255}) {
    Bytes p = PacketBuilder().ipv4(kInside, kServer).proto(proto).payload("0123456789").build();
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok) << int(proto);
    EXPECT_EQ(v.proto, proto);
    EXPECT_EQ(v.src, kInside);
    EXPECT_EQ(v.dst, kServer);
    EXPECT_EQ(v.sport, 0);
    EXPECT_EQ(v.dport, 0);
    EXPECT_EQ(v.l4_len(), 10);
  }
  Bytes empty = PacketBuilder().ipv4(kInside, kServer).proto(47).build();
  EXPECT_EQ(parse_bytes(empty), ParseResult::ok);
}

TEST(Parse, ValidIpOptions) {
  const Bytes options[] = {
      {1, 1, 1, 0},                 // NOPs, end of list
      {0x94, 0x04, 0x00, 0x00},     // router alert
      {1, 7, 7, 4, 0, 0, 0, 0},     // NOP, record route with one slot
      {0, 0xFF, 0xFF, 0xFF},        // end of list: the rest is not parsed
      {1, 1, 0x44, 4, 5, 0, 0, 0},  // NOPs, a 4-byte option, end, padding
      {0x07, 0x04, 0x04, 0x00},     // option that ends exactly at the header end
      Bytes(40, 1),                 // 40 NOPs: the largest header
      [] {
        Bytes b(40, 0);
        b[0] = 0x44;
        b[1] = 40;  // one option filling the whole option space
        return b;
      }(),
  };
  for (const auto& opt : options) {
    Bytes p = PacketBuilder().ipv4(kInside, kServer).ip_options(opt).udp(1, 2).payload("z").build();
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok) << opt.size();
    EXPECT_EQ(v.ihl, 20 + opt.size());
    EXPECT_EQ(v.sport, 1);
    EXPECT_EQ(v.dport, 2);
    EXPECT_EQ(v.l4(), p.data() + 20 + opt.size());
    EXPECT_EQ(v.l4_len(), 9);
  }
}

TEST(Parse, Fragments) {
  struct Case {
    bool more;
    std::uint16_t offset;
  };
  for (const Case c : {Case{true, 0}, Case{true, 185}, Case{false, 370}, Case{false, 0x1FFF}}) {
    Bytes p =
        PacketBuilder().ipv4(kInside, kServer).fragment(c.more, c.offset).tcp(1, 2, kAck).build();
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    EXPECT_TRUE(v.fragment);
    EXPECT_EQ(v.proto, 6);
    EXPECT_EQ(v.src, kInside);
    EXPECT_EQ(v.dst, kServer);
    EXPECT_EQ(v.sport, 0);  // transport fields are not parsed
    EXPECT_EQ(v.dport, 0);
    EXPECT_EQ(v.tcp_flags, 0);
  }
  // A non-first fragment need not hold a transport header at all.
  Bytes tail =
      PacketBuilder().ipv4(kInside, kServer).fragment(false, 3).proto(17).payload("abc").build();
  PacketView v;
  ASSERT_EQ(parse_bytes(tail, v), ParseResult::ok);
  EXPECT_TRUE(v.fragment);
  EXPECT_EQ(v.proto, 17);
  // DF alone is not a fragment.
  Bytes df = udp_packet();
  wr16(&df[6], 0x4000);
  fix_ip_checksum(df);
  ASSERT_EQ(parse_bytes(df, v), ParseResult::ok);
  EXPECT_FALSE(v.fragment);
  EXPECT_EQ(v.sport, 5353);
}

TEST(Parse, EthernetPaddingIsIgnored) {
  for (Bytes p : {udp_packet(), PacketBuilder().ipv4(kInside, kServer).tcp(1, 2, kAck).build()}) {
    const std::size_t total = p.size();
    p.resize(total + 18, 0xEE);
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    EXPECT_EQ(v.total_len, total);
    EXPECT_EQ(v.l4_len(), total - 20);
  }
}

// ---- malformed input ----

TEST(ParseMalformed, TruncatedIpHeader) {
  const Bytes p = udp_packet();
  for (std::size_t n = 0; n < 20; ++n) {
    Bytes t = exact(p, n);
    EXPECT_EQ(parse_bytes(t), ParseResult::malformed) << n;
  }
  PacketView v;
  EXPECT_EQ(net::parse(nullptr, 0, v), ParseResult::malformed);
}

TEST(ParseMalformed, VersionOtherThanFour) {
  for (const std::uint8_t version : std::initializer_list<std::uint8_t>{0, 1, 5, 6, 15}) {
    Bytes p = udp_packet();
    p[0] = static_cast<std::uint8_t>((version << 4) | 5);
    fix_ip_checksum(p);
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << int(version);
  }
}

TEST(ParseMalformed, HeaderLengthBelowFive) {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    Bytes p = udp_packet();
    p[0] = static_cast<std::uint8_t>(0x40 | ihl);
    wr16(&p[10], 0);
    wr16(&p[10], ref_checksum(p.data(), 20));  // checksum over the 20 bytes that are there
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << int(ihl);
  }
}

TEST(ParseMalformed, HeaderLongerThanBuffer) {
  Bytes p = PacketBuilder().ipv4(kInside, kServer).proto(47).payload("0123").build();  // 24 bytes
  p[0] = 0x47;  // 28-byte header
  EXPECT_EQ(parse_bytes(p), ParseResult::malformed);
  p[0] = 0x4F;  // 60-byte header
  EXPECT_EQ(parse_bytes(p), ParseResult::malformed);
}

TEST(ParseMalformed, TotalLengthBelowHeaderLength) {
  for (const std::uint16_t total : std::initializer_list<std::uint16_t>{0, 1, 19}) {
    Bytes p = udp_packet();
    set_total_length(p, total);
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << total;
  }
  Bytes opt = PacketBuilder().ipv4(kInside, kServer).ip_options({1, 1, 1, 1}).proto(47).build();
  set_total_length(opt, 20);  // shorter than its own 24-byte header
  EXPECT_EQ(parse_bytes(opt), ParseResult::malformed);
  set_total_length(opt, 24);
  EXPECT_EQ(parse_bytes(opt), ParseResult::ok);
}

TEST(ParseMalformed, TotalLengthBeyondBuffer) {
  for (const std::uint16_t total : std::initializer_list<std::uint16_t>{34, 100, 0xFFFF}) {
    Bytes p = udp_packet();  // 33 bytes
    set_total_length(p, total);
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << total;
  }
}

TEST(ParseMalformed, BadHeaderChecksum) {
  Bytes p = udp_packet();
  p[11] ^= 0x01;
  EXPECT_EQ(parse_bytes(p), ParseResult::malformed);
  Bytes q = udp_packet();
  q[8] = 1;  // TTL changed, checksum not fixed
  EXPECT_EQ(parse_bytes(q), ParseResult::malformed);
  Bytes r = PacketBuilder().ipv4(kInside, kServer).ip_options({1, 1, 1, 0}).udp(1, 2).build();
  r[22] = 0;  // an option byte changed: the checksum covers options too
  EXPECT_EQ(parse_bytes(r), ParseResult::malformed);
}

TEST(ParseMalformed, BadOptionLengths) {
  const Bytes options[] = {
      {0x44, 0, 0, 0},                 // length 0
      {0x44, 1, 0, 0},                 // length 1
      {0x07, 5, 4, 0},                 // overruns a 4-byte option space
      {0x07, 0xFF, 4, 0},              // length 255
      {1, 1, 1, 0x44},                 // option type in the last byte, no room for its length
      {1, 1, 0x44, 3},                 // length 3 from offset 2 overruns
      {0x44, 4, 0, 0, 0x44, 5, 0, 0},  // second option overruns
      {0x44, 4, 0, 0, 0x07, 0, 0, 0},  // second option has length 0
  };
  for (const auto& opt : options) {
    Bytes p = PacketBuilder().ipv4(kInside, kServer).ip_options(opt).udp(1, 2).build();
    ASSERT_TRUE(ip_checksum_ok(p.data()));
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << int(opt[0]) << " " << int(opt[1]);
  }
}

TEST(ParseMalformed, TcpDataOffset) {
  for (std::uint8_t doff = 0; doff < 5; ++doff) {
    Bytes p = PacketBuilder().ipv4(kInside, kServer).tcp(1, 2, kAck).payload("0123456789").build();
    p[32] = static_cast<std::uint8_t>(doff << 4);
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << int(doff);
  }
  // Data offset beyond the segment: 24 bytes claimed, 20 present.
  Bytes p = PacketBuilder().ipv4(kInside, kServer).tcp(1, 2, kAck).build();
  p[32] = 6 << 4;
  EXPECT_EQ(parse_bytes(p), ParseResult::malformed);
  // 60 bytes claimed: 39 bytes of payload are not enough, 40 are.
  Bytes q = PacketBuilder().ipv4(kInside, kServer).tcp(1, 2, kAck).payload(Bytes(39, 1)).build();
  q[32] = 15 << 4;
  EXPECT_EQ(parse_bytes(q), ParseResult::malformed);
  Bytes r = PacketBuilder().ipv4(kInside, kServer).tcp(1, 2, kAck).payload(Bytes(40, 1)).build();
  r[32] = 15 << 4;
  EXPECT_EQ(parse_bytes(r), ParseResult::ok);
  // The data offset counts from the segment, not the buffer: padding does not make it fit.
  Bytes s = PacketBuilder().ipv4(kInside, kServer).tcp(1, 2, kAck).build();
  s[32] = 6 << 4;
  s.resize(s.size() + 16, 0);
  EXPECT_EQ(parse_bytes(s), ParseResult::malformed);
}

TEST(ParseMalformed, TcpShorterThanItsHeader) {
  for (std::size_t l4 = 0; l4 < 20; ++l4) {
    Bytes p = exact(PacketBuilder().ipv4(kInside, kServer).tcp(1, 2, kAck).build(), 20 + l4);
    set_total_length(p, p.size());
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << l4;
  }
}

TEST(ParseMalformed, UdpLength) {
  for (const std::uint16_t ulen : std::initializer_list<std::uint16_t>{0, 1, 7}) {
    Bytes p = udp_packet();
    wr16(&p[24], ulen);
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << ulen;
  }
  Bytes p = udp_packet();  // 13 bytes of UDP
  wr16(&p[24], 14);
  EXPECT_EQ(parse_bytes(p), ParseResult::malformed);
  wr16(&p[24], 0xFFFF);
  EXPECT_EQ(parse_bytes(p), ParseResult::malformed);
  wr16(&p[24], 13);
  EXPECT_EQ(parse_bytes(p), ParseResult::ok);
  // Padding after the IP datagram does not count as UDP payload.
  p.resize(p.size() + 10, 0);
  wr16(&p[24], 14);
  EXPECT_EQ(parse_bytes(p), ParseResult::malformed);
  for (std::size_t l4 = 0; l4 < 8; ++l4) {
    Bytes t = exact(udp_packet(), 20 + l4);
    set_total_length(t, t.size());
    EXPECT_EQ(parse_bytes(t), ParseResult::malformed) << l4;
  }
}

TEST(ParseMalformed, IcmpShorterThanItsHeader) {
  for (std::size_t l4 = 0; l4 < 8; ++l4) {
    Bytes p = exact(PacketBuilder().ipv4(kInside, kServer).icmp(8, 0, 1).build(), 20 + l4);
    set_total_length(p, p.size());
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << l4;
  }
}

TEST(ParseMalformed, IcmpErrorQuoteTooShort) {
  const Bytes tcp = PacketBuilder().ipv4(kPublic, kServer).tcp(1024, 443, kSyn).build();
  for (std::size_t quote_l4 = 0; quote_l4 < 8; ++quote_l4) {
    Bytes p = icmp_error(kRouter, kPublic, 3, 1, tcp, quote_l4);
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << quote_l4;
  }
  Bytes ok = icmp_error(kRouter, kPublic, 3, 1, tcp, 8);
  EXPECT_EQ(parse_bytes(ok), ParseResult::ok);

  // Quotes shorter than an IPv4 header, of every length.
  for (std::size_t n = 0; n < 20; ++n) {
    Bytes p = PacketBuilder().ipv4(kRouter, kPublic).icmp(11, 0).payload(exact(tcp, n)).build();
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << n;
  }
  // A quoted header with options needs its options and 8 more bytes.
  const Bytes opt =
      PacketBuilder().ipv4(kPublic, kServer).ip_options(Bytes(8, 1)).udp(1, 2).build();
  Bytes short_opt =
      PacketBuilder().ipv4(kRouter, kPublic).icmp(3, 3).payload(exact(opt, 35)).build();
  EXPECT_EQ(parse_bytes(short_opt), ParseResult::malformed);
  Bytes full_opt =
      PacketBuilder().ipv4(kRouter, kPublic).icmp(3, 3).payload(exact(opt, 36)).build();
  EXPECT_EQ(parse_bytes(full_opt), ParseResult::ok);

  // A quoted header that is not IPv4, or whose length field is below 5 or beyond the quote.
  for (const std::uint8_t first : std::initializer_list<std::uint8_t>{0x65, 0x44, 0x40, 0x4F}) {
    Bytes q = tcp;
    q[0] = first;
    Bytes p = PacketBuilder().ipv4(kRouter, kPublic).icmp(3, 1).payload(q).build();
    EXPECT_EQ(parse_bytes(p), ParseResult::malformed) << int(first);
  }
}

// ---- exhaustive truncation ----

struct Sample {
  const char* name;
  Bytes packet;
  // When the packet is cut to `n` bytes and its total length set to `n`: is it still valid?
  std::size_t min_valid;  // 0: only the full packet is valid
};

std::vector<Sample> samples() {
  const Bytes opts = {1, 1, 0x94, 4, 0, 0, 1, 0};  // NOP NOP router-alert EOL: ihl 28
  Bytes tcp_opts = PacketBuilder()
                       .ipv4(kInside, kServer)
                       .ip_options(opts)
                       .tcp(1, 2, kAck)
                       .payload("seven!!")
                       .build();
  tcp_opts.insert(tcp_opts.begin() + 48, {2, 4, 5, 0xB4});  // MSS: doff 6
  tcp_opts[28 + 12] = 6 << 4;
  set_total_length(tcp_opts, tcp_opts.size());
  const Bytes quoted =
      PacketBuilder().ipv4(kPublic, kServer).tcp(1024, 443, kAck).payload("ab").build();
  return {
      {"tcp", tcp_opts, 28 + 24},
      {"udp", PacketBuilder().ipv4(kInside, kServer).udp(1, 2).payload("odd").build(), 0},
      {"icmp_error", icmp_error(kRouter, kPublic, 3, 4, quoted, 22), 20 + 8 + 20 + 8},
      {"echo", PacketBuilder().ipv4(kInside, kServer).icmp(8, 0, 9).payload("p").build(), 28},
      {"gre", PacketBuilder().ipv4(kInside, kServer).proto(47).payload("0123").build(), 20},
      {"fragment",
       PacketBuilder().ipv4(kInside, kServer).fragment(true, 0).udp(1, 2).payload("x").build(), 20},
  };
}

TEST(ParseTruncation, EveryLengthOfTheBuffer) {
  for (const auto& s : samples()) {
    for (std::size_t n = 0; n <= s.packet.size(); ++n) {
      Bytes t = exact(s.packet, n);
      PacketView v;
      const ParseResult r = parse_bytes(t, v);
      // The total length still says the full size: only the full buffer is a packet.
      EXPECT_EQ(r, n == s.packet.size() ? ParseResult::ok : ParseResult::malformed)
          << s.name << " " << n;
    }
  }
}

TEST(ParseTruncation, EveryLengthWithConsistentTotalLength) {
  for (const auto& s : samples()) {
    const std::size_t ihl = std::size_t(s.packet[0] & 0x0F) * 4;
    for (std::size_t n = 0; n <= s.packet.size(); ++n) {
      Bytes t = exact(s.packet, n);
      if (n >= 4) wr16(&t[2], static_cast<std::uint16_t>(n));
      if (n >= ihl) fix_ip_checksum(t);
      PacketView v;
      const ParseResult r = parse_bytes(t, v);
      const bool valid =
          n >= ihl && (n == s.packet.size() || (s.min_valid != 0 && n >= s.min_valid));
      ASSERT_EQ(r, valid ? ParseResult::ok : ParseResult::malformed) << s.name << " " << n;
      if (r == ParseResult::ok) {
        EXPECT_EQ(v.total_len, n);
        EXPECT_EQ(v.ihl, ihl);
        if (std::string(s.name) == "icmp_error") {
          EXPECT_TRUE(v.icmp_error);
          EXPECT_EQ(v.inner_l4_len, n - ihl - 8 - 20);
        }
      }
    }
  }
}

TEST(ParseTruncation, RandomCorruptionNeverEscapesTheBuffer) {
  // Random byte changes to valid packets, header checksum fixed half of the time so that the
  // transport checks are reached. Whatever parse accepts must be self-consistent.
  std::mt19937 rng(791);
  const auto base = samples();
  for (int iter = 0; iter < 30000; ++iter) {
    const Bytes& src = base[rng() % base.size()].packet;
    Bytes p = src;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) p[rng() % p.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 2 && (p[0] >> 4) == 4 && (p[0] & 0x0F) >= 5 &&
        std::size_t(p[0] & 0x0F) * 4 <= p.size()) {
      fix_ip_checksum(p);
    }
    Bytes t = exact(p, rng() % 4 == 0 ? rng() % (p.size() + 1) : p.size());
    PacketView v;
    if (parse_bytes(t, v) != ParseResult::ok) continue;
    ASSERT_GE(v.ihl, 20);
    ASSERT_LE(v.ihl, v.total_len);
    ASSERT_LE(v.total_len, t.size());
    ASSERT_TRUE(ip_checksum_ok(t.data()));
    if (!v.fragment && v.is_tcp()) {
      ASSERT_GE(v.l4_len(), 20);
    }
    if (!v.fragment && v.is_udp()) {
      ASSERT_GE(v.l4_len(), 8);
    }
    if (!v.fragment && v.is_icmp()) {
      ASSERT_GE(v.l4_len(), 8);
    }
    if (v.icmp_error) {
      ASSERT_GE(v.inner_ihl, 20);
      ASSERT_GE(v.inner_l4_len, 8);
      ASSERT_EQ(v.l4_len(), 8 + v.inner_ihl + v.inner_l4_len);
    }
  }
}

}  // namespace
}  // namespace natgw::test
