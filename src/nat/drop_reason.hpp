// The one list of reasons a packet is not forwarded. It generates the counters, the metric label
// values and the strings the CLI prints; add a reason here and everything else follows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace natgw::nat {

// X(name, description)
#define NATGW_DROP_REASONS(X)                                                                  \
  X(unsolicited_inbound, "packet from the outside that matches no flow")                       \
  X(unsupported_protocol, "protocol the profile does not translate (e.g. ICMP echo)")          \
  X(fragment, "IP fragment")                                                                   \
  X(smtp_blocked, "outbound TCP to destination port 25")                                       \
  X(source_not_in_subnet, "source address outside every attached subnet")                      \
  X(snat_exhausted, "no free SNAT port for the destination on any public IP with room")        \
  X(connection_limit, "per-destination or gateway-wide connection limit reached")              \
  X(malformed, "packet that does not parse as IPv4/TCP/UDP/ICMP")                              \
  X(no_flow, "TCP segment other than SYN with no flow")                                       \
  X(ttl_expired, "TTL of 1 or less")                                                           \
  X(flow_expired, "late packet of a flow that expired idle (TCP ones are answered with RST)")   \
  X(flow_table_full, "every flow slot holds a live flow or a port in hold-down")               \
  X(no_public_ip, "no public IP accepts new connections")                                     \
  /* Profiles beyond azure (nat/README.md "Profiles"): */                                      \
  X(out_of_resources, "the host's port allowance is used up and cannot grow (GCP OUT_OF_RESOURCES)") \
  X(endpoint_independence_conflict,                                                            \
    "the host's endpoint-independent public IP:port is taken for this destination (GCP ENDPOINT_INDEPENDENCE_CONFLICT)") \
  X(fragment_without_first, "UDP fragment whose first fragment was not seen (or was forgotten)") \
  X(port_blocked, "outbound to a destination port the profile blocks")                         \
  /* The network around the gateway (src/vnet), before a connection opens: */                   \
  X(security_rule_denied, "denied by a security rule (natgw_security_rule_denied_total says which)") \
  X(route_none, "the subnet's route to the destination has next hop type none")              \
  /* Reasons the datapath applies around the engine: */                                        \
  X(no_neighbor, "MAC address of the next hop or inside host unknown; ARP request sent")        \
  X(oversize, "frame larger than the interface MTU allows (a GRO/GSO super-frame)")            \
  X(tx_queue_full, "transmit ring of the interface full")

enum class DropReason : std::uint8_t {
#define NATGW_X(name, desc) name,
  NATGW_DROP_REASONS(NATGW_X)
#undef NATGW_X
};

inline constexpr std::size_t kDropReasonCount = 0
#define NATGW_X(name, desc) +1
    NATGW_DROP_REASONS(NATGW_X)
#undef NATGW_X
    ;

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
#define NATGW_X(name, desc) #name,
    NATGW_DROP_REASONS(NATGW_X)
#undef NATGW_X
};

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonDescriptions = {
#define NATGW_X(name, desc) desc,
    NATGW_DROP_REASONS(NATGW_X)
#undef NATGW_X
};

[[nodiscard]] constexpr std::string_view name(DropReason r) noexcept {
  return kDropReasonNames[static_cast<std::size_t>(r)];
}

}  // namespace natgw::nat
