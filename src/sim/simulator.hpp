// Runs a workload through the real NAT engine (nat::Engine) on a virtual clock: clients open
// connections with real packets (SYN out, SYN+ACK in, ...), the engine translates them exactly as
// in the daemon, and every figure reported is read from the engine (counters, public IPs,
// destinations). The simulator models the applications around the gateway, never NAT rules.
// Model and schema: src/sim/README.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "nat/counters.hpp"
#include "nat/drop_reason.hpp"
#include "net/types.hpp"
#include "sim/workload.hpp"

namespace natgw::sim {

// What the applications saw (the engine cannot know these): cumulative counts.
struct AppCounters {
  std::uint64_t requests = 0;       // requests started
  std::uint64_t completed = 0;      // requests answered
  std::uint64_t failed = 0;         // requests given up after their last attempt
  std::uint64_t retries = 0;        // attempts after the first
  std::uint64_t snat_failures = 0;  // attempts whose first packet the gateway dropped at SNAT
  std::uint64_t resets = 0;         // connections the gateway had expired, answered with RST
  std::uint64_t lost = 0;           // UDP responses dropped because the mapping had expired
  std::uint64_t remapped = 0;       // UDP sockets that got a new public port mid-session
  std::uint64_t blocked = 0;        // attempts dropped for another reason (e.g. port 25)
  std::uint64_t client_ports = 0;   // attempts that found no free ephemeral port on the client
  std::uint64_t queued = 0;         // requests that waited for a pooled connection
  std::uint64_t connections = 0;    // connection attempts (first packets sent)
};

// The destination with the most live connections on one public IP.
struct BusiestDestination {
  net::Ipv4 public_ip;
  net::Endpoint destination;
  nat::L4 proto = nat::L4::tcp;
  std::uint32_t live = 0;      // against the 50,000 per-destination limit
  std::uint32_t holddown = 0;  // ports of ended connections still held for it
};

// One point of the time series: the state at `at`, everything that happened at or before it.
struct Sample {
  Time at{0};
  nat::Counters counters;                     // cumulative, as engine.counters()
  std::vector<std::uint32_t> ports_live;      // per public IP, TCP + UDP (ports in use)
  std::vector<std::uint32_t> ports_holddown;  // per public IP, TCP + UDP
  std::optional<BusiestDestination> busiest;  // over every IP and protocol
  AppCounters app;
};

struct FailureEvent {
  Time at{0};
  nat::DropReason reason = nat::DropReason::snat_exhausted;
  net::Ipv4 client;
  net::Endpoint destination;
};

struct RunOptions {
  std::size_t public_ips = 1;  // addresses the gateway gets (the workload's count by default)
  bool stop_at_first_failure = false;  // for the capacity search
  Duration sample_interval{0};         // 0: chosen from the duration (1 s .. 60 s)
};

struct RunResult {
  std::vector<net::Ipv4> public_ips;
  std::vector<Sample> samples;  // every sample_interval, and at the end
  Duration sample_interval{0};
  Time end{0};  // where the run stopped (the duration, or the first failure)
  bool stopped_early = false;
  // The first connection the gateway refused (SNAT), overall and per drop reason.
  std::optional<FailureEvent> first_failure;
  std::array<std::optional<Time>, nat::kDropReasonCount> first_by_reason{};
  std::optional<Time> first_reset;  // first connection found expired by the gateway (RST)
  std::optional<Time> first_lost;   // first UDP response lost to an expired mapping
  std::uint64_t packets = 0;        // packets the engine translated
  std::uint64_t events = 0;         // simulator events processed
  double wall_seconds = 0;

  [[nodiscard]] const Sample& last() const { return samples.back(); }
  [[nodiscard]] std::uint64_t snat_failed() const noexcept;  // engine: failed connections
};

// Runs the workload once. Throws std::invalid_argument only for a workload the engine cannot run
// (parse_workload() has already rejected every such file).
[[nodiscard]] RunResult run(const Workload& w, const RunOptions& options);

// The chart/sample resolution chosen for a run of `d`.
[[nodiscard]] Duration auto_sample_interval(Duration d) noexcept;

}  // namespace natgw::sim
