// write_rst_reply: the RST natgw sends for a late segment (RFC 9293 section 3.10.7.1).
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "net/net_helpers.hpp"
#include "net/packet.hpp"

namespace natgw::test {
namespace {

using net::PacketView;
using net::ParseResult;

struct Rst {
  Bytes packet;  // exactly the reply, in an exact-size buffer
  PacketView v;  // parsed from it
};

// Writes the reply to `in` and returns it parsed.
Rst reply_to(Bytes in) {
  PacketView v;
  EXPECT_EQ(parse_bytes(in, v), ParseResult::ok);
  const std::uint16_t len = net::write_rst_reply(v);
  EXPECT_EQ(len, 40);
  EXPECT_EQ(v.total_len, 40);
  EXPECT_EQ(v.ihl, 20);
  Rst r{exact(in, len), {}};
  EXPECT_EQ(parse_bytes(r.packet, r.v), ParseResult::ok);
  return r;
}

void expect_rst_basics(const Rst& r) {
  const Bytes& p = r.packet;
  EXPECT_EQ(p[0], 0x45);
  EXPECT_EQ(rd16(&p[2]), 40);
  EXPECT_EQ(p[9], 6);
  EXPECT_TRUE(ip_checksum_ok(p.data()));
  EXPECT_TRUE(l4_checksum_ok(p.data()));
  EXPECT_GT(p[8], 1);           // it must get back to its destination
  EXPECT_EQ(p[32], 5 << 4);     // no TCP options
  EXPECT_EQ(r.v.src, kServer);  // addressed back to the sender
  EXPECT_EQ(r.v.dst, kInside);
  EXPECT_EQ(r.v.sport, 443);
  EXPECT_EQ(r.v.dport, 40000);
  EXPECT_FALSE(r.v.fragment);
  EXPECT_NE(r.v.tcp_flags & kRst, 0);
}

TEST(RstReply, SegmentWithAck) {
  // RST with seq = SEG.ACK, no ACK flag.
  Rst r = reply_to(PacketBuilder()
                       .ipv4(kInside, kServer)
                       .tcp(40000, 443, kAck | kPsh, 1000, 0x5555AAAA)
                       .payload("abc")
                       .build());
  expect_rst_basics(r);
  EXPECT_EQ(r.v.tcp_flags, kRst);
  EXPECT_EQ(rd32(&r.packet[24]), 0x5555AAAAu);
  EXPECT_EQ(rd32(&r.packet[28]), 0u);
}

TEST(RstReply, SegmentWithoutAck) {
  struct Case {
    std::uint8_t flags;
    std::uint32_t seq;
    std::string payload;
    std::uint32_t ack;  // expected: seq + payload + SYN + FIN
  };
  const Case cases[] = {
      {kSyn, 1000, "", 1001},
      {0, 1000, "", 1000},
      {kPsh, 1000, "hello", 1005},
      {kFin, 1000, "", 1001},
      {kFin | kPsh, 1000, "abcde", 1006},
      {kSyn | kFin, 1000, "abc", 1005},
      {kSyn, 0xFFFFFFFFu, "", 0},  // wraps
      {kPsh, 0xFFFFFFF0u, std::string(20, 'z'), 4},
      {0x20, 5, "x", 6},  // URG
  };
  for (const auto& c : cases) {
    Rst r = reply_to(PacketBuilder()
                         .ipv4(kInside, kServer)
                         .tcp(40000, 443, c.flags, c.seq, 77)
                         .payload(c.payload)
                         .build());
    expect_rst_basics(r);
    EXPECT_EQ(r.v.tcp_flags, kRst | kAck) << int(c.flags);
    EXPECT_EQ(rd32(&r.packet[24]), 0u);
    EXPECT_EQ(rd32(&r.packet[28]), c.ack) << int(c.flags);
  }
}

TEST(RstReply, InputWithIpAndTcpOptions) {
  for (const Bytes& opts :
       {Bytes{1, 1, 1, 0}, Bytes{0x94, 4, 0, 0, 1, 7, 7, 4, 1, 2, 3, 4}, Bytes(40, 1)}) {
    for (const std::uint8_t flags : std::initializer_list<std::uint8_t>{kAck, std::uint8_t(kSyn)}) {
      Bytes in = PacketBuilder()
                     .ipv4(kInside, kServer)
                     .ip_options(opts)
                     .tcp(40000, 443, flags, 4000, 9000)
                     .payload("data")
                     .build();
      // A 32-byte TCP header: MSS, window scale, SACK-permitted, padding.
      const std::size_t ihl = 20 + opts.size();
      in.insert(in.begin() + static_cast<std::ptrdiff_t>(ihl + 20),
                {2, 4, 5, 0xB4, 1, 3, 3, 7, 4, 2, 1, 1});
      in[ihl + 12] = 8 << 4;
      set_total_length(in, in.size());
      Rst r = reply_to(in);
      expect_rst_basics(r);
      if (flags & kAck) {
        EXPECT_EQ(r.v.tcp_flags, kRst);
        EXPECT_EQ(rd32(&r.packet[24]), 9000u);
      } else {
        EXPECT_EQ(r.v.tcp_flags, kRst | kAck);
        EXPECT_EQ(rd32(&r.packet[28]), 4000u + 4 + 1);  // payload, not options, plus SYN
      }
    }
  }
}

TEST(RstReply, EveryFieldOfTheReply) {
  Rst r = reply_to(PacketBuilder().ipv4(kInside, kServer, 3).tcp(40000, 443, kAck, 1, 2).build());
  const Bytes& p = r.packet;
  // Header fields natgw chooses: no identification, DF, TTL 64, zero window, no urgent data.
  EXPECT_EQ(p[1], 0);
  EXPECT_EQ(rd16(&p[4]), 0);
  EXPECT_EQ(rd16(&p[6]), 0x4000);
  EXPECT_EQ(p[8], 64);
  EXPECT_EQ(rd32(&p[12]), kServer.value());
  EXPECT_EQ(rd32(&p[16]), kInside.value());
  EXPECT_EQ(rd16(&p[20]), 443);
  EXPECT_EQ(rd16(&p[22]), 40000);
  EXPECT_EQ(rd16(&p[34]), 0);
  EXPECT_EQ(rd16(&p[38]), 0);
  // The same segment built from scratch has the same transport checksum.
  Bytes ref = PacketBuilder().ipv4(kServer, kInside).tcp(443, 40000, kRst, 2, 0).build();
  wr16(&ref[34], 0);
  wr16(&ref[36], 0);
  const std::uint32_t pseudo = (kServer.value() >> 16) + (kServer.value() & 0xFFFF) +
                               (kInside.value() >> 16) + (kInside.value() & 0xFFFF) + 6 + 20;
  EXPECT_EQ(rd16(&p[36]), ref_checksum(&ref[20], 20, pseudo));
}

TEST(RstReply, PaddedInput) {
  Bytes in = PacketBuilder().ipv4(kInside, kServer).tcp(40000, 443, kPsh, 10).payload("ab").build();
  in.resize(in.size() + 20, 0xEE);  // Ethernet padding is not segment data
  Rst r = reply_to(in);
  expect_rst_basics(r);
  EXPECT_EQ(rd32(&r.packet[28]), 12u);
}

}  // namespace
}  // namespace natgw::test
