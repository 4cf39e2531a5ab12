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
