// Named network namespaces (iproute2's, bind-mounted under /run/netns) and the few things the lab
// does in them without a helper process.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "lab/process.hpp"

namespace natgw::lab {

inline constexpr const char* kNetnsDir = "/run/netns";

// Names of the existing named namespaces, sorted.
[[nodiscard]] std::vector<std::string> list_netns();
[[nodiscard]] bool netns_exists(const std::string& ns);

// `ip netns exec NS argv...` with argv[0] resolved to an absolute path first (ip's own PATH
// lookup happens after it has switched namespaces, with whatever PATH we had).
[[nodiscard]] Argv in_netns(const std::string& ns, Argv argv);

// Processes whose network namespace is NS (`ip netns pids`).
[[nodiscard]] std::vector<pid_t> netns_pids(const std::string& ns);

// One TCP connection attempt to addr:port from inside NS, bounded by `timeout`. The attempt runs
// on a short-lived thread that joins NS with setns(2): a network namespace belongs to a thread,
// so the rest of the process is not moved.
[[nodiscard]] bool tcp_connects(const std::string& ns, const std::string& addr, std::uint16_t port,
                                std::chrono::milliseconds timeout);

}  // namespace natgw::lab
