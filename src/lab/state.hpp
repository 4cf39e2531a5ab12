// What `natgw lab up` made, recorded under /run/natgw/labs/<name>/ so that `status` and `down`
// work from another process, after a crash, or after `up` itself failed half way.
//
// The record is a plain text file, one fact per line ("key value..."), rewritten atomically
// (temporary file + rename) after every step that starts a process: a crash leaves a record
// of everything that was started up to it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lab/process.hpp"
#include "lab/topology.hpp"

namespace natgw::lab {

inline constexpr const char* kStateRoot = "/run/natgw/labs";

struct ProcessRecord {
  std::string role;  // "nginx", "vsftpd", "echo", "iperf3-5201", "natgw"
  std::string ns;    // the namespace it runs in
  ProcessId id;
  std::string log;  // where its stdout and stderr go
};

struct LabState {
  LabSpec spec;
  std::string created;             // UTC, ISO 8601
  std::string phase = "building";  // building -> up, or failed
  std::vector<ProcessRecord> processes;
};

[[nodiscard]] std::string state_dir(const std::string& lab);
[[nodiscard]] std::string state_file(const std::string& lab);

[[nodiscard]] std::string render_state(const LabState& s);
// nullopt (and `error` set) when a line is malformed or name/vms/public_ips/gateway is missing.
[[nodiscard]] std::optional<LabState> parse_state(std::string_view text, std::string* error);

// Creates the state dir if needed (mode 0755: nginx and vsftpd read their files from it).
void write_state(const LabState& s);
// nullopt if the lab has no state file; throws LabError if it cannot be parsed.
[[nodiscard]] std::optional<LabState> read_state(const std::string& lab);
// Labs that have a state dir, sorted.
[[nodiscard]] std::vector<std::string> labs_with_state();

[[nodiscard]] std::string utc_now_iso8601();

}  // namespace natgw::lab
