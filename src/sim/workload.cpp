#include "sim/workload.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace natgw::sim {

std::vector<net::Ipv4> generated_public_ips(std::size_t n) {
  std::vector<net::Ipv4> out;
  for (std::size_t i = 0; i < n && i < nat::kMaxPublicIps; ++i) {
    out.emplace_back(net::Ipv4{203, 0, 113, static_cast<std::uint8_t>(10 + i)});
  }
  return out;
}

nat::EngineConfig Workload::engine_config(std::size_t public_ips) const {
  nat::EngineConfig c = nat::azure_profile();
  c.timers.tcp_idle = std::chrono::minutes(gateway.idle_timeout_minutes);
  for (std::size_t i = 0; i < public_ips && i < gateway.public_ips.size(); ++i) {
    c.public_ips.push_back(gateway.public_ips[i]);
  }
  // More than the workload lists (the capacity search): the generated sequence, skipping
  // addresses already used.
  for (const auto& a : generated_public_ips(nat::kMaxPublicIps)) {
    if (c.public_ips.size() >= public_ips) break;
    if (std::find(c.public_ips.begin(), c.public_ips.end(), a) == c.public_ips.end()) {
      c.public_ips.push_back(a);
    }
  }
  for (const auto& p : clients) c.subnets.push_back(p.subnet);
  // The engine's own randomness (IP and port choices) follows the workload's seed.
  c.seed = seed * 0x9E3779B97F4A7C15ull + 0x5157;
  return c;
}

std::string to_string(const WorkloadError& e) {
  if (e.key.empty()) return e.message;
  return fmt::format("{}: {}", e.key, e.message);
}

std::string_view name(Protocol p) noexcept {
  return p == Protocol::tcp ? "tcp" : "udp";
}

std::string format_duration(Duration d) {
  const auto ns = d.count();
  if (ns == 0) return "0s";
  const auto whole = [ns](std::int64_t unit) { return ns % unit == 0; };
  if (whole(3'600'000'000'000)) return fmt::format("{}h", ns / 3'600'000'000'000);
  if (whole(60'000'000'000)) return fmt::format("{}m", ns / 60'000'000'000);
  if (whole(1'000'000'000)) return fmt::format("{}s", ns / 1'000'000'000);
  if (whole(1'000'000)) return fmt::format("{}ms", ns / 1'000'000);
  return fmt::format("{:g}ms", static_cast<double>(ns) / 1e6);
}

}  // namespace natgw::sim
