#include "vnet/network.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace natgw::vnet {
namespace {

using net::Ipv4;
using net::Prefix;

std::string text(const Prefix& p) {
  return std::string(p.address().text().view()) + "/" + std::to_string(p.length());
}

// Ranks of routes with equal prefixes (lower wins): user routes beat system routes, and among
// system routes the virtual network beats the reserved ranges it is carved from.
constexpr std::uint8_t kRankUser = 0;
constexpr std::uint8_t kRankPrivateEndpoint = 1;
constexpr std::uint8_t kRankAddressSpace = 2;
constexpr std::uint8_t kRankReserved = 3;
constexpr std::uint8_t kRankDefault = 4;

// Tags of the fixed forward targets; appliance and VPN gateway addresses follow.
constexpr std::uint16_t kTagInside = 1;
constexpr std::uint16_t kTagOutside = 2;

const Ipv4 kAzureLoadBalancer{168, 63, 129, 16};

bool is_full(std::span<const PortRange> ranges) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [](const PortRange& r) { return r.first == 0 && r.last == 65535; });
}

bool port_in(std::span<const PortRange> ranges, std::uint16_t p) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [p](const PortRange& r) { return r.contains(p); });
}

SecurityRuleConfig rule(std::string name, std::uint16_t priority, RuleDirection dir, Access access,
                        AddressMatch::Kind src, AddressMatch::Kind dst) {
  SecurityRuleConfig r;
  r.name = std::move(name);
  r.priority = priority;
  r.direction = dir;
  r.access = access;
  r.sources = {AddressMatch{src, {}}};
  r.destinations = {AddressMatch{dst, {}}};
  return r;
}

}  // namespace

std::string_view name(Access a) noexcept {
  return a == Access::allow ? "allow" : "deny";
}

std::string_view name(RuleDirection d) noexcept {
  return d == RuleDirection::inbound ? "inbound" : "outbound";
}

std::string_view name(Protocol p) noexcept {
  switch (p) {
    case Protocol::any:
      return "any";
    case Protocol::tcp:
      return "tcp";
    case Protocol::udp:
      return "udp";
    case Protocol::icmp:
      return "icmp";
  }
  return "?";
}

std::string_view name(Method m) noexcept {
  static constexpr std::array<std::string_view, kMethodCount> kNames = {
      "virtual_appliance", "virtual_network_gateway",
      "nat_gateway",       "instance_public_ip",
      "load_balancer",     "private_endpoint",
      "service_endpoint",  "virtual_network",
      "default_outbound",  "none"};
  return kNames[static_cast<std::size_t>(m)];
}

std::string_view name(Fate f) noexcept {
  switch (f) {
    case Fate::translate:
      return "translate";
    case Fate::forward:
      return "forward";
    case Fate::drop:
      return "drop";
    case Fate::elsewhere:
      return "elsewhere";
  }
  return "?";
}

const std::vector<SecurityRuleConfig>& Network::default_rules() {
  using K = AddressMatch::Kind;
  static const std::vector<SecurityRuleConfig> rules = {
      rule("AllowVnetOutBound", 65000, RuleDirection::outbound, Access::allow, K::virtual_network,
           K::virtual_network),
      rule("AllowInternetOutBound", 65001, RuleDirection::outbound, Access::allow, K::any,
           K::internet),
      rule("DenyAllOutBound", 65500, RuleDirection::outbound, Access::deny, K::any, K::any),
      rule("AllowVnetInBound", 65000, RuleDirection::inbound, Access::allow, K::virtual_network,
           K::virtual_network),
      rule("AllowAzureLoadBalancerInBound", 65001, RuleDirection::inbound, Access::allow,
           K::azure_load_balancer, K::any),
      rule("DenyAllInBound", 65500, RuleDirection::inbound, Access::deny, K::any, K::any),
  };
  return rules;
}

std::shared_ptr<const Network> Network::build(const NetworkConfig& config,
                                              std::span<const net::Prefix> attached) {
  std::shared_ptr<Network> n(new Network());
  n->config_ = config;
  const NetworkConfig& c = n->config_;
  if (c.address_space.empty()) {
    n->space_.assign(attached.begin(), attached.end());
  } else {
    n->space_ = c.address_space;
  }

  // Listed subnets: attached ones first, then those the route tables, security groups and
  // service endpoints name. Equal prefixes are one subnet; partial overlaps are refused.
  auto add_subnet = [&](const Prefix& p) -> Subnet& {
    for (Subnet& s : n->subnets_) {
      if (s.prefix == p) return s;
      if (s.prefix.overlaps(p)) {
        throw std::invalid_argument("subnet " + text(p) + " overlaps subnet " + text(s.prefix));
      }
    }
    Subnet s;
    s.prefix = p;
    n->subnets_.push_back(std::move(s));
    return n->subnets_.back();
  };
  for (const Prefix& p : attached) add_subnet(p).attached = true;
  for (std::size_t t = 0; t < c.route_tables.size(); ++t) {
    for (const Prefix& p : c.route_tables[t].subnets) {
      Subnet& s = add_subnet(p);
      if (s.route_table >= 0)
        throw std::invalid_argument("subnet " + text(p) + " has two route tables");
      s.route_table = static_cast<int>(t);
    }
  }
  for (std::size_t g = 0; g < c.security_groups.size(); ++g) {
    for (const Prefix& p : c.security_groups[g].subnets) {
      Subnet& s = add_subnet(p);
      if (s.security_group >= 0) {
        throw std::invalid_argument("subnet " + text(p) + " has two security groups");
      }
      s.security_group = static_cast<int>(g);
    }
  }
  for (const auto& se : c.service_endpoints) {
    for (const Prefix& p : se.subnets) add_subnet(p);
  }
  Subnet stand_in;
  stand_in.listed = false;
  n->subnets_.push_back(std::move(stand_in));

  // Security rules: each group's own, by priority, then the platform's defaults.
  for (std::size_t g = 0; g < c.security_groups.size(); ++g) {
    const SecurityGroupConfig& gc = c.security_groups[g];
    SecurityGroup group;
    group.name = gc.name;
    std::vector<const SecurityRuleConfig*> own;
    for (const auto& r : gc.rules) own.push_back(&r);
    std::stable_sort(own.begin(), own.end(),
                     [](const SecurityRuleConfig* a, const SecurityRuleConfig* b) {
                       return a->priority < b->priority;
                     });
    auto add = [&](const SecurityRuleConfig& rc, bool platform) {
      Rule r;
      r.id = static_cast<std::uint32_t>(n->rules_.size());
      r.group = static_cast<std::uint16_t>(g);
      r.name = rc.name;
      r.priority = rc.priority;
      r.direction = rc.direction;
      r.access = rc.access;
      r.protocol = rc.protocol;
      r.sources = rc.sources;
      r.source_ports = rc.source_ports;
      r.destinations = rc.destinations;
      r.destination_ports = rc.destination_ports;
      r.platform_default = platform;
      const auto any_address = [](const std::vector<AddressMatch>& ms) {
        return std::any_of(ms.begin(), ms.end(),
                           [](const AddressMatch& m) { return m.kind == AddressMatch::Kind::any; });
      };
      r.any_source = any_address(r.sources);
      r.any_destination = any_address(r.destinations);
      r.any_source_port = is_full(r.source_ports);
      r.any_destination_port = is_full(r.destination_ports);
      (rc.direction == RuleDirection::outbound ? group.outbound : group.inbound).push_back(r.id);
      n->rules_.push_back(std::move(r));
    };
    for (const auto* r : own) add(*r, false);
    for (const auto& r : default_rules()) add(r, true);
    n->groups_.push_back(std::move(group));
  }

  // Forward targets: index 0 unused, then the fixed ones, then one per appliance address.
  n->targets_.resize(3);
  n->targets_[kTagInside] = {
      ForwardTarget::Via::inside_destination, NextHopType::virtual_network, {}};
  n->targets_[kTagOutside] = {
      ForwardTarget::Via::outside_next_hop, NextHopType::service_endpoint, {}};
  auto target_of = [&](NextHopType type, Ipv4 addr) {
    for (std::size_t i = kTagOutside + 1; i < n->targets_.size(); ++i) {
      if (n->targets_[i].type == type && n->targets_[i].address == addr)
        return static_cast<std::uint16_t>(i);
    }
    if (n->targets_.size() >= 0xFFFF) throw std::invalid_argument("too many appliance addresses");
    n->targets_.push_back({ForwardTarget::Via::inside_address, type, addr});
    return static_cast<std::uint16_t>(n->targets_.size() - 1);
  };

  // Effective routes of each subnet: service endpoint routes first (route tables do not override
  // them), then the longest prefix, user routes first among equal prefixes.
  for (Subnet& s : n->subnets_) {
    std::vector<Route> endpoints;
    std::vector<Route> routes;
    if (s.listed) {
      for (std::size_t i = 0; i < c.service_endpoints.size(); ++i) {
        const auto& se = c.service_endpoints[i];
        if (std::find(se.subnets.begin(), se.subnets.end(), s.prefix) == se.subnets.end()) continue;
        for (const Prefix& p : se.prefixes) {
          endpoints.push_back({"", "service endpoint " + se.service, p,
                               NextHopType::service_endpoint, std::nullopt, kTagOutside, kRankUser,
                               static_cast<std::uint32_t>(i)});
        }
      }
    }
    s.vnet_tag = n->space_;
    if (s.route_table >= 0) {
      const auto& table = c.route_tables[static_cast<std::size_t>(s.route_table)];
      for (const auto& rc : table.routes) {
        Route r{table.name, rc.name, rc.prefix, rc.next_hop, rc.next_hop_address, 0, kRankUser, 0};
        if (needs_address(rc.next_hop)) {
          if (!rc.next_hop_address)
            throw std::invalid_argument("route " + rc.name + " has no next hop address");
          r.tag = target_of(rc.next_hop, *rc.next_hop_address);
        } else if (rc.next_hop == NextHopType::virtual_network) {
          r.tag = kTagInside;
        }
        routes.push_back(std::move(r));
        s.vnet_tag.push_back(rc.prefix);  // the VirtualNetwork tag holds user route prefixes
      }
    }
    for (std::size_t i = 0; i < c.private_endpoints.size(); ++i) {
      routes.push_back({"", "private endpoint " + c.private_endpoints[i].name,
                        Prefix{c.private_endpoints[i].address, 32}, NextHopType::virtual_network,
                        std::nullopt, kTagInside, kRankPrivateEndpoint,
                        static_cast<std::uint32_t>(i)});
    }
    for (const Prefix& p : n->space_) {
      routes.push_back({"", "virtual network", p, NextHopType::virtual_network, std::nullopt,
                        kTagInside, kRankAddressSpace, 0});
    }
    for (const Prefix& p : net::kPrivateRanges) {
      routes.push_back(
          {"", "reserved range", p, NextHopType::none, std::nullopt, 0, kRankReserved, 0});
    }
    routes.push_back({"", "default", Prefix{Ipv4{}, 0}, NextHopType::internet, std::nullopt, 0,
                      kRankDefault, 0});
    std::stable_sort(routes.begin(), routes.end(), [](const Route& a, const Route& b) {
      if (a.prefix.length() != b.prefix.length()) return a.prefix.length() > b.prefix.length();
      return a.rank < b.rank;
    });
    std::stable_sort(endpoints.begin(), endpoints.end(), [](const Route& a, const Route& b) {
      return a.prefix.length() > b.prefix.length();
    });
    s.routes = std::move(endpoints);
    s.routes.insert(s.routes.end(), routes.begin(), routes.end());
  }
  return n;
}

const Subnet& Network::subnet_of(net::Ipv4 a) const noexcept {
  for (std::size_t i = 0; i + 1 < subnets_.size(); ++i) {
    if (subnets_[i].prefix.contains(a)) return subnets_[i];
  }
  return subnets_.back();
}

const PrivateEndpointConfig* Network::private_endpoint(net::Ipv4 a) const noexcept {
  for (const auto& pe : config_.private_endpoints) {
    if (pe.address == a) return &pe;
  }
  return nullptr;
}

namespace {

// The facts about one flow that rules ask for, each computed at most once per evaluation.
class Facts {
 public:
  Facts(const net::FiveTuple& t, const Subnet& own) : t_(t), own_(own) {}
  [[nodiscard]] const net::FiveTuple& flow() const noexcept { return t_; }
  // In the VirtualNetwork tag of the subnet whose rules are evaluated: 0 source, 1 destination.
  [[nodiscard]] bool in_vnet(int side) noexcept {
    if (vnet_[side] < 0) {
      const Ipv4 a = side == 0 ? t_.src.addr : t_.dst.addr;
      vnet_[side] = std::any_of(own_.vnet_tag.begin(), own_.vnet_tag.end(),
                                [a](const Prefix& p) { return p.contains(a); });
    }
    return vnet_[side] != 0;
  }

 private:
  const net::FiveTuple& t_;
  const Subnet& own_;
  std::array<std::int8_t, 2> vnet_{-1, -1};
};

bool address_matches(const AddressMatch& m, int side, Facts& f) noexcept {
  const Ipv4 a = side == 0 ? f.flow().src.addr : f.flow().dst.addr;
  switch (m.kind) {
    case AddressMatch::Kind::any:
      return true;
    case AddressMatch::Kind::prefix:
      return m.prefix.contains(a);
    case AddressMatch::Kind::virtual_network:
      return f.in_vnet(side);
    case AddressMatch::Kind::internet:
      return !f.in_vnet(side) && !Prefix{a, 32}.is_private();
    case AddressMatch::Kind::azure_load_balancer:
      return a == kAzureLoadBalancer;
  }
  return false;
}

bool addresses_match(std::span<const AddressMatch> ms, int side, Facts& f) noexcept {
  for (const auto& m : ms) {
    if (address_matches(m, side, f)) return true;
  }
  return false;
}

bool matches(const Rule& r, Facts& f) noexcept {
  const net::FiveTuple& t = f.flow();
  switch (r.protocol) {
    case Protocol::any:
      break;
    case Protocol::tcp:
      if (t.proto != net::Proto::tcp) return false;
      break;
    case Protocol::udp:
      if (t.proto != net::Proto::udp) return false;
      break;
    case Protocol::icmp:
      if (t.proto != net::Proto::icmp) return false;
      break;
  }
  if (t.proto == net::Proto::tcp || t.proto == net::Proto::udp) {
    if (!r.any_source_port && !port_in(r.source_ports, t.src.port)) return false;
    if (!r.any_destination_port && !port_in(r.destination_ports, t.dst.port)) return false;
  } else if (!r.any_source_port || !r.any_destination_port) {
    return false;  // port conditions name TCP and UDP ports only
  }
  return (r.any_source || addresses_match(r.sources, 0, f)) &&
         (r.any_destination || addresses_match(r.destinations, 1, f));
}

}  // namespace

const Rule* Network::first_match(std::span<const std::uint32_t> ids, const net::FiveTuple& t,
                                 const Subnet& own) const noexcept {
  Facts facts(t, own);
  for (const std::uint32_t id : ids) {
    if (matches(rules_[id], facts)) return &rules_[id];
  }
  return nullptr;  // not reached: every group ends with a rule that matches everything
}

void Network::outbound_method(Decision& d, const net::FiveTuple& t,
                              const DecideOptions& o) const noexcept {
  d.fate = Fate::elsewhere;
  if (d.source->attached && !o.opened_before_nat) {
    d.method = Method::nat_gateway;
    d.fate = Fate::translate;
    return;
  }
  for (std::size_t i = 0; i < config_.instance_public_ips.size(); ++i) {
    if (config_.instance_public_ips[i].host == t.src.addr) {
      d.method = Method::instance_public_ip;
      d.method_index = static_cast<std::uint32_t>(i);
      return;
    }
  }
  for (std::size_t i = 0; i < config_.load_balancer_outbound_rules.size(); ++i) {
    const auto& lb = config_.load_balancer_outbound_rules[i];
    const bool proto = lb.protocol == Protocol::any ||
                       (lb.protocol == Protocol::tcp && t.proto == net::Proto::tcp) ||
                       (lb.protocol == Protocol::udp && t.proto == net::Proto::udp);
    if (proto && std::any_of(lb.backends.begin(), lb.backends.end(),
                             [&](const Prefix& b) { return b.contains(t.src.addr); })) {
      d.method = Method::load_balancer;
      d.method_index = static_cast<std::uint32_t>(i);
      return;
    }
  }
  if (config_.default_outbound_access) {
    d.method = Method::default_outbound;
    return;
  }
  if (d.source->attached) {  // opened before the NAT gateway, but with nothing else to keep
    d.method = Method::nat_gateway;
    d.fate = Fate::translate;
    return;
  }
  d.method = Method::none;
  d.fate = Fate::drop;
  d.reason = nat::DropReason::source_not_in_subnet;
}

Decision Network::decide(const net::FiveTuple& t, const DecideOptions& o) const noexcept {
  Decision d;
  const Subnet& src = subnet_of(t.src.addr);
  d.source = &src;
  if (src.security_group >= 0) {
    const SecurityGroup& g = groups_[static_cast<std::size_t>(src.security_group)];
    d.outbound_rule = first_match(g.outbound, t, src);
    if (d.outbound_rule != nullptr && d.outbound_rule->access == Access::deny) {
      d.fate = Fate::drop;
      d.reason = nat::DropReason::security_rule_denied;
      return d;
    }
  }
  for (const Route& r : src.routes) {
    if (r.prefix.contains(t.dst.addr)) {
      d.route = &r;
      break;
    }
  }
  const Route& r = *d.route;  // 0.0.0.0/0 is always there
  switch (r.type) {
    case NextHopType::none:
      d.fate = Fate::drop;
      d.reason = nat::DropReason::route_none;
      return d;
    case NextHopType::virtual_appliance:
    case NextHopType::virtual_network_gateway:
      d.method = r.type == NextHopType::virtual_appliance ? Method::virtual_appliance
                                                          : Method::virtual_network_gateway;
      d.fate = Fate::forward;
      d.tag = r.tag;
      return d;
    case NextHopType::service_endpoint:
      d.method = Method::service_endpoint;
      d.method_index = r.origin;
      d.fate = Fate::forward;
      d.tag = r.tag;
      return d;
    case NextHopType::virtual_network: {
      const Subnet& dst = subnet_of(t.dst.addr);
      if (dst.listed) d.destination = &dst;
      if (dst.listed && dst.security_group >= 0) {
        const SecurityGroup& g = groups_[static_cast<std::size_t>(dst.security_group)];
        d.inbound_rule = first_match(g.inbound, t, dst);
        if (d.inbound_rule != nullptr && d.inbound_rule->access == Access::deny) {
          d.fate = Fate::drop;
          d.reason = nat::DropReason::security_rule_denied;
          return d;
        }
      }
      d.method = Method::virtual_network;
      for (std::size_t i = 0; i < config_.private_endpoints.size(); ++i) {
        if (config_.private_endpoints[i].address == t.dst.addr) {
          d.method = Method::private_endpoint;
          d.method_index = static_cast<std::uint32_t>(i);
        }
      }
      d.fate = Fate::forward;
      d.tag = kTagInside;
      return d;
    }
    case NextHopType::internet:
      outbound_method(d, t, o);
      return d;
  }
  return d;
}

}  // namespace natgw::vnet
