// The simulator against results computed by hand. Every figure here comes from the engine's own
// counters; the workloads are deterministic (even arrivals, no round-trip time, no service
// time), so the arithmetic is exact. Arrival k of an even stream at rate r is at (k + 1/2) / r
// seconds (src/sim/rate.hpp), which the engine sees at millisecond k when r = 1,000/s.
#include <gtest/gtest.h>

#include "sim/simulator.hpp"
#include "sim_helpers.hpp"

namespace natgw::sim::test {
namespace {

using nat::ConnState;
using nat::DropReason;
using namespace std::chrono_literals;

// 100 new connections/s to one destination, each sending its request and then left idle: a flow
// lives 240 s after its last packet (the 4-minute TCP idle timeout) and its port is then held
// for 65 s for that destination. In steady state (from 305 s on) ports in use settle at
// 100 x 240 = 24,000 and ports in hold-down at 100 x 65 = 6,500.
TEST(ClosedForm, IdleFlowsSettleAtRateTimesIdleTimeoutPlusHoldDown) {
  const Workload w = parse_ok(steady_workload("10m", 100, "{ close: idle }"));
  const RunResult r = run(w, RunOptions{1, false, 10s});
  ASSERT_EQ(r.samples.size(), 60u);
  for (const Sample& s : r.samples) {
    const double t = seconds(s.at);
    const auto live = s.counters.active[0];
    const auto held = s.counters.holddown[0];
    if (t <= 240) {
      EXPECT_EQ(live, static_cast<std::uint64_t>(100 * t)) << "at " << t;
      EXPECT_EQ(held, 0u) << "at " << t;
    } else if (t >= 305) {
      EXPECT_EQ(live, 24'000u) << "at " << t;
      EXPECT_EQ(held, 6'500u) << "at " << t;
      // The same figures per public IP and for the busiest destination.
      EXPECT_EQ(s.ports_live[0], 24'000u);
      EXPECT_EQ(s.ports_holddown[0], 6'500u);
      ASSERT_TRUE(s.busiest);
      EXPECT_EQ(s.busiest->live, 24'000u);
      EXPECT_EQ(s.busiest->holddown, 6'500u);
    }
  }
  EXPECT_EQ(conns(r.last(), ConnState::attempted), 60'000u);
  EXPECT_EQ(conns(r.last(), ConnState::timed_out), 60'000u - 24'000u);
  EXPECT_FALSE(r.first_failure);
}

// 1,000 idle connections/s to one destination on one public IP: the 50,000 simultaneous
// connections per IP per destination are reached by connections 0..49,999, so connection
// 50,000 at 50.0005 s is the first refused (connection_limit), and every one after it until the
// first flow expires at 240 s: 190,000 failures. From 240 s each expiry makes room for the next
// arrival but keeps its port in hold-down for 65 s, so ports taken grow 50,000 + m after m ms;
// at m = 14,512 (254.5125 s) all 64,512 ports of the IP are taken for that destination and the
// next connection finds none: snat_exhausted.
TEST(ClosedForm, FiftyThousandLimitAndPortInventoryHitWhenTheArithmeticSays) {
  const Workload w = parse_ok(steady_workload("255s", 1000, "{ close: idle }"));
  const RunResult r = run(w, RunOptions{1, false, 5s});
  ASSERT_TRUE(r.first_failure);
  EXPECT_EQ(r.first_failure->at, Time{50'000'500'000});
  EXPECT_EQ(r.first_failure->reason, DropReason::connection_limit);
  const auto& first_limit =
      r.first_by_reason[static_cast<std::size_t>(DropReason::connection_limit)];
  const auto& first_exhausted =
      r.first_by_reason[static_cast<std::size_t>(DropReason::snat_exhausted)];
  ASSERT_TRUE(first_limit && first_exhausted);
  EXPECT_EQ(*first_exhausted, Time{254'512'500'000});
  for (const Sample& s : r.samples) {
    const double t = seconds(s.at);
    // At a whole second T past 240 s, flows 0..T-240,000 ms have expired (flow k, opened at
    // millisecond k, expires at k + 240,000 ms) and the arrivals before T replaced all but the
    // last of them (the next arrival comes half a millisecond after T).
    if (t == 240) {
      EXPECT_EQ(s.counters.drop(DropReason::connection_limit), 190'000u);
      EXPECT_EQ(s.counters.active[0], 49'999u);
      EXPECT_EQ(s.counters.holddown[0], 1u);
    }
    if (t == 250) {
      EXPECT_EQ(s.counters.active[0], 49'999u);
      EXPECT_EQ(s.counters.holddown[0], 10'001u);
      EXPECT_EQ(s.counters.drop(DropReason::connection_limit), 190'000u);
      EXPECT_EQ(s.counters.drop(DropReason::snat_exhausted), 0u);
    }
  }
  const Sample& last = r.last();
  EXPECT_EQ(last.counters.drop(DropReason::snat_exhausted), 254'999u - 254'512u + 1);
  EXPECT_EQ(last.ports_live[0] + last.ports_holddown[0], 64'512u);
  EXPECT_EQ(conns(last, ConnState::attempted), 255'000u);
  EXPECT_EQ(conns(last, ConnState::established), 50'000u + 14'512u);
}

// 1,000 connections/s closed at once with FIN: each keeps its port in hold-down for 65 s for the
// destination, so ports taken reach 64,512 with connection 64,511 and connection 64,512 at
// 64.5125 s is refused (snat_exhausted), as are all until the first hold-down ends at 65 s:
// 488 failures.
TEST(ClosedForm, FinHoldDownExhaustsThePortsOfOneDestination) {
  const Workload w = parse_ok(steady_workload("65s", 1000, "{ close: fin }"));
  const RunResult r = run(w, RunOptions{1, false, 1s});
  ASSERT_TRUE(r.first_failure);
  EXPECT_EQ(r.first_failure->reason, DropReason::snat_exhausted);
  EXPECT_EQ(r.first_failure->at, Time{64'512'500'000});
  const Sample& last = r.last();
  EXPECT_EQ(conns(last, ConnState::failed), 488u);
  EXPECT_EQ(conns(last, ConnState::closed), 64'512u);
  EXPECT_EQ(last.counters.active[0], 0u);
  // Connection 0's hold-down ended at 65.000 s, the end of the run.
  EXPECT_EQ(last.ports_holddown[0], 64'511u);
  const Sample& before = r.samples[r.samples.size() - 2];
  EXPECT_EQ(seconds(before.at), 64.0);
  EXPECT_EQ(before.ports_holddown[0], 64'000u);
  EXPECT_EQ(last.app.failed, 488u);
  EXPECT_EQ(last.app.completed, 64'512u);
  // Packets: 7 per connection (SYN, SYN+ACK, ACK + request, response, FIN, FIN, ACK), 1 per
  // refused SYN.
  EXPECT_EQ(r.packets, 64'512u * 7 + 488u);
}

// The same 1,000 connections/s over two public IPs: 129,024 ports hold 65 s of hold-down.
TEST(ClosedForm, TwoPublicIpsCarryWhatOneCannot) {
  const Workload w = parse_ok(steady_workload("70s", 1000, "{ close: fin }", 2));
  const RunResult r = run(w, RunOptions{2, false, 1s});
  EXPECT_FALSE(r.first_failure);
  EXPECT_EQ(r.snat_failed(), 0u);
  const Sample& last = r.last();
  // At 70 s the ports of connections 5,001..69,999 are held (connection k's hold-down ends at
  // k + 65,000 ms), split between the IPs.
  EXPECT_EQ(last.ports_holddown[0] + last.ports_holddown[1], 64'999u);
  EXPECT_GT(last.ports_holddown[0], 30'000u);
  EXPECT_GT(last.ports_holddown[1], 30'000u);
}

}  // namespace
}  // namespace natgw::sim::test
