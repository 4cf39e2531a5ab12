// The request rate of a traffic stream over time (the sum of its phases: piecewise linear), and
// the arrival times it implies. Arrival k of an `even` stream comes when the expected number of
// requests so far, Λ(t) = ∫ rate, reaches k + 1/2 (k = 0, 1, ...: mid-interval, so that no arrival
// falls on a minute boundary and a steady rate r gives exactly r × T arrivals in any T); a
// `poisson` stream adds an exponential amount (mean 1) to Λ between arrivals, which is exact for
// any rate shape.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

#include "sim/workload.hpp"

namespace natgw::sim {

class RateSchedule {
 public:
  RateSchedule(const std::vector<RatePhase>& phases, Duration run);

  // The earliest time (seconds) at which Λ reaches `target` with requests flowing; infinity when
  // it is not reached before the end of the run. `piece` is a hint, moved forward.
  [[nodiscard]] double time_of(double target, std::size_t& piece) const noexcept;
  // Requests per second at time t (seconds).
  [[nodiscard]] double rate_at(double t) const noexcept;
  // Λ at the end of the run: the expected number of requests.
  [[nodiscard]] double total() const noexcept { return cum_.back(); }

  static constexpr double kNever = std::numeric_limits<double>::infinity();

 private:
  std::vector<double> t_;      // breakpoints in seconds: t_[0] = 0 ... t_.back() = the end
  std::vector<double> rate_;   // rate at the start of piece i
  std::vector<double> slope_;  // rate change per second within piece i
  std::vector<double> cum_;    // Λ(t_[i])
};

}  // namespace natgw::sim
