// The network model on the engine's packet path (vnet::Enforcer as nat::AdmissionPolicy), and
// the engine's read-only question for explain (Engine::would_open).
#include "vnet/enforcer.hpp"

#include <gtest/gtest.h>

#include "model.hpp"
#include "nat/harness.hpp"

namespace natgw::vnet::test {
namespace {

using nat::DropReason;
using natgw::test::Harness;
using natgw::test::kAck;
using natgw::test::kSyn;
using natgw::test::PacketBuilder;
using natgw::test::rd32;

class EnforcerTest : public ::testing::Test {
 protected:
  void use(const NetworkConfig& c) {
    enforcer_ = std::make_unique<Enforcer>(Network::build(c, kAttached));
    h_.engine.set_admission(enforcer_.get());
  }
  std::uint64_t denied(std::string_view rule) const {
    for (const auto& r : enforcer_->network().rules()) {
      if (r.name == rule) return enforcer_->denied()[r.id];
    }
    return ~0ull;
  }

  Harness h_;
  std::unique_ptr<Enforcer> enforcer_;
};

NetworkConfig deny_http() {
  NetworkConfig c;
  c.security_groups = {
      {"nsg",
       {P("10.0.0.0/24")},
       {rule("deny-http", 100, Access::deny, Protocol::tcp, {internet()}, {port(80)})}}};
  return c;
}

TEST_F(EnforcerTest, DeniedConnectionIsDroppedCountedAndOpensNothing) {
  use(deny_http());
  auto r = h_.tcp_out(E("10.0.0.4:40000"), E("198.51.100.80:80"), kSyn);
  EXPECT_EQ(r.verdict.action, nat::Action::drop);
  EXPECT_EQ(r.verdict.reason, DropReason::security_rule_denied);
  r = h_.tcp_out(E("10.0.0.4:40000"), E("198.51.100.80:80"), kSyn);  // a retransmission
  EXPECT_EQ(denied("deny-http"), 2u);
  EXPECT_EQ(h_.engine.counters().drop(DropReason::security_rule_denied), 2u);
  EXPECT_EQ(h_.engine.slots_in_use(), 0u);
  EXPECT_EQ(h_.engine.counters().conn(nat::L4::tcp, nat::ConnState::attempted), 0u)
      << "denied before it was an attempt at a SNAT connection";
  // Other traffic is translated.
  EXPECT_TRUE(h_.tcp_out(E("10.0.0.4:40001"), E("198.51.100.80:443"), kSyn).forwarded());
  // The engine's recent drops name the packet.
  const auto samples = h_.engine.recent_drops();
  ASSERT_FALSE(samples.empty());
  EXPECT_EQ(samples.back().reason, DropReason::security_rule_denied);
  EXPECT_EQ(samples.back().dst.port, 80);
}

TEST_F(EnforcerTest, RouteNoneDropsNewConnections) {
  NetworkConfig c;
  c.route_tables = {
      {"rt", {P("10.0.0.0/24")}, {route("blackhole", "198.51.100.0/24", NextHopType::none)}}};
  use(c);
  const auto r = h_.udp_out(E("10.0.0.4:40000"), E("198.51.100.80:53"));
  EXPECT_EQ(r.verdict.reason, DropReason::route_none);
  EXPECT_TRUE(h_.udp_out(E("10.0.0.4:40000"), E("203.0.113.99:53")).forwarded());
}

TEST_F(EnforcerTest, ApplianceTrafficPassesUntranslatedEveryPacketAndOpensNoFlow) {
  NetworkConfig c;
  c.route_tables = {{"rt",
                     {P("10.0.0.0/24")},
                     {route("fw", "0.0.0.0/0", NextHopType::virtual_appliance, "10.0.0.5")}}};
  use(c);
  const auto syn = h_.tcp_out(E("10.0.0.4:40000"), E("198.51.100.80:443"), kSyn);
  ASSERT_TRUE(syn.forwarded());
  ASSERT_EQ(enforcer_->passed().size(), 1u) << "the policy knows what it passed, and where to";
  const std::uint16_t tag = enforcer_->passed()[0].tag;
  EXPECT_EQ(enforcer_->target(tag).address, A("10.0.0.5"));
  EXPECT_EQ(enforcer_->target(tag).via, ForwardTarget::Via::inside_address);
  EXPECT_EQ(syn.src(), A("10.0.0.4")) << "untranslated";
  EXPECT_EQ(syn.sport(), 40000);
  EXPECT_EQ(syn.packet[8], 63) << "TTL decremented, as a router does";
  EXPECT_TRUE(natgw::test::ip_checksum_ok(syn.packet.data()));
  EXPECT_TRUE(natgw::test::l4_checksum_ok(syn.packet.data()));
  // The rest of the connection passes too (no flow: each packet is routed).
  const auto ack = h_.tcp_out(E("10.0.0.4:40000"), E("198.51.100.80:443"), kAck);
  EXPECT_TRUE(ack.forwarded());
  ASSERT_EQ(enforcer_->passed().size(), 2u);
  EXPECT_EQ(enforcer_->passed()[1].tag, tag);
  enforcer_->clear_passed();
  EXPECT_TRUE(enforcer_->passed().empty());
  EXPECT_EQ(h_.engine.slots_in_use(), 0u);
  EXPECT_EQ(h_.engine.counters().packets[0][0], 0u) << "not processed by the NAT";
}

TEST_F(EnforcerTest, RuleChangesApplyToNewConnectionsOnly) {
  // A connection opened while HTTP was allowed...
  const auto syn = h_.tcp_out(E("10.0.0.4:40000"), E("198.51.100.80:80"), kSyn);
  ASSERT_TRUE(syn.forwarded());
  const net::Endpoint pub = syn.source();
  ASSERT_TRUE(h_.tcp_in(E("198.51.100.80:80"), pub, kSyn | kAck, 1, 1001).forwarded());
  use(deny_http());  // ... then a reload denies it.
  EXPECT_TRUE(h_.tcp_out(E("10.0.0.4:40000"), E("198.51.100.80:80"), kAck).forwarded())
      << "the open connection keeps its fate";
  EXPECT_EQ(h_.tcp_out(E("10.0.0.4:40001"), E("198.51.100.80:80"), kSyn).verdict.reason,
            DropReason::security_rule_denied)
      << "a new one is denied";
  // A non-SYN segment of a denied flow is denied too (rather than no_flow).
  EXPECT_EQ(h_.tcp_out(E("10.0.0.4:40002"), E("198.51.100.80:80"), kAck).verdict.reason,
            DropReason::security_rule_denied);
  EXPECT_EQ(denied("deny-http"), 2u);
}

TEST_F(EnforcerTest, EngineChecksComeFirst) {
  NetworkConfig c;
  c.route_tables = {{"rt",
                     {P("10.0.0.0/24")},
                     {route("fw", "0.0.0.0/0", NextHopType::virtual_appliance, "10.0.0.5")}}};
  use(c);
  EXPECT_EQ(h_.tcp_out(E("10.0.0.4:40000"), E("198.51.100.80:25"), kSyn).verdict.reason,
            DropReason::smtp_blocked);
  EXPECT_EQ(h_.tcp_out(E("10.9.0.4:40000"), E("198.51.100.80:443"), kSyn).verdict.reason,
            DropReason::source_not_in_subnet);
  EXPECT_EQ(h_.out(PacketBuilder().ipv4(A("10.0.0.4"), A("198.51.100.80")).icmp(8, 0).build())
                .verdict.reason,
            DropReason::unsupported_protocol);
}

TEST(WouldOpen, SaysWhatANewConnectionWouldMeetWithoutOpeningIt) {
  Harness h(natgw::test::small_config({natgw::test::kPub1, natgw::test::kPub2}));
  const auto t = tcp("10.0.0.4:40000", "198.51.100.80:443");
  auto o = h.engine.would_open(t);
  EXPECT_FALSE(o.refused);
  ASSERT_EQ(o.room.size(), 2u);
  EXPECT_EQ(o.room[0].public_ip, natgw::test::kPub1);
  EXPECT_EQ(o.room[0].live, 0u);
  EXPECT_EQ(h.engine.slots_in_use(), 0u);
  ASSERT_TRUE(h.tcp_out(E("10.0.0.4:40001"), E("198.51.100.80:443"), kSyn).forwarded());
  o = h.engine.would_open(t);
  EXPECT_EQ(o.room[0].live + o.room[1].live, 1u);
  EXPECT_EQ(h.engine.would_open(tcp("10.0.0.4", "198.51.100.80:25")).refused,
            DropReason::smtp_blocked);
  EXPECT_EQ(h.engine.would_open(tcp("10.1.0.4", "198.51.100.80:443")).refused,
            DropReason::source_not_in_subnet);
  EXPECT_EQ(h.engine.would_open({net::Proto::icmp, E("10.0.0.4"), E("198.51.100.80")}).refused,
            DropReason::unsupported_protocol);
}

TEST(WouldOpen, ReportsTheLimitThatStopsIt) {
  auto c = natgw::test::small_config();
  c.limits.per_destination = 2;
  Harness h(c);
  ASSERT_TRUE(h.tcp_out(E("10.0.0.4:40001"), E("198.51.100.80:443"), kSyn).forwarded());
  ASSERT_TRUE(h.tcp_out(E("10.0.0.4:40002"), E("198.51.100.80:443"), kSyn).forwarded());
  const auto o = h.engine.would_open(tcp("10.0.0.4:40003", "198.51.100.80:443"));
  EXPECT_EQ(o.refused, DropReason::connection_limit);
  EXPECT_TRUE(o.room.empty());
  EXPECT_EQ(h.tcp_out(E("10.0.0.4:40003"), E("198.51.100.80:443"), kSyn).verdict.reason,
            DropReason::connection_limit)
      << "and the packet path agrees";
}

}  // namespace
}  // namespace natgw::vnet::test
