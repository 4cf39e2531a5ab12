// Flow events (nat/flow_events.hpp): the SPSC ring, and the events the engine writes for
// connections that open, close, reset, idle out and fail, with their counters, on the virtual
// clock.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "harness.hpp"

namespace natgw::test {
namespace {

using nat::FlowEnd;
using nat::FlowEvent;
using nat::FlowEventKind;
using nat::FlowEventRing;

std::uint64_t ms(nat::Time t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
}

nat::EngineConfig logged(nat::EngineConfig c = small_config()) {
  c.flow_log = true;
  c.flow_log_ring = 64;
  return c;
}

std::vector<FlowEvent> drain(nat::Engine& e) {
  std::vector<FlowEvent> out(256);
  out.resize(e.flow_events()->pop(out));
  return out;
}

TEST(FlowEventRing, KeepsOrderCountsLossesWhenFullAndNeverBlocks) {
  FlowEventRing ring(3);  // rounded up to 4
  EXPECT_EQ(ring.capacity(), 4u);
  for (std::uint16_t i = 0; i < 6; ++i) {
    FlowEvent e;
    e.inside_port = i;
    EXPECT_EQ(ring.push(e), i < 4) << i;
  }
  EXPECT_EQ(ring.pushed(), 4u);
  EXPECT_EQ(ring.lost(), 2u);
  std::array<FlowEvent, 3> out;
  ASSERT_EQ(ring.pop(out), 3u);
  EXPECT_EQ(out[0].inside_port, 0);
  EXPECT_EQ(out[2].inside_port, 2);
  FlowEvent e;
  e.inside_port = 9;
  EXPECT_TRUE(ring.push(e));  // room again after the consumer moved on
  ASSERT_EQ(ring.pop(out), 2u);
  EXPECT_EQ(out[0].inside_port, 3);
  EXPECT_EQ(out[1].inside_port, 9);
  EXPECT_EQ(ring.pop(out), 0u);
}

TEST(FlowEventRing, OneProducerOneConsumerThreadsSeeEveryEventInOrder) {
  FlowEventRing ring(64);
  constexpr std::uint64_t kCount = 200'000;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount;) {
      FlowEvent e;
      e.time_ms = i;
      if (ring.push(e)) ++i;
    }
  });
  std::uint64_t next = 0;
  bool in_order = true;
  std::array<FlowEvent, 16> out;
  while (next < kCount) {
    const std::size_t n = ring.pop(out);
    for (std::size_t i = 0; i < n; ++i) in_order &= out[i].time_ms == next++;
  }
  producer.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(ring.pushed(), kCount);
}

TEST(FlowEvents, OffByDefaultNothingAllocated) {
  Harness h;
  EXPECT_EQ(h.engine.flow_events(), nullptr);
  Harness on(logged());
  EXPECT_NE(on.engine.flow_events(), nullptr);
  EXPECT_GT(on.engine.memory_bytes(), h.engine.memory_bytes() + 40 * h.engine.flow_capacity());
}

TEST(FlowEvents, TcpSessionClosedWithFinBothWays) {
  Harness h(logged());
  const net::Endpoint a{kHostA, 40000}, srv{kServer, 443};
  const auto start = h.now;
  const net::Endpoint pub = h.establish(a, srv);  // SYN out (40), SYN+ACK in (40), ACK out (40)
  h.now += 1500ms;
  const Bytes req = PacketBuilder()
                        .ipv4(a.addr, srv.addr)
                        .tcp(a.port, srv.port, kAck | kPsh, 1001, 5001)
                        .payload(std::string(100, 'q'))
                        .build();
  ASSERT_TRUE(h.out(req).forwarded());  // 140 bytes
  const Bytes resp = PacketBuilder()
                         .ipv4(srv.addr, pub.addr)
                         .tcp(srv.port, pub.port, kAck | kPsh, 5001, 1101)
                         .payload(std::string(1000, 'r'))
                         .build();
  ASSERT_TRUE(h.in(resp).forwarded());  // 1040 bytes
  h.now += 500ms;
  ASSERT_TRUE(h.tcp_out(a, srv, kFin | kAck, 1101, 6001).forwarded());
  ASSERT_TRUE(h.tcp_in(srv, pub, kFin | kAck, 6001, 1102).forwarded());
  const auto events = drain(h.engine);
  ASSERT_EQ(events.size(), 2u);
  const FlowEvent& o = events[0];
  EXPECT_EQ(o.kind, FlowEventKind::opened);
  EXPECT_EQ(o.time_ms, ms(start));
  EXPECT_EQ(net::Ipv4{o.inside_addr}, kHostA);
  EXPECT_EQ(o.inside_port, 40000);
  EXPECT_EQ(net::Ipv4{o.dst_addr}, kServer);
  EXPECT_EQ(o.dst_port, 443);
  EXPECT_EQ(net::Ipv4{o.public_addr}, pub.addr);
  EXPECT_EQ(o.public_port, pub.port);
  EXPECT_EQ(o.proto, L4::tcp);
  const FlowEvent& e = events[1];
  EXPECT_EQ(e.kind, FlowEventKind::ended);
  EXPECT_EQ(e.end, FlowEnd::closed);
  EXPECT_EQ(e.start_ms, ms(start));
  EXPECT_EQ(e.time_ms - e.start_ms, 2000u);
  EXPECT_EQ(e.packets[0], 4u);  // SYN, ACK, request, FIN
  EXPECT_EQ(e.packets[1], 3u);  // SYN+ACK, response, FIN
  EXPECT_EQ(e.bytes[0], 40u + 40 + 140 + 40);
  EXPECT_EQ(e.bytes[1], 40u + 1040 + 40);
  EXPECT_EQ(net::Ipv4{e.public_addr}, pub.addr);
  EXPECT_EQ(e.public_port, pub.port);
  EXPECT_FALSE(e.restored);
  // The final ACK still passes; no further event.
  EXPECT_TRUE(h.tcp_out(a, srv, kAck, 1102, 6002).forwarded());
  EXPECT_TRUE(drain(h.engine).empty());
}

TEST(FlowEvents, TcpSessionResetFromTheServer) {
  Harness h(logged());
  const net::Endpoint a{kHostA, 40001}, srv{kServer, 80};
  const net::Endpoint pub = h.establish(a, srv);
  h.now += 250ms;
  ASSERT_TRUE(h.tcp_in(srv, pub, kRst, 5001).forwarded());
  const auto events = drain(h.engine);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, FlowEventKind::ended);
  EXPECT_EQ(events[1].end, FlowEnd::reset);
  EXPECT_EQ(events[1].time_ms - events[1].start_ms, 250u);
  EXPECT_EQ(events[1].packets[0], 2u);
  EXPECT_EQ(events[1].packets[1], 2u);  // SYN+ACK and the RST that ended it
}

TEST(FlowEvents, UdpFlowIdlesOutAtItsExactDeadline) {
  Harness h(logged());
  const net::Endpoint a{kHostA, 5353}, srv{kServer, 53};
  const auto start = h.now;
  const net::Endpoint pub = h.udp_out(a, srv).source();
  h.now += 10s;
  ASSERT_TRUE(h.udp_in(srv, pub).forwarded());
  h.now += 20s;
  ASSERT_TRUE(h.udp_out(a, srv).forwarded());
  ASSERT_TRUE(h.udp_in(srv, pub).forwarded());
  // Last packet both ways at start+30 s: the flow ends at start+30 s+4 min, noticed later.
  h.advance(6min);
  const auto events = drain(h.engine);
  ASSERT_EQ(events.size(), 2u);
  const FlowEvent& e = events[1];
  EXPECT_EQ(e.kind, FlowEventKind::ended);
  EXPECT_EQ(e.end, FlowEnd::idle);
  EXPECT_EQ(e.proto, L4::udp);
  EXPECT_EQ(e.start_ms, ms(start));
  EXPECT_EQ(e.time_ms, ms(start + 30s + 4min));
  EXPECT_EQ(e.packets[0], 2u);
  EXPECT_EQ(e.packets[1], 2u);
  EXPECT_EQ(e.bytes[0], 64u);  // 2 x (20 + 8 + 4)
  EXPECT_EQ(e.bytes[1], 64u);
}

TEST(FlowEvents, HalfOpenConnectionEndsAsHalfOpen) {
  Harness h(logged());
  const auto start = h.now;
  ASSERT_TRUE(h.tcp_out({kHostA, 40002}, {kServer, 443}, kSyn).forwarded());
  h.advance(31s);
  const auto events = drain(h.engine);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].end, FlowEnd::half_open);
  EXPECT_EQ(events[1].time_ms, ms(start + 30s));
  EXPECT_EQ(events[1].packets[0], 1u);
  EXPECT_EQ(events[1].packets[1], 0u);
}

TEST(FlowEvents, RefusedAttemptIsAFailedEventWithTheDropReason) {
  Harness h(logged(one_port_config()));
  ASSERT_TRUE(h.tcp_out({kHostA, 40003}, {kServer, 443}, kSyn).forwarded());
  // The only port is taken for this destination: the next connection fails.
  EXPECT_FALSE(h.tcp_out({kHostB, 40004}, {kServer, 443}, kSyn).forwarded());
  EXPECT_FALSE(h.tcp_out({kHostB, 40005}, {kServer, 25}, kSyn).forwarded());
  const auto events = drain(h.engine);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].kind, FlowEventKind::failed);
  EXPECT_EQ(events[1].reason, DropReason::snat_exhausted);
  EXPECT_EQ(net::Ipv4{events[1].inside_addr}, kHostB);
  EXPECT_EQ(events[1].inside_port, 40004);
  EXPECT_EQ(net::Ipv4{events[1].dst_addr}, kServer);
  EXPECT_EQ(events[1].public_addr, 0u);
  EXPECT_EQ(events[1].time_ms, ms(h.now));
  EXPECT_EQ(events[2].reason, DropReason::smtp_blocked);
}

TEST(FlowEvents, AFullRingLosesEventsAndCountsThemButTrafficFlows) {
  Harness h(logged());  // 64 events
  for (std::uint16_t p = 0; p < 100; ++p) {
    ASSERT_TRUE(
        h.udp_out({kHostA, static_cast<std::uint16_t>(10000 + p)}, {kServer, 53}).forwarded());
  }
  EXPECT_EQ(h.engine.flow_events()->pushed(), 64u);
  EXPECT_EQ(h.engine.flow_events()->lost(), 36u);
}

TEST(FlowEvents, RestoredFlowsAreMarkedAndCountFromTheRestore) {
  Harness h(logged());
  const net::Endpoint a{kHostA, 40010}, srv{kServer, 443};
  const net::Endpoint pub = h.establish(a, srv);
  const auto saved = h.engine.save_flows();
  Harness next(logged());
  next.now = h.now + 5s;
  const auto r = next.engine.restore_flows(saved, 5s, next.now);
  EXPECT_EQ(r.restored_live, 1u);
  ASSERT_TRUE(next.tcp_out(a, srv, kAck, 1001, 5001).forwarded());
  ASSERT_TRUE(next.tcp_out(a, srv, kFin | kAck, 1001, 5001).forwarded());
  ASSERT_TRUE(next.tcp_in(srv, pub, kFin | kAck, 5001, 1002).forwarded());
  const auto events = drain(next.engine);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, FlowEventKind::opened);
  EXPECT_TRUE(events[0].restored);
  EXPECT_EQ(events[0].public_port, pub.port);
  EXPECT_EQ(events[1].end, FlowEnd::closed);
  EXPECT_TRUE(events[1].restored);
  EXPECT_EQ(events[1].start_ms, ms(next.now));
  EXPECT_EQ(events[1].packets[0], 2u);
  EXPECT_EQ(events[1].packets[1], 1u);
}

TEST(FlowEvents, AStopWithoutStateFileEndsTheOpenFlowsInSteps) {
  Harness h(logged());
  const net::Endpoint srv{kServer, 443};
  for (std::uint16_t p = 0; p < 5; ++p)
    h.establish({kHostA, static_cast<std::uint16_t>(41000 + p)}, srv);
  const net::Endpoint closed = h.establish({kHostB, 41100}, srv);
  ASSERT_TRUE(h.tcp_in(srv, closed, kRst, 5001).forwarded());  // in hold-down: not open
  ASSERT_EQ(drain(h.engine).size(), 7u);                       // 6 opened, 1 reset
  h.now += 2s;
  std::vector<FlowEvent> stopped;
  std::size_t next = 0;
  int calls = 0;
  do {
    next = h.engine.log_stopped_flows(h.now, next, 2);
    const auto got = drain(h.engine);
    EXPECT_LE(got.size(), 2u);
    stopped.insert(stopped.end(), got.begin(), got.end());
    ++calls;
  } while (next != 0 && calls < 10);
  EXPECT_EQ(next, 0u);
  ASSERT_EQ(stopped.size(), 5u);
  for (const FlowEvent& e : stopped) {
    EXPECT_EQ(e.kind, FlowEventKind::ended);
    EXPECT_EQ(e.end, FlowEnd::stopped);
    EXPECT_EQ(net::Ipv4{e.inside_addr}, kHostA);
    EXPECT_EQ(e.time_ms - e.start_ms, 2000u);
    EXPECT_EQ(e.packets[0], 2u);
    EXPECT_EQ(e.packets[1], 1u);
  }
  EXPECT_EQ(h.active(L4::tcp), 5u) << "the flows themselves stay";
  Harness off;
  EXPECT_EQ(off.engine.log_stopped_flows(off.now, 0, 2), 0u);
}

TEST(FlowEvents, ReloadCannotTurnFlowLogsOnOrOff) {
  Harness h(logged());
  nat::EngineConfig next = small_config();
  EXPECT_NE(h.engine.reconfigure(next), "");
  next.flow_log = true;
  next.flow_log_ring = 64;
  EXPECT_EQ(h.engine.reconfigure(next), "");
}

}  // namespace
}  // namespace natgw::test
