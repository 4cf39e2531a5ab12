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

#define NATGW_INT_KNOB(knob, lo, hi, unit_text)                                                  \
  KnobSpec {                                                                                     \
    #knob, {}, lo, hi, unit_text, [](const EngineKnobs& k) -> std::int64_t { return k.knob; },    \
        [](EngineKnobs& k, std::int64_t v) { k.knob = static_cast<std::uint32_t>(v); }             \
  }
#define NATGW_BOOL_KNOB(knob)                                                                    \
  KnobSpec {                                                                                     \
    #knob, kBool, 0, 1, "", [](const EngineKnobs& k) -> std::int64_t { return k.knob ? 1 : 0; },  \
        [](EngineKnobs& k, std::int64_t v) { k.knob = v != 0; }                                    \
  }
#define NATGW_ENUM_KNOB(knob, words, type)                                                       \
  KnobSpec {                                                                                     \
    #knob, words, 0, static_cast<std::int64_t>(words.size()) - 1, "",                             \
        [](const EngineKnobs& k) -> std::int64_t { return static_cast<std::int64_t>(k.knob); },   \
        [](EngineKnobs& k, std::int64_t v) { k.knob = static_cast<type>(v); }                      \
  }

const std::array kKnobs = {
    NATGW_ENUM_KNOB(mapping, kMapping, nat::Mapping),
    NATGW_ENUM_KNOB(filtering, kFiltering, nat::Filtering),
    NATGW_BOOL_KNOB(icmp_echo),
    NATGW_BOOL_KNOB(udp_fragments),
    NATGW_INT_KNOB(fragment_table, 16, 1 << 20, "entries, a power of two"),
    NATGW_BOOL_KNOB(hairpinning),
    NATGW_ENUM_KNOB(late_rst, kLateRst, nat::LateRst),
    NATGW_BOOL_KNOB(block_smtp),
    NATGW_INT_KNOB(max_public_ips, 1, static_cast<std::int64_t>(nat::kMaxPublicIps), "addresses"),
    NATGW_INT_KNOB(connections_per_destination, 1, 65535, "per public IP"),
    NATGW_INT_KNOB(max_connections, 1, 16 * 1024 * 1024, "per gateway"),
    NATGW_INT_KNOB(port_min, 1, 65535, "the first SNAT port"),
    NATGW_INT_KNOB(port_max, 1, 65535, "the last SNAT port"),
    NATGW_INT_KNOB(ports_per_host_min, 0, 65536, "0: no per-host allowance"),
    NATGW_INT_KNOB(ports_per_host_max, 0, 65536, "at least ports_per_host_min"),
    KnobSpec{"udp_refresh", kUdpRefresh, 0, 1, "",
             [](const EngineKnobs& k) -> std::int64_t { return k.udp_refresh_each_direction ? 0 : 1; },
             [](EngineKnobs& k, std::int64_t v) { k.udp_refresh_each_direction = v == 0; }},
    NATGW_INT_KNOB(tcp_half_open_seconds, 1, kMaxIdleSeconds, "seconds"),
    NATGW_INT_KNOB(tcp_closing_seconds, 0, kMaxIdleSeconds, "seconds; 0: the TCP idle timeout"),
    NATGW_INT_KNOB(udp_idle_seconds, 1, kMaxIdleSeconds, "seconds"),
    NATGW_INT_KNOB(icmp_idle_seconds, 1, kMaxIdleSeconds, "seconds"),
    NATGW_INT_KNOB(holddown_fin_seconds, 1, kMaxHolddownSeconds, "seconds"),
    NATGW_INT_KNOB(holddown_rst_seconds, 1, kMaxHolddownSeconds, "seconds"),
    NATGW_INT_KNOB(holddown_udp_seconds, 1, kMaxHolddownSeconds, "seconds"),
    NATGW_INT_KNOB(holddown_idle_seconds, 1, kMaxHolddownSeconds, "seconds"),
    NATGW_INT_KNOB(holddown_icmp_seconds, 1, kMaxHolddownSeconds, "seconds"),
};

#undef NATGW_INT_KNOB
#undef NATGW_BOOL_KNOB
#undef NATGW_ENUM_KNOB

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

std::span<const KnobSpec> knob_specs() { return kKnobs; }

const KnobSpec* find_knob(std::string_view name) {
  const auto it = std::find_if(kKnobs.begin(), kKnobs.end(),
                               [&](const KnobSpec& k) { return k.name == name; });
  return it == kKnobs.end() ? nullptr : &*it;
}

std::span<const std::string_view> engine_keys() { return keys(); }

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

std::string blocked_port_allowed() { return "a destination port 1..65535 (TCP and UDP)"; }

}  // namespace natgw::control::detail
