// `natgw lab up / down / status / exec`: the namespace lab of ARCHITECTURE.md ("The lab").
// README.md in this folder has the topology and the reasons behind its settings.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "lab/topology.hpp"

namespace natgw::lab {

struct UpOptions {
  LabSpec spec;                           // spec.name empty: a fresh random name
  std::optional<std::string> config_out;  // also write the natgw config here
  bool keep_on_error = false;             // leave a half-built lab for inspection
};

// Each returns the process exit status; messages for people go to `out` and `err`.
int lab_up(const UpOptions& options, std::ostream& out, std::ostream& err);
int lab_down(const std::optional<std::string>& name, bool all, std::ostream& out,
             std::ostream& err);
int lab_status(const std::optional<std::string>& name, std::ostream& out, std::ostream& err);
// Replaces this process with `ip netns exec <lab>-<target> command...`, so stdio, signals and
// the exit status are the command's own. Returns only on error.
int lab_exec(const std::optional<std::string>& name, const std::string& target,
             const std::vector<std::string>& command, std::ostream& err);

// Labs present on this host: those with a state dir, and namespaces of a lab whose state dir
// is gone (a switch namespace holding the lab bridge marks them as the lab's own). Sorted.
[[nodiscard]] std::vector<std::string> find_labs();

// The natgw binary that is running (readlink /proc/self/exe): `ip netns exec` must be given a
// real path, since "/proc/self/exe" would name `ip` itself once it runs.
[[nodiscard]] std::string self_exe();

}  // namespace natgw::lab
