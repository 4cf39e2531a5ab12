// The profiles of SPEC section 3 (aws, gcp, rfc, custom knobs) on a virtual clock: each row of
// the table in nat/README.md "Profiles" that differs from azure.
#include "harness.hpp"

namespace natgw::test {
namespace {

const net::Endpoint kA{kHostA, 40000};
const net::Endpoint kB{kHostB, 41000};
const net::Endpoint kWeb{kServer, 443};
const net::Endpoint kWeb2{kServer2, 443};
const net::Endpoint kDns{kServer, 53};
const net::Endpoint kDns2{kServer2, 53};

nat::EngineConfig with(nat::EngineConfig preset, std::vector<Ipv4> pubs = {kPub1}) {
  const nat::EngineConfig base = small_config(std::move(pubs));
  preset.public_ips = base.public_ips;
  preset.subnets = base.subnets;
  preset.limits.max_connections = base.limits.max_connections;
  preset.seed = base.seed;
  return preset;
}

bool icmp_checksum_ok(const Bytes& p) {
  const std::size_t ihl = std::size_t(p[0] & 0x0F) * 4;
  return ref_checksum(p.data() + ihl, p.size() - ihl) == 0;
}

Bytes echo(Ipv4 from, Ipv4 to, std::uint8_t type, std::uint16_t id, std::uint16_t seq = 1) {
  return PacketBuilder()
      .ipv4(from, to)
      .icmp(type, 0, (std::uint32_t{id} << 16) | seq)
      .payload("abcdefgh")
      .build();
}

std::uint16_t echo_id(const Bytes& p) {
  return rd16(&p[(std::size_t(p[0] & 0x0F) * 4) + 4]);
}

// --- azure stays as it was -----------------------------------------------------------------

TEST(Profiles, AzureDropsIcmpEchoAndUdpFragments) {
  Harness h;
  EXPECT_EQ(h.out(echo(kHostA, kServer, 8, 7)).verdict.reason, DropReason::unsupported_protocol);
  const Bytes first =
      PacketBuilder().ipv4(kHostA, kServer).fragment(true, 0).udp(5000, 53).payload("x").build();
  EXPECT_EQ(h.out(first).verdict.reason, DropReason::fragment);
}

// --- aws ---------------------------------------------------------------------------------

TEST(Profiles, AwsTranslatesIcmpEchoByIdentifier) {
  Harness h(with(nat::aws_profile()));
  const Result req = h.out(echo(kHostA, kServer, 8, 0x4242));
  ASSERT_TRUE(req.forwarded()) << nat::name(req.verdict.reason);
  EXPECT_EQ(req.src(), kPub1);
  EXPECT_TRUE(ip_checksum_ok(req.packet.data()));
  EXPECT_TRUE(icmp_checksum_ok(req.packet));
  const std::uint16_t pub_id = echo_id(req.packet);
  EXPECT_EQ(h.active(L4::icmp), 1u);

  const Result rep = h.in(echo(kServer, kPub1, 0, pub_id));
  ASSERT_TRUE(rep.forwarded()) << nat::name(rep.verdict.reason);
  EXPECT_EQ(rep.dst(), kHostA);
  EXPECT_EQ(echo_id(rep.packet), 0x4242);
  EXPECT_TRUE(icmp_checksum_ok(rep.packet));
  EXPECT_EQ(h.conns(L4::icmp, ConnState::established), 1u);

  // A reply from another server, or to another identifier, matches nothing.
  EXPECT_EQ(h.in(echo(kServer2, kPub1, 0, pub_id)).verdict.reason, DropReason::unsolicited_inbound);
  EXPECT_EQ(h.in(echo(kServer, kPub1, 0, static_cast<std::uint16_t>(pub_id + 1))).verdict.reason,
            DropReason::unsolicited_inbound);
  // An echo request from the outside is never translated.
  EXPECT_FALSE(h.in(echo(kServer, kPub1, 8, pub_id)).forwarded());

  // An error about the echo (e.g. TTL exceeded on the way) goes back to the inside host.
  const Result err = h.in(icmp_error(kServer2, kPub1, 11, 0, req.packet));
  ASSERT_TRUE(err.forwarded()) << nat::name(err.verdict.reason);
  EXPECT_EQ(err.dst(), kHostA);
  EXPECT_TRUE(icmp_checksum_ok(err.packet));
  EXPECT_EQ(rd32(&err.packet[20 + 8 + 12]), kHostA.value()) << "quoted source restored";
  EXPECT_EQ(rd16(&err.packet[20 + 8 + 20 + 4]), 0x4242) << "quoted identifier restored";
}

TEST(Profiles, AwsIdleTimeoutIs350sAndOnlyTheInsideGetsAnRst) {
  Harness h(with(nat::aws_profile()));
  const net::Endpoint pub = h.establish(kA, kWeb);
  h.advance(350s - 1ms);
  EXPECT_EQ(h.active(L4::tcp), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.active(L4::tcp), 0u);
  // Late from the outside: dropped, no RST to the internet.
  const Result late_in = h.tcp_in(kWeb, pub, kAck, 9000, 7000);
  EXPECT_EQ(late_in.verdict.action, Action::drop);
  EXPECT_EQ(late_in.verdict.reason, DropReason::flow_expired);
  // Late from the inside: RST to the inside host.
  const Result late_out = h.tcp_out(kA, kWeb, kAck, 7000, 9000);
  ASSERT_EQ(late_out.verdict.action, Action::reply);
  EXPECT_EQ(late_out.dst(), kHostA);
  EXPECT_EQ(late_out.tcp_flags(), kRst);
  EXPECT_EQ(h.counters().late_rst, 1u);
}

TEST(Profiles, AwsUdpIsRefreshedByEitherDirection) {
  Harness h(with(nat::aws_profile()));
  ASSERT_TRUE(h.udp_out(kA, kDns).forwarded());
  for (int i = 0; i < 5; ++i) {  // keepalives from the inside only, every 300 s
    h.advance(300s);
    ASSERT_TRUE(h.udp_out(kA, kDns).forwarded());
  }
  EXPECT_EQ(h.active(L4::udp), 1u);
  h.advance(350s);
  EXPECT_EQ(h.active(L4::udp), 0u);
}

TEST(Profiles, AwsForwardsUdpFragmentsAndDropsTcpOnes) {
  Harness h(with(nat::aws_profile()));
  const Bytes first = PacketBuilder()
                          .ipv4(kHostA, kServer)
                          .fragment(true, 0)
                          .udp(kA.port, 53)
                          .payload(std::string(24, 'a'))
                          .build();
  const Result f1 = h.out(first);
  ASSERT_TRUE(f1.forwarded()) << nat::name(f1.verdict.reason);
  EXPECT_EQ(f1.src(), kPub1);
  const std::uint16_t pub_port = f1.sport();
  EXPECT_NE(pub_port, kA.port);
  const Bytes second = PacketBuilder()
                           .ipv4(kHostA, kServer)
                           .fragment(false, 4)
                           .proto(17)
                           .payload(std::string(16, 'b'))
                           .build();
  const Result f2 = h.out(second);
  ASSERT_TRUE(f2.forwarded()) << nat::name(f2.verdict.reason);
  EXPECT_EQ(f2.src(), kPub1);
  EXPECT_TRUE(ip_checksum_ok(f2.packet.data()));
  EXPECT_EQ(h.counters().fragments_forwarded, 1u);

  // A later fragment of a datagram whose first fragment was never seen: a counted drop.
  const Bytes orphan =
      PacketBuilder().ipv4(kHostB, kServer).fragment(false, 4).proto(17).payload("zz").build();
  EXPECT_EQ(h.out(orphan).verdict.reason, DropReason::fragment_without_first);
  EXPECT_EQ(h.drops(DropReason::fragment_without_first), 1u);

  // Inbound: the reply's first fragment by its header, the rest follow it.
  const Bytes in1 = PacketBuilder()
                        .ipv4(kServer, kPub1)
                        .fragment(true, 0)
                        .udp(53, pub_port)
                        .payload(std::string(24, 'c'))
                        .build();
  const Result r1 = h.in(in1);
  ASSERT_TRUE(r1.forwarded()) << nat::name(r1.verdict.reason);
  EXPECT_EQ(r1.dst(), kHostA);
  EXPECT_EQ(r1.dport(), kA.port);
  const Bytes in2 =
      PacketBuilder().ipv4(kServer, kPub1).fragment(false, 4).proto(17).payload("dd").build();
  const Result r2 = h.in(in2);
  ASSERT_TRUE(r2.forwarded()) << nat::name(r2.verdict.reason);
  EXPECT_EQ(r2.dst(), kHostA);
  // A later fragment after the fragment lifetime is forgotten.
  h.advance(31s);
  EXPECT_EQ(h.in(in2).verdict.reason, DropReason::fragment_without_first);

  // TCP fragments stay dropped.
  const Bytes tcp_frag =
      PacketBuilder().ipv4(kHostA, kServer).fragment(true, 0).tcp(kA.port, 443, kSyn).build();
  EXPECT_EQ(h.out(tcp_frag).verdict.reason, DropReason::fragment);
}

// --- gcp -------------------------------------------------------------------------------------

TEST(Profiles, GcpMapsOneInsideEndpointToOnePublicEndpointForEveryDestination) {
  Harness h(with(nat::gcp_profile(), {kPub1, kPub2}));
  const Result a = h.udp_out(kA, kDns);
  const Result b = h.udp_out(kA, kDns2);
  const Result c = h.tcp_out(kA, kWeb, kSyn);
  ASSERT_TRUE(a.forwarded() && b.forwarded() && c.forwarded());
  EXPECT_EQ(a.source(), b.source()) << "endpoint-independent mapping";
  // Another inside endpoint never gets the same public endpoint.
  const Result other = h.udp_out(kB, kDns);
  EXPECT_NE(other.source(), a.source());
  // Filtering: only the destinations the host sent to may answer (GCP: no unsolicited inbound).
  EXPECT_TRUE(h.udp_in(kDns2, a.source()).forwarded());
  EXPECT_EQ(h.udp_in({kServer2, 9999}, a.source()).verdict.reason, DropReason::unsolicited_inbound);
}

TEST(Profiles, GcpTimers) {
  Harness h(with(nat::gcp_profile()));
  ASSERT_TRUE(h.udp_out(kA, kDns).forwarded());
  h.advance(30s - 1ms);
  EXPECT_EQ(h.active(L4::udp), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.active(L4::udp), 0u) << "UDP 30 s";

  ASSERT_TRUE(h.out(echo(kHostA, kServer, 8, 9)).forwarded());
  h.advance(30s);
  EXPECT_EQ(h.active(L4::icmp), 0u) << "ICMP 30 s";

  const net::Endpoint pub = h.establish(kA, kWeb);
  h.advance(1200s - 1ms);
  EXPECT_EQ(h.active(L4::tcp), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.active(L4::tcp), 0u) << "TCP established 1200 s";

  // Transitory: a connection half-closed idles out after 30 s.
  const net::Endpoint pub2 = h.establish(kB, kWeb);
  ASSERT_TRUE(h.tcp_out(kB, kWeb, kFin | kAck).forwarded());
  h.advance(30s);
  EXPECT_EQ(h.active(L4::tcp), 0u) << "TCP transitory 30 s";
  (void)pub;
  (void)pub2;
}

TEST(Profiles, GcpTimeWaitHoldsTheMappingAndReconnectingSoonerIsAConflict) {
  Harness h(with(nat::gcp_profile()));
  const net::Endpoint pub = h.establish(kA, kWeb);
  ASSERT_TRUE(h.tcp_out(kA, kWeb, kFin | kAck).forwarded());
  ASSERT_TRUE(h.tcp_in(kWeb, pub, kFin | kAck).forwarded());
  EXPECT_EQ(h.holddown(L4::tcp), 1u);
  // The same 5-tuple again within TIME_WAIT (120 s): the mapping's public IP:port is held for
  // that destination, and endpoint-independent mapping allows no other.
  h.advance(119s);
  const Result again = h.tcp_out(kA, kWeb, kSyn);
  EXPECT_EQ(again.verdict.reason, DropReason::endpoint_independence_conflict);
  EXPECT_EQ(h.drops(DropReason::endpoint_independence_conflict), 1u);
  // The mapping still serves other destinations meanwhile.
  const Result other = h.tcp_out(kA, kWeb2, kSyn);
  ASSERT_TRUE(other.forwarded());
  EXPECT_EQ(other.source(), pub);
  h.advance(1s);
  const Result later = h.tcp_out(kA, kWeb, kSyn);
  ASSERT_TRUE(later.forwarded()) << nat::name(later.verdict.reason);
  EXPECT_EQ(later.source(), pub);
}

TEST(Profiles, GcpRevivesAnIdleUdpFlowOnItsMappingRightAway) {
  Harness h(with(nat::gcp_profile()));
  const Result first = h.udp_out(kA, kDns);
  ASSERT_TRUE(first.forwarded());
  h.advance(31s);  // idle: the flow is in hold-down for its destination
  ASSERT_EQ(h.active(L4::udp), 0u);
  ASSERT_EQ(h.holddown(L4::udp), 1u);
  const Result again = h.udp_out(kA, kDns);
  ASSERT_TRUE(again.forwarded()) << nat::name(again.verdict.reason);
  EXPECT_EQ(again.source(), first.source());
  EXPECT_EQ(h.active(L4::udp), 1u);
  EXPECT_EQ(h.holddown(L4::udp), 0u);
  EXPECT_TRUE(h.udp_in(kDns, first.source()).forwarded());
  h.advance(31s + 65s);
  EXPECT_EQ(h.engine.slots_in_use(), 0u);
}

TEST(Profiles, GcpPortAllowancePerHostDoublesUpToItsMaximum) {
  nat::EngineConfig c = with(nat::gcp_profile());
  c.limits.port_min = 2000;
  c.limits.port_max = 2011;  // 12 ports in all
  c.behaviour.ports_per_host_min = 2;
  c.behaviour.ports_per_host_max = 8;
  Harness h(c);
  // Host A: 2, then 4, then 8 mappings (its allowance doubles), never a ninth.
  for (std::uint16_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(h.udp_out({kHostA, static_cast<std::uint16_t>(5000 + i)}, kDns).forwarded()) << i;
  }
  EXPECT_EQ(h.udp_out({kHostA, 5100}, kDns).verdict.reason, DropReason::out_of_resources);
  // Host B: 2 and 4 fit in the 12 ports (8 promised to A); 8 would not.
  for (std::uint16_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(h.udp_out({kHostB, static_cast<std::uint16_t>(5000 + i)}, kDns).forwarded()) << i;
  }
  EXPECT_EQ(h.udp_out({kHostB, 5100}, kDns).verdict.reason, DropReason::out_of_resources);
  EXPECT_EQ(h.drops(DropReason::out_of_resources), 2u);
  // When A's mappings go (idle 30 s, hold-down 65 s), its allowance is given back.
  h.advance(30s + 65s + 1s);
  ASSERT_EQ(h.active(L4::udp), 0u);
  for (std::uint16_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(h.udp_out({kHostB, static_cast<std::uint16_t>(6000 + i)}, kDns).forwarded()) << i;
  }
}

// --- rfc ---------------------------------------------------------------------------------------

TEST(Profiles, RfcFiltersEndpointIndependentlyAndOpensFlowsFromOutside) {
  Harness h(with(nat::rfc_profile()));
  const Result a = h.udp_out(kA, kDns);
  ASSERT_TRUE(a.forwarded());
  // Anyone may send to the mapping (endpoint-independent filtering, RFC 4787 REQ-8).
  const Result in = h.udp_in({kServer2, 7777}, a.source());
  ASSERT_TRUE(in.forwarded()) << nat::name(in.verdict.reason);
  EXPECT_EQ(in.dst(), kHostA);
  EXPECT_EQ(in.dport(), kA.port);
  EXPECT_EQ(h.counters().inbound_opened, 1u);
  // ... and the host's answer goes out on the same mapping.
  const Result back = h.udp_out(kA, {kServer2, 7777});
  EXPECT_EQ(back.source(), a.source());
  // TCP: a SYN from a new remote to a mapping reaches the host; its SYN+ACK establishes it.
  const net::Endpoint pub = h.establish(kB, kWeb);
  const Result syn = h.tcp_in({kServer2, 5555}, pub, kSyn);
  ASSERT_TRUE(syn.forwarded()) << nat::name(syn.verdict.reason);
  EXPECT_EQ(syn.dst(), kHostB);
  ASSERT_TRUE(h.tcp_out(kB, {kServer2, 5555}, kSyn | kAck, 1, 5001).forwarded());
  EXPECT_EQ(h.conns(L4::tcp, ConnState::established), 2u);
  // No mapping, no entry; and only a SYN opens.
  EXPECT_EQ(h.tcp_in({kServer2, 5555}, {kPub1, 1}, kSyn).verdict.reason,
            DropReason::unsolicited_inbound);
  EXPECT_EQ(h.tcp_in({kServer2, 5556}, pub, kAck).verdict.reason, DropReason::unsolicited_inbound);
}

TEST(Profiles, RfcTimers) {
  Harness h(with(nat::rfc_profile()));
  ASSERT_TRUE(h.udp_out(kA, kDns).forwarded());
  h.advance(5min - 1ms);
  EXPECT_EQ(h.active(L4::udp), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.active(L4::udp), 0u) << "UDP 5 min";
  h.establish(kA, kWeb);
  h.advance(124min - 1ms);
  EXPECT_EQ(h.active(L4::tcp), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.active(L4::tcp), 0u) << "TCP established 2 h 4 min";
  ASSERT_TRUE(h.tcp_out(kB, kWeb, kSyn).forwarded());
  h.advance(4min);
  EXPECT_EQ(h.active(L4::tcp), 0u) << "TCP transitory 4 min";
}

TEST(Profiles, RfcHairpinsBetweenTwoInsideHosts) {
  Harness h(with(nat::rfc_profile()));
  // B has a mapping (say from talking to a rendezvous server); A sends to B's public endpoint.
  const Result b = h.udp_out(kB, kDns);
  ASSERT_TRUE(b.forwarded());
  const Result a_to_b = h.udp_out(kA, b.source());
  ASSERT_EQ(a_to_b.verdict.action, Action::hairpin) << nat::name(a_to_b.verdict.reason);
  EXPECT_EQ(a_to_b.dst(), kHostB);
  EXPECT_EQ(a_to_b.dport(), kB.port);
  EXPECT_EQ(a_to_b.src(), kPub1) << "the sender appears as its public endpoint";
  const net::Endpoint a_pub = a_to_b.source();
  EXPECT_NE(a_pub.port, kA.port);
  EXPECT_TRUE(l4_checksum_ok(a_to_b.packet.data()));
  EXPECT_TRUE(ip_checksum_ok(a_to_b.packet.data()));
  // B answers A's public endpoint: back to A the same way.
  const Result b_to_a = h.udp_out(kB, a_pub);
  ASSERT_EQ(b_to_a.verdict.action, Action::hairpin) << nat::name(b_to_a.verdict.reason);
  EXPECT_EQ(b_to_a.dst(), kHostA);
  EXPECT_EQ(b_to_a.dport(), kA.port);
  EXPECT_EQ(b_to_a.source(), b.source());
  EXPECT_EQ(h.counters().hairpinned, 2u);
}

TEST(Profiles, WithoutHairpinningAPacketToOurOwnPublicIpGoesToTheNextHop) {
  Harness h(with(nat::gcp_profile()));
  const Result b = h.udp_out(kB, kDns);
  const Result a_to_b = h.udp_out(kA, b.source());
  EXPECT_EQ(a_to_b.verdict.action, Action::forward);
  EXPECT_EQ(a_to_b.dst(), kPub1);
}

// --- custom knobs ----------------------------------------------------------------------------

TEST(Profiles, BlockedPortsAreDroppedWithTheirReason) {
  nat::EngineConfig c = small_config();
  c.behaviour.blocked_ports = {445, 1900};
  Harness h(c);
  EXPECT_EQ(h.tcp_out(kA, {kServer, 445}, kSyn).verdict.reason, DropReason::port_blocked);
  EXPECT_EQ(h.udp_out(kA, {kServer, 1900}).verdict.reason, DropReason::port_blocked);
  EXPECT_TRUE(h.tcp_out(kA, kWeb, kSyn).forwarded());
  EXPECT_EQ(h.tcp_out(kA, {kServer, 25}, kSyn).verdict.reason, DropReason::smtp_blocked);
}

TEST(Profiles, EngineRefusesFilteringWithoutTheMappingItNeeds) {
  nat::EngineConfig c = small_config();
  c.behaviour.filtering = nat::Filtering::endpoint_independent;
  EXPECT_THROW(nat::Engine{c}, std::invalid_argument);
}

TEST(Profiles, AReloadChangesIcmpEchoButNotTheMapping) {
  Harness h;
  nat::EngineConfig next = small_config();
  next.behaviour.icmp_echo = true;
  EXPECT_EQ(h.engine.reconfigure(next), "");
  EXPECT_TRUE(h.out(echo(kHostA, kServer, 8, 7)).forwarded());
  next.behaviour.mapping = nat::Mapping::endpoint_independent;
  EXPECT_EQ(h.engine.reconfigure(next),
            "the mapping and filtering behaviour, the fragment table and the per-host port "
            "allowance cannot change without a restart");
}

TEST(Profiles, MappingsSurviveSaveAndRestore) {
  Harness h(with(nat::rfc_profile()));
  const Result a = h.udp_out(kA, kDns);
  const auto saved = h.engine.save_flows();
  Harness g(with(nat::rfc_profile()));
  const auto report = g.engine.restore_flows(saved, 1s, g.now);
  EXPECT_EQ(report.restored_live, 1u);
  // The restored mapping answers to a new destination with the same public endpoint.
  EXPECT_EQ(g.udp_out(kA, kDns2).source(), a.source());
}

}  // namespace
}  // namespace natgw::test
