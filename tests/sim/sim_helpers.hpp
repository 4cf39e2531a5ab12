// Workloads written inline for the simulator's tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "sim/simulator.hpp"
#include "sim/workload.hpp"

namespace natgw::sim::test {

inline Workload parse_ok(const std::string& yaml) {
  auto r = parse_workload(yaml, "test");
  std::string errors;
  for (const auto& e : r.errors) errors += to_string(e) + "\n";
  EXPECT_TRUE(r.workload.has_value()) << errors;
  return r.workload ? *r.workload : Workload{};
}

// One client population (100 hosts), one destination, one steady TCP stream of `rate` evenly
// spaced requests per second: the shape of the closed-form checks.
inline std::string steady_workload(const std::string& duration, int rate,
                                   const std::string& connections, int public_ips = 1,
                                   const std::string& extra = "") {
  return "duration: " + duration + "\n" + "gateway: { public_ips: " + std::to_string(public_ips) +
         " }\n"
         "clients: [{ name: app, count: 100, subnet: 10.0.0.0/24 }]\n"
         "destinations: [{ name: api, address: 198.51.100.10, port: 443, rtt: 0s }]\n"
         "traffic:\n"
         "  - from: app\n"
         "    to: api\n"
         "    rate: " +
         std::to_string(rate) +
         "\n"
         "    arrivals: even\n"
         "    duration: 0s\n"
         "    connections: " +
         connections + "\n" + extra;
}

inline double seconds(Time t) {
  return static_cast<double>(t.count()) / 1e9;
}

inline std::uint64_t conns(const Sample& s, nat::ConnState st) {
  return s.counters.conn(nat::L4::tcp, st) + s.counters.conn(nat::L4::udp, st);
}

}  // namespace natgw::sim::test
