// Per-engine counters: plain integers bumped on the hot path and read at scrape time.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "nat/drop_reason.hpp"
#include "net/types.hpp"

namespace natgw::nat {

// Translated protocols, as counter indices.
// icmp: ICMP echo, translated by the profiles that do (EngineConfig::behaviour.icmp_echo).
enum class L4 : std::uint8_t { tcp, udp, icmp };
inline constexpr std::size_t kL4Count = 3;
inline constexpr std::array<std::string_view, kL4Count> kL4Names = {"tcp", "udp", "icmp"};

// out: inside to outside; in: return traffic (Azure's metric dimension).
enum class Direction : std::uint8_t { out, in };
inline constexpr std::array<std::string_view, 2> kDirectionNames = {"out", "in"};

// SNAT connection count states (Azure: attempted, failed; natgw adds the rest).
enum class ConnState : std::uint8_t { attempted, failed, established, closed, timed_out };
inline constexpr std::size_t kConnStateCount = 5;
inline constexpr std::array<std::string_view, kConnStateCount> kConnStateNames = {
    "attempted", "failed", "established", "closed", "timed_out"};

struct Counters {
  std::array<std::array<std::uint64_t, 2>, kL4Count> bytes{};    // [l4][direction]
  std::array<std::array<std::uint64_t, 2>, kL4Count> packets{};  // [l4][direction]
  std::array<std::uint64_t, kDropReasonCount> drops{};
  std::array<std::array<std::uint64_t, kConnStateCount>, kL4Count> connections{};
  std::array<std::uint64_t, kL4Count> active{};    // gauge: live connections now
  std::array<std::uint64_t, kL4Count> holddown{};  // gauge: ports in hold-down now
  std::uint64_t late_rst = 0;                       // late segments answered with RST
  std::uint64_t icmp_errors_translated = 0;
  std::uint64_t fragments_forwarded = 0;  // UDP fragments after the first (behaviour.udp_fragments)
  std::uint64_t hairpinned = 0;           // packets looped back inside (behaviour.hairpinning)
  std::uint64_t inbound_opened = 0;  // flows opened from outside (endpoint-independent filtering)

  [[nodiscard]] std::uint64_t drop(DropReason r) const noexcept {
    return drops[static_cast<std::size_t>(r)];
  }
  [[nodiscard]] std::uint64_t conn(L4 p, ConnState s) const noexcept {
    return connections[static_cast<std::size_t>(p)][static_cast<std::size_t>(s)];
  }
  [[nodiscard]] std::uint64_t total_drops() const noexcept {
    std::uint64_t t = 0;
    for (auto d : drops) t += d;
    return t;
  }
  // Sums another engine's counters into this one (workers are summed at scrape time).
  Counters& operator+=(const Counters& o) noexcept;
};

inline Counters& Counters::operator+=(const Counters& o) noexcept {
  for (std::size_t p = 0; p < kL4Count; ++p) {
    for (std::size_t d = 0; d < 2; ++d) {
      bytes[p][d] += o.bytes[p][d];
      packets[p][d] += o.packets[p][d];
    }
    for (std::size_t s = 0; s < kConnStateCount; ++s) connections[p][s] += o.connections[p][s];
    active[p] += o.active[p];
    holddown[p] += o.holddown[p];
  }
  for (std::size_t r = 0; r < kDropReasonCount; ++r) drops[r] += o.drops[r];
  late_rst += o.late_rst;
  icmp_errors_translated += o.icmp_errors_translated;
  fragments_forwarded += o.fragments_forwarded;
  hairpinned += o.hairpinned;
  inbound_opened += o.inbound_opened;
  return *this;
}

// What the FTP ALG (EngineConfig::ftp_alg) did, since start.
struct FtpAlgStats {
  std::uint64_t rewritten = 0;          // PORT/EPRT commands rewritten to a public IP:port
  std::uint64_t not_rewritten = 0;      // commands left as they were (see nat/README.md)
  std::uint64_t data_connections = 0;   // expected data connections let in
  std::uint64_t expectations_lost = 0;  // pending ones replaced because the table was full

  FtpAlgStats& operator+=(const FtpAlgStats& o) noexcept {
    rewritten += o.rewritten;
    not_rewritten += o.not_rewritten;
    data_connections += o.data_connections;
    expectations_lost += o.expectations_lost;
    return *this;
  }
};

}  // namespace natgw::nat
