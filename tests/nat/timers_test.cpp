// The timer table of SPEC section 2 on a virtual clock, and TCP state tracking.
#include "harness.hpp"

namespace natgw::test {
namespace {

const net::Endpoint kA{kHostA, 40000};
const net::Endpoint kB{kHostB, 40000};
const net::Endpoint kWeb{kServer, 443};

TEST(Timers, EstablishedTcpIdlesOutAfterFourMinutesAndLateSegmentsGetRst) {
  Harness h;
  const net::Endpoint pub = h.establish(kA, kWeb);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::established), 1u);
  h.advance(4min - 1ms);
  EXPECT_EQ(h.active(L4::tcp), 1u);
  h.advance(1ms);  // after advance(), timers due by now have fired
  EXPECT_EQ(h.active(L4::tcp), 0u);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::timed_out), 1u);
  EXPECT_EQ(h.holddown(L4::tcp), 1u);

  // A late segment from the inside: answered with an RST to the inside host, not forwarded.
  const Result late_out = h.tcp_out(kA, kWeb, kAck | kPsh, 7000, 9000);
  ASSERT_EQ(late_out.verdict.action, Action::reply);
  EXPECT_EQ(late_out.verdict.reason, DropReason::flow_expired);
  EXPECT_EQ(late_out.dst(), kHostA);
  EXPECT_EQ(late_out.src(), kServer);
  EXPECT_EQ(late_out.dport(), kA.port);
  EXPECT_EQ(late_out.tcp_flags(), kRst);
  EXPECT_EQ(rd32(&late_out.packet[24]), 9000u) << "RST seq = the segment's ACK";
  EXPECT_TRUE(ip_checksum_ok(late_out.packet.data()));
  EXPECT_TRUE(l4_checksum_ok(late_out.packet.data()));

  // A late segment from the outside: the RST goes back to the server, from the public endpoint.
  const Result late_in = h.tcp_in(kWeb, pub, kAck, 9000, 7000);
  ASSERT_EQ(late_in.verdict.action, Action::reply);
  EXPECT_EQ(late_in.dst(), kServer);
  EXPECT_EQ(late_in.source(), pub);
  EXPECT_EQ(h.counters().late_rst, 2u);
  EXPECT_EQ(h.drops(DropReason::flow_expired), 2u);
  // An RST is never answered, and nothing recreated the flow.
  EXPECT_EQ(h.tcp_in(kWeb, pub, kRst, 9000).verdict.action, Action::drop);
  EXPECT_EQ(h.counters().late_rst, 2u);
  EXPECT_EQ(h.active(L4::tcp), 0u);
}

TEST(Timers, ExactDeadlineIsSeenByPacketsEvenBetweenTicks) {
  Harness h;
  h.establish(kA, kWeb);
  h.now += 4min;  // no advance(): the packet itself finds the flow due at exactly 4 min
  EXPECT_EQ(h.tcp_out(kA, kWeb, kAck).verdict.action, Action::reply);
  Harness g;
  g.establish(kA, kWeb);
  g.now += 4min - 1ms;
  EXPECT_TRUE(g.tcp_out(kA, kWeb, kAck).forwarded());
}

TEST(Timers, KeepalivesInEitherDirectionResetTheTcpIdleTimer) {
  Harness h;
  const net::Endpoint pub = h.establish(kA, kWeb);
  for (int i = 0; i < 10; ++i) {
    h.advance(3min);
    // TCP keepalive from the server only: the ACK from the inside refreshes it too.
    ASSERT_TRUE(h.tcp_in(kWeb, pub, kAck).forwarded()) << i;
  }
  EXPECT_EQ(h.active(L4::tcp), 1u);
  h.advance(3min);
  ASSERT_TRUE(h.tcp_out(kA, kWeb, kAck).forwarded());
  h.advance(4min + 16ms);
  EXPECT_EQ(h.active(L4::tcp), 0u);
}

TEST(Timers, IdleTimeoutIsConfigurable) {
  auto c = small_config();
  c.timers.tcp_idle = 120min;
  Harness h(c);
  h.establish(kA, kWeb);
  h.advance(119min);
  EXPECT_EQ(h.active(L4::tcp), 1u);
  EXPECT_TRUE(h.tcp_out(kA, kWeb, kAck).forwarded());
  h.advance(120min + 16ms);
  EXPECT_EQ(h.active(L4::tcp), 0u);
}

TEST(Timers, HalfOpenTcpEndsAfterThirtySecondsAndItsPortIsReusableAtOnce) {
  Harness h(one_port_config());
  ASSERT_TRUE(h.tcp_out(kA, kWeb, kSyn).forwarded());
  h.advance(30s - 100ms);
  EXPECT_EQ(h.tcp_out(kB, kWeb, kSyn).verdict.reason, DropReason::snat_exhausted);
  h.advance(100ms);
  const Result r = h.tcp_out(kB, kWeb, kSyn);
  ASSERT_TRUE(r.forwarded()) << nat::name(r.verdict.reason);
  EXPECT_EQ(r.sport(), 1024);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::timed_out), 1u);
  EXPECT_EQ(h.holddown(L4::tcp), 0u) << "no hold-down after a half-open timeout";
}

TEST(Timers, PortFreedByRstIsReusableForTheSameDestinationAfter16sNotAt15s) {
  Harness h(one_port_config());
  const net::Endpoint pub = h.establish(kA, kWeb);
  ASSERT_TRUE(h.tcp_in(kWeb, pub, kRst).forwarded());
  EXPECT_EQ(h.conns(L4::tcp, ConnState::closed), 1u);
  h.advance(15s);
  EXPECT_EQ(h.tcp_out(kB, kWeb, kSyn).verdict.reason, DropReason::snat_exhausted);
  h.advance(1s);
  const Result r = h.tcp_out(kB, kWeb, kSyn);
  ASSERT_TRUE(r.forwarded()) << nat::name(r.verdict.reason);
  EXPECT_EQ(r.source(), pub);
}

TEST(Timers, PortOfAClosedConnectionIsHeld65s) {
  Harness h(one_port_config());
  const net::Endpoint pub = h.establish(kA, kWeb);
  ASSERT_TRUE(h.tcp_out(kA, kWeb, kFin | kAck, 1001, 5001).forwarded());
  EXPECT_EQ(h.conns(L4::tcp, ConnState::closed), 0u);
  ASSERT_TRUE(h.tcp_in(kWeb, pub, kFin | kAck, 5001, 1002).forwarded());
  EXPECT_EQ(h.conns(L4::tcp, ConnState::closed), 1u);
  EXPECT_EQ(h.active(L4::tcp), 0u);
  // The final ACK still passes during hold-down.
  EXPECT_TRUE(h.tcp_out(kA, kWeb, kAck, 1002, 5002).forwarded());
  h.advance(65s - 1ms);
  EXPECT_EQ(h.tcp_out(kB, kWeb, kSyn).verdict.reason, DropReason::snat_exhausted);
  h.advance(1ms);
  EXPECT_TRUE(h.tcp_out(kB, kWeb, kSyn).forwarded());
}

TEST(Timers, IdleExpiredTcpPortIsHeld65s) {
  Harness h(one_port_config());
  h.establish(kA, kWeb);
  h.advance(4min + 65s - 1ms);
  EXPECT_EQ(h.tcp_out(kB, kWeb, kSyn).verdict.reason, DropReason::snat_exhausted);
  h.advance(1ms);
  EXPECT_TRUE(h.tcp_out(kB, kWeb, kSyn).forwarded());
}

TEST(Timers, UdpFlowIdlesOutAfterFourMinutesThenItsPortIsHeld65s) {
  Harness h(one_port_config());
  const net::Endpoint dns{kServer, 53};
  const net::Endpoint pub = h.udp_out(kA, dns).source();
  ASSERT_TRUE(h.udp_in(dns, pub).forwarded());
  EXPECT_EQ(h.conns(L4::udp, ConnState::established), 1u);
  h.advance(4min + 16ms);
  EXPECT_EQ(h.active(L4::udp), 0u);
  EXPECT_EQ(h.conns(L4::udp, ConnState::timed_out), 1u);
  // Late reply: dropped (no RST for UDP), counted.
  EXPECT_EQ(h.udp_in(dns, pub).verdict.reason, DropReason::flow_expired);
  h.advance(65s - 100ms);
  EXPECT_EQ(h.udp_out(kB, dns).verdict.reason, DropReason::snat_exhausted);
  h.advance(100ms);
  EXPECT_TRUE(h.udp_out(kB, dns).forwarded());
}

TEST(Timers, UdpKeepalivesOneWayDoNotKeepTheFlowBothWaysDo) {
  const net::Endpoint dns{kServer, 53};
  {
    Harness h;
    const net::Endpoint pub = h.udp_out(kA, dns).source();
    ASSERT_TRUE(h.udp_in(dns, pub).forwarded());
    for (int i = 0; i < 3; ++i) {
      h.advance(90s);
      ASSERT_TRUE(h.udp_out(kA, dns).forwarded());  // keepalive from the inside only
    }
    // The outside direction has been silent for 4.5 min: the flow timed out at 4 min.
    EXPECT_EQ(h.conns(L4::udp, ConnState::timed_out), 1u);
    EXPECT_EQ(h.conns(L4::udp, ConnState::attempted), 2u) << "the last keepalive opened a new flow";
  }
  {
    Harness h;
    const net::Endpoint pub = h.udp_out(kA, dns).source();
    for (int i = 0; i < 10; ++i) {
      h.advance(90s);
      ASSERT_TRUE(h.udp_out(kA, dns).forwarded());
      ASSERT_TRUE(h.udp_in(dns, pub).forwarded()) << i;  // and from the outside
    }
    EXPECT_EQ(h.conns(L4::udp, ConnState::timed_out), 0u);
    EXPECT_EQ(h.conns(L4::udp, ConnState::attempted), 1u);
  }
}

TEST(Timers, ReusedInsideTupleAfterCloseGetsAnotherPort) {
  Harness h;
  const net::Endpoint pub = h.establish(kA, kWeb);
  ASSERT_TRUE(h.tcp_out(kA, kWeb, kRst).forwarded());
  h.advance(1s);
  const Result again = h.tcp_out(kA, kWeb, kSyn);  // same inside 5-tuple, a new connection
  ASSERT_TRUE(again.forwarded());
  EXPECT_NE(again.source(), pub) << "the old port is in hold-down for this destination";
  EXPECT_EQ(h.active(L4::tcp), 1u);
  EXPECT_EQ(h.holddown(L4::tcp), 1u);
  // Return traffic to the new port reaches the host; to the old one it is a closed flow.
  EXPECT_EQ(h.tcp_in(kWeb, again.source(), kSyn | kAck).dst(), kHostA);
}

TEST(Timers, TcpStatesAreCountedEstablishedClosedReset) {
  Harness h;
  const net::Endpoint p1 = h.establish(kA, kWeb);
  const net::Endpoint p2 = h.establish(kB, kWeb);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::established), 2u);
  ASSERT_TRUE(h.tcp_in(kWeb, p1, kFin | kAck).forwarded());
  EXPECT_EQ(h.active(L4::tcp), 2u) << "half-closed is still open";
  ASSERT_TRUE(h.tcp_out(kA, kWeb, kFin | kAck).forwarded());
  ASSERT_TRUE(h.tcp_in(kWeb, p2, kRst).forwarded());
  EXPECT_EQ(h.conns(L4::tcp, ConnState::closed), 2u);
  EXPECT_EQ(h.active(L4::tcp), 0u);
  EXPECT_EQ(h.holddown(L4::tcp), 2u);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::attempted), 2u);
  // A connection refused by the server (RST to the SYN) is closed, not established.
  const net::Endpoint p3 = h.tcp_out({kHostA, 40001}, kWeb, kSyn).source();
  ASSERT_TRUE(h.tcp_in(kWeb, p3, kRst | kAck).forwarded());
  EXPECT_EQ(h.conns(L4::tcp, ConnState::established), 2u);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::closed), 3u);
}

TEST(Timers, ClockGoingBackwardsChangesNothingAndLongJumpsEndEverything) {
  Harness h;
  h.establish(kA, kWeb);
  h.udp_out(kA, {kServer, 53});
  const nat::Time t = h.now;
  h.now = t - 10min;
  EXPECT_TRUE(h.tcp_out(kA, kWeb, kAck).forwarded());
  h.now = t;
  h.advance(std::chrono::hours(24 * 60));  // 60 days: beyond the 32-bit millisecond horizon
  EXPECT_EQ(h.active(L4::tcp), 0u);
  EXPECT_EQ(h.active(L4::udp), 0u);
  EXPECT_EQ(h.holddown(L4::tcp) + h.holddown(L4::udp), 0u);
  EXPECT_EQ(h.engine.slots_in_use(), 0u);
  EXPECT_EQ(h.conns(L4::tcp, ConnState::timed_out), 1u);
  EXPECT_EQ(h.conns(L4::udp, ConnState::timed_out), 1u);
  EXPECT_EQ(h.tcp_out(kA, kWeb, kAck).verdict.reason, DropReason::no_flow);
  EXPECT_TRUE(h.tcp_out(kA, kWeb, kSyn).forwarded());
}

TEST(Timers, LongQuietPeriodsWithinTheWheelSpanStillExpireExactly) {
  Harness h;
  h.establish(kA, kWeb);
  h.advance(3h);  // a single call crossing the whole wheel
  EXPECT_EQ(h.active(L4::tcp), 0u);
  EXPECT_EQ(h.engine.slots_in_use(), 0u);
}

}  // namespace
}  // namespace natgw::test
