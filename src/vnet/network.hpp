// The network around the gateway as a model: subnets with their route tables and security
// groups, private and service endpoints, and the hosts' other outbound methods. decide() gives
// the fate of one flow: the security rule that matched, the route, the outbound method and what
// the datapath does with it. No packets' bytes here; src/vnet/README.md has the decisions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nat/drop_reason.hpp"
#include "net/types.hpp"
#include "vnet/config.hpp"

namespace natgw::vnet {

// How a flow leaves, in the documented precedence: routes to an appliance or a VPN gateway >
// NAT gateway > instance public IP > load balancer outbound rule > default outbound access.
// private_endpoint, service_endpoint and virtual_network are reached without an outbound method.
enum class Method : std::uint8_t {
  virtual_appliance,
  virtual_network_gateway,
  nat_gateway,
  instance_public_ip,
  load_balancer,
  private_endpoint,
  service_endpoint,
  virtual_network,
  default_outbound,
  none,
};
inline constexpr std::size_t kMethodCount = 10;
[[nodiscard]] std::string_view name(Method m) noexcept;

// What the datapath does with the flow's packets.
enum class Fate : std::uint8_t {
  translate,  // the NAT engine translates it (method nat_gateway)
  forward,    // forwarded untranslated (see ForwardTarget)
  drop,       // dropped, Decision::reason says why
  elsewhere,  // leaves by an outbound method of its own, not through this gateway
};
[[nodiscard]] std::string_view name(Fate f) noexcept;

// Where an untranslated packet goes. Index 0 of Network::targets() is unused.
struct ForwardTarget {
  enum class Via : std::uint8_t {
    inside_destination,  // back out of the inside interface, to the packet's destination
    inside_address,      // back out of the inside interface, to `address` (an appliance)
    outside_next_hop,    // out of the outside interface, to its next hop (service endpoint)
  };
  Via via = Via::inside_destination;
  NextHopType type = NextHopType::virtual_network;  // what the counters call it
  net::Ipv4 address;
};

// A security rule as evaluated: the group's own rules and the platform's defaults.
struct Rule {
  std::uint32_t id = 0;     // index in Network::rules(), the index of its counter
  std::uint16_t group = 0;  // index in Network::security_groups()
  std::string name;
  std::uint16_t priority = 0;
  RuleDirection direction = RuleDirection::outbound;
  Access access = Access::allow;
  Protocol protocol = Protocol::any;
  std::vector<AddressMatch> sources;
  std::vector<PortRange> source_ports;
  std::vector<AddressMatch> destinations;
  std::vector<PortRange> destination_ports;
  bool platform_default = false;  // AllowVnetOutBound and the other default rules
  // Conditions that match everything, so that evaluation skips them.
  bool any_source = false, any_destination = false, any_source_port = false,
       any_destination_port = false;
};

struct SecurityGroup {
  std::string name;
  std::vector<std::uint32_t> outbound;  // rule ids in evaluation order (priority, defaults last)
  std::vector<std::uint32_t> inbound;
};

// A route as a subnet sees it: from its route table (user) or added by the platform (system).
struct Route {
  std::string table;  // the route table's name; empty for a system route
  std::string name;   // the route's name; for a system route, what added it
  net::Prefix prefix;
  NextHopType type = NextHopType::internet;
  std::optional<net::Ipv4> address;  // virtual_appliance, virtual_network_gateway
  std::uint16_t tag = 0;             // forward target (Network::targets()), 0 when none
  std::uint8_t rank = 0;             // among equal prefixes, lower wins (user routes: 0)
  std::uint32_t origin = 0;          // endpoint routes: the endpoint's index in the config

  [[nodiscard]] bool user() const noexcept { return !table.empty(); }
};

struct Subnet {
  net::Prefix prefix;
  bool listed = true;     // false: the stand-in for addresses in no listed subnet
  bool attached = false;  // attached to the NAT gateway (gateway.subnets)
  int route_table = -1;   // index in the config's route_tables
  int security_group = -1;
  std::vector<Route> routes;          // effective routes in match order: the first match wins
  std::vector<net::Prefix> vnet_tag;  // what the VirtualNetwork service tag holds for it
};

struct DecideOptions {
  // The flow was opened before the NAT gateway was attached to its subnet: it keeps the method
  // it had then (instance public IP, load balancer, default outbound) until it ends.
  bool opened_before_nat = false;
};

// The fate of one flow, from its first packet (a new connection). Its pointers point into the
// Network that made it: valid while that Network lives.
struct Decision {
  const Subnet* source = nullptr;       // never null after decide()
  const Rule* outbound_rule = nullptr;  // null: the source subnet has no security group
  const Subnet* destination = nullptr;  // virtual_network: the destination's subnet, if listed
  const Rule* inbound_rule = nullptr;   // ... and the rule of its security group that matched
  const Route* route = nullptr;         // null only when a security rule denied the flow first
  Method method = Method::none;
  std::uint32_t method_index = 0;  // index in the config's list of that method, when it has one
  Fate fate = Fate::drop;
  nat::DropReason reason = nat::DropReason::source_not_in_subnet;  // fate drop
  std::uint16_t tag = 0;                                           // fate forward
};

class Network {
 public:
  // Compiles a validated config (control/ checks it with messages for people). `attached` are
  // the gateway's subnets. Throws std::invalid_argument for a config it cannot model.
  static std::shared_ptr<const Network> build(const NetworkConfig& config,
                                              std::span<const net::Prefix> attached);

  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // The fate of a flow from `t.src` to `t.dst`. No allocation: the datapath calls it for every
  // new connection (Enforcer).
  [[nodiscard]] Decision decide(const net::FiveTuple& t,
                                const DecideOptions& o = {}) const noexcept;

  [[nodiscard]] const NetworkConfig& config() const noexcept { return config_; }
  [[nodiscard]] std::span<const net::Prefix> address_space() const noexcept { return space_; }
  [[nodiscard]] std::span<const Subnet> subnets() const noexcept { return subnets_; }
  [[nodiscard]] std::span<const Rule> rules() const noexcept { return rules_; }
  [[nodiscard]] std::span<const SecurityGroup> security_groups() const noexcept { return groups_; }
  [[nodiscard]] std::span<const ForwardTarget> targets() const noexcept { return targets_; }
  // The listed subnet that holds `a`, or the stand-in for addresses in none.
  [[nodiscard]] const Subnet& subnet_of(net::Ipv4 a) const noexcept;
  // The private endpoint at `a`, if any.
  [[nodiscard]] const PrivateEndpointConfig* private_endpoint(net::Ipv4 a) const noexcept;

  // The platform's default rules, in the order they are evaluated after a group's own.
  static const std::vector<SecurityRuleConfig>& default_rules();

 private:
  Network() = default;

  [[nodiscard]] const Rule* first_match(std::span<const std::uint32_t> ids, const net::FiveTuple& t,
                                        const Subnet& own) const noexcept;
  void outbound_method(Decision& d, const net::FiveTuple& t, const DecideOptions& o) const noexcept;

  NetworkConfig config_;
  std::vector<net::Prefix> space_;
  std::vector<Subnet> subnets_;  // listed subnets, then the stand-in (last)
  std::vector<Rule> rules_;
  std::vector<SecurityGroup> groups_;
  std::vector<ForwardTarget> targets_;
};

}  // namespace natgw::vnet
