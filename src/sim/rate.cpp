#include "sim/rate.hpp"

#include <algorithm>
#include <cmath>

namespace natgw::sim {
namespace {

double seconds(Duration d) {
  return static_cast<double>(d.count()) / 1e9;
}

}  // namespace

RateSchedule::RateSchedule(const std::vector<RatePhase>& phases, Duration run) {
  const double end = seconds(run);
  t_ = {0.0, end};
  for (const auto& p : phases) {
    t_.push_back(std::clamp(seconds(p.start), 0.0, end));
    t_.push_back(std::clamp(seconds(p.end), 0.0, end));
  }
  std::sort(t_.begin(), t_.end());
  t_.erase(std::unique(t_.begin(), t_.end()), t_.end());
  cum_.push_back(0.0);
  for (std::size_t i = 0; i + 1 < t_.size(); ++i) {
    const double a = t_[i];
    const double b = t_[i + 1];
    double r = 0;
    double s = 0;
    for (const auto& p : phases) {
      const double ps = seconds(p.start);
      const double pe = seconds(p.end);
      if (ps <= a && pe >= b && pe > ps) {
        const double slope = (p.to_per_second - p.from_per_second) / (pe - ps);
        r += p.from_per_second + slope * (a - ps);
        s += slope;
      }
    }
    r = std::max(r, 0.0);
    rate_.push_back(r);
    slope_.push_back(s);
    const double w = b - a;
    cum_.push_back(cum_.back() + std::max(r * w + s * w * w / 2, 0.0));
  }
}

double RateSchedule::time_of(double target, std::size_t& piece) const noexcept {
  for (std::size_t i = piece; i < rate_.size(); ++i) {
    if (cum_[i + 1] <= target) continue;  // reached only in a later piece (or never)
    piece = i;
    const double rem = std::max(target - cum_[i], 0.0);
    const double r = rate_[i];
    const double s = slope_[i];
    double x = 0;
    if (rem > 0) {
      if (std::abs(s) < 1e-12) {
        x = rem / r;
      } else {
        // r x + s x^2 / 2 = rem, in the form that stays exact when s is tiny or negative.
        x = 2 * rem / (r + std::sqrt(std::max(r * r + 2 * s * rem, 0.0)));
      }
    } else if (r <= 0 && s <= 0) {
      continue;  // no requests flow at the start of this piece
    }
    return std::min(t_[i] + x, t_[i + 1]);
  }
  piece = rate_.size();
  return kNever;
}

double RateSchedule::rate_at(double t) const noexcept {
  for (std::size_t i = 0; i < rate_.size(); ++i) {
    if (t >= t_[i] && t < t_[i + 1]) return rate_[i] + slope_[i] * (t - t_[i]);
  }
  return 0;
}

}  // namespace natgw::sim
