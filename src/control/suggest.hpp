// "Did you mean": the allowed key a misspelt key most likely meant. Shared by every YAML reader
// (the gateway configuration, the simulator's workloads) so their messages agree.
#pragma once

#include <algorithm>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace natgw::control {

// Levenshtein distance.
[[nodiscard]] inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The closest allowed key within 2 edits, else one that the key truncates or extends
// ("idle_timeout" for "idle_timeout_minutes"), else nothing.
[[nodiscard]] inline std::optional<std::string_view> suggestion(std::string_view key,
                                                                std::span<const std::string_view> keys) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;
  for (auto k : keys) {
    const auto d = edit_distance(key, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  if (best) return best;
  for (auto k : keys) {
    if (key.size() >= 4 && (k.starts_with(key) || key.starts_with(k))) return k;
  }
  return std::nullopt;
}

}  // namespace natgw::control
