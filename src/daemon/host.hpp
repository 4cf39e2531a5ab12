// What natgw needs to know about, and check on, the host it runs on.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/types.hpp"

namespace natgw::daemon {

// IPv4 addresses assigned to an interface (getifaddrs).
[[nodiscard]] std::vector<net::Ipv4> interface_addresses(const std::string& ifname);

// Generic receive offload state (ethtool); nullopt when it cannot be read.
[[nodiscard]] std::optional<bool> gro_enabled(const std::string& ifname);

// Problems that stop the gateway from starting, each a full sentence with the fix, and
// warnings about settings that cost packets. Checks: the interfaces exist and are up, they are
// different, IPv4 forwarding is off on both (the kernel would forward the same packets), GRO.
struct HostCheck {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};
[[nodiscard]] HostCheck check_host(const std::string& inside, const std::string& outside);

}  // namespace natgw::daemon
