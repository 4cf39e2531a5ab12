// The application behaviours of the model (pooling, keepalives, retries, UDP keepalives) and
// what the engine makes of them.
#include <gtest/gtest.h>

#include "sim/simulator.hpp"
#include "sim_helpers.hpp"

namespace natgw::sim::test {
namespace {

using nat::ConnState;
using nat::DropReason;
using namespace std::chrono_literals;

// 1,100 requests/s to one destination: a new connection per request needs 1,100 x 65 s = 71,500
// ports in hold-down, more than one public IP has, and fails; the same requests over pools of 8
// connections per client (at most 800 connections) never fail.
TEST(Behaviour, PoolingRemovesTheFailuresOfOneConnectionPerRequest) {
  const RunResult unpooled =
      run(parse_ok(steady_workload("62s", 1100, "{ reuse: none, close: fin }")), RunOptions{});
  const RunResult pooled =
      run(parse_ok(steady_workload("62s", 1100, "{ reuse: pool, pool_size: 8, close: fin }")),
          RunOptions{});
  ASSERT_TRUE(unpooled.first_failure);
  EXPECT_EQ(unpooled.first_failure->reason, DropReason::snat_exhausted);
  // Connection 64,512 of an even 1,100/s stream comes at (64,512 + 1/2) / 1,100 s.
  EXPECT_NEAR(seconds(unpooled.first_failure->at), 64'512.5 / 1100, 1e-6);
  EXPECT_GT(unpooled.last().app.failed, 0u);

  EXPECT_FALSE(pooled.first_failure);
  EXPECT_EQ(pooled.snat_failed(), 0u);
  EXPECT_EQ(pooled.last().app.failed, 0u);
  EXPECT_EQ(pooled.last().app.requests, 1100u * 62);
  EXPECT_EQ(pooled.last().app.completed, 1100u * 62);  // no service time: all answered at once
  EXPECT_LE(conns(pooled.last(), ConnState::attempted), 800u);
}

std::string db_pool(const std::string& keepalive) {
  return "duration: 20m\n"
         "clients: [{ name: app, count: 10, subnet: 10.0.0.0/24 }]\n"
         "destinations: [{ name: db, address: 198.51.100.50, port: 5432, rtt: 5ms }]\n"
         "traffic:\n"
         "  - from: app\n"
         "    to: db\n"
         "    rate: 0.05\n"
         "    arrivals: even\n"
         "    duration: 10ms\n"
         "    connections: { reuse: pool, pool_size: 1, idle_close: never" +
         keepalive + " }\n";
}

// One request every 20 s over 10 clients: each pooled connection is used every ~200 s on
// average but idle for much longer at times; with arrivals evenly spaced and clients picked at
// random, some gaps exceed the 4-minute idle timeout. Without keepalives the gateway ends those
// flows and the next request on them meets an RST; with a 60 s keepalive none does.
TEST(Behaviour, KeepalivesKeepIdlePooledConnectionsAlive) {
  const RunResult without = run(parse_ok(db_pool("")), RunOptions{});
  const RunResult with = run(parse_ok(db_pool(", keepalive: 60s")), RunOptions{});
  EXPECT_GT(without.last().app.resets, 0u);
  EXPECT_TRUE(without.first_reset);
  EXPECT_GT(without.last().counters.late_rst, 0u);
  EXPECT_EQ(without.last().app.failed, without.last().app.resets);  // retry: none
  EXPECT_EQ(with.last().app.resets, 0u);
  EXPECT_FALSE(with.first_reset);
  EXPECT_EQ(with.last().app.failed, 0u);
  EXPECT_EQ(conns(with.last(), ConnState::timed_out), 0u);
  EXPECT_EQ(conns(with.last(), ConnState::attempted), 10u);  // one connection per client, kept
}

std::string udp_session(const std::string& from) {
  return "duration: 15m\n"
         "clients: [{ name: agent, count: 20, subnet: 10.0.0.0/24 }]\n"
         "destinations: [{ name: c, address: 198.51.100.70, port: 4789, protocol: udp, rtt: "
         "10ms }]\n"
         "traffic:\n"
         "  - from: agent\n"
         "    to: c\n"
         "    rate: 0.01\n"
         "    duration: 0s\n"
         "    connections: { reuse: pool, keepalive: 30s, keepalive_from: " +
         from + " }\n";
}

// UDP keepalives from the client alone do not keep the mapping: it needs traffic both ways
// within 4 minutes (src/nat/README.md), so sockets get new public ports; both ways they do not.
TEST(Behaviour, UdpKeepalivesMustGoBothWays) {
  const RunResult one_way = run(parse_ok(udp_session("client")), RunOptions{});
  const RunResult both = run(parse_ok(udp_session("both")), RunOptions{});
  EXPECT_GT(one_way.last().app.remapped, 0u);
  EXPECT_GT(conns(one_way.last(), ConnState::timed_out), 0u);
  EXPECT_EQ(both.last().app.remapped, 0u);
  EXPECT_EQ(conns(both.last(), ConnState::timed_out), 0u);
}

// Immediate retries with no delay: while no port is free, every attempt of a request fails in
// the same instant, so failed SNAT connections are the failed requests times the attempts.
TEST(Behaviour, ImmediateRetriesMultiplyFailedConnections) {
  const Workload w = parse_ok(steady_workload("62s", 1100, "{ close: fin }", 1,
                                              "    retry: { policy: immediate, attempts: 3 }\n"));
  const RunResult r = run(w, RunOptions{});
  const Sample& last = r.last();
  ASSERT_GT(last.app.failed, 0u);
  EXPECT_EQ(conns(last, ConnState::failed), 3 * last.app.failed);
  EXPECT_EQ(last.app.retries, 2 * last.app.failed);
  EXPECT_EQ(last.app.snat_failures, conns(last, ConnState::failed));
}

// 1,000 connections/s for 65 s exhaust the ports at 64.5 s (as in closed_form_test.cpp); then
// the rate drops to 200/s. Back-off with jitter spreads the retries of the refused requests
// until ports come out of hold-down from 65 s: every request is answered in the end.
TEST(Behaviour, BackoffRetriesSucceedOncePortsAreFree) {
  const Workload w = parse_ok(
      "duration: 90s\n"
      "clients: [{ name: app, count: 100, subnet: 10.0.0.0/24 }]\n"
      "destinations: [{ name: api, address: 198.51.100.10, port: 443, rtt: 0s }]\n"
      "traffic:\n"
      "  - from: app\n"
      "    to: api\n"
      "    rate: [{ steady: 1000, end: 65s }, { steady: 200, start: 65s }]\n"
      "    arrivals: even\n"
      "    duration: 0s\n"
      "    retry: { policy: backoff, base: 1s, max: 8s, attempts: 6, jitter: equal }\n");
  const RunResult r = run(w, RunOptions{});
  const Sample& last = r.last();
  EXPECT_EQ(conns(last, ConnState::failed), 488u);
  EXPECT_EQ(last.app.retries, 488u);
  EXPECT_EQ(last.app.failed, 0u);
  EXPECT_EQ(last.app.completed, last.app.requests);
}

// Port 25 is blocked whatever the IPs: requests fail, but no SNAT connection does.
TEST(Behaviour, Port25IsBlockedNotExhausted) {
  const Workload w = parse_ok(
      "duration: 1m\n"
      "clients: [{ name: mail, count: 2, subnet: 10.0.0.0/24 }]\n"
      "destinations: [{ name: mx, address: 198.51.100.25, port: 25 }]\n"
      "traffic: [{ from: mail, to: mx, rate: 2, arrivals: even }]\n");
  const RunResult r = run(w, RunOptions{});
  EXPECT_EQ(r.last().app.failed, 120u);
  EXPECT_EQ(r.last().app.blocked, 120u);
  EXPECT_EQ(r.last().counters.drop(DropReason::smtp_blocked), 120u);
  EXPECT_EQ(r.snat_failed(), 0u);
  EXPECT_FALSE(r.first_failure);
}

// The same workload and seed give the same run; another seed another one.
TEST(Behaviour, RunsAreDeterministic) {
  const std::string yaml =
      "duration: 2m\nseed: 5\n"
      "clients: [{ name: c, count: 30, subnet: 10.0.0.0/24 }]\n"
      "destinations: [{ name: d, address: 192.0.2.0, count: 20, port: 443 }]\n"
      "traffic: [{ from: c, to: d, rate: 300, duration: { exponential: 300ms } }]\n";
  const RunResult a = run(parse_ok(yaml), RunOptions{});
  const RunResult b = run(parse_ok(yaml), RunOptions{});
  Workload other = parse_ok(yaml);
  other.seed = 6;
  const RunResult c = run(other, RunOptions{});
  ASSERT_EQ(a.samples.size(), b.samples.size());
  for (std::size_t i = 0; i < a.samples.size(); ++i) {
    EXPECT_EQ(a.samples[i].counters.bytes, b.samples[i].counters.bytes);
    EXPECT_EQ(a.samples[i].ports_live, b.samples[i].ports_live);
    EXPECT_EQ(a.samples[i].app.requests, b.samples[i].app.requests);
  }
  EXPECT_EQ(a.packets, b.packets);
  EXPECT_NE(a.last().app.requests, c.last().app.requests);
}

// A sample is taken every interval and at the end; stopping at the first failure ends the run
// there (the capacity search relies on it).
TEST(Behaviour, StopAtFirstFailure) {
  const Workload w = parse_ok(steady_workload("5m", 1000, "{ close: idle }"));
  const RunResult r = run(w, RunOptions{1, true, 10s});
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.end, Time{50'000'500'000});
  EXPECT_EQ(r.snat_failed(), 1u);
  EXPECT_EQ(r.samples.size(), 6u);  // 10 s .. 50 s, and 50.0005 s
}

}  // namespace
}  // namespace natgw::sim::test
