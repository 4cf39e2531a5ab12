// The daemon's API documents: status and flow listings as JSON, built from the engine and a
// telemetry snapshot. Pure functions, so tests reach them without a network.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "control/config.hpp"
#include "nat/engine.hpp"
#include "telemetry/snapshot.hpp"

namespace natgw::daemon {

[[nodiscard]] nlohmann::json status_json(const telemetry::Snapshot& s, const control::Config& c);

// A filter over the flow table: every field is optional.
struct FlowQuery {
  std::optional<net::Ipv4> inside_addr;
  std::optional<std::uint16_t> inside_port;
  std::optional<net::Ipv4> outside_addr;  // the destination
  std::optional<std::uint16_t> outside_port;
  std::optional<net::Ipv4> public_addr;
  std::optional<std::uint16_t> public_port;
  std::optional<nat::L4> proto;
  std::optional<std::string> state;  // a state name (established, syn_sent, ...), or live / holddown
  std::size_t offset = 0;
  std::size_t limit = 100;
};
inline constexpr std::size_t kMaxFlowPage = 10000;

// Parses query parameters (inside=ADDR[:PORT], outside=..., public=..., protocol=tcp|udp,
// state=..., offset=N, limit=N). Returns the query, or the error message for the parameter.
[[nodiscard]] std::variant<FlowQuery, std::string> parse_flow_query(
    const std::multimap<std::string, std::string>& params);

// The page of matching flows and the number of matches, as JSON. `now` is the engine clock.
[[nodiscard]] nlohmann::json flows_json(const nat::Engine& engine, const FlowQuery& q, nat::Time now);

// Per-minute history of the Azure metrics, as the portal shows them.
struct MinuteSample {
  std::int64_t minute_start = 0;  // Unix seconds
  nat::Counters counters;
  double availability = 100.0;
};
class MetricsHistory {
 public:
  explicit MetricsHistory(std::size_t minutes = 60) : keep_(minutes) {}
  // Called with the current counters; closes a minute when the wall clock enters a new one.
  void sample(std::int64_t unix_seconds, const nat::Counters& c, double availability);
  // One entry per closed minute (deltas of counters, gauges at the minute's end), newest last,
  // plus the minute in progress.
  [[nodiscard]] nlohmann::json json() const;

 private:
  std::size_t keep_;
  std::deque<MinuteSample> starts_;  // counters as each minute began, oldest first
  std::optional<MinuteSample> last_;  // the latest sample
};

}  // namespace natgw::daemon
