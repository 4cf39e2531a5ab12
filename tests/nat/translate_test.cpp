// Behaviour of the engine, one test per rule of SPEC section 2 (translation).
#include <algorithm>
#include <map>
#include <set>

#include "harness.hpp"

namespace natgw::test {
namespace {

const net::Endpoint kA{kHostA, 40000};
const net::Endpoint kWeb{kServer, 443};
const net::Endpoint kWeb2{kServer2, 443};

TEST(Translate, OutboundTcpGetsPublicSourceAndValidChecksums) {
  Harness h;
  const Result r = h.tcp_out(kA, kWeb, kSyn);
  ASSERT_TRUE(r.forwarded());
  EXPECT_EQ(r.src(), kPub1);
  EXPECT_GE(r.sport(), 1024);
  EXPECT_EQ(r.dst(), kServer);
  EXPECT_EQ(r.dport(), 443);
  EXPECT_EQ(r.packet[8], 63) << "TTL is decremented";
  EXPECT_TRUE(ip_checksum_ok(r.packet.data()));
  EXPECT_TRUE(l4_checksum_ok(r.packet.data()));
  EXPECT_EQ(h.conns(L4::tcp, ConnState::attempted), 1u);
  EXPECT_EQ(h.active(L4::tcp), 1u);
  EXPECT_EQ(h.counters().packets[0][0], 1u);
  EXPECT_EQ(h.counters().bytes[0][0], 40u);
}

TEST(Translate, ReturnTrafficIsTranslatedBack) {
  Harness h;
  const net::Endpoint pub = h.tcp_out(kA, kWeb, kSyn).source();
  const Result back = h.tcp_in(kWeb, pub, kSyn | kAck, 5000, 1001);
  ASSERT_TRUE(back.forwarded());
  EXPECT_EQ(back.dst(), kHostA);
  EXPECT_EQ(back.dport(), kA.port);
  EXPECT_EQ(back.src(), kServer);
  EXPECT_TRUE(ip_checksum_ok(back.packet.data()));
  EXPECT_TRUE(l4_checksum_ok(back.packet.data()));
  EXPECT_EQ(h.counters().packets[0][1], 1u);
  // The same connection keeps its public endpoint.
  EXPECT_EQ(h.tcp_out(kA, kWeb, kAck, 1001, 5001).source(), pub);
}

TEST(Translate, UnsolicitedInboundIsDropped) {
  Harness h;
  EXPECT_EQ(h.tcp_in(kWeb, {kPub1, 5555}, kSyn).verdict.reason, DropReason::unsolicited_inbound);
  EXPECT_EQ(h.udp_in(kWeb, {kPub1, 5555}).verdict.reason, DropReason::unsolicited_inbound);
  // Also to an address that is not the gateway's.
  EXPECT_EQ(h.udp_in(kWeb, {Ipv4{203, 0, 113, 99}, 5555}).verdict.reason,
            DropReason::unsolicited_inbound);
  EXPECT_EQ(h.drops(DropReason::unsolicited_inbound), 3u);
  // A SYN from outside to a live flow's public endpoint does not open anything either.
  const net::Endpoint pub = h.establish(kA, kWeb);
  EXPECT_EQ(h.tcp_in(kWeb, pub, kSyn).verdict.reason, DropReason::unsolicited_inbound);
  // Return traffic from another destination to the same public endpoint is not forwarded.
  EXPECT_EQ(h.tcp_in(kWeb2, pub, kAck).verdict.reason, DropReason::unsolicited_inbound);
}

TEST(Translate, OnlyTcpAndUdpAreTranslated) {
  Harness h;
  auto echo = PacketBuilder().ipv4(kHostA, kServer).icmp(8, 0, 0x12340001).build();
  EXPECT_EQ(h.out(echo).verdict.reason, DropReason::unsupported_protocol);
  auto gre = PacketBuilder().ipv4(kHostA, kServer).proto(47).build();
  EXPECT_EQ(h.out(gre).verdict.reason, DropReason::unsupported_protocol);
  auto echo_in = PacketBuilder().ipv4(kServer, kPub1).icmp(8, 0, 0x12340001).build();
  EXPECT_EQ(h.in(echo_in).verdict.reason, DropReason::unsupported_protocol);
  EXPECT_EQ(h.drops(DropReason::unsupported_protocol), 3u);
  EXPECT_EQ(h.active(L4::tcp) + h.active(L4::udp), 0u);
}

TEST(Translate, IcmpErrorQuotingAFlowIsTranslatedBackWithoutTouchingTheFlow) {
  Harness h;
  const Result syn = h.udp_out(kA, {kServer, 53});
  h.advance(3min);
  // A router reports the datagram as undeliverable (port unreachable), quoting what it got.
  const Ipv4 router{198, 51, 100, 1};
  const Result err = h.in(icmp_error(router, kPub1, 3, 3, syn.packet));
  ASSERT_TRUE(err.forwarded()) << nat::name(err.verdict.reason);
  EXPECT_EQ(err.dst(), kHostA);
  EXPECT_EQ(err.src(), router);
  const std::uint8_t* inner = err.packet.data() + 28;
  EXPECT_EQ(Ipv4{rd32(inner + 12)}, kHostA) << "quoted source restored";
  EXPECT_EQ(rd16(inner + 20), kA.port) << "quoted source port restored";
  EXPECT_TRUE(ip_checksum_ok(err.packet.data()));
  EXPECT_TRUE(l4_checksum_ok(err.packet.data())) << "ICMP checksum";
  EXPECT_TRUE(ip_checksum_ok(inner)) << "quoted header checksum";
  EXPECT_EQ(h.counters().icmp_errors_translated, 1u);
  // It neither refreshed nor ended the flow: the flow still expires 4 min after its start.
  EXPECT_EQ(h.active(L4::udp), 1u);
  h.advance(1min + 20ms);
  EXPECT_EQ(h.active(L4::udp), 0u);
}

TEST(Translate, IcmpErrorQuotingFullTcpHeaderFixesQuotedChecksum) {
  Harness h;
  const Result syn = h.tcp_out(kA, kWeb, kSyn);
  const Result err = h.in(icmp_error(kServer, kPub1, 3, 4, syn.packet, 20));  // frag needed
  ASSERT_TRUE(err.forwarded());
  EXPECT_TRUE(l4_checksum_ok(err.packet.data()));
  // The quoted segment is whole: its own checksum must verify against the restored addresses.
  Bytes quoted(err.packet.begin() + 28, err.packet.end());
  EXPECT_TRUE(l4_checksum_ok(quoted.data()));
  EXPECT_EQ(h.active(L4::tcp), 1u) << "an ICMP error does not end the flow";
}

TEST(Translate, IcmpErrorForUnknownFlowIsDropped) {
  Harness h;
  const Bytes fake = PacketBuilder().ipv4(kPub1, kServer).udp(3333, 53).build();
  EXPECT_EQ(h.in(icmp_error(kServer, kPub1, 3, 3, fake)).verdict.reason,
            DropReason::unsolicited_inbound);
  // Quoting a packet from another public address than the one the error is sent to.
  const Result u = h.udp_out(kA, {kServer, 53});
  Bytes spoofed = u.packet;
  EXPECT_EQ(h.in(icmp_error(kServer, Ipv4{203, 0, 113, 12}, 3, 3, spoofed)).verdict.reason,
            DropReason::unsolicited_inbound);
}

TEST(Translate, IcmpErrorFromInsideAboutReturnTrafficIsTranslated) {
  Harness h;
  const net::Endpoint pub = h.udp_out(kA, {kServer, 53}).source();
  const Result reply = h.udp_in({kServer, 53}, pub);
  ASSERT_TRUE(reply.forwarded());
  // The inside host's socket is closed: it answers port unreachable.
  const Result err = h.out(icmp_error(kHostA, kServer, 3, 3, reply.packet));
  ASSERT_TRUE(err.forwarded()) << nat::name(err.verdict.reason);
  EXPECT_EQ(err.src(), kPub1);
  const std::uint8_t* inner = err.packet.data() + 28;
  EXPECT_EQ(Ipv4{rd32(inner + 16)}, kPub1);
  EXPECT_EQ(rd16(inner + 22), pub.port);
  EXPECT_TRUE(ip_checksum_ok(err.packet.data()));
  EXPECT_TRUE(l4_checksum_ok(err.packet.data()));
  EXPECT_TRUE(ip_checksum_ok(inner));
}

TEST(Translate, FragmentsAreDropped) {
  Harness h;
  auto first = PacketBuilder().ipv4(kHostA, kServer).fragment(true, 0).udp(5000, 53).payload(std::string(64, 'x')).build();
  auto middle = PacketBuilder().ipv4(kHostA, kServer).fragment(true, 9).proto(17).payload(std::string(64, 'x')).build();
  auto last = PacketBuilder().ipv4(kHostA, kServer).fragment(false, 18).proto(17).payload("tail").build();
  EXPECT_EQ(h.out(first).verdict.reason, DropReason::fragment);
  EXPECT_EQ(h.out(middle).verdict.reason, DropReason::fragment);
  EXPECT_EQ(h.out(last).verdict.reason, DropReason::fragment);
  auto inbound = PacketBuilder().ipv4(kServer, kPub1).fragment(true, 0).udp(53, 5000).build();
  EXPECT_EQ(h.in(inbound).verdict.reason, DropReason::fragment);
  EXPECT_EQ(h.drops(DropReason::fragment), 4u);
  EXPECT_EQ(h.conns(L4::udp, ConnState::attempted), 0u);
}

TEST(Translate, OutboundTcpToPort25IsBlocked) {
  Harness h;
  EXPECT_EQ(h.tcp_out(kA, {kServer, 25}, kSyn).verdict.reason, DropReason::smtp_blocked);
  EXPECT_EQ(h.drops(DropReason::smtp_blocked), 1u);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::attempted), 0u);
  // Submission (587) and UDP to 25 are not SMTP relay.
  EXPECT_TRUE(h.tcp_out(kA, {kServer, 587}, kSyn).forwarded());
  EXPECT_TRUE(h.udp_out(kA, {kServer, 25}).forwarded());
}

TEST(Translate, SourcesOutsideAttachedSubnetsAreDropped) {
  Harness h;
  const Result r = h.tcp_out({Ipv4{10, 0, 1, 4}, 40000}, kWeb, kSyn);
  EXPECT_EQ(r.verdict.reason, DropReason::source_not_in_subnet);
  const Result spoof = h.udp_out({Ipv4{192, 0, 2, 1}, 40000}, kWeb);
  EXPECT_EQ(spoof.verdict.reason, DropReason::source_not_in_subnet);
  EXPECT_EQ(h.drops(DropReason::source_not_in_subnet), 2u);
}

TEST(Translate, NonSynTcpWithoutFlowIsDroppedAndCreatesNothing) {
  Harness h;
  EXPECT_EQ(h.tcp_out(kA, kWeb, kAck).verdict.reason, DropReason::no_flow);
  EXPECT_EQ(h.tcp_out(kA, kWeb, kSyn | kAck).verdict.reason, DropReason::no_flow);
  EXPECT_EQ(h.tcp_out(kA, kWeb, kRst).verdict.reason, DropReason::no_flow);
  EXPECT_EQ(h.tcp_out(kA, kWeb, kFin | kAck).verdict.reason, DropReason::no_flow);
  EXPECT_EQ(h.drops(DropReason::no_flow), 4u);
  EXPECT_EQ(h.engine.slots_in_use(), 0u);
}

TEST(Translate, TtlOfOneIsDroppedAndTtlIsDecremented) {
  Harness h;
  auto p = PacketBuilder().ipv4(kHostA, kServer, 1).tcp(40000, 443, kSyn).build();
  EXPECT_EQ(h.out(p).verdict.reason, DropReason::ttl_expired);
  auto z = PacketBuilder().ipv4(kHostA, kServer, 0).udp(40000, 53).build();
  EXPECT_EQ(h.out(z).verdict.reason, DropReason::ttl_expired);
  EXPECT_EQ(h.engine.slots_in_use(), 0u);
  auto ok = PacketBuilder().ipv4(kHostA, kServer, 2).udp(40000, 53).build();
  const Result r = h.out(ok);
  ASSERT_TRUE(r.forwarded());
  EXPECT_EQ(r.packet[8], 1);
  EXPECT_TRUE(ip_checksum_ok(r.packet.data()));
}

TEST(Translate, MalformedPacketsAreCountedDrops) {
  Harness h;
  Bytes junk = {0x45, 0x00, 0x00};
  EXPECT_EQ(h.out(junk).verdict.reason, DropReason::malformed);
  auto p = PacketBuilder().ipv4(kHostA, kServer).tcp(40000, 443, kSyn).build();
  p[10] ^= 0xFF;  // header checksum
  EXPECT_EQ(h.out(p).verdict.reason, DropReason::malformed);
  auto q = PacketBuilder().ipv4(kServer, kPub1).udp(53, 4000).build();
  q.resize(q.size() - 3);  // shorter than its total length
  EXPECT_EQ(h.in(q).verdict.reason, DropReason::malformed);
  EXPECT_EQ(h.drops(DropReason::malformed), 3u);
}

TEST(Translate, PublicIpIsChosenAtRandomAmongAllAddresses) {
  std::vector<Ipv4> pubs;
  for (std::uint8_t i = 0; i < 4; ++i) pubs.push_back(Ipv4{203, 0, 113, static_cast<std::uint8_t>(10 + i)});
  Harness h(small_config(pubs));
  std::map<Ipv4, int> per_ip;
  for (std::uint16_t i = 0; i < 4000; ++i) {
    const Result r = h.udp_out({kHostA, static_cast<std::uint16_t>(10000 + i)}, {kServer, 53});
    ASSERT_TRUE(r.forwarded());
    ++per_ip[r.src()];
  }
  ASSERT_EQ(per_ip.size(), 4u);
  for (const auto& [ip, n] : per_ip) {
    EXPECT_GT(n, 850) << ip.text().view();  // 1000 expected; 5 sigma is about 140
    EXPECT_LT(n, 1150) << ip.text().view();
  }
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(h.engine.public_ips()[i].live[1], std::uint32_t(per_ip[pubs[i]]));
}

TEST(Translate, AnAddressWithoutRoomForTheDestinationIsNotChosen) {
  auto c = small_config({kPub1, kPub2});
  c.limits.per_destination = 10;
  Harness h(c);
  std::map<Ipv4, int> per_ip;
  for (std::uint16_t i = 0; i < 20; ++i) {
    const Result r = h.udp_out({kHostA, static_cast<std::uint16_t>(10000 + i)}, {kServer, 53});
    ASSERT_TRUE(r.forwarded()) << i;
    ++per_ip[r.src()];
  }
  EXPECT_EQ(per_ip[kPub1], 10);
  EXPECT_EQ(per_ip[kPub2], 10);
  EXPECT_EQ(h.udp_out({kHostA, 20000}, {kServer, 53}).verdict.reason, DropReason::connection_limit);
}

TEST(Translate, PerHostSelectionKeepsEachHostOnOnePublicIpAndSpreadsHosts) {
  std::vector<Ipv4> pubs;
  for (std::uint8_t i = 0; i < 4; ++i) pubs.push_back(Ipv4{203, 0, 113, static_cast<std::uint8_t>(10 + i)});
  auto c = small_config(pubs);
  c.subnets = {*net::Prefix::parse("10.0.0.0/16")};
  c.ip_selection = nat::IpSelection::per_host;
  Harness h(c);
  std::map<Ipv4, Ipv4> host_ip;  // inside host -> the one public IP it was seen with
  std::map<Ipv4, int> hosts_per_ip;
  for (std::uint32_t host = 0; host < 400; ++host) {
    const Ipv4 inside{10, 0, static_cast<std::uint8_t>(1 + host / 200), static_cast<std::uint8_t>(1 + host % 200)};
    for (std::uint16_t i = 0; i < 10; ++i) {
      // Different destinations and ports: the control and data connections of passive FTP.
      const Ipv4 dst = i % 2 == 0 ? kServer : kServer2;
      const Result r = h.tcp_out({inside, static_cast<std::uint16_t>(20000 + i)},
                                 {dst, static_cast<std::uint16_t>(i == 0 ? 21 : 30000 + i)}, net::kTcpSyn);
      ASSERT_TRUE(r.forwarded());
      const auto [it, first] = host_ip.emplace(inside, r.src());
      if (first) ++hosts_per_ip[r.src()];
      EXPECT_EQ(it->second, r.src()) << "host " << inside.text().view() << " changed public IP";
    }
  }
  ASSERT_EQ(hosts_per_ip.size(), 4u);
  for (const auto& [ip, n] : hosts_per_ip) {
    EXPECT_GT(n, 60) << ip.text().view();  // 100 expected
    EXPECT_LT(n, 140) << ip.text().view();
  }
}

TEST(Translate, PerHostSelectionUsesAnotherIpOnlyWhenTheHostsIpIsFull) {
  auto c = small_config({kPub1, kPub2});
  c.limits.per_destination = 10;
  c.ip_selection = nat::IpSelection::per_host;
  Harness h(c);
  std::map<Ipv4, int> per_ip;
  Ipv4 own{};
  for (std::uint16_t i = 0; i < 20; ++i) {
    const Result r = h.udp_out({kHostA, static_cast<std::uint16_t>(10000 + i)}, {kServer, 53});
    ASSERT_TRUE(r.forwarded()) << i;
    if (i == 0) own = r.src();
    if (i < 10) {
      EXPECT_EQ(r.src(), own) << "the host's own IP has room: " << i;
    }
    ++per_ip[r.src()];
  }
  EXPECT_EQ(per_ip[kPub1], 10);
  EXPECT_EQ(per_ip[kPub2], 10);
  // Another destination: back on the host's own IP.
  EXPECT_EQ(h.udp_out({kHostA, 10000}, {kServer2, 53}).src(), own);
  EXPECT_EQ(h.udp_out({kHostA, 20000}, {kServer, 53}).verdict.reason, DropReason::connection_limit);
}

TEST(Translate, PerHostSelectionMovesOnlyTheHostsOfAnAddedOrDrainedIp) {
  std::vector<Ipv4> three;
  for (std::uint8_t i = 0; i < 3; ++i) three.push_back(Ipv4{203, 0, 113, static_cast<std::uint8_t>(10 + i)});
  auto four = three;
  four.push_back(Ipv4{203, 0, 113, 13});
  const auto ip_of_hosts = [](const std::vector<Ipv4>& pubs) {
    auto c = small_config(pubs);
    c.ip_selection = nat::IpSelection::per_host;
    Harness h(c);
    std::map<std::uint8_t, Ipv4> out;
    for (std::uint8_t host = 1; host < 201; ++host) {
      out[host] = h.udp_out({Ipv4{10, 0, 0, host}, 4000}, {kServer, 53}).src();
    }
    return out;
  };
  const auto before = ip_of_hosts(three);
  const auto after = ip_of_hosts(four);
  int moved = 0;
  for (const auto& [host, ip] : before) {
    if (after.at(host) != ip) {
      ++moved;
      EXPECT_EQ(after.at(host), four.back()) << "a host moved to an IP other than the new one";
    }
  }
  EXPECT_GT(moved, 25);  // 50 expected: a quarter of the hosts move to the new address
  EXPECT_LT(moved, 75);
}

TEST(Translate, WouldOpenNamesTheHostsOwnIpFirst) {
  auto c = small_config({kPub1, kPub2});
  c.ip_selection = nat::IpSelection::per_host;
  Harness h(c);
  const Ipv4 own = h.udp_out({kHostA, 4000}, {kServer, 53}).src();
  const auto o = h.engine.would_open({net::Proto::tcp, {kHostA, 4001}, {kServer2, 80}});
  ASSERT_FALSE(o.refused);
  ASSERT_EQ(o.room.size(), 2u);
  EXPECT_TRUE(o.host_ip_first);
  EXPECT_EQ(o.room.front().public_ip, own);
  Harness random(small_config({kPub1, kPub2}));
  EXPECT_FALSE(random.engine.would_open({net::Proto::tcp, {kHostA, 4001}, {kServer2, 80}}).host_ip_first);
}

TEST(Translate, PortsComeFromTheConfiguredRangeAtRandom) {
  Harness h;
  std::set<std::uint16_t> ports;
  for (std::uint16_t i = 0; i < 2000; ++i) {
    const Result r = h.udp_out({kHostA, static_cast<std::uint16_t>(10000 + i)}, {kServer, 53});
    ASSERT_TRUE(r.forwarded());
    EXPECT_GE(r.sport(), 1024);
    ports.insert(r.sport());
  }
  EXPECT_EQ(ports.size(), 2000u) << "one destination: every connection its own port";
  EXPECT_LT(*ports.begin(), 1024 + 2000) << "spread over the range";
  EXPECT_GT(*ports.rbegin(), 65535 - 2000);
}

TEST(Translate, TcpAndUdpHaveSeparatePortInventories) {
  Harness h(one_port_config());
  const Result t = h.tcp_out(kA, {kServer, 53}, kSyn);
  const Result u = h.udp_out(kA, {kServer, 53});
  ASSERT_TRUE(t.forwarded());
  ASSERT_TRUE(u.forwarded());
  EXPECT_EQ(t.sport(), 1024);
  EXPECT_EQ(u.sport(), 1024);
}

TEST(Translate, OnePortServesManyDestinationsAtOnce) {
  Harness h(one_port_config());
  const Result a = h.tcp_out(kA, kWeb, kSyn);
  const Result b = h.tcp_out({kHostB, 40000}, kWeb2, kSyn);
  const Result c = h.tcp_out({kHostB, 40001}, {kServer, 80}, kSyn);
  ASSERT_TRUE(a.forwarded() && b.forwarded() && c.forwarded());
  EXPECT_EQ(a.source(), b.source());
  EXPECT_EQ(a.source(), c.source());
  // But never twice for the same destination: the whole outside 5-tuple stays unique.
  const Result d = h.tcp_out({kHostB, 40002}, kWeb, kSyn);
  EXPECT_EQ(d.verdict.reason, DropReason::snat_exhausted);
  // Return traffic still reaches the right host for each destination.
  EXPECT_EQ(h.tcp_in(kWeb2, b.source(), kSyn | kAck).dst(), kHostB);
  EXPECT_EQ(h.tcp_in(kWeb, a.source(), kSyn | kAck).dst(), kHostA);
}

TEST(Translate, FiftyThousandPerDestinationPerIpThenAnotherDestinationStillWorks) {
  auto c = small_config();
  c.limits.port_max = 1024 + 50'000 - 1;  // exactly 50,000 ports: B must reuse one of A's
  Harness h(c);
  std::set<std::uint16_t> used_for_a;
  for (std::uint32_t i = 0; i < 50'000; ++i) {
    const net::Endpoint from{Ipv4{10, 0, 0, static_cast<std::uint8_t>(1 + i / 50'000)},
                             static_cast<std::uint16_t>(10'000 + i)};
    const Result r = h.udp_out(from, {kServer, 53});
    ASSERT_TRUE(r.forwarded()) << i;
    used_for_a.insert(r.sport());
  }
  EXPECT_EQ(used_for_a.size(), 50'000u);
  const Result over = h.udp_out({kHostB, 1}, {kServer, 53});
  EXPECT_EQ(over.verdict.reason, DropReason::connection_limit);
  EXPECT_EQ(h.conns(L4::udp, ConnState::failed), 1u);
  EXPECT_EQ(h.drops(DropReason::connection_limit), 1u);
  const Result other = h.udp_out({kHostB, 1}, {kServer2, 53});
  ASSERT_TRUE(other.forwarded());
  EXPECT_TRUE(used_for_a.count(other.sport())) << "the same port, another destination";
  EXPECT_EQ(h.conns(L4::udp, ConnState::attempted), 50'002u);
  const auto busiest = h.engine.busiest_destination(0, L4::udp);
  ASSERT_TRUE(busiest);
  EXPECT_EQ(busiest->live, 50'000u);
  EXPECT_EQ(busiest->destination.addr, kServer);
}

TEST(Translate, TwoMillionConnectionsInAll) {
  std::vector<Ipv4> pubs;
  for (std::uint8_t i = 0; i < 16; ++i) pubs.push_back(Ipv4{203, 0, 113, static_cast<std::uint8_t>(16 + i)});
  auto c = nat::azure_profile();
  c.public_ips = pubs;
  c.subnets = {*net::Prefix::parse("10.0.0.0/8")};
  Harness h(c);
  ASSERT_EQ(c.limits.max_connections, 2'000'000u);
  // 2,000,000 UDP flows over three destinations (16 x 50,000 = 800,000 fit per destination).
  std::uint32_t ok = 0;
  for (std::uint32_t i = 0; i < 2'000'000; ++i) {
    const Ipv4 host{10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
    const Ipv4 dst{198, 51, 100, static_cast<std::uint8_t>(80 + i % 3)};
    auto p = PacketBuilder().ipv4(host, dst).udp(5000, 53).build();
    ok += h.engine.translate(p.data(), p.size(), Direction::out, h.now).action == Action::forward;
  }
  EXPECT_EQ(ok, 2'000'000u);
  EXPECT_EQ(h.active(L4::udp), 2'000'000u);
  const Result over = h.udp_out({Ipv4{10, 255, 0, 1}, 5000}, {Ipv4{198, 51, 100, 99}, 53});
  EXPECT_EQ(over.verdict.reason, DropReason::connection_limit);
  EXPECT_EQ(h.conns(L4::udp, ConnState::failed), 1u);
}

TEST(Translate, NoPortFreeForTheDestinationIsSnatExhausted) {
  Harness h(one_port_config());
  const net::Endpoint pub = h.establish(kA, kWeb);
  EXPECT_TRUE(h.tcp_out(kA, kWeb, kRst | kAck, 1001, 5001).forwarded());
  // The only port is in hold-down for kWeb: no port, although no limit is reached.
  const Result r = h.tcp_out({kHostB, 40000}, kWeb, kSyn);
  EXPECT_EQ(r.verdict.reason, DropReason::snat_exhausted);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::failed), 1u);
  // Other destinations can use it meanwhile.
  EXPECT_EQ(h.tcp_out({kHostB, 40000}, kWeb2, kSyn).source(), pub);
}

TEST(Translate, NoPublicIpAcceptingNewConnections) {
  Harness h(small_config({}));
  EXPECT_EQ(h.tcp_out(kA, kWeb, kSyn).verdict.reason, DropReason::no_public_ip);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::failed), 1u);
}

TEST(Translate, FullFlowTableIsACountedDrop) {
  auto c = one_port_config();
  c.limits.max_connections = 3;
  c.limits.holddown_reserve = 1;  // 4 slots
  Harness h(c);
  const Ipv4 dsts[] = {Ipv4{198, 51, 100, 1}, Ipv4{198, 51, 100, 2}, Ipv4{198, 51, 100, 3},
                       Ipv4{198, 51, 100, 4}, Ipv4{198, 51, 100, 5}};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.tcp_out(kA, {dsts[i], 80}, kSyn).forwarded());
  EXPECT_EQ(h.tcp_out(kA, {dsts[3], 80}, kSyn).verdict.reason, DropReason::connection_limit);
  ASSERT_TRUE(h.tcp_out(kA, {dsts[0], 80}, kRst).forwarded());  // 2 live + 1 hold-down
  ASSERT_TRUE(h.tcp_out(kA, {dsts[3], 80}, kSyn).forwarded());  // 3 live + 1 hold-down
  ASSERT_TRUE(h.tcp_out(kA, {dsts[1], 80}, kRst).forwarded());  // 2 live + 2 hold-down
  EXPECT_EQ(h.tcp_out(kA, {dsts[4], 80}, kSyn).verdict.reason, DropReason::flow_table_full);
  h.advance(16s + 20ms);
  EXPECT_TRUE(h.tcp_out(kA, {dsts[4], 80}, kSyn).forwarded());
}

TEST(Translate, SameSeedSameChoicesOtherSeedOtherChoices) {
  auto run = [](std::uint64_t seed) {
    auto c = small_config({kPub1, kPub2});
    c.seed = seed;
    Harness h(c);
    std::vector<net::Endpoint> got;
    for (std::uint16_t i = 0; i < 50; ++i) got.push_back(h.udp_out({kHostA, static_cast<std::uint16_t>(1000 + i)}, kWeb).source());
    return got;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Translate, BatchAndSinglePacketGiveTheSameResults) {
  Harness single;
  Harness batched;
  std::vector<Bytes> pkts;
  for (std::uint16_t i = 0; i < 100; ++i) {
    pkts.push_back(PacketBuilder().ipv4(kHostA, kServer).udp(static_cast<std::uint16_t>(2000 + i % 40), 53).build());
    pkts.push_back(PacketBuilder().ipv4(kHostA, kServer).tcp(static_cast<std::uint16_t>(3000 + i % 30), 80, i % 3 ? kAck : kSyn).build());
  }
  std::vector<Bytes> a = pkts, b = pkts;
  std::vector<nat::Packet> batch;
  for (auto& p : b) batch.push_back(nat::Packet{p.data(), static_cast<std::uint32_t>(p.size()), {}});
  batched.engine.translate_batch(batch, Direction::out, batched.now);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto v = single.engine.translate(a[i].data(), a[i].size(), Direction::out, single.now);
    EXPECT_EQ(v.action, batch[i].verdict.action) << i;
    EXPECT_EQ(v.reason, batch[i].verdict.reason) << i;
    EXPECT_EQ(a[i], b[i]) << i;
  }
}

TEST(Diagnosis, RecentDropsSayWhoWasDroppedAndWhy) {
  Harness h;
  h.tcp_out(kA, {kServer, 25}, kSyn);
  h.udp_in({kServer, 53}, {kPub1, 7777});
  const auto d = h.engine.recent_drops();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].reason, DropReason::smtp_blocked);
  EXPECT_EQ(d[0].src, kA);
  EXPECT_EQ(d[0].dst, (net::Endpoint{kServer, 25}));
  EXPECT_EQ(d[0].direction, Direction::out);
  EXPECT_EQ(d[1].reason, DropReason::unsolicited_inbound);
  EXPECT_EQ(d[1].ip_proto, 17);
  EXPECT_EQ(d[1].direction, Direction::in);
  for (int i = 0; i < 600; ++i) h.tcp_out(kA, kWeb, kAck);  // no_flow, wrapping its ring
  const auto after = h.engine.recent_drops();
  EXPECT_EQ(after.size(), nat::Engine::kRecentDrops + 2) << "a flood of one reason keeps the others' examples";
  EXPECT_EQ(std::count_if(after.begin(), after.end(), [](const nat::DropSample& x) { return x.reason == DropReason::smtp_blocked; }), 1);
}

TEST(Diagnosis, ActiveFtpCommandsAreNoticed) {
  Harness h;
  const net::Endpoint ftp{kServer, 21};
  const net::Endpoint pub = h.establish(kA, ftp);
  h.out(PacketBuilder().ipv4(kHostA, kServer).tcp(kA.port, 21, kAck | kPsh).payload("USER anonymous\r\n").build());
  EXPECT_EQ(h.engine.ftp_active_commands(), 0u);
  h.out(PacketBuilder().ipv4(kHostA, kServer).tcp(kA.port, 21, kAck | kPsh).payload("PORT 10,0,0,4,200,10\r\n").build());
  EXPECT_EQ(h.engine.ftp_active_commands(), 1u);
  ASSERT_EQ(h.engine.recent_ftp_active().size(), 1u);
  EXPECT_EQ(h.engine.recent_ftp_active()[0].client, kA);
  EXPECT_EQ(h.engine.recent_ftp_active()[0].server, ftp);
  // The server's connection back to the client is unsolicited, as the doctor will explain.
  EXPECT_EQ(h.tcp_in({kServer, 20}, {kPub1, 51210}, kSyn).verdict.reason, DropReason::unsolicited_inbound);
  (void)pub;
}

}  // namespace
}  // namespace natgw::test
