// Engine::reconfigure: what a configuration reload changes, and that it never drops open flows.
#include <set>

#include "harness.hpp"

namespace natgw::test {
namespace {

const net::Endpoint kA{kHostA, 40000};
const net::Endpoint kWeb{kServer, 443};

TEST(Reconfigure, AddedPublicIpTakesNewConnections) {
  Harness h(small_config({kPub1}));
  auto next = small_config({kPub1, kPub2});
  ASSERT_EQ(h.engine.reconfigure(next), "");
  std::set<Ipv4> seen;
  for (std::uint16_t i = 0; i < 100; ++i) seen.insert(h.udp_out({kHostA, static_cast<std::uint16_t>(1000 + i)}, kWeb).src());
  EXPECT_EQ(seen, (std::set<Ipv4>{kPub1, kPub2}));
}

TEST(Reconfigure, RemovedPublicIpDrainsItsOpenFlows) {
  Harness h(small_config({kPub1, kPub2}));
  std::vector<std::pair<net::Endpoint, net::Endpoint>> on_pub2;  // inside, public
  for (std::uint16_t i = 0; i < 40; ++i) {
    const net::Endpoint in{kHostA, static_cast<std::uint16_t>(1000 + i)};
    const net::Endpoint pub = h.establish(in, kWeb);
    if (pub.addr == kPub2) on_pub2.emplace_back(in, pub);
  }
  ASSERT_FALSE(on_pub2.empty());
  ASSERT_EQ(h.engine.reconfigure(small_config({kPub1})), "");
  EXPECT_FALSE(h.engine.public_ips()[1].accepting);
  // Open flows on the removed address keep working both ways.
  for (const auto& [in, pub] : on_pub2) {
    EXPECT_EQ(h.tcp_out(in, kWeb, kAck).source(), pub);
    EXPECT_EQ(h.tcp_in(kWeb, pub, kAck).dst(), kHostA);
  }
  // New connections never use it.
  for (std::uint16_t i = 0; i < 50; ++i) EXPECT_EQ(h.tcp_out({kHostB, static_cast<std::uint16_t>(2000 + i)}, kWeb, kSyn).src(), kPub1);
  // Once drained (idle out + hold-down), its index can take a new address.
  h.advance(10min);
  const Ipv4 kPub3{203, 0, 113, 12};
  ASSERT_EQ(h.engine.reconfigure(small_config({kPub1, kPub3})), "");
  EXPECT_EQ(h.engine.public_ips()[1].addr, kPub3);
  EXPECT_TRUE(h.engine.public_ips()[1].accepting);
}

TEST(Reconfigure, DetachedSubnetKeepsOpenFlowsButOpensNoNewOnes) {
  Harness h;
  const net::Endpoint pub = h.establish(kA, kWeb);
  auto next = small_config();
  next.subnets = {*net::Prefix::parse("10.1.0.0/24")};
  ASSERT_EQ(h.engine.reconfigure(next), "");
  EXPECT_EQ(h.tcp_out(kA, kWeb, kAck).source(), pub);
  EXPECT_TRUE(h.tcp_in(kWeb, pub, kAck).forwarded());
  EXPECT_EQ(h.tcp_out({kHostA, 40001}, kWeb, kSyn).verdict.reason, DropReason::source_not_in_subnet);
  EXPECT_TRUE(h.tcp_out({Ipv4{10, 1, 0, 9}, 40001}, kWeb, kSyn).forwarded());
  // Attached again: opens again.
  ASSERT_EQ(h.engine.reconfigure(small_config()), "");
  EXPECT_TRUE(h.tcp_out({kHostA, 40002}, kWeb, kSyn).forwarded());
}

TEST(Reconfigure, ShorterIdleTimeoutAppliesToOpenFlows) {
  auto c = small_config();
  c.timers.tcp_idle = 30min;
  Harness h(c);
  h.establish(kA, kWeb);
  h.advance(1min);
  ASSERT_EQ(h.engine.reconfigure(small_config()), "");  // back to 4 min
  h.advance(3min);
  EXPECT_EQ(h.active(L4::tcp), 0u) << "idle for 4 min under the new timeout";
}

TEST(Reconfigure, TableSizeChangesAreRefusedAndChangeNothing) {
  Harness h(small_config({kPub1}));
  auto next = small_config({kPub1, kPub2});
  next.limits.max_connections = 1000;
  EXPECT_NE(h.engine.reconfigure(next), "");
  EXPECT_EQ(h.engine.public_ips().size(), 1u);
  auto ports = small_config({kPub1});
  ports.limits.port_min = 2000;
  EXPECT_NE(h.engine.reconfigure(ports), "");
}

TEST(Reconfigure, MoreThanSixteenAddressesCountingDrainingOnesIsRefused) {
  std::vector<Ipv4> a, b;
  for (std::uint8_t i = 0; i < 16; ++i) {
    a.push_back(Ipv4{203, 0, 113, static_cast<std::uint8_t>(i)});
    b.push_back(Ipv4{198, 51, 100, static_cast<std::uint8_t>(i)});
  }
  Harness h(small_config(a));
  for (std::uint16_t i = 0; i < 200; ++i) h.udp_out({kHostA, static_cast<std::uint16_t>(1000 + i)}, kWeb);
  EXPECT_NE(h.engine.reconfigure(small_config(b)), "") << "every old address still has flows";
}

}  // namespace
}  // namespace natgw::test

namespace natgw::test {
namespace {

const net::Endpoint kC{kHostA, 41000};
const net::Endpoint kSrv{kServer, 443};

TEST(SaveRestore, FlowsAndHoldDownsCarryOverWithTheirTimers) {
  Harness a(one_port_config({kPub1, kPub2}));
  const net::Endpoint pub = a.establish(kC, kSrv);
  const net::Endpoint udp_pub = a.udp_out({kHostB, 5000}, {kServer, 53}).source();
  a.advance(1min);
  ASSERT_TRUE(a.tcp_out({kHostB, 41001}, {kServer2, 80}, kSyn).forwarded());
  ASSERT_TRUE(a.tcp_out({kHostB, 41001}, {kServer2, 80}, kRst).forwarded());  // held 16 s
  const auto saved = a.engine.save_flows();
  ASSERT_EQ(saved.size(), 3u);

  Harness b(one_port_config({kPub1, kPub2}));
  b.now = std::chrono::hours(50);  // another process, another clock
  const auto report = b.engine.restore_flows(saved, 10s, b.now);
  EXPECT_EQ(report.restored_live, 2u);
  EXPECT_EQ(report.expired, 0u);
  EXPECT_EQ(report.restored_holddown, 1u) << "10 s of the RST's 16 s hold-down are gone";
  // The TCP connection goes on with the same public endpoint, both ways.
  EXPECT_EQ(b.tcp_out(kC, kSrv, kAck).source(), pub);
  EXPECT_EQ(b.tcp_in(kSrv, pub, kAck).dst(), kHostA);
  EXPECT_EQ(b.udp_in({kServer, 53}, udp_pub).dst(), kHostB);
  EXPECT_EQ(b.active(L4::tcp), 1u);
  EXPECT_EQ(b.holddown(L4::tcp), 1u);
  b.advance(6s);
  EXPECT_EQ(b.holddown(L4::tcp), 0u) << "the hold-down ended 16 s after the RST, downtime included";
  // The UDP flow idled 1 min before saving and 10 s + 6 s since: it ends 4 min after its start.
  b.advance(4min - 1min - 10s - 6s - 1ms);
  EXPECT_EQ(b.active(L4::udp), 1u);
  b.advance(1ms);
  EXPECT_EQ(b.active(L4::udp), 0u);
}

TEST(SaveRestore, DowntimeExpiresFlowsAndHoldDownsProtectPorts) {
  Harness a(one_port_config());
  a.establish(kC, kSrv);
  ASSERT_TRUE(a.tcp_out(kC, kSrv, kFin | kAck).forwarded());
  ASSERT_TRUE(a.tcp_in(kSrv, {kPub1, 1024}, kFin | kAck).forwarded());  // closed: held 65 s
  a.udp_out({kHostB, 5000}, {kServer, 53});
  const auto saved = a.engine.save_flows();

  Harness b(one_port_config());
  const auto report = b.engine.restore_flows(saved, 30s, b.now);
  EXPECT_EQ(report.restored_holddown, 1u);
  EXPECT_EQ(report.restored_live, 1u);
  EXPECT_EQ(b.tcp_out({kHostB, 1}, kSrv, kSyn).verdict.reason, DropReason::snat_exhausted)
      << "the port is still in hold-down for this destination";
  b.advance(35s);
  EXPECT_TRUE(b.tcp_out({kHostB, 1}, kSrv, kSyn).forwarded()) << "65 s after the close, counting the downtime";

  Harness c(one_port_config());
  const auto late = c.engine.restore_flows(saved, 10min, c.now);
  EXPECT_EQ(late.restored_live + late.restored_holddown, 0u);
  EXPECT_EQ(late.expired, 2u);
  EXPECT_EQ(c.engine.slots_in_use(), 0u);
}

TEST(SaveRestore, FlowsTheNewConfigurationCannotHoldAreDroppedWithAReason) {
  Harness a(small_config({kPub1, kPub2}));
  for (std::uint16_t i = 0; i < 20; ++i) a.udp_out({kHostA, static_cast<std::uint16_t>(3000 + i)}, {kServer, 53});
  const auto saved = a.engine.save_flows();
  Harness b(small_config({kPub1}));
  const auto r = b.engine.restore_flows(saved, 0s, b.now);
  EXPECT_GT(r.restored_live, 0u);
  EXPECT_EQ(r.restored_live + r.dropped.at("its public IP is no longer configured"), 20u);
  // Restoring the same flows twice finds every public port taken.
  const auto again = b.engine.restore_flows(saved, 0s, b.now);
  EXPECT_EQ(again.dropped.at("another flow holds its public port for the destination"), r.restored_live);
}

}  // namespace
}  // namespace natgw::test
