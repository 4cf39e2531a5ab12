// The capacity search: runs 1, 2, ... public IPs, each stopped at its first failure, until one
// runs clean; the workload's own run stands for its own count.
#include "sim/planner.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "sim/report.hpp"
#include "sim_helpers.hpp"

namespace natgw::sim::test {
namespace {

using namespace std::chrono_literals;

// A fake run: fails (at `n` seconds) with fewer than `needed` IPs.
RunResult fake(std::size_t n, std::size_t needed) {
  RunResult r;
  Sample s;
  if (n < needed) {
    s.counters.connections[0][static_cast<std::size_t>(nat::ConnState::failed)] = 1;
    r.first_failure =
        FailureEvent{std::chrono::seconds(n), nat::DropReason::snat_exhausted, {}, {}};
  }
  r.samples.push_back(s);
  return r;
}

TEST(Planner, SearchesUpToTheFirstCleanCount) {
  const Workload w = parse_ok(steady_workload("1m", 10, "{ close: fin }", 2));
  std::vector<RunOptions> calls;
  const Plan p = plan(w, PlanOptions{}, [&](const Workload&, const RunOptions& o) {
    calls.push_back(o);
    return fake(o.public_ips, 4);
  });
  ASSERT_EQ(calls.size(), 4u);  // own run (2 IPs), then 1, 3, 4
  EXPECT_EQ(calls[0].public_ips, 2u);
  EXPECT_FALSE(calls[0].stop_at_first_failure);
  EXPECT_EQ(calls[1].public_ips, 1u);
  EXPECT_TRUE(calls[1].stop_at_first_failure);
  EXPECT_EQ(calls[2].public_ips, 3u);
  EXPECT_EQ(calls[3].public_ips, 4u);
  ASSERT_TRUE(p.ips_needed);
  EXPECT_EQ(*p.ips_needed, 4u);
  ASSERT_EQ(p.steps.size(), 4u);
  EXPECT_FALSE(p.steps[1].ok);
  ASSERT_TRUE(p.steps[1].first_failure);
  EXPECT_EQ(p.steps[1].first_failure->at, Time{2s});
  EXPECT_EQ(ips_needed_text(p), "4");
}

TEST(Planner, MoreThanSixteenCannotRunOnOneGateway) {
  const Workload w = parse_ok(steady_workload("1m", 10, "{ close: fin }", 1));
  int runs = 0;
  const Plan p = plan(w, PlanOptions{}, [&](const Workload&, const RunOptions& o) {
    ++runs;
    return fake(o.public_ips, 99);
  });
  EXPECT_EQ(runs, 16);
  EXPECT_FALSE(p.ips_needed);
  EXPECT_EQ(p.steps.size(), 16u);
  EXPECT_EQ(ips_needed_text(p), "more than 16: this workload cannot run on one gateway");
}

TEST(Planner, NoSearchWhenNotAsked) {
  const Workload w = parse_ok(steady_workload("1m", 10, "{ close: fin }", 1));
  int runs = 0;
  const Plan p = plan(w, PlanOptions{false}, [&](const Workload&, const RunOptions& o) {
    ++runs;
    return fake(o.public_ips, 1);
  });
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(p.searched);
}

// On the real engine: 1,000 FIN-closed connections/s to one destination need two IPs. (The
// workload has two, so its own run is clean; the run with one stops at its first failure.)
TEST(Planner, RealEngineAnswer) {
  const Workload w = parse_ok(steady_workload("70s", 1000, "{ close: fin }", 2));
  const Plan p = plan(w);
  ASSERT_TRUE(p.ips_needed);
  EXPECT_EQ(*p.ips_needed, 2u);
  ASSERT_EQ(p.steps.size(), 2u);
  ASSERT_TRUE(p.steps[0].first_failure);
  EXPECT_EQ(p.steps[0].first_failure->at, Time{64'512'500'000});
}

}  // namespace
}  // namespace natgw::sim::test
