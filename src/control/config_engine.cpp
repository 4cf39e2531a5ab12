// The `engine:` section (profile custom): the table of knobs, their bounds and their texts.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "control/config_draft.hpp"

namespace natgw::control::detail {
namespace {

constexpr std::array<std::string_view, 2> kBool = {"false", "true"};
constexpr std::array<std::string_view, 2> kMapping = {"endpoint_dependent", "endpoint_independent"};
constexpr std::array<std::string_view, 2> kFiltering = {"endpoint_dependent",
                                                        "endpoint_independent"};
constexpr std::array<std::string_view, 3> kLateRst = {"sender", "inside_only", "none"};
constexpr std::array<std::string_view, 2> kUdpRefresh = {"each_direction", "any_direction"};

// Every timer + the longest hold-down must stay under the engine's timer wheel (8,388 s): idle
// timers up to 7,200 s, hold-downs up to 600 s.
constexpr std::int64_t kMaxIdleSeconds = 7200;
constexpr std::int64_t kMaxHolddownSeconds = 600;

template <auto Member>
KnobSpec int_knob(std::string_view name, std::int64_t lo, std::int64_t hi, std::string_view unit) {
  return {name,
          {},
          lo,
          hi,
          unit,
          [](const EngineKnobs& k) -> std::int64_t { return k.*Member; },
          [](EngineKnobs& k, std::int64_t v) { k.*Member = static_cast<std::uint32_t>(v); }};
}

template <auto Member>
KnobSpec bool_knob(std::string_view name) {
  return {name,
          kBool,
          0,
          1,
          "",
          [](const EngineKnobs& k) -> std::int64_t { return k.*Member ? 1 : 0; },
          [](EngineKnobs& k, std::int64_t v) { k.*Member = v != 0; }};
}

// An enumeration whose values are the indices of `words`.
template <auto Member, class Enum, std::size_t N>
KnobSpec enum_knob(std::string_view name, const std::array<std::string_view, N>& words) {
  return {name,
          words,
          0,
          static_cast<std::int64_t>(N) - 1,
          "",
          [](const EngineKnobs& k) -> std::int64_t { return static_cast<std::int64_t>(k.*Member); },
          [](EngineKnobs& k, std::int64_t v) { k.*Member = static_cast<Enum>(v); }};
}

using K = EngineKnobs;

const std::array kKnobs = {
    enum_knob<&K::mapping, nat::Mapping>("mapping", kMapping),
    enum_knob<&K::filtering, nat::Filtering>("filtering", kFiltering),
    bool_knob<&K::icmp_echo>("icmp_echo"),
    bool_knob<&K::udp_fragments>("udp_fragments"),
    int_knob<&K::fragment_table>("fragment_table", 16, 1 << 20, "entries, a power of two"),
    bool_knob<&K::hairpinning>("hairpinning"),
    enum_knob<&K::late_rst, nat::LateRst>("late_rst", kLateRst),
    bool_knob<&K::block_smtp>("block_smtp"),
    bool_knob<&K::ftp_alg>("ftp_alg"),
    int_knob<&K::max_public_ips>("max_public_ips", 1, static_cast<std::int64_t>(nat::kMaxPublicIps),
                                 "addresses"),
    int_knob<&K::connections_per_destination>("connections_per_destination", 1, 65535,
                                              "per public IP"),
    int_knob<&K::max_connections>("max_connections", 1, 16 * 1024 * 1024, "per gateway"),
    int_knob<&K::port_min>("port_min", 1, 65535, "the first SNAT port"),
    int_knob<&K::port_max>("port_max", 1, 65535, "the last SNAT port"),
    int_knob<&K::ports_per_host_min>("ports_per_host_min", 0, 65536, "0: no per-host allowance"),
    int_knob<&K::ports_per_host_max>("ports_per_host_max", 0, 65536, "at least ports_per_host_min"),
    KnobSpec{"udp_refresh", kUdpRefresh, 0, 1, "",
             [](const K& k) -> std::int64_t { return k.udp_refresh_each_direction ? 0 : 1; },
             [](K& k, std::int64_t v) { k.udp_refresh_each_direction = v == 0; }},
    int_knob<&K::tcp_half_open_seconds>("tcp_half_open_seconds", 1, kMaxIdleSeconds, "seconds"),
    int_knob<&K::tcp_closing_seconds>("tcp_closing_seconds", 0, kMaxIdleSeconds,
                                      "seconds; 0: the TCP idle timeout"),
    int_knob<&K::udp_idle_seconds>("udp_idle_seconds", 1, kMaxIdleSeconds, "seconds"),
    int_knob<&K::icmp_idle_seconds>("icmp_idle_seconds", 1, kMaxIdleSeconds, "seconds"),
    int_knob<&K::holddown_fin_seconds>("holddown_fin_seconds", 1, kMaxHolddownSeconds, "seconds"),
    int_knob<&K::holddown_rst_seconds>("holddown_rst_seconds", 1, kMaxHolddownSeconds, "seconds"),
    int_knob<&K::holddown_udp_seconds>("holddown_udp_seconds", 1, kMaxHolddownSeconds, "seconds"),
    int_knob<&K::holddown_idle_seconds>("holddown_idle_seconds", 1, kMaxHolddownSeconds, "seconds"),
    int_knob<&K::holddown_icmp_seconds>("holddown_icmp_seconds", 1, kMaxHolddownSeconds, "seconds"),
};

const std::vector<std::string_view>& keys() {
  static const std::vector<std::string_view> k = [] {
    std::vector<std::string_view> out;
    for (const auto& s : kKnobs) out.push_back(s.name);
    out.emplace_back("blocked_ports");
    return out;
  }();
  return k;
}

}  // namespace

std::span<const KnobSpec> knob_specs() {
  return kKnobs;
}

const KnobSpec* find_knob(std::string_view name) {
  const auto it =
      std::find_if(kKnobs.begin(), kKnobs.end(), [&](const KnobSpec& k) { return k.name == name; });
  return it == kKnobs.end() ? nullptr : &*it;
}

std::span<const std::string_view> engine_keys() {
  return keys();
}

std::string knob_allowed(const KnobSpec& k) {
  if (!k.choices.empty()) {
    std::string out;
    for (std::size_t i = 0; i < k.choices.size(); ++i) {
      if (i > 0) out += i + 1 == k.choices.size() ? " or " : ", ";
      out += k.choices[i];
    }
    return out;
  }
  return fmt::format("{}..{} ({})", k.min, k.max, k.unit);
}

std::string blocked_port_allowed() {
  return "a destination port 1..65535 (TCP and UDP)";
}

}  // namespace natgw::control::detail
