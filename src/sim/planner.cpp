#include "sim/planner.hpp"

#include <chrono>

namespace natgw::sim {

Plan plan(const Workload& w, const PlanOptions& options) {
  return plan(w, options, [](const Workload& x, const RunOptions& o) { return run(x, o); });
}

Plan plan(const Workload& w, const PlanOptions& options, const Runner& runner) {
  Plan p;
  const std::size_t own = w.gateway.public_ips.size();
  p.run = runner(w, RunOptions{own, false, Duration{0}});
  if (!options.search) return p;
  p.searched = true;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t n = 1; n <= nat::kMaxPublicIps; ++n) {
    SearchStep step;
    step.public_ips = n;
    if (n == own) {
      step.ok = p.run.snat_failed() == 0;
      step.first_failure = p.run.first_failure;
      step.wall_seconds = p.run.wall_seconds;
    } else {
      const RunResult r = runner(w, RunOptions{n, true, Duration{0}});
      step.ok = r.snat_failed() == 0;
      step.first_failure = r.first_failure;
      step.wall_seconds = r.wall_seconds;
    }
    p.steps.push_back(step);
    if (step.ok) {
      p.ips_needed = n;
      break;
    }
  }
  p.search_wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return p;
}

}  // namespace natgw::sim
