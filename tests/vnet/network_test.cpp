// The network model (src/vnet/network.cpp): routes (longest prefix, user vs system), security
// rules (priority, defaults, matching), outbound-method precedence, endpoints.
#include <gtest/gtest.h>

#include "model.hpp"

namespace natgw::vnet::test {
namespace {

using nat::DropReason;

std::shared_ptr<const Network> build(const NetworkConfig& c,
                                     const std::vector<net::Prefix>& attached = kAttached) {
  return Network::build(c, attached);
}

std::string route_of(const Decision& d) {
  if (d.route == nullptr) return "-";
  return (d.route->user() ? d.route->table + "/" : std::string("system/")) + d.route->name;
}

// --- Routes ----------------------------------------------------------------------------------

TEST(Routes, SystemRoutesWithoutARouteTable) {
  NetworkConfig c;
  c.address_space = {P("10.0.0.0/16")};
  const auto n = build(c);
  // The virtual network, the reserved private ranges outside it, and the internet.
  Decision d = n->decide(tcp("10.0.0.4", "10.0.7.9:22"));
  EXPECT_EQ(d.route->type, NextHopType::virtual_network);
  EXPECT_EQ(route_of(d), "system/virtual network");
  EXPECT_EQ(d.method, Method::virtual_network);
  EXPECT_EQ(d.fate, Fate::forward);

  d = n->decide(tcp("10.0.0.4", "10.1.0.9:22"));
  EXPECT_EQ(d.route->type, NextHopType::none) << "10/8 outside the address space has no route";
  EXPECT_EQ(d.fate, Fate::drop);
  EXPECT_EQ(d.reason, DropReason::route_none);

  d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  EXPECT_EQ(d.route->type, NextHopType::internet);
  EXPECT_EQ(d.route->prefix, P("0.0.0.0/0"));
  EXPECT_EQ(d.method, Method::nat_gateway);
  EXPECT_EQ(d.fate, Fate::translate);
}

TEST(Routes, AddressSpaceDefaultsToTheAttachedSubnets) {
  const auto n = build(NetworkConfig{});
  ASSERT_EQ(n->address_space().size(), 1u);
  EXPECT_EQ(n->address_space()[0], P("10.0.0.0/24"));
  EXPECT_EQ(n->decide(tcp("10.0.0.4", "10.0.0.9:22")).route->type, NextHopType::virtual_network);
  EXPECT_EQ(n->decide(tcp("10.0.0.4", "10.0.1.9:22")).route->type, NextHopType::none);
}

TEST(Routes, LongestPrefixWins) {
  NetworkConfig c;
  c.route_tables = {{"rt",
                     {P("10.0.0.0/24")},
                     {route("all-to-fw", "0.0.0.0/0", NextHopType::virtual_appliance, "10.0.0.5"),
                      route("partner", "203.0.113.0/24", NextHopType::internet),
                      route("blocked", "203.0.113.80/32", NextHopType::none)}}};
  const auto n = build(c);
  Decision d = n->decide(tcp("10.0.0.4", "198.51.100.7:443"));
  EXPECT_EQ(route_of(d), "rt/all-to-fw");
  EXPECT_EQ(d.method, Method::virtual_appliance);
  EXPECT_EQ(d.fate, Fate::forward);
  EXPECT_EQ(n->targets()[d.tag].via, ForwardTarget::Via::inside_address);
  EXPECT_EQ(n->targets()[d.tag].address, A("10.0.0.5"));

  d = n->decide(tcp("10.0.0.4", "203.0.113.81:443"));
  EXPECT_EQ(route_of(d), "rt/partner");
  EXPECT_EQ(d.method, Method::nat_gateway);

  d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  EXPECT_EQ(route_of(d), "rt/blocked");
  EXPECT_EQ(d.reason, DropReason::route_none);

  // Declaration order does not matter: the same routes reversed choose the same.
  std::reverse(c.route_tables[0].routes.begin(), c.route_tables[0].routes.end());
  const auto r = build(c);
  EXPECT_EQ(route_of(r->decide(tcp("10.0.0.4", "203.0.113.80:443"))), "rt/blocked");
  EXPECT_EQ(route_of(r->decide(tcp("10.0.0.4", "203.0.113.81:443"))), "rt/partner");
  EXPECT_EQ(route_of(r->decide(tcp("10.0.0.4", "192.0.2.1:443"))), "rt/all-to-fw");
}

TEST(Routes, UserRoutesBeatSystemRoutesOfTheSamePrefix) {
  NetworkConfig c;
  c.address_space = {P("10.0.0.0/16")};
  c.route_tables = {
      {"rt",
       {P("10.0.0.0/24")},
       {route("inspect-vnet", "10.0.0.0/16", NextHopType::virtual_appliance, "10.0.0.5"),
        route("default", "0.0.0.0/0", NextHopType::internet)}}};
  const auto n = build(c);
  Decision d = n->decide(tcp("10.0.0.4", "10.0.3.3:443"));
  EXPECT_EQ(route_of(d), "rt/inspect-vnet") << "the address space's system route is overridden";
  EXPECT_EQ(d.method, Method::virtual_appliance);
  d = n->decide(tcp("10.0.0.4", "198.51.100.1:443"));
  EXPECT_EQ(route_of(d), "rt/default") << "the user route, not the system one";
  EXPECT_EQ(d.method, Method::nat_gateway);
  // A more specific system route still wins over a shorter user route.
  c.route_tables[0].routes = {
      route("inspect-10", "10.0.0.0/8", NextHopType::virtual_appliance, "10.0.0.5")};
  const auto n2 = build(c);  // a Decision points into its Network: keep it alive
  EXPECT_EQ(route_of(n2->decide(tcp("10.0.0.4", "10.0.3.3:443"))), "system/virtual network");
}

TEST(Routes, RouteTablesApplyToTheirSubnetsOnly) {
  NetworkConfig c;
  c.route_tables = {{"rt",
                     {P("10.0.1.0/24")},
                     {route("fw", "0.0.0.0/0", NextHopType::virtual_appliance, "10.0.0.5")}}};
  const auto n = build(c, {P("10.0.0.0/24"), P("10.0.1.0/24")});
  EXPECT_EQ(n->decide(tcp("10.0.1.4", "198.51.100.1:443")).method, Method::virtual_appliance);
  EXPECT_EQ(n->decide(tcp("10.0.0.4", "198.51.100.1:443")).method, Method::nat_gateway);
}

TEST(Routes, VpnGatewayAndApplianceTargetsAreDistinct) {
  NetworkConfig c;
  c.route_tables = {
      {"rt",
       {P("10.0.0.0/24")},
       {route("onprem", "172.16.0.0/12", NextHopType::virtual_network_gateway, "10.0.0.6"),
        route("fw", "0.0.0.0/0", NextHopType::virtual_appliance, "10.0.0.5"),
        route("fw-too", "192.0.2.0/24", NextHopType::virtual_appliance, "10.0.0.5")}}};
  const auto n = build(c);
  const Decision vpn = n->decide(tcp("10.0.0.4", "172.16.1.1:443"));
  EXPECT_EQ(vpn.method, Method::virtual_network_gateway);
  const Decision fw = n->decide(tcp("10.0.0.4", "198.51.100.1:443"));
  const Decision fw2 = n->decide(tcp("10.0.0.4", "192.0.2.1:443"));
  EXPECT_NE(vpn.tag, fw.tag);
  EXPECT_EQ(fw.tag, fw2.tag) << "one target per appliance address";
  EXPECT_EQ(n->targets()[vpn.tag].type, NextHopType::virtual_network_gateway);
  EXPECT_EQ(n->targets()[vpn.tag].address, A("10.0.0.6"));
}

// --- Security rules --------------------------------------------------------------------------

TEST(SecurityRules, LowerPriorityNumberWins) {
  NetworkConfig c;
  c.security_groups = {
      {"nsg",
       {P("10.0.0.0/24")},
       {rule("allow-https", 200, Access::allow, Protocol::tcp, {any()}, {port(443)}),
        rule("deny-tcp", 100, Access::deny, Protocol::tcp)}}};
  const auto n = build(c);
  Decision d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  ASSERT_NE(d.outbound_rule, nullptr);
  EXPECT_EQ(d.outbound_rule->name, "deny-tcp");
  EXPECT_EQ(d.fate, Fate::drop);
  EXPECT_EQ(d.reason, DropReason::security_rule_denied);
  EXPECT_EQ(d.route, nullptr) << "denied before routing";

  c.security_groups[0].rules[0].priority = 90;
  const auto n2 = build(c);
  d = n2->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  EXPECT_EQ(d.outbound_rule->name, "allow-https");
  EXPECT_EQ(d.fate, Fate::translate);
  // Other TCP still meets the deny.
  EXPECT_EQ(n2->decide(tcp("10.0.0.4", "203.0.113.80:80")).outbound_rule->name, "deny-tcp");
}

TEST(SecurityRules, PlatformDefaultsApplyAfterTheGroupsRules) {
  NetworkConfig c;
  c.address_space = {P("10.0.0.0/16")};
  c.security_groups = {{"nsg", {P("10.0.0.0/24")}, {}}};
  const auto n = build(c);
  Decision d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  EXPECT_EQ(d.outbound_rule->name, "AllowInternetOutBound");
  EXPECT_EQ(d.outbound_rule->priority, 65001);
  EXPECT_TRUE(d.outbound_rule->platform_default);
  EXPECT_EQ(d.fate, Fate::translate);

  d = n->decide(tcp("10.0.0.4", "10.0.5.5:22"));
  EXPECT_EQ(d.outbound_rule->name, "AllowVnetOutBound");
  EXPECT_EQ(d.outbound_rule->priority, 65000);

  d = n->decide(tcp("10.0.0.4", "192.168.1.1:22"));
  EXPECT_EQ(d.outbound_rule->name, "DenyAllOutBound") << "private, outside the virtual network";
  EXPECT_EQ(d.outbound_rule->priority, 65500);
  EXPECT_EQ(d.reason, DropReason::security_rule_denied);

  // The defaults, as the platform has them.
  std::vector<std::string> names;
  for (const auto& r : Network::default_rules())
    names.push_back(r.name + " " + std::to_string(r.priority));
  EXPECT_EQ(names, (std::vector<std::string>{
                       "AllowVnetOutBound 65000", "AllowInternetOutBound 65001",
                       "DenyAllOutBound 65500", "AllowVnetInBound 65000",
                       "AllowAzureLoadBalancerInBound 65001", "DenyAllInBound 65500"}));
}

TEST(SecurityRules, ASubnetWithoutAGroupAllowsEverything) {
  NetworkConfig c;
  c.security_groups = {{"nsg", {P("10.0.1.0/24")}, {rule("deny-all", 100, Access::deny)}}};
  const auto n = build(c, {P("10.0.0.0/24"), P("10.0.1.0/24")});
  const Decision d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  EXPECT_EQ(d.outbound_rule, nullptr);
  EXPECT_EQ(d.fate, Fate::translate);
  EXPECT_EQ(n->decide(tcp("10.0.1.4", "203.0.113.80:443")).reason,
            DropReason::security_rule_denied);
}

TEST(SecurityRules, MatchProtocolPortsAndAddresses) {
  NetworkConfig c;
  auto r = rule("deny-dns-to-partner", 100, Access::deny, Protocol::udp,
                {prefix("198.51.100.0/24"), prefix("192.0.2.53/32")}, {port(53), {5300, 5399}});
  r.sources = {prefix("10.0.0.0/25")};
  r.source_ports = {{1024, 65535}};
  c.security_groups = {{"nsg", {P("10.0.0.0/24")}, {r}}};
  const auto n = build(c);
  const auto denied = [&](const net::FiveTuple& t) { return n->decide(t).fate == Fate::drop; };
  EXPECT_TRUE(denied(udp("10.0.0.4:40000", "198.51.100.9:53")));
  EXPECT_TRUE(denied(udp("10.0.0.4:40000", "192.0.2.53:5350")));
  EXPECT_FALSE(denied(tcp("10.0.0.4:40000", "198.51.100.9:53"))) << "protocol";
  EXPECT_FALSE(denied(udp("10.0.0.4:40000", "198.51.100.9:54"))) << "destination port";
  EXPECT_FALSE(denied(udp("10.0.0.4:40000", "192.0.2.54:53"))) << "destination address";
  EXPECT_FALSE(denied(udp("10.0.0.200:40000", "198.51.100.9:53"))) << "source address";
  EXPECT_FALSE(denied(udp("10.0.0.4:53", "198.51.100.9:53"))) << "source port";
}

TEST(SecurityRules, ServiceTags) {
  NetworkConfig c;
  c.address_space = {P("10.0.0.0/16")};
  c.security_groups = {{"nsg",
                        {P("10.0.0.0/24")},
                        {rule("deny-internet", 100, Access::deny, Protocol::any, {internet()})}}};
  auto n = build(c);
  EXPECT_EQ(n->decide(tcp("10.0.0.4", "203.0.113.80:443")).reason,
            DropReason::security_rule_denied);
  EXPECT_EQ(n->decide(tcp("10.0.0.4", "10.0.9.9:443")).outbound_rule->name, "AllowVnetOutBound");
  // The VirtualNetwork tag holds the prefixes of the subnet's user routes: with 0.0.0.0/0 to an
  // appliance, nothing is "internet" any more.
  c.route_tables = {{"rt",
                     {P("10.0.0.0/24")},
                     {route("fw", "0.0.0.0/0", NextHopType::virtual_appliance, "10.0.0.5")}}};
  n = build(c);
  const Decision d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  EXPECT_EQ(d.outbound_rule->name, "AllowVnetOutBound");
  EXPECT_EQ(d.method, Method::virtual_appliance);
}

TEST(SecurityRules, InboundRulesOfTheDestinationSubnetApplyInsideTheVirtualNetwork) {
  NetworkConfig c;
  c.address_space = {P("10.0.0.0/16")};
  c.security_groups = {{"nsg-db",
                        {P("10.0.2.0/24")},
                        {rule("deny-ssh-in", 100, Access::deny, Protocol::tcp, {any()}, {port(22)},
                              RuleDirection::inbound)}}};
  const auto n = build(c);
  Decision d = n->decide(tcp("10.0.0.4", "10.0.2.7:22"));
  EXPECT_EQ(d.outbound_rule, nullptr);
  ASSERT_NE(d.inbound_rule, nullptr);
  EXPECT_EQ(d.inbound_rule->name, "deny-ssh-in");
  EXPECT_EQ(d.reason, DropReason::security_rule_denied);
  d = n->decide(tcp("10.0.0.4", "10.0.2.7:5432"));
  EXPECT_EQ(d.inbound_rule->name, "AllowVnetInBound");
  EXPECT_EQ(d.fate, Fate::forward);
  EXPECT_EQ(d.destination->prefix, P("10.0.2.0/24"));
  // Inbound rules do not apply to flows that leave the virtual network (return traffic is
  // allowed statefully).
  EXPECT_EQ(n->decide(tcp("10.0.2.7", "203.0.113.80:22")).inbound_rule, nullptr);
}

// --- Outbound methods ------------------------------------------------------------------------

NetworkConfig methods_network() {
  NetworkConfig c;
  c.address_space = {P("10.0.0.0/16")};
  c.instance_public_ips = {{A("10.0.0.4"), A("198.51.100.50")},
                           {A("10.0.1.4"), A("198.51.100.51")}};
  LoadBalancerRuleConfig lb;
  lb.name = "lb-out";
  lb.frontend_ips = {A("198.51.100.60")};
  lb.backends = {P("10.0.0.0/24"), P("10.0.1.0/24")};
  lb.protocol = Protocol::tcp;
  c.load_balancer_outbound_rules = {lb};
  // 10.0.1.0/24 is a subnet of the network, not attached to the NAT gateway.
  c.security_groups = {{"nsg-other", {P("10.0.1.0/24")}, {}}};
  return c;
}

TEST(OutboundMethods, NatGatewayTakesPrecedenceOverInstancePublicIpAndLoadBalancer) {
  const auto n = build(methods_network());
  const Decision d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  EXPECT_EQ(d.method, Method::nat_gateway);
  EXPECT_EQ(d.fate, Fate::translate);
}

TEST(OutboundMethods, FlowsOpenedBeforeTheNatGatewayKeepTheirMethod) {
  const auto n = build(methods_network());
  const DecideOptions before{true};
  Decision d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"), before);
  EXPECT_EQ(d.method, Method::instance_public_ip) << "instance public IP beats the load balancer";
  EXPECT_EQ(d.fate, Fate::elsewhere);
  EXPECT_EQ(d.method_index, 0u);
  d = n->decide(tcp("10.0.0.9", "203.0.113.80:443"), before);
  EXPECT_EQ(d.method, Method::load_balancer);
  // The outbound rule is TCP only; with nothing else, the NAT gateway is all there is.
  d = n->decide(udp("10.0.0.9", "203.0.113.80:443"), before);
  EXPECT_EQ(d.method, Method::nat_gateway);
}

TEST(OutboundMethods, SubnetsNotAttachedUseTheirOwnMethods) {
  auto c = methods_network();
  auto n = build(c);
  Decision d = n->decide(tcp("10.0.1.4", "203.0.113.80:443"));
  EXPECT_EQ(d.method, Method::instance_public_ip);
  EXPECT_EQ(d.fate, Fate::elsewhere);
  d = n->decide(tcp("10.0.1.9", "203.0.113.80:443"));
  EXPECT_EQ(d.method, Method::load_balancer);
  d = n->decide(udp("10.0.1.9", "203.0.113.80:443"));
  EXPECT_EQ(d.method, Method::none) << "no default outbound access";
  EXPECT_EQ(d.fate, Fate::drop);
  EXPECT_EQ(d.reason, DropReason::source_not_in_subnet);
  c.default_outbound_access = true;
  n = build(c);
  EXPECT_EQ(n->decide(udp("10.0.1.9", "203.0.113.80:443")).method, Method::default_outbound);
  // A host in no listed subnet is treated the same way, with system routes only.
  d = n->decide(udp("10.0.9.9", "203.0.113.80:443"));
  EXPECT_FALSE(d.source->listed);
  EXPECT_EQ(d.method, Method::default_outbound);
}

TEST(OutboundMethods, ApplianceRoutesTakePrecedenceOverTheNatGateway) {
  auto c = methods_network();
  c.route_tables = {{"rt",
                     {P("10.0.0.0/24")},
                     {route("fw", "0.0.0.0/0", NextHopType::virtual_appliance, "10.0.0.5")}}};
  const auto n = build(c);
  const Decision d = n->decide(tcp("10.0.0.4", "203.0.113.80:443"));
  EXPECT_EQ(d.method, Method::virtual_appliance);
  EXPECT_EQ(d.fate, Fate::forward);
}

// --- Endpoints -------------------------------------------------------------------------------

TEST(Endpoints, PrivateEndpointIsReachedInsideTheVirtualNetwork) {
  NetworkConfig c;
  c.address_space = {P("10.0.0.0/16")};
  c.private_endpoints = {{"pe-sql", A("10.0.2.5")}};
  c.route_tables = {{"rt",
                     {P("10.0.0.0/24")},
                     {route("fw", "10.0.2.0/24", NextHopType::virtual_appliance, "10.0.0.5")}}};
  const auto n = build(c);
  Decision d = n->decide(tcp("10.0.0.4", "10.0.2.5:1433"));
  EXPECT_EQ(d.method, Method::private_endpoint) << "its /32 beats the user route's /24";
  EXPECT_EQ(route_of(d), "system/private endpoint pe-sql");
  EXPECT_EQ(d.fate, Fate::forward);
  EXPECT_EQ(n->targets()[d.tag].via, ForwardTarget::Via::inside_destination);
  EXPECT_EQ(n->decide(tcp("10.0.0.4", "10.0.2.6:1433")).method, Method::virtual_appliance);
}

TEST(Endpoints, ServiceEndpointRoutesAreNotOverriddenAndApplyToTheirSubnets) {
  NetworkConfig c;
  c.service_endpoints = {{"storage", {P("10.0.0.0/24")}, {P("192.0.2.0/24")}}};
  c.route_tables = {{"rt",
                     {P("10.0.0.0/24")},
                     {route("fw", "0.0.0.0/0", NextHopType::virtual_appliance, "10.0.0.5"),
                      route("narrow", "192.0.2.128/25", NextHopType::none)}}};
  const auto n = build(c, {P("10.0.0.0/24"), P("10.0.1.0/24")});
  Decision d = n->decide(tcp("10.0.0.4", "192.0.2.200:443"));
  EXPECT_EQ(d.method, Method::service_endpoint);
  EXPECT_EQ(d.route->type, NextHopType::service_endpoint);
  EXPECT_EQ(n->targets()[d.tag].via, ForwardTarget::Via::outside_next_hop);
  // Another subnet did not enable the service: it leaves through the NAT gateway.
  EXPECT_EQ(n->decide(tcp("10.0.1.4", "192.0.2.200:443")).method, Method::nat_gateway);
}

TEST(Build, RefusesWhatItCannotModel) {
  NetworkConfig c;
  c.route_tables = {{"a", {P("10.0.0.0/24")}, {}}, {"b", {P("10.0.0.0/24")}, {}}};
  EXPECT_THROW(build(c), std::invalid_argument);
  c.route_tables = {{"a", {P("10.0.0.0/25")}, {}}};
  EXPECT_THROW(build(c), std::invalid_argument) << "overlaps the attached 10.0.0.0/24";
  c.route_tables = {
      {"a",
       {P("10.0.0.0/24")},
       {RouteConfig{"r", P("0.0.0.0/0"), NextHopType::virtual_appliance, std::nullopt}}}};
  EXPECT_THROW(build(c), std::invalid_argument) << "no appliance address";
}

}  // namespace
}  // namespace natgw::vnet::test
