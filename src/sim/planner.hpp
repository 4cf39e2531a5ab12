// Capacity planning: the workload as written, then the smallest number of public IPs (1..16)
// with which it runs without a failed SNAT connection.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "sim/simulator.hpp"
#include "sim/workload.hpp"

namespace natgw::sim {

struct SearchStep {
  std::size_t public_ips = 0;
  bool ok = false;  // no failed SNAT connection over the whole duration
  std::optional<FailureEvent> first_failure;
  double wall_seconds = 0;
};

struct Plan {
  RunResult run;  // the workload with its own public IPs, for its whole duration
  // The answer: the fewest public IPs without failures; nullopt when even 16 fail (the workload
  // cannot run on one gateway) or when the search was not asked for.
  std::optional<std::size_t> ips_needed;
  bool searched = false;
  std::vector<SearchStep> steps;  // 1, 2, ... up to the answer (or 16)
  double search_wall_seconds = 0;
};

struct PlanOptions {
  bool search = true;
};

// Runs the workload, then the search: with 1, 2, ... 16 IPs, each run stopped at its first
// failure, until one runs clean (the run above stands for its own IP count).
[[nodiscard]] Plan plan(const Workload& w, const PlanOptions& options = {});

// The same with another runner in place of sim::run (tests of the search itself).
using Runner = std::function<RunResult(const Workload&, const RunOptions&)>;
[[nodiscard]] Plan plan(const Workload& w, const PlanOptions& options, const Runner& runner);

}  // namespace natgw::sim
