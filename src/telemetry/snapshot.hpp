// What the gateway reports about itself at one moment: collected on the worker thread (a copy
// of plain counters), rendered elsewhere. The hot path only bumps counters; everything here
// happens at scrape time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "nat/counters.hpp"
#include "nat/engine.hpp"
#include "vnet/config.hpp"

namespace natgw::telemetry {

struct PublicIpReport {
  net::Ipv4 addr;
  bool accepting = true;
  std::array<std::uint32_t, nat::kL4Count> live{};
  std::array<std::uint32_t, nat::kL4Count> holddown{};
  std::array<std::optional<nat::DestinationLoad>, nat::kL4Count> busiest;
};

// Packets a security rule denied (natgw_security_rule_denied_total).
struct RuleDenialReport {
  std::string security_group;
  std::string rule;
  std::uint64_t packets = 0;
  bool configured = true;  // false: a reload removed the rule; its count stays
};

struct InterfaceReport {
  std::string role;  // inside, outside
  std::string name;
  std::uint64_t rx_frames = 0, rx_bytes = 0, rx_kernel_drops = 0, rx_invalid = 0;
  std::uint64_t tx_frames = 0, tx_bytes = 0, tx_queue_full = 0, tx_invalid = 0, tx_errors = 0;
};

// Flow logs (telemetry/flow_log.hpp): zero when they are off.
struct FlowLogReport {
  bool enabled = false;
  std::uint64_t records = 0;       // records the engine produced (starts, ends, failed attempts)
  std::uint64_t written = 0;       // lines written
  std::uint64_t ring_full = 0;     // lost: the writer had not drained the engine's ring
  std::uint64_t rate_limited = 0;  // left out by flow_logs.rate_per_second
  std::uint64_t write_errors = 0;  // lost to a failed write
};

struct Snapshot {
  std::string gateway;
  std::string profile;
  std::string version;
  double uptime_seconds = 0;
  nat::Counters counters;  // engine counters with the datapath's drop reasons added
  std::vector<PublicIpReport> public_ips;
  std::uint32_t per_destination_limit = 0;
  std::uint32_t port_inventory = 0;  // SNAT ports per public IP and protocol
  std::uint64_t flow_capacity = 0;
  std::uint64_t slots_in_use = 0;
  double availability_percent = 100.0;
  std::uint64_t probes_sent = 0;
  std::uint64_t probes_ok = 0;
  std::uint64_t frames_not_for_gateway = 0;
  std::uint64_t checksums_completed = 0;
  nat::FtpAlgStats ftp_alg;  // what the FTP ALG did (all zero while it is off)
  std::vector<InterfaceReport> interfaces;
  // The network around the gateway (src/vnet): enforced when there is a `network:` section.
  bool network_modelled = false;
  std::vector<RuleDenialReport> security_rule_denials;  // every deny rule, zero included
  std::array<std::uint64_t, vnet::kNextHopTypeCount> forwarded_packets{};  // by next hop type
  std::array<std::uint64_t, vnet::kNextHopTypeCount> forwarded_bytes{};
  FlowLogReport flow_log;
};

// Fills the engine part of a snapshot (public IPs, busiest destinations, counters, sizes).
void fill_from_engine(Snapshot& s, const nat::Engine& engine);

// Adds one worker's snapshot to the gateway's (several workers, each with its own engine and a
// slice of the ports and limits: datapath/shard.hpp). Counters, gauges, inventories, limits and
// interface counters are summed (interfaces by role, rules by group and name). The busiest
// destination of a public IP: the same destination on two workers sums its loads; otherwise the
// larger one stays (a lower bound of the true busiest, exact when the destination's load is all
// on one worker). The first part sets the names and the public IP
// list; every part must come from the same configuration.
void accumulate(Snapshot& total, const Snapshot& part);

// Prometheus text exposition format 0.0.4: every metric of the specification, every drop
// reason (zero included), and natgw's additions.
[[nodiscard]] std::string render_prometheus(const Snapshot& s);

// Datapath availability: the share of health probes that crossed the datapath, over a
// sliding window (Azure reports it per minute; natgw uses the last 60 probes).
class Availability {
 public:
  explicit Availability(std::size_t window = 60) : window_(window) {}
  void record(bool ok);
  [[nodiscard]] double percent() const;  // 100 before the first probe
  [[nodiscard]] std::size_t samples() const noexcept { return results_.size(); }

 private:
  std::size_t window_;
  std::deque<bool> results_;
};

}  // namespace natgw::telemetry
