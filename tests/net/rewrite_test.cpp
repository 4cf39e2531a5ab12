// set_source / set_destination / decrement_ttl / transport_checksum. Every rewritten packet is
// compared byte for byte with the same packet built from scratch by the test builder, whose
// checksums come from the reference implementation.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "net/checksum.hpp"
#include "net/net_helpers.hpp"
#include "net/packet.hpp"

namespace natgw::test {
namespace {

using net::Endpoint;
using net::PacketView;
using net::ParseResult;

// The shape of a test packet; the addresses, ports and TTL vary.
struct Shape {
  const char* name;
  std::uint8_t proto;  // 6 or 17
  bool udp_zero = false;
  Bytes ip_opts = {};
  std::string payload = {};
  std::uint8_t flags = kAck | kPsh;
};

Bytes make(const Shape& s, Endpoint src, Endpoint dst, std::uint8_t ttl = 64) {
  PacketBuilder b;
  b.ipv4(src.addr, dst.addr, ttl).ip_options(s.ip_opts);
  if (s.proto == 6) {
    b.tcp(src.port, dst.port, s.flags, 0x01020304, 0xA0B0C0D0);
  } else {
    b.udp(src.port, dst.port);
    if (s.udp_zero) b.udp_no_checksum();
  }
  return b.payload(s.payload).build();
}

std::vector<Shape> shapes() {
  const Bytes opts4 = {1, 1, 1, 0};
  const Bytes opts12 = {0x94, 4, 0, 0, 1, 7, 7, 4, 10, 1, 2, 3};
  return {
      {"tcp", 6, false, {}, ""},
      {"tcp_even", 6, false, {}, "even"},
      {"tcp_odd", 6, false, {}, "odd"},
      {"tcp_opts_odd", 6, false, opts4, "a"},
      {"tcp_opts12_even", 6, false, opts12, "0123456789"},
      {"udp", 17, false, {}, ""},
      {"udp_even", 17, false, {}, "even"},
      {"udp_odd", 17, false, {}, "odd"},
      {"udp_opts_odd", 17, false, opts12, "12345"},
      {"udp0", 17, true, {}, ""},
      {"udp0_odd", 17, true, {}, "odd"},
      {"udp0_opts", 17, true, opts4, "zz"},
  };
}

std::uint16_t l4_check_field(const Bytes& p) {
  const std::size_t ihl = std::size_t(p[0] & 0x0F) * 4;
  return rd16(&p[ihl + (p[9] == 6 ? 16 : 6)]);
}

void expect_valid(const Bytes& p, const char* what) {
  EXPECT_TRUE(ip_checksum_ok(p.data())) << what;
  EXPECT_TRUE(l4_checksum_ok(p.data())) << what;
}

const Endpoint kIn{kInside, 40000};
const Endpoint kPub{kPublic, 1024};
const Endpoint kSrv{kServer, 443};

TEST(Rewrite, SetSource) {
  for (const auto& s : shapes()) {
    Bytes p = make(s, kIn, kSrv);
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok) << s.name;
    net::set_source(v, kPub.addr, kPub.port);
    EXPECT_EQ(p, make(s, kPub, kSrv)) << s.name;
    expect_valid(p, s.name);
    EXPECT_EQ(v.src, kPublic);
    EXPECT_EQ(v.sport, 1024);
    EXPECT_EQ(v.dst, kServer);
    EXPECT_EQ(v.dport, 443);
    if (s.udp_zero) {
      EXPECT_EQ(l4_check_field(p), 0) << s.name;
    }
    PacketView again;
    ASSERT_EQ(parse_bytes(p, again), ParseResult::ok);
    EXPECT_EQ(again.src, kPublic);
    EXPECT_EQ(again.sport, 1024);
  }
}

TEST(Rewrite, SetDestination) {
  for (const auto& s : shapes()) {
    Bytes p = make(s, kSrv, kPub);
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok) << s.name;
    net::set_destination(v, kIn.addr, kIn.port);
    EXPECT_EQ(p, make(s, kSrv, kIn)) << s.name;
    expect_valid(p, s.name);
    EXPECT_EQ(v.dst, kInside);
    EXPECT_EQ(v.dport, 40000);
    EXPECT_EQ(v.src, kServer);
    EXPECT_EQ(v.sport, 443);
    if (s.udp_zero) {
      EXPECT_EQ(l4_check_field(p), 0) << s.name;
    }
    PacketView again;
    ASSERT_EQ(parse_bytes(p, again), ParseResult::ok);
    EXPECT_EQ(again.dst, kInside);
    EXPECT_EQ(again.dport, 40000);
  }
}

TEST(Rewrite, DecrementTtl) {
  for (const auto& s : shapes()) {
    for (const std::uint8_t ttl : std::initializer_list<std::uint8_t>{2, 64, 128, 255}) {
      Bytes p = make(s, kIn, kSrv, ttl);
      PacketView v;
      ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
      net::decrement_ttl(v);
      EXPECT_EQ(v.ttl, ttl - 1);
      EXPECT_EQ(p, make(s, kIn, kSrv, static_cast<std::uint8_t>(ttl - 1))) << s.name;
      expect_valid(p, s.name);
    }
  }
  // Any protocol: only the IPv4 header changes.
  Bytes gre = PacketBuilder().ipv4(kInside, kServer, 9).proto(47).payload("x").build();
  PacketView v;
  ASSERT_EQ(parse_bytes(gre, v), ParseResult::ok);
  net::decrement_ttl(v);
  EXPECT_EQ(gre, PacketBuilder().ipv4(kInside, kServer, 8).proto(47).payload("x").build());
}

TEST(Rewrite, SourceDestinationAndTtlTogether) {
  // What the engine does to a packet: address and port one way, TTL, in any order.
  for (const auto& s : shapes()) {
    Bytes p = make(s, kIn, kSrv, 30);
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    net::decrement_ttl(v);
    net::set_source(v, kPub.addr, kPub.port);
    net::decrement_ttl(v);
    EXPECT_EQ(p, make(s, kPub, kSrv, 28)) << s.name;

    // And back: the reply to the translated packet is translated to the inside host.
    Bytes r = make(s, kSrv, kPub, 50);
    ASSERT_EQ(parse_bytes(r, v), ParseResult::ok);
    net::set_destination(v, kIn.addr, kIn.port);
    net::decrement_ttl(v);
    EXPECT_EQ(r, make(s, kSrv, kIn, 49)) << s.name;
  }
}

TEST(Rewrite, RandomRewritesMatchRebuiltPackets) {
  std::mt19937 rng(5382);
  const auto all = shapes();
  for (int iter = 0; iter < 3000; ++iter) {
    Shape s = all[rng() % all.size()];
    s.payload.assign(rng() % 40, 'x');
    for (auto& c : s.payload) c = static_cast<char>(rng());
    s.flags = static_cast<std::uint8_t>(rng());
    Endpoint src{net::Ipv4{static_cast<std::uint32_t>(rng())}, static_cast<std::uint16_t>(rng())};
    Endpoint dst{net::Ipv4{static_cast<std::uint32_t>(rng())}, static_cast<std::uint16_t>(rng())};
    std::uint8_t ttl = static_cast<std::uint8_t>(200 + rng() % 56);
    Bytes p = make(s, src, dst, ttl);
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    // Several rewrites in a row on the same buffer: incremental updates must not drift.
    for (int step = 0; step < 6; ++step) {
      const Endpoint e{net::Ipv4{static_cast<std::uint32_t>(rng())},
                       rng() % 8 == 0 ? std::uint16_t{0} : static_cast<std::uint16_t>(rng())};
      switch (rng() % 3) {
        case 0:
          net::set_source(v, e.addr, e.port);
          src = e;
          break;
        case 1:
          net::set_destination(v, e.addr, e.port);
          dst = e;
          break;
        default:
          net::decrement_ttl(v);
          --ttl;
      }
      ASSERT_EQ(p, make(s, src, dst, ttl)) << s.name << " iter " << iter << " step " << step;
      ASSERT_TRUE(ip_checksum_ok(p.data()));
      ASSERT_TRUE(l4_checksum_ok(p.data()));
      if (s.udp_zero) {
        ASSERT_EQ(l4_check_field(p), 0);
      }
    }
  }
}

// The checksum a from-scratch computation gives for UDP is never sent as 0 (that means "no
// checksum", RFC 768): it is sent as 0xFFFF. Find a rewrite for which the full checksum is zero
// and check the incremental update sends 0xFFFF too.
template <class Rewrite>
void udp_zero_checksum_case(bool source, Rewrite rewrite) {
  std::mt19937 rng(768);
  for (const char* payload : {"", "odd", "even"}) {
    const Shape s{"udp", 17, false, {}, payload};
    const Endpoint a{kInside, 40000}, b{kServer, 53};
    bool found = false;
    for (int attempt = 0; attempt < 8 && !found; ++attempt) {
      const net::Ipv4 addr{static_cast<std::uint32_t>(rng())};
      for (std::uint32_t port = 1; port <= 0xFFFF; ++port) {
        const Endpoint e{addr, static_cast<std::uint16_t>(port)};
        const Bytes want = source ? make(s, e, b) : make(s, a, e);
        if (l4_check_field(want) != 0xFFFF) continue;  // the builder sends a computed 0 as 0xFFFF
        found = true;
        Bytes p = make(s, a, b);
        PacketView v;
        ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
        // The RFC 1624 update on its own gives 0x0000 here: the case is the one that matters.
        const std::size_t off = source ? 12 : 16;
        const std::uint16_t raw = net::csum_replace16(
            net::csum_replace32(net::load16(&p[26]), net::load32(&p[off]), net::load32(&want[off])),
            net::load16(&p[source ? 20 : 22]), net::load16(&want[source ? 20 : 22]));
        EXPECT_EQ(raw, 0x0000);
        rewrite(v, e);
        EXPECT_EQ(p, want);
        EXPECT_EQ(l4_check_field(p), 0xFFFF);
        EXPECT_TRUE(l4_checksum_ok(p.data()));
        break;
      }
    }
    EXPECT_TRUE(found) << payload;
  }
}

TEST(Rewrite, UdpChecksumThatComputesToZeroIsSentAsFfff) {
  udp_zero_checksum_case(true,
                         [](PacketView& v, Endpoint e) { net::set_source(v, e.addr, e.port); });
  udp_zero_checksum_case(
      false, [](PacketView& v, Endpoint e) { net::set_destination(v, e.addr, e.port); });
}

TEST(Rewrite, UdpChecksumOfFfffIsUpdatedLikeAnyOther) {
  // A packet whose UDP checksum field is 0xFFFF (a computed zero) is rewritten correctly.
  const Shape s{"udp", 17, false, {}, "abc"};
  for (std::uint32_t port = 1; port <= 0xFFFF; ++port) {
    const Endpoint src{kInside, static_cast<std::uint16_t>(port)};
    Bytes p = make(s, src, kSrv);
    if (l4_check_field(p) != 0xFFFF) continue;
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    net::set_source(v, kPublic, 2000);
    EXPECT_EQ(p, make(s, {kPublic, 2000}, kSrv));
    EXPECT_TRUE(l4_checksum_ok(p.data()));
    return;
  }
  FAIL() << "no port gives a zero checksum";
}

TEST(Rewrite, FragmentsChangeOnlyTheIpHeader) {
  // Transport fields of a fragment are not parsed, so only the address (and the header
  // checksum) may change; the engine drops fragments before this matters.
  for (bool more : {true, false}) {
    Bytes p = PacketBuilder()
                  .ipv4(kInside, kServer)
                  .fragment(more, more ? 0 : 10)
                  .tcp(1, 2, kAck)
                  .build();
    Bytes want = p;
    wr32(&want[12], kPublic.value());
    fix_ip_checksum(want);
    PacketView v;
    ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
    net::set_source(v, kPublic, 999);
    EXPECT_EQ(p, want);
    EXPECT_EQ(v.src, kPublic);
    EXPECT_TRUE(ip_checksum_ok(p.data()));
  }
}

TEST(Rewrite, OtherProtocolsChangeOnlyTheIpHeader) {
  Bytes gre = PacketBuilder().ipv4(kInside, kServer).proto(47).payload("0123456789").build();
  PacketView v;
  ASSERT_EQ(parse_bytes(gre, v), ParseResult::ok);
  net::set_source(v, kPublic, 5);
  EXPECT_EQ(gre, PacketBuilder().ipv4(kPublic, kServer).proto(47).payload("0123456789").build());

  // ICMP has no pseudo-header: its checksum and identifier stay as they are.
  Bytes echo = PacketBuilder().ipv4(kServer, kPublic).icmp(0, 0, 0x00070001).payload("p").build();
  ASSERT_EQ(parse_bytes(echo, v), ParseResult::ok);
  net::set_destination(v, kInside, 5);
  EXPECT_EQ(echo,
            PacketBuilder().ipv4(kServer, kInside).icmp(0, 0, 0x00070001).payload("p").build());
  EXPECT_TRUE(l4_checksum_ok(echo.data()));
}

TEST(Rewrite, PaddingAfterThePacketIsUntouched) {
  const Shape s{"udp", 17, false, {}, "odd"};
  Bytes p = make(s, kIn, kSrv);
  const std::size_t total = p.size();
  p.resize(total + 6, 0xEE);
  PacketView v;
  ASSERT_EQ(parse_bytes(p, v), ParseResult::ok);
  net::set_source(v, kPub.addr, kPub.port);
  Bytes want = make(s, kPub, kSrv);
  want.resize(total + 6, 0xEE);
  EXPECT_EQ(p, want);
}

TEST(TransportChecksum, MatchesTheReference) {
  std::mt19937 rng(9293);
  const auto all = shapes();
  for (int iter = 0; iter < 2000; ++iter) {
    Shape s = all[rng() % all.size()];
    if (s.udp_zero) continue;
    s.payload.assign(rng() % 30, 'y');
    const Endpoint src{net::Ipv4{static_cast<std::uint32_t>(rng())},
                       static_cast<std::uint16_t>(rng())};
    const Bytes p = make(s, src, kSrv);
    std::uint8_t field[2];
    net::store16(field, net::transport_checksum(p.data()));
    ASSERT_EQ(rd16(field), l4_check_field(p)) << s.name;
  }
  // UDP: a computed zero comes out as 0xFFFF.
  const Shape u{"udp", 17, false, {}, "q"};
  for (std::uint32_t port = 1; port <= 0xFFFF; ++port) {
    const Bytes p = make(u, {kInside, static_cast<std::uint16_t>(port)}, kSrv);
    if (l4_check_field(p) != 0xFFFF) continue;
    EXPECT_EQ(net::transport_checksum(p.data()), 0xFFFF);
    return;
  }
  FAIL() << "no port gives a zero checksum";
}

}  // namespace
}  // namespace natgw::test

namespace natgw::test {
namespace {

// A packet of the largest IPv4 size (total length 65535), as a GSO/GRO super-frame carries it,
// with a partial checksum (checksum offload): rewriting updates the pseudo-header sum for the
// new address only, and the sum the NIC completes later is the right checksum.
TEST(PartialChecksum, RewriteOfA64KiBSuperFrameKeepsThePartialSumRight) {
  for (const std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}}) {
    for (const bool outbound : {true, false}) {
      SCOPED_TRACE(std::string(proto == 6 ? "tcp" : "udp") + (outbound ? " out" : " in"));
      std::string body(65535 - 20 - (proto == 6 ? 20 : 8), '\0');
      for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 + i / 251);
      PacketBuilder b;
      b.ipv4(outbound ? kInside : kServer, outbound ? kServer : kPublic);
      if (proto == 6) {
        b.tcp(outbound ? 40000 : 443, outbound ? 443 : 1024, kAck, 1, 2);
      } else {
        b.udp(outbound ? 40000 : 443, outbound ? 443 : 1024);
      }
      Bytes p = b.payload(body).build();
      ASSERT_EQ(p.size(), 65535u);
      make_partial(p.data());
      PacketView v;
      ASSERT_EQ(net::parse(p.data(), p.size(), v), ParseResult::ok);
      EXPECT_EQ(v.total_len, 65535);
      v.csum_partial = true;
      if (outbound) {
        net::set_source(v, kPublic, 1024);
      } else {
        net::set_destination(v, kInside, 40000);
      }
      net::decrement_ttl(v);
      EXPECT_TRUE(ip_checksum_ok(p.data()));
      Bytes expect_partial = p;
      make_partial(expect_partial.data());
      EXPECT_EQ(rd16(&p[20 + (proto == 6 ? 16 : 6)]),
                rd16(&expect_partial[20 + (proto == 6 ? 16 : 6)]))
          << "the partial sum of the new pseudo-header";
      complete_partial(p.data());
      EXPECT_TRUE(l4_checksum_ok(p.data()));
      EXPECT_EQ(rd16(&p[outbound ? 20 : 22]), outbound ? 1024 : 40000);
    }
  }
}

TEST(WireSize, ASuperPacketCountsTheSegmentsTheKernelCutsItInto) {
  const net::Ipv4 a{10, 0, 0, 4}, b{192, 0, 2, 10};
  Bytes tcp = PacketBuilder().ipv4(a, b).tcp(40000, 80, net::kTcpAck, 1, 1).payload(Bytes(10000, 7)).build();
  net::PacketView v;
  ASSERT_EQ(net::parse(tcp.data(), tcp.size(), v), net::ParseResult::ok);
  EXPECT_EQ(net::wire_size(v).packets, 1u) << "not GSO: one packet";
  EXPECT_EQ(net::wire_size(v).bytes, 10040u);
  v.gso_size = 1448;  // 10000 = 6 * 1448 + 1312: 7 segments, each with its own 40 header bytes
  EXPECT_EQ(net::wire_size(v).packets, 7u);
  EXPECT_EQ(net::wire_size(v).bytes, 10040u + 6 * 40);
  Bytes udp = PacketBuilder().ipv4(a, b).udp(40000, 443).payload(Bytes(3000, 1)).build();
  ASSERT_EQ(net::parse(udp.data(), udp.size(), v), net::ParseResult::ok);
  v.gso_size = 1200;  // UDP GSO: 3 datagrams of 1200, 1200 and 600 bytes
  EXPECT_EQ(net::wire_size(v).packets, 3u);
  EXPECT_EQ(net::wire_size(v).bytes, 3028u + 2 * 28);
}

}  // namespace
}  // namespace natgw::test
