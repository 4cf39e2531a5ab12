// The flow-table state file that carries open flows and port hold-downs across a restart.
//
// Layout (little-endian): "NATGWSF1", u32 format version, u32 record size, i64 Unix time of
// saving in ms, u16 port_min, u16 port_max, u64 record count, records, u64 FNV-1a of everything
// before it. Written to a temporary file in the same directory, flushed and renamed over the
// old one, so a reader sees either the old file or the new one, never half of one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "nat/engine.hpp"

namespace natgw::daemon {

struct SavedState {
  std::int64_t saved_unix_ms = 0;
  std::uint16_t port_min = 0;
  std::uint16_t port_max = 0;
  std::vector<nat::SavedFlow> flows;
};

// Empty on success, else what went wrong.
[[nodiscard]] std::string write_state(const std::filesystem::path& path, const SavedState& s);
// The state, or why the file cannot be used (missing, truncated, corrupt, another format).
[[nodiscard]] std::variant<SavedState, std::string> read_state(const std::filesystem::path& path);

[[nodiscard]] std::int64_t unix_ms_now();

}  // namespace natgw::daemon
