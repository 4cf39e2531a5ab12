// What `natgw simulate` shows: per-minute rows built from the samples, the table for people,
// the JSON for programs, and the SVG chart.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/planner.hpp"
#include "sim/simulator.hpp"
#include "sim/workload.hpp"

namespace natgw::sim {

// One simulated minute (the last one may be shorter). Connection counts are what happened in
// the minute; gauges are the peak over the minute's samples.
struct MinuteRow {
  std::size_t minute = 0;
  Time start{0}, end{0};
  std::uint64_t attempted = 0, failed = 0, established = 0, closed = 0, timed_out = 0;
  std::uint64_t dropped = 0;
  std::uint64_t active_peak = 0;              // Total SNAT Connection Count, peak
  std::vector<std::uint32_t> live_peak;       // per public IP: ports in use
  std::vector<std::uint32_t> taken_peak;      // per public IP: in use + in hold-down
  std::optional<BusiestDestination> busiest;  // at its peak in the minute
  AppCounters app;                            // what happened in the minute
};

[[nodiscard]] std::vector<MinuteRow> minutes(const RunResult& r);

// One workload as the CLI received it.
struct Report {
  std::string file;
  Workload workload;
  Plan plan;
};

[[nodiscard]] std::string table(const Report& r, bool quiet);
[[nodiscard]] nlohmann::json to_json(const Report& r);

[[nodiscard]] std::string compare_table(const Report& a, const Report& b);
[[nodiscard]] nlohmann::json compare_json(const Report& a, const Report& b);

// An SVG chart of ports in use and failures over time, for one run or two side by side.
[[nodiscard]] std::string chart_svg(const std::vector<const Report*>& reports);

// "h:mm:ss.mmm".
[[nodiscard]] std::string clock_text(Time t);
// The summary's answer: "2", or "more than 16: ...".
[[nodiscard]] std::string ips_needed_text(const Plan& p);

}  // namespace natgw::sim
