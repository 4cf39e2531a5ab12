// Writes the seed corpus of translate_fuzz: one file per scenario, in the record format described
// at the top of translate_fuzz.cpp. Usage: make_fuzz_corpus OUTPUT_DIR
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "net/types.hpp"
#include "support/packets.hpp"

namespace {

using natgw::net::Ipv4;
using natgw::test::Bytes;
using natgw::test::kAck;
using natgw::test::kFin;
using natgw::test::kPsh;
using natgw::test::kRst;
using natgw::test::kSyn;
using natgw::test::PacketBuilder;

// Control byte 0. On an inbound record, kAnswer and kIcmpAbout send the answer or the ICMP error
// to the last packet forwarded outbound (the record's own packet is not used).
constexpr std::uint8_t kIn = 0x01;
constexpr std::uint8_t kFix = 0x06;  // fix both checksums: mutated packets stay valid
constexpr std::uint8_t kAnswer = 0x08;
constexpr std::uint8_t kAnswerSynAck = 0x08 | (1 << 4);
constexpr std::uint8_t kAnswerFin = 0x08 | (2 << 4);
constexpr std::uint8_t kAnswerRst = 0x08 | (3 << 4);
constexpr std::uint8_t kTwice = 0x40;
constexpr std::uint8_t kIcmpAbout = 0x80;
// Control byte 1: clock steps (indices into kSteps) and ICMP error choices.
constexpr std::uint8_t kStep1s = 7;
constexpr std::uint8_t kStep16s = 9;
constexpr std::uint8_t kStep30s = 10;
constexpr std::uint8_t kStep65s = 12;
constexpr std::uint8_t kStep240s = 14;
constexpr std::uint8_t kStep8min = 15;
constexpr std::uint8_t kStepDay = 0xFF;
constexpr std::uint8_t kQuote18 = 1 << 4, kQuote20 = 2 << 4, kQuoteAll = 3 << 4;
constexpr std::uint8_t kTimeExceeded = 0x40;

const Ipv4 kHost{10, 0, 0, 5};
const Ipv4 kHost2{10, 0, 0, 77};
const Ipv4 kOutsider{10, 0, 1, 5};  // not in the subnet
const Ipv4 kPublicA{203, 0, 113, 10};
const Ipv4 kPublicB{203, 0, 113, 11};
const Ipv4 kWeb{198, 51, 100, 7};
const Ipv4 kDns{8, 8, 8, 8};

class Seed {
 public:
  Seed& add(std::uint8_t c0, std::uint8_t c1, const Bytes& pkt) {
    out_.push_back(c0);
    out_.push_back(c1);
    out_.push_back(static_cast<std::uint8_t>(pkt.size() >> 8));
    out_.push_back(static_cast<std::uint8_t>(pkt.size()));
    out_.insert(out_.end(), pkt.begin(), pkt.end());
    return *this;
  }
  const Bytes& bytes() const { return out_; }

 private:
  Bytes out_;
};

Bytes tcp(Ipv4 src, std::uint16_t sport, Ipv4 dst, std::uint16_t dport, std::uint8_t flags,
          const std::string& payload = "", std::uint8_t ttl = 64) {
  return PacketBuilder()
      .ipv4(src, dst, ttl)
      .tcp(sport, dport, flags, 1000, 2000)
      .payload(payload)
      .build();
}
Bytes udp(Ipv4 src, std::uint16_t sport, Ipv4 dst, std::uint16_t dport,
          const std::string& payload = "query") {
  return PacketBuilder().ipv4(src, dst).udp(sport, dport).payload(payload).build();
}

std::vector<std::pair<std::string, Bytes>> seeds() {
  std::vector<std::pair<std::string, Bytes>> s;
  const std::uint8_t o = kFix;  // outbound, checksums fixed

  s.emplace_back(
      "tcp-lifecycle",
      Seed()
          .add(o | kAnswerSynAck, 0, tcp(kHost, 40000, kWeb, 443, kSyn))
          .add(o | kAnswer, 0, tcp(kHost, 40000, kWeb, 443, kAck))
          .add(o | kAnswer, 0, tcp(kHost, 40000, kWeb, 443, kAck | kPsh, "GET / HTTP/1.1"))
          .add(o | kAnswer, 0, tcp(kHost, 40000, kWeb, 443, kFin | kAck))
          .add(o, 0, tcp(kHost, 40000, kWeb, 443, kAck))
          .add(o | kAnswerSynAck, kStep65s, tcp(kHost, 40000, kWeb, 443, kSyn))
          .bytes());
  s.emplace_back("tcp-server-closes-first",
                 Seed()
                     .add(o | kAnswerSynAck, 0, tcp(kHost, 40004, kWeb, 443, kSyn))
                     .add(o | kAnswer, 0, tcp(kHost, 40004, kWeb, 443, kAck))
                     .add(o | kAnswerFin, 0, tcp(kHost, 40004, kWeb, 443, kAck | kPsh, "bye"))
                     .add(o | kAnswer, 0, tcp(kHost, 40004, kWeb, 443, kFin | kAck))
                     .add(kIn | kAnswer, kStep1s, {})
                     .add(kIn | kAnswer | kIcmpAbout, kStep65s, {})
                     .bytes());
  s.emplace_back("tcp-reset",
                 Seed()
                     .add(o | kAnswerSynAck, 0, tcp(kHost, 40001, kWeb, 443, kSyn))
                     .add(o | kAnswerRst, 0, tcp(kHost, 40001, kWeb, 443, kAck))
                     .add(o, 1, tcp(kHost, 40001, kWeb, 443, kAck))
                     .add(o | kAnswerSynAck, kStep16s, tcp(kHost, 40001, kWeb, 443, kSyn))
                     .add(o, 0, tcp(kHost, 40001, kWeb, 443, kRst | kAck))
                     .bytes());
  s.emplace_back("tcp-idle-late-segment",
                 Seed()
                     .add(o | kAnswerSynAck, 0, tcp(kHost, 40002, kWeb, 443, kSyn))
                     .add(o | kAnswer, 0, tcp(kHost, 40002, kWeb, 443, kAck))
                     .add(kIn | kAnswer | kIcmpAbout, kStep240s, {})
                     .add(o, kStep1s, tcp(kHost, 40002, kWeb, 443, kAck | kPsh, "late"))
                     .add(o, kStep1s, tcp(kHost, 40002, kWeb, 443, kRst))
                     .add(o | kAnswerSynAck, kStep1s, tcp(kHost, 40002, kWeb, 443, kSyn))
                     .add(o | kAnswerSynAck, kStep65s, tcp(kHost, 40002, kWeb, 443, kSyn))
                     .bytes());
  s.emplace_back("tcp-half-open", Seed()
                                      .add(o, 0, tcp(kHost, 40003, kWeb, 80, kSyn))
                                      .add(o, kStep30s, tcp(kHost, 40003, kWeb, 80, kSyn))
                                      .add(o | kAnswer, kStep1s, tcp(kHost, 40003, kWeb, 80, kSyn))
                                      .bytes());
  s.emplace_back("udp-flow", Seed()
                                 .add(o | kAnswer, 0, udp(kHost, 5353, kDns, 53))
                                 .add(o, kStep1s, udp(kHost, 5353, kDns, 53))
                                 .add(o | kAnswer, kStep240s, udp(kHost, 5353, kDns, 53))
                                 .add(o, kStep240s, udp(kHost, 5353, kDns, 53))
                                 .add(o | kAnswer, kStep65s, udp(kHost, 5353, kDns, 53))
                                 .add(o | kAnswer, kStep8min, udp(kHost, 5353, kDns, 53))
                                 .add(kIn | kAnswer | kIcmpAbout, kStep240s, {})
                                 .add(kIn | kAnswer, kStep65s, {})
                                 .bytes());
  s.emplace_back("udp-no-checksum", Seed()
                                        .add(o | kAnswer, 0,
                                             PacketBuilder()
                                                 .ipv4(kHost, kDns)
                                                 .udp(7000, 53)
                                                 .udp_no_checksum()
                                                 .payload("x")
                                                 .build())
                                        .bytes());
  s.emplace_back(
      "icmp-errors-inbound",
      Seed()
          .add(o | kIcmpAbout, 0, tcp(kHost, 40010, kWeb, 443, kSyn))
          .add(o | kIcmpAbout, kQuote18 | kTimeExceeded, tcp(kHost, 40010, kWeb, 443, kSyn))
          .add(o | kIcmpAbout | kAnswerSynAck, kQuote20, tcp(kHost, 40010, kWeb, 443, kSyn))
          .add(o | kIcmpAbout, kQuoteAll, tcp(kHost, 40010, kWeb, 443, kAck | kPsh, "payload"))
          .add(o | kIcmpAbout, kQuoteAll, udp(kHost, 5000, kDns, 53))
          .add(o | kIcmpAbout, kTimeExceeded, udp(kHost, 5000, kDns, 53))
          .bytes());
  {
    // The inside host answers the server's datagram with port unreachable.
    const Bytes delivered = udp(kDns, 53, kHost2, 6000, "reply");
    const Bytes error = PacketBuilder().ipv4(kHost2, kDns).icmp(3, 3).payload(delivered).build();
    s.emplace_back(
        "icmp-error-outbound",
        Seed().add(o | kAnswer, 0, udp(kHost2, 6000, kDns, 53)).add(o, 0, error).bytes());
  }
  {
    const Bytes quoted = tcp(kPublicA, 64000, kWeb, 443, kSyn);
    s.emplace_back("unsolicited-inbound",
                   Seed()
                       .add(kIn | kFix, 0, tcp(kWeb, 443, kPublicA, 64000, kSyn))
                       .add(kIn | kFix, 0, tcp(kWeb, 443, kPublicB, 65535, kAck))
                       .add(kIn | kFix, 0, udp(kDns, 53, kPublicA, 64001))
                       .add(kIn | kFix, 0,
                            PacketBuilder().ipv4(kWeb, kPublicA).icmp(3, 4).payload(quoted).build())
                       .add(kIn | kFix, 0, tcp(kWeb, 443, kHost, 40000, kSyn))
                       .bytes());
  }
  s.emplace_back(
      "drops",
      Seed()
          .add(o, 0, tcp(kOutsider, 40000, kWeb, 443, kSyn))
          .add(o, 0, tcp(kHost, 40000, kWeb, 25, kSyn))
          .add(o, 0, tcp(kHost, 40020, kWeb, 443, kSyn, "", 1))
          .add(o, 0, tcp(kHost, 40021, kWeb, 443, kAck))
          .add(o, 0,
               PacketBuilder().ipv4(kHost, kWeb).icmp(8, 0, 0x12340001).payload("ping").build())
          .add(o, 0, PacketBuilder().ipv4(kHost, kWeb).proto(47).payload("gre!").build())
          .add(o, 0, PacketBuilder().ipv4(kHost, kWeb).fragment(true, 0).udp(1, 2).build())
          .add(o, 0,
               PacketBuilder().ipv4(kHost, kWeb).fragment(false, 20).proto(17).payload("t").build())
          .bytes());
  s.emplace_back("ip-options", Seed()
                                   .add(o | kAnswerSynAck | kIcmpAbout, kQuoteAll,
                                        PacketBuilder()
                                            .ipv4(kHost, kWeb)
                                            .ip_options({0x94, 4, 0, 0, 1, 1, 1, 0})
                                            .tcp(40030, 443, kSyn)
                                            .build())
                                   .add(o | kAnswer, 0,
                                        PacketBuilder()
                                            .ipv4(kHost, kDns)
                                            .ip_options({1, 1, 1, 0})
                                            .udp(5001, 53)
                                            .payload("odd")
                                            .build())
                                   .bytes());
  {
    Bytes v6 = tcp(kHost, 1, kWeb, 2, kSyn);
    v6[0] = 0x65;
    Bytes bad_sum = udp(kHost, 1, kDns, 53);
    bad_sum[10] ^= 0xFF;
    Bytes short_tcp = tcp(kHost, 1, kWeb, 2, kSyn);
    short_tcp.resize(30);
    Bytes bad_udp_len = udp(kHost, 1, kDns, 53);
    bad_udp_len[24] = 0xFF;
    s.emplace_back("malformed", Seed()
                                    .add(0, 0, v6)
                                    .add(0, 0, bad_sum)
                                    .add(kFix, 0, short_tcp)
                                    .add(kFix, 0, bad_udp_len)
                                    .add(kIn, 0, Bytes{0x45, 0x00})
                                    .add(kIn | kFix, 0, Bytes(20, 0x45))
                                    .bytes());
  }
  s.emplace_back("same-batch",
                 Seed()
                     .add(o | kTwice | kAnswerSynAck, 0, tcp(kHost, 40040, kWeb, 443, kSyn))
                     .add(o | kTwice, 0, udp(kHost, 40040, kDns, 53))
                     .add(kIn | kFix | kTwice, 0, tcp(kWeb, 443, kPublicA, 64000, kAck))
                     .bytes());
  s.emplace_back("hairpin", Seed()
                                .add(o | kAnswerSynAck, 0, tcp(kHost, 40050, kPublicB, 80, kSyn))
                                .add(o | kAnswer, 0, udp(kHost, 40050, kPublicA, 53))
                                .bytes());
  {
    // Many connections to one destination from one host, then a day later.
    Seed many;
    for (std::uint16_t i = 0; i < 48; ++i) {
      many.add(o | (i % 3 == 0 ? kAnswerSynAck : 0), 0,
               tcp(i % 2 ? kHost : kHost2, static_cast<std::uint16_t>(30000 + i), kWeb, 443, kSyn));
    }
    many.add(o, kStepDay, tcp(kHost, 30000, kWeb, 443, kAck));
    s.emplace_back("many-connections", many.bytes());
  }
  {
    // The tight engine: per-destination limit, ports in hold-down, the gateway-wide limit and a
    // full flow table.
    constexpr std::uint8_t kTight = 0x80;
    Seed tight;
    for (std::uint16_t i = 0; i < 40; ++i) {
      tight.add(o, kTight, tcp(kHost, static_cast<std::uint16_t>(1000 + i), kWeb, 443, kSyn));
    }
    for (std::uint16_t i = 0; i < 32; ++i) {  // all ports of these to the server in hold-down
      tight.add(o, kTight, tcp(kHost, static_cast<std::uint16_t>(1000 + i), kWeb, 443, kRst));
    }
    for (std::uint16_t i = 0; i < 20; ++i) {  // 8 ports left per IP for this destination
      tight.add(o, kTight, tcp(kHost2, static_cast<std::uint16_t>(2000 + i), kWeb, 443, kSyn));
    }
    for (std::uint16_t i = 0; i < 40; ++i) {  // 80 slots: 32 in hold-down, 16 TCP, 32 UDP
      tight.add(o, kTight, udp(kHost2, 3000, kDns, static_cast<std::uint16_t>(1 + i)));
    }
    s.emplace_back("tight-limits", tight.bytes());
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  int n = 0;
  for (const auto& [name, bytes] : seeds()) {
    std::ofstream f(dir / name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
      return 1;
    }
    ++n;
  }
  std::printf("wrote %d seeds to %s\n", n, dir.c_str());
  return 0;
}
