// Internal to control/: parsing of the config's value formats and the wording shared by the YAML
// reader and the value rules, so that one condition always reads the same.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "control/config.hpp"
#include "net/types.hpp"

namespace natgw::control::detail {

// Parsers: the value, or nullopt and `problem` set to what is wrong, worded to follow the value
// ("is not an IPv4 address").

// A dotted quad. Stricter than net::Ipv4::parse: no leading zeros, since inet_aton() reads
// "010.0.0.1" as octal (8.0.0.1) and an operator may mean 10.0.0.1.
[[nodiscard]] std::optional<net::Ipv4> parse_ipv4(std::string_view s, std::string& problem);

// "a.b.c.d/len" with the length written out and the host bits clear.
[[nodiscard]] std::optional<net::Prefix> parse_prefix(std::string_view s, std::string& problem);

// "a.b.c.d:port", port 0..65535 (port 0 is left to the rules, which also see built Configs).
[[nodiscard]] std::optional<net::Endpoint> parse_endpoint(std::string_view s, std::string& problem);

// The `network:` section's values (docs/network.md).
[[nodiscard]] std::optional<bool> parse_bool(std::string_view s, std::string& problem);
[[nodiscard]] std::optional<vnet::NextHopType> parse_next_hop_type(std::string_view s,
                                                                   std::string& problem);
[[nodiscard]] std::optional<vnet::RuleDirection> parse_direction(std::string_view s,
                                                                 std::string& problem);
[[nodiscard]] std::optional<vnet::Access> parse_access(std::string_view s, std::string& problem);
[[nodiscard]] std::optional<vnet::Protocol> parse_protocol(std::string_view s, std::string& problem);
// any, a service tag, an address (a /32) or a prefix.
[[nodiscard]] std::optional<vnet::AddressMatch> parse_address_match(std::string_view s,
                                                                   std::string& problem);
// any, N or N-M.
[[nodiscard]] std::optional<vnet::PortRange> parse_port_range(std::string_view s,
                                                             std::string& problem);
// An address (a /32) or a prefix.
[[nodiscard]] std::optional<net::Prefix> parse_address_or_prefix(std::string_view s,
                                                                 std::string& problem);

[[nodiscard]] std::string text(net::Ipv4 a);
[[nodiscard]] std::string text(const net::Prefix& p);
[[nodiscard]] std::string text(const net::Endpoint& e);

// A string as a message shows it: as is, or in double quotes with escapes when it is empty or
// holds spaces, quotes or control characters.
[[nodiscard]] std::string shown(std::string_view s);
// Always in double quotes, with escapes.
[[nodiscard]] std::string in_quotes(std::string_view s);

// The special-use block (RFC 6890) that `p` overlaps and that can be neither a public IP nor a
// next hop: "loopback 127.0.0.0/8". Private space is not in the list: a lab or a gateway behind
// another NAT uses it.
[[nodiscard]] std::optional<std::string_view> special_use(const net::Prefix& p);

// What is allowed, per key: the text after "allowed: ".
namespace allowed {
[[nodiscard]] std::string profile();
[[nodiscard]] std::string gateway_name();
[[nodiscard]] std::string idle_timeout(const ProfileRules& r, Profile p);
[[nodiscard]] std::string public_ip();
[[nodiscard]] std::string public_ip_prefix(const ProfileRules& r, Profile p);
[[nodiscard]] std::string public_ip_count(const ProfileRules& r, Profile p);
[[nodiscard]] std::string subnet();
[[nodiscard]] std::string interface_name();
[[nodiscard]] std::string backend();
[[nodiscard]] std::string ip_selection();
[[nodiscard]] std::string steering();
[[nodiscard]] std::string next_hop();
[[nodiscard]] std::string api_listen();
// flow_logs:
[[nodiscard]] std::string flow_logs_enabled();
[[nodiscard]] std::string flow_logs_path();
[[nodiscard]] std::string flow_logs_max_bytes();
[[nodiscard]] std::string flow_logs_keep();
[[nodiscard]] std::string flow_logs_rate();
inline constexpr std::int64_t kFlowLogMaxBytesMin = 4096;
inline constexpr std::int64_t kFlowLogMaxBytesMax = std::int64_t{1} << 36;  // 64 GiB
inline constexpr std::int64_t kFlowLogKeepMax = 100;
inline constexpr std::int64_t kFlowLogRateMax = 1'000'000;
[[nodiscard]] std::string workers();
[[nodiscard]] std::string cpu();
// network:
[[nodiscard]] std::string network_section();
[[nodiscard]] std::string resource_name();
[[nodiscard]] std::string address_space();
[[nodiscard]] std::string network_subnet();
[[nodiscard]] std::string default_outbound_access();
[[nodiscard]] std::string route_prefix();
[[nodiscard]] std::string next_hop_type();
[[nodiscard]] std::string next_hop_address();
[[nodiscard]] std::string priority();
[[nodiscard]] std::string direction();
[[nodiscard]] std::string access();
[[nodiscard]] std::string protocol();
[[nodiscard]] std::string lb_protocol();
[[nodiscard]] std::string address_match();
[[nodiscard]] std::string port_range();
[[nodiscard]] std::string endpoint_address();
[[nodiscard]] std::string service_prefix();
[[nodiscard]] std::string host_address();
[[nodiscard]] std::string method_public_ip();
[[nodiscard]] std::string backend_prefix();
}  // namespace allowed

}  // namespace natgw::control::detail
