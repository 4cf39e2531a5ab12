// The rate model: the arrival times of steady, ramp and burst phases.
#include "sim/rate.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace natgw::sim::test {
namespace {

using namespace std::chrono_literals;

std::size_t count_even(const RateSchedule& r) {
  std::size_t piece = 0;
  std::size_t n = 0;
  for (double target = 0.5;; target += 1) {
    if (r.time_of(target, piece) == RateSchedule::kNever) return n;
    ++n;
  }
}

TEST(Rate, SteadyEvenArrivalsAreMidInterval) {
  const RateSchedule r({{1000, 1000, 0s, 60s}}, 60s);
  EXPECT_DOUBLE_EQ(r.total(), 60'000);
  std::size_t piece = 0;
  EXPECT_DOUBLE_EQ(r.time_of(0.5, piece), 0.0005);
  EXPECT_DOUBLE_EQ(r.time_of(50'000.5, piece), 50.0005);
  EXPECT_EQ(count_even(r), 60'000u);
}

TEST(Rate, PhasesAddUp) {
  // 100/s for the whole minute, plus 900/s between 10 s and 20 s.
  const RateSchedule r({{100, 100, 0s, 60s}, {900, 900, 10s, 20s}}, 60s);
  EXPECT_DOUBLE_EQ(r.total(), 6'000 + 9'000);
  EXPECT_DOUBLE_EQ(r.rate_at(5), 100);
  EXPECT_DOUBLE_EQ(r.rate_at(15), 1000);
  EXPECT_EQ(count_even(r), 15'000u);
  std::size_t piece = 0;
  // Arrival 1,000 (0-based) is the first of the burst: 1,000 requests by 10 s.
  EXPECT_NEAR(r.time_of(1000.5, piece), 10.0005, 1e-9);
}

TEST(Rate, RampIntegratesLinearly) {
  // From 0/s to 200/s over 100 s: 10,000 requests, half of them in the last 29.3 s.
  const RateSchedule r({{0, 200, 0s, 100s}}, 100s);
  EXPECT_DOUBLE_EQ(r.total(), 10'000);
  EXPECT_DOUBLE_EQ(r.rate_at(50), 100);
  std::size_t piece = 0;
  // Λ(t) = t², so Λ = 5,000 at t = sqrt(5,000).
  EXPECT_NEAR(r.time_of(5000, piece), std::sqrt(5000.0), 1e-9);
  EXPECT_EQ(count_even(r), 10'000u);
}

TEST(Rate, QuietStretchesAreSkipped) {
  const RateSchedule r({{10, 10, 30s, 40s}}, 60s);
  std::size_t piece = 0;
  EXPECT_DOUBLE_EQ(r.time_of(0.5, piece), 30.05);
  EXPECT_EQ(count_even(r), 100u);
  EXPECT_EQ(r.time_of(100.5, piece), RateSchedule::kNever);
}

}  // namespace
}  // namespace natgw::sim::test
