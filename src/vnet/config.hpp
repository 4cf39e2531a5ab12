// The network around the gateway as configured (the YAML's `network:` section, docs/network.md):
// plain data with named fields. control/ reads and validates it; vnet::Network compiles it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/types.hpp"

namespace natgw::vnet {

// Where a route sends matching traffic. The first five are what a route table may name; the
// last is added by the platform for service endpoints.
enum class NextHopType : std::uint8_t {
  internet,                 // out through the subnet's outbound method (the NAT gateway)
  virtual_appliance,        // to an appliance's address, untranslated (next_hop_address)
  virtual_network,          // delivered inside the virtual network, untranslated
  virtual_network_gateway,  // to a VPN / ExpressRoute gateway, untranslated (next_hop_address)
  none,                     // dropped
  service_endpoint,         // system route of a service endpoint: the provider's backbone
};
inline constexpr std::size_t kNextHopTypeCount = 6;
inline constexpr std::array<std::string_view, kNextHopTypeCount> kNextHopTypeNames = {
    "internet", "virtual_appliance", "virtual_network", "virtual_network_gateway",
    "none",     "service_endpoint"};
[[nodiscard]] constexpr std::string_view name(NextHopType t) noexcept {
  return kNextHopTypeNames[static_cast<std::size_t>(t)];
}
// Types that need a next_hop_address.
[[nodiscard]] constexpr bool needs_address(NextHopType t) noexcept {
  return t == NextHopType::virtual_appliance || t == NextHopType::virtual_network_gateway;
}

enum class Access : std::uint8_t { allow, deny };
enum class RuleDirection : std::uint8_t { inbound, outbound };
enum class Protocol : std::uint8_t { any, tcp, udp, icmp };
[[nodiscard]] std::string_view name(Access a) noexcept;
[[nodiscard]] std::string_view name(RuleDirection d) noexcept;
[[nodiscard]] std::string_view name(Protocol p) noexcept;

// One entry of a security rule's source or destination.
struct AddressMatch {
  enum class Kind : std::uint8_t {
    any,                  // every address
    prefix,               // `prefix`
    virtual_network,      // the VirtualNetwork service tag (README.md says what it holds)
    internet,             // the Internet service tag
    azure_load_balancer,  // the platform's health probe source, 168.63.129.16
  };
  Kind kind = Kind::any;
  net::Prefix prefix;

  bool operator==(const AddressMatch&) const = default;
};

// An inclusive port range; any port is 0..65535.
struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 65535;

  [[nodiscard]] constexpr bool contains(std::uint16_t p) const noexcept {
    return p >= first && p <= last;
  }
  bool operator==(const PortRange&) const = default;
};

struct SecurityRuleConfig {
  std::string name;
  std::uint16_t priority = 100;  // 100..4096, lower first
  RuleDirection direction = RuleDirection::outbound;
  Access access = Access::allow;
  Protocol protocol = Protocol::any;
  std::vector<AddressMatch> sources{AddressMatch{}};
  std::vector<PortRange> source_ports{PortRange{}};
  std::vector<AddressMatch> destinations{AddressMatch{}};
  std::vector<PortRange> destination_ports{PortRange{}};

  bool operator==(const SecurityRuleConfig&) const = default;
};

// A network security group and the subnets it is associated with.
struct SecurityGroupConfig {
  std::string name;
  std::vector<net::Prefix> subnets;
  std::vector<SecurityRuleConfig> rules;  // the platform's default rules are added by the model

  bool operator==(const SecurityGroupConfig&) const = default;
};

struct RouteConfig {
  std::string name;
  net::Prefix prefix;  // `address_prefix`
  NextHopType next_hop = NextHopType::internet;
  std::optional<net::Ipv4> next_hop_address;  // virtual_appliance, virtual_network_gateway

  bool operator==(const RouteConfig&) const = default;
};

struct RouteTableConfig {
  std::string name;
  std::vector<net::Prefix> subnets;
  std::vector<RouteConfig> routes;

  bool operator==(const RouteTableConfig&) const = default;
};

// A private endpoint: a service reached at a private address of the virtual network.
struct PrivateEndpointConfig {
  std::string name;
  net::Ipv4 address;

  bool operator==(const PrivateEndpointConfig&) const = default;
};

// A service endpoint enabled on some subnets: the service's prefixes are reached over the
// provider's backbone with the host's private address.
struct ServiceEndpointConfig {
  std::string service;
  std::vector<net::Prefix> subnets;
  std::vector<net::Prefix> prefixes;

  bool operator==(const ServiceEndpointConfig&) const = default;
};

// A host's own (instance-level) public IP.
struct InstancePublicIpConfig {
  net::Ipv4 host;
  net::Ipv4 public_ip;

  bool operator==(const InstancePublicIpConfig&) const = default;
};

// A load balancer outbound rule: its backends leave through its frontend IPs.
struct LoadBalancerRuleConfig {
  std::string name;
  std::vector<net::Ipv4> frontend_ips;
  std::vector<net::Prefix> backends;  // host addresses are /32
  Protocol protocol = Protocol::any;  // any, tcp or udp

  bool operator==(const LoadBalancerRuleConfig&) const = default;
};

struct NetworkConfig {
  std::vector<net::Prefix> address_space;  // empty: the attached subnets (gateway.subnets)
  bool default_outbound_access = false;    // hosts with no other method get the platform's
  std::vector<RouteTableConfig> route_tables;
  std::vector<SecurityGroupConfig> security_groups;
  std::vector<PrivateEndpointConfig> private_endpoints;
  std::vector<ServiceEndpointConfig> service_endpoints;
  std::vector<InstancePublicIpConfig> instance_public_ips;
  std::vector<LoadBalancerRuleConfig> load_balancer_outbound_rules;

  bool operator==(const NetworkConfig&) const = default;
};

}  // namespace natgw::vnet
