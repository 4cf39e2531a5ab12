// icmp_error_rewrite_inbound / _outbound (RFC 5508 section 4.2). The rewritten error must be
// exactly the error the router would have sent about the untranslated packet: every checksum
// (outer header, ICMP, quoted header, quoted transport when quoted) is compared with the
// reference values of a packet built from scratch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "net/net_helpers.hpp"
#include "net/packet.hpp"

namespace natgw::test {
namespace {

using net::Endpoint;
using net::PacketView;
using net::ParseResult;

struct Quoted {
  const char* name;
  std::uint8_t proto;
  bool udp_zero = false;
  Bytes ip_opts = {};
  std::string payload = {};
};

Bytes make(const Quoted& q, Endpoint src, Endpoint dst) {
  PacketBuilder b;
  b.ipv4(src.addr, dst.addr, 1).ip_options(q.ip_opts);
  if (q.proto == 6) {
    b.tcp(src.port, dst.port, kAck | kPsh, 7777, 8888);
  } else {
    b.udp(src.port, dst.port);
    if (q.udp_zero) b.udp_no_checksum();
  }
  return b.payload(q.payload).build();
}

// An ICMP error, optionally with IP options on the outer header.
Bytes error_about(net::Ipv4 from, net::Ipv4 to, std::uint8_t type, std::uint8_t code,
                  const Bytes& quoted, std::size_t quote_l4, const Bytes& outer_opts) {
  const std::size_t ihl = std::size_t(quoted[0] & 0x0F) * 4;
  const Bytes q = exact(quoted, std::min(quoted.size(), ihl + quote_l4));
  return PacketBuilder().ipv4(from, to).ip_options(outer_opts).icmp(type, code).payload(q).build();
}

// Everything that must verify after a rewrite.
void expect_all_checksums(Bytes& p, bool whole_segment_quoted) {
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  ASSERT_TRUE(v.icmp_error);
  EXPECT_TRUE(ip_checksum_ok(p.data()));           // outer header
  EXPECT_EQ(ref_checksum(v.l4(), v.l4_len()), 0);  // ICMP message
  EXPECT_TRUE(ip_checksum_ok(v.inner_ip()));       // quoted header
  if (whole_segment_quoted) {
    EXPECT_TRUE(l4_checksum_ok(v.inner_ip()));  // quoted TCP/UDP
  }
}

const Endpoint kIn{kInside, 40000};
const Endpoint kPub{kPublic, 1024};
const Endpoint kSrv{kServer, 443};

struct Case {
  Quoted q;
  std::size_t quote_l4;  // transport bytes quoted
};

std::vector<Case> cases() {
  const Quoted tcp{"tcp", 6, false, {}, "payload"};
  const Quoted tcp_odd{"tcp_odd", 6, false, {1, 1, 1, 0}, "odd"};
  const Quoted udp{"udp", 17, false, {}, "query"};
  const Quoted udp0{"udp0", 17, true, {}, "query"};
  const Quoted udp_opts{"udp_opts", 17, false, {0x94, 4, 0, 0}, "q"};
  return {
      {tcp, 8},                     // RFC 792 minimum: ports and sequence number, no checksum
      {tcp, 12},    {tcp, 16},      // up to the checksum field, not including it
      {tcp, 18},                    // the checksum field is quoted
      {tcp, 20},                    // the full header
      {tcp, 27},                    // the whole segment
      {tcp_odd, 8}, {tcp_odd, 23},  // whole segment, odd length, quoted header with options
      {udp, 8},                     // the UDP header, checksum included
      {udp, 13},                    // the whole datagram
      {udp0, 8},    {udp0, 13},    {udp_opts, 9},
  };
}

std::size_t l4_size(const Quoted& q) {
  return (q.proto == 6 ? 20 : 8) + q.payload.size();
}

TEST(IcmpError, InboundRestoresTheInsideEndpoint) {
  for (const Bytes& outer_opts : {Bytes{}, Bytes{1, 1, 1, 0}, Bytes{0x94, 4, 0, 0, 1, 1, 1, 1}}) {
    for (const auto& c : cases()) {
      for (const auto& type : {std::pair{3, 4}, std::pair{11, 0}, std::pair{3, 1}}) {
        const auto t = static_cast<std::uint8_t>(type.first);
        const auto code = static_cast<std::uint8_t>(type.second);
        // The packet as it left the inside host, and as natgw sent it on.
        const Bytes sent = make(c.q, kIn, kSrv);
        const Bytes translated = make(c.q, kPub, kSrv);
        Bytes p = error_about(kRouter, kPublic, t, code, translated, c.quote_l4, outer_opts);
        PacketView v;
        ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
        ASSERT_TRUE(v.icmp_error);
        net::icmp_error_rewrite_inbound(v, kIn.addr, kIn.port);
        EXPECT_EQ(p, error_about(kRouter, kInside, t, code, sent, c.quote_l4, outer_opts))
            << c.q.name << " quote " << c.quote_l4 << " opts " << outer_opts.size();
        EXPECT_EQ(v.dst, kInside);
        EXPECT_EQ(v.src, kRouter);
        EXPECT_EQ(v.inner_src, kInside);
        EXPECT_EQ(v.inner_sport, 40000);
        EXPECT_EQ(v.inner_dst, kServer);
        EXPECT_EQ(v.inner_dport, 443);
        expect_all_checksums(p, c.quote_l4 >= l4_size(c.q));
        PacketView again;
        ASSERT_EQ(parse_bytes(p, again), ParseResult::ok);
        EXPECT_EQ(again.dst, kInside);
        EXPECT_EQ(again.inner_src, kInside);
        EXPECT_EQ(again.inner_sport, 40000);
      }
    }
  }
}

TEST(IcmpError, OutboundShowsThePublicEndpoint) {
  for (const Bytes& outer_opts : {Bytes{}, Bytes{1, 1, 1, 0}}) {
    for (const auto& c : cases()) {
      // The server's packet as it arrived at natgw, and as natgw delivered it inside.
      const Bytes arrived = make(c.q, kSrv, kPub);
      const Bytes delivered = make(c.q, kSrv, kIn);
      Bytes p = error_about(kInside, kServer, 3, 3, delivered, c.quote_l4, outer_opts);
      PacketView v;
      ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
      ASSERT_TRUE(v.icmp_error);
      net::icmp_error_rewrite_outbound(v, kPub.addr, kPub.port);
      EXPECT_EQ(p, error_about(kPublic, kServer, 3, 3, arrived, c.quote_l4, outer_opts))
          << c.q.name << " quote " << c.quote_l4;
      EXPECT_EQ(v.src, kPublic);
      EXPECT_EQ(v.dst, kServer);
      EXPECT_EQ(v.inner_dst, kPublic);
      EXPECT_EQ(v.inner_dport, 1024);
      EXPECT_EQ(v.inner_src, kServer);
      EXPECT_EQ(v.inner_sport, 443);
      expect_all_checksums(p, c.quote_l4 >= l4_size(c.q));
    }
  }
}

TEST(IcmpError, QuotedChecksumsAreUpdatedOnlyWhenQuoted) {
  // With 16 bytes of TCP quoted, the checksum field is absent and the bytes after the quote
  // (none) are untouched; with 18 it is present and rewritten. Compare the field directly.
  const Quoted tcp{"tcp", 6, false, {}, "x"};
  const Bytes sent = make(tcp, kIn, kSrv);
  const Bytes translated = make(tcp, kPub, kSrv);
  ASSERT_NE(rd16(&sent[36]), rd16(&translated[36]));
  Bytes p = error_about(kRouter, kPublic, 3, 4, translated, 18, {});
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  net::icmp_error_rewrite_inbound(v, kIn.addr, kIn.port);
  EXPECT_EQ(rd16(v.inner_l4() + 16), rd16(&sent[36]));
  EXPECT_EQ(p.size(), 20u + 8 + 20 + 18);
}

TEST(IcmpError, QuotedUdpChecksumThatComputesToZeroIsFfff) {
  // Find the inside port for which the inside host's datagram has a computed checksum of zero
  // (sent as 0xFFFF): restoring it must write 0xFFFF, and the ICMP checksum must account for it.
  const Quoted udp{"udp", 17, false, {}, "abc"};
  for (std::uint32_t port = 1; port <= 0xFFFF; ++port) {
    const Endpoint in{kInside, static_cast<std::uint16_t>(port)};
    const Bytes sent = make(udp, in, kSrv);
    if (rd16(&sent[26]) != 0xFFFF) continue;
    const Bytes translated = make(udp, kPub, kSrv);
    Bytes p = error_about(kRouter, kPublic, 3, 3, translated, 11, {});
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    net::icmp_error_rewrite_inbound(v, in.addr, in.port);
    EXPECT_EQ(p, error_about(kRouter, kInside, 3, 3, sent, 11, {}));
    EXPECT_EQ(rd16(v.inner_l4() + 6), 0xFFFF);
    expect_all_checksums(p, true);
    return;
  }
  FAIL() << "no port gives a zero checksum";
}

TEST(IcmpError, TtlDecrementAfterRewrite) {
  // The engine rewrites, then decrements the TTL: the outer header must still verify.
  const Quoted udp{"udp", 17, false, {}, "q"};
  Bytes p = error_about(kRouter, kPublic, 11, 0, make(udp, kPub, kSrv), 8, {});
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  net::icmp_error_rewrite_inbound(v, kIn.addr, kIn.port);
  net::decrement_ttl(v);
  EXPECT_EQ(v.ttl, 63);
  EXPECT_TRUE(ip_checksum_ok(p.data()));
  EXPECT_EQ(p[8], 63);
  expect_all_checksums(p, false);
}

}  // namespace
}  // namespace natgw::test
