// The gateway namespace's two personalities: natgw itself, or the kernel's nftables SNAT as the
// baseline that benchmarks compare natgw with.
#pragma once

#include <string>
#include <vector>

#include "lab/topology.hpp"

namespace natgw::lab {

// The natgw configuration (SPEC section 6) for a lab: its public IPs, the private subnet,
// gw-in / gw-out with the internet router as next hop, the API on 127.0.0.1:9490 (inside the
// gateway namespace).
[[nodiscard]] std::string render_natgw_config(const LabSpec& spec);

// The nftables ruleset of the kernel baseline: SNAT of 10.0.0.0/24 leaving gw-out to the lab's
// public IP (one address: 203.0.113.10, as natgw would use; several: the kernel's range SNAT).
[[nodiscard]] std::string render_nft_ruleset(const LabSpec& spec);

// sysctl settings of the gateway namespace: forwarding off for natgw and none (the kernel must
// not forward behind natgw's back), on for kernel; reverse-path filtering off in every case.
[[nodiscard]] std::vector<std::string> gateway_sysctls(GatewayMode mode);

}  // namespace natgw::lab
