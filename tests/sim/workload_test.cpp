// Workload files: every example parses; every mistake is an exact error that names the key, the
// value and what is allowed.
#include "sim/workload.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sim_helpers.hpp"

namespace natgw::sim::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> errors_of(const std::string& yaml) {
  const auto r = parse_workload(yaml, "test");
  EXPECT_FALSE(r.workload.has_value());
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(to_string(e));
  return out;
}

const std::string kBase =
    "clients: [{ name: web, count: 10, subnet: 10.0.0.0/24 }]\n"
    "destinations: [{ name: api, address: 198.51.100.10 }]\n";

TEST(Workload, EveryExampleParses) {
  std::size_t n = 0;
  for (const auto& f : std::filesystem::directory_iterator(NATGW_SIM_EXAMPLES)) {
    if (f.path().extension() != ".yaml") continue;
    const auto r = load_workload(f.path());
    std::string errors;
    for (const auto& e : r.errors) errors += to_string(e) + "\n";
    EXPECT_TRUE(r.workload.has_value()) << f.path() << ":\n" << errors;
    ++n;
  }
  EXPECT_GE(n, 10u);
}

TEST(Workload, DefaultsAndFullForm) {
  const Workload w = parse_ok(
      "name: demo\nseed: 42\nduration: 90s\n"
      "gateway: { public_ips: 3, idle_timeout_minutes: 10, profile: azure }\n"
      "clients: [{ name: web, count: 10, subnet: 10.0.0.0/24 }]\n"
      "destinations:\n"
      "  - { name: api, address: 198.51.100.10, count: 4, port: 8443, protocol: tcp, rtt: 5ms }\n"
      "traffic:\n"
      "  - from: web\n    to: api\n"
      "    rate: [{ ramp: [10, 20], start: 10s, end: 20s }, { burst: 100, start: 1m, length: 5s "
      "}]\n"
      "    arrivals: even\n"
      "    duration: { uniform: [1ms, 2s] }\n"
      "    connections: { reuse: pool, pool_size: 3, idle_close: 30s, keepalive: 45s, close: rst "
      "}\n"
      "    retry: { policy: backoff, base: 200ms, max: 10s, multiplier: 3, jitter: equal, "
      "attempts: 4 }\n");
  EXPECT_EQ(w.name, "demo");
  EXPECT_EQ(w.seed, 42u);
  EXPECT_EQ(w.duration, 90s);
  ASSERT_EQ(w.gateway.public_ips.size(), 3u);
  EXPECT_EQ(w.gateway.public_ips[2], (net::Ipv4{203, 0, 113, 12}));
  EXPECT_EQ(w.gateway.idle_timeout_minutes, 10u);
  EXPECT_EQ(w.destinations[0].count, 4u);
  EXPECT_EQ(w.destinations[0].port, 8443);
  EXPECT_EQ(w.destinations[0].rtt, 5ms);
  ASSERT_EQ(w.traffic.size(), 1u);
  const Traffic& t = w.traffic[0];
  ASSERT_EQ(t.rate.size(), 2u);
  EXPECT_EQ(t.rate[0].start, 10s);
  EXPECT_EQ(t.rate[0].to_per_second, 20);
  EXPECT_EQ(t.rate[1].end, 65s);
  EXPECT_EQ(t.duration.kind, Distribution::Kind::uniform);
  EXPECT_EQ(t.connections.reuse, Reuse::pool);
  EXPECT_EQ(t.connections.pool_size, 3u);
  EXPECT_EQ(t.connections.close, Close::rst);
  EXPECT_EQ(t.connections.idle_close, std::optional<Duration>{30s});
  EXPECT_EQ(t.connections.keepalive, std::optional<Duration>{45s});
  EXPECT_EQ(t.retry.policy, RetryPolicy::backoff);
  EXPECT_EQ(t.retry.attempts, 4u);
  EXPECT_EQ(t.retry.jitter, Jitter::equal);

  const auto cfg = w.engine_config(5);
  ASSERT_EQ(cfg.public_ips.size(), 5u);
  EXPECT_EQ(cfg.public_ips[4], (net::Ipv4{203, 0, 113, 14}));
  EXPECT_EQ(cfg.timers.tcp_idle, std::chrono::minutes(10));
  ASSERT_EQ(cfg.subnets.size(), 1u);

  const Workload d = parse_ok(kBase + "traffic: [{ from: web, to: api, rate: 5 }]\n");
  EXPECT_EQ(d.name, "test");
  EXPECT_EQ(d.duration, 60min);
  EXPECT_EQ(d.gateway.public_ips.size(), 1u);
  EXPECT_EQ(d.traffic[0].arrivals, Arrivals::poisson);
  EXPECT_EQ(d.traffic[0].connections.reuse, Reuse::none);
  EXPECT_EQ(d.traffic[0].connections.close, Close::fin);
  EXPECT_EQ(d.traffic[0].retry.policy, RetryPolicy::none);
  EXPECT_EQ(d.traffic[0].retry.attempts, 1u);
  EXPECT_EQ(d.destinations[0].port, 443);
  EXPECT_EQ(d.destinations[0].rtt, 20ms);
}

TEST(Workload, UnknownKeysSuggestTheClosestOne) {
  EXPECT_EQ(errors_of(kBase + "traffic: [{ from: web, to: api, rate: 5, conections: {} }]\n"),
            std::vector<std::string>{
                "traffic[0].conections: conections is not a key of traffic[0]; allowed: name, "
                "from, to, rate, arrivals, duration, connections, retry (did you mean "
                "connections?)"});
  EXPECT_EQ(errors_of("gatway: {}\n" + kBase + "traffic: [{ from: web, to: api, rate: 5 }]\n"),
            std::vector<std::string>{
                "gatway: gatway is not a top-level key; allowed: name, description, seed, "
                "duration, gateway, clients, destinations, traffic (did you mean gateway?)"});
}

TEST(Workload, ValuesOutOfRangeOrOfTheWrongKind) {
  EXPECT_EQ(errors_of("gateway: { public_ips: 17, idle_timeout_minutes: 2 }\n" + kBase +
                      "traffic: [{ from: web, to: api, rate: -1 }]\n"),
            (std::vector<std::string>{
                "gateway.public_ips: 17 is out of range; allowed: a count 1..16 (addresses "
                "203.0.113.10 onwards) or a list of 1..16 IPv4 addresses",
                "gateway.idle_timeout_minutes: 2 is out of range; allowed: 4..120",
                "traffic[0].rate: -1 is out of range; allowed: requests per second, 0..10000000"}));
  EXPECT_EQ(
      errors_of("duration: 10 minutes\n" + kBase + "traffic: [{ from: web, to: api, rate: 5 }]\n"),
      std::vector<std::string>{
          "duration: \"10 minutes\" is not a duration; allowed: a duration 1s..24h such as "
          "250ms, 30s, 4m, 1h"});
  EXPECT_EQ(errors_of(kBase + "traffic: [{ from: web, to: api, rate: 5, retry: { policy: "
                              "exponential } }]\n"),
            std::vector<std::string>{
                "traffic[0].retry.policy: exponential is not a retry policy; allowed: none, "
                "immediate, backoff"});
  EXPECT_EQ(errors_of(kBase + "traffic: [{ from: web, to: api, rate: \"5\" }]\n"),
            std::vector<std::string>{
                "traffic[0].rate: \"5\" is a string, not a number; allowed: requests per second, "
                "0..10000000"});
}

TEST(Workload, ReferencesAndCrossKeyRules) {
  EXPECT_EQ(errors_of(kBase + "traffic: [{ from: db, to: api, rate: 5 }]\n"),
            std::vector<std::string>{
                "traffic[0].from: db is not a client population; allowed: the name of a client "
                "population: web"});
  EXPECT_EQ(errors_of(kBase + "traffic: [{ from: web, to: api, rate: 5, connections: { "
                              "pool_size: 4 } }]\n"),
            std::vector<std::string>{
                "traffic[0].connections.pool_size: 4 is for pooled connections; allowed: "
                "pool_size together with reuse: pool"});
  EXPECT_EQ(
      errors_of("clients: [{ name: c, subnet: 10.0.0.0/24 }]\n"
                "destinations: [{ name: dns, address: 198.51.100.53, port: 53, protocol: udp }]\n"
                "traffic: [{ from: c, to: dns, rate: 5, connections: { close: fin } }]\n"),
      std::vector<std::string>{
          "traffic[0].connections.close: fin is not possible for UDP (it has no close); allowed: "
          "idle for UDP destinations"});
  EXPECT_EQ(errors_of("clients: [{ name: a, subnet: 10.0.0.0/16 }, { name: b, subnet: "
                      "10.0.1.0/24 }]\n"
                      "destinations: [{ name: d, address: 198.51.100.10 }]\n"
                      "traffic: [{ from: a, to: d, rate: 1 }]\n"),
            std::vector<std::string>{
                "clients[1].subnet: 10.0.1.0/24 overlaps the subnet of clients a (10.0.0.0/16); "
                "allowed: a subnet of its own for each population"});
  EXPECT_EQ(errors_of("clients: [{ name: a, count: 300, subnet: 10.0.0.0/24 }]\n"
                      "destinations: [{ name: d, address: 198.51.100.10 }]\n"
                      "traffic: [{ from: a, to: d, rate: 1 }]\n"),
            std::vector<std::string>{
                "clients[0].count: 300 is out of range; allowed: 1..254 (host addresses of "
                "10.0.0.0/24, at most 1000000 clients)"});
  EXPECT_EQ(errors_of("clients: [{ name: a, subnet: 10.0.0.0/24 }]\n"
                      "destinations: [{ name: d, address: 9.255.255.255, count: 2 }]\n"
                      "traffic: [{ from: a, to: d, rate: 1 }]\n"),
            std::vector<std::string>{
                "destinations[0].address: 9.255.255.255 (count 2) overlaps the subnet of clients "
                "a (10.0.0.0/24); allowed: destinations outside the client subnets"});
  EXPECT_EQ(errors_of(kBase + "traffic: [{ from: web, to: api, rate: [{ burst: 100 }] }]\n"),
            (std::vector<std::string>{
                "traffic[0].rate[0].start: missing (required); allowed: when the burst begins, "
                "such as 10m",
                "traffic[0].rate[0].length: missing (required); allowed: how long the burst "
                "lasts, such as 30s"}));
  EXPECT_EQ(errors_of(kBase + "traffic: [{ from: web, to: api, rate: 5, retry: { policy: "
                              "backoff, base: 10s, max: 1s } }]\n"),
            std::vector<std::string>{
                "traffic[0].retry.max: 1s is shorter than base (10s); allowed: max >= base"});
}

TEST(Workload, MissingSectionsAndFileErrors) {
  EXPECT_EQ(errors_of("name: x\n"),
            (std::vector<std::string>{
                "clients: missing (required); allowed: a list of client populations, each a map "
                "with keys name, count, subnet",
                "destinations: missing (required); allowed: a list of destination groups, each "
                "a map with keys name, address, count, port, protocol, rtt",
                "traffic: missing (required); allowed: a list of traffic streams, each a map "
                "with keys name, from, to, rate, arrivals, duration, connections, retry"}));
  EXPECT_EQ(errors_of(""), std::vector<std::string>{
                               "the file is empty; allowed: a map with keys name, description, "
                               "seed, duration, gateway, clients, destinations, traffic"});
  const auto missing = load_workload("/nonexistent/w.yaml");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(to_string(missing.errors[0]), "cannot read the file: No such file or directory");
}

}  // namespace
}  // namespace natgw::sim::test
