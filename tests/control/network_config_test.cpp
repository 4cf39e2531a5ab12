// The config's `network:` section (docs/network.md): reading into vnet::NetworkConfig, defaults,
// and one test per kind of error, each checking the key, the value and the whole message.
#include <gtest/gtest.h>

#include "config_doc.hpp"
#include "control/config.hpp"
#include "vnet/network.hpp"

namespace natgw::control::test {
namespace {

using net::Ipv4;
using net::Prefix;

// A valid config with `body` as its network section (indented by two spaces by the caller).
std::string with_network(const std::string& body, Doc doc = Doc{}) {
  return doc.text() + "network:\n" + body;
}

Prefix P(const char* s) {
  return *Prefix::parse(s);
}
Ipv4 A(const char* s) {
  return *Ipv4::parse(s);
}

constexpr const char* kFull = R"(  address_space: [10.0.0.0/16]
  default_outbound_access: true
  route_tables:
    - name: rt-app
      subnets: [10.0.0.0/24]
      routes:
        - { name: fw, address_prefix: 0.0.0.0/0, next_hop_type: virtual_appliance, next_hop_address: 10.0.0.5 }
        - { name: drop, address_prefix: 198.51.100.0/24, next_hop_type: none }
  security_groups:
    - name: nsg
      subnets: [10.0.0.0/24]
      rules:
        - name: deny-http
          priority: 100
          direction: outbound
          access: deny
          protocol: tcp
          source: [10.0.0.0/25, 10.0.0.200]
          destination: internet
          destination_ports: [80, 8000-8999]
        - { name: allow-all, priority: 4096, direction: inbound, access: allow }
  private_endpoints:
    - { name: pe, address: 10.0.2.5 }
  service_endpoints:
    - { service: storage, subnets: [10.0.0.0/24], prefixes: [192.0.2.0/24] }
  instance_public_ips:
    - { host: 10.0.1.4, public_ip: 198.51.100.50 }
  load_balancer_outbound_rules:
    - { name: lb, frontend_ips: [198.51.100.60], backends: [10.0.1.0/24, 10.0.3.3], protocol: udp }
)";

vnet::NetworkConfig full_network() {
  using vnet::NextHopType;
  vnet::NetworkConfig n;
  n.address_space = {P("10.0.0.0/16")};
  n.default_outbound_access = true;
  n.route_tables = {{"rt-app",
                     {P("10.0.0.0/24")},
                     {{"fw", P("0.0.0.0/0"), NextHopType::virtual_appliance, A("10.0.0.5")},
                      {"drop", P("198.51.100.0/24"), NextHopType::none, std::nullopt}}}};
  vnet::SecurityRuleConfig deny;
  deny.name = "deny-http";
  deny.priority = 100;
  deny.direction = vnet::RuleDirection::outbound;
  deny.access = vnet::Access::deny;
  deny.protocol = vnet::Protocol::tcp;
  deny.sources = {{vnet::AddressMatch::Kind::prefix, P("10.0.0.0/25")},
                  {vnet::AddressMatch::Kind::prefix, P("10.0.0.200/32")}};
  deny.destinations = {{vnet::AddressMatch::Kind::internet, {}}};
  deny.destination_ports = {{80, 80}, {8000, 8999}};
  vnet::SecurityRuleConfig allow;
  allow.name = "allow-all";
  allow.priority = 4096;
  allow.direction = vnet::RuleDirection::inbound;
  allow.access = vnet::Access::allow;
  n.security_groups = {{"nsg", {P("10.0.0.0/24")}, {deny, allow}}};
  n.private_endpoints = {{"pe", A("10.0.2.5")}};
  n.service_endpoints = {{"storage", {P("10.0.0.0/24")}, {P("192.0.2.0/24")}}};
  n.instance_public_ips = {{A("10.0.1.4"), A("198.51.100.50")}};
  n.load_balancer_outbound_rules = {
      {"lb", {A("198.51.100.60")}, {P("10.0.1.0/24"), P("10.0.3.3/32")}, vnet::Protocol::udp}};
  return n;
}

TEST(NetworkConfig, FullSectionReadsIntoConfig) {
  const auto r = parse_config(with_network(kFull));
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  ASSERT_TRUE(r.config().network.has_value());
  EXPECT_EQ(*r.config().network, full_network());
  EXPECT_NE(r.config().network_model(), nullptr);
  EXPECT_EQ(summary(r.config()),
            "gateway natgw-demo, 1 public IP, 1 subnet, network: 1 route table, 1 security group");
}

TEST(NetworkConfig, AbsentOrEmpty) {
  const auto none = parse_config(Doc{}.text());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.config().network.has_value());
  EXPECT_EQ(none.config().network_model(), nullptr);
  for (const char* text : {"network: {}\n", "network:\n"}) {
    const auto r = parse_config(Doc{}.text() + text);
    ASSERT_TRUE(r.ok()) << dump(r.errors());
    ASSERT_TRUE(r.config().network.has_value()) << text;
    EXPECT_EQ(*r.config().network, vnet::NetworkConfig{});
  }
}

TEST(NetworkConfig, RuleFieldsDefaultToAny) {
  const auto r =
      parse_config(with_network("  security_groups:\n    - name: g\n      rules:\n        - { "
                                "name: r, priority: 100, direction: outbound, access: deny }\n"));
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  const auto& rule = r.config().network->security_groups[0].rules[0];
  EXPECT_EQ(rule.protocol, vnet::Protocol::any);
  EXPECT_EQ(rule.sources, std::vector<vnet::AddressMatch>{vnet::AddressMatch{}});
  EXPECT_EQ(rule.destination_ports, std::vector<vnet::PortRange>{vnet::PortRange{}});
}

TEST(NetworkConfig, ValidateABuiltConfigRunsTheSameRules) {
  auto r = parse_config(with_network(kFull));
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  Config c = r.config();
  EXPECT_TRUE(validate(c).empty()) << dump(validate(c));
  c.network->route_tables[0].routes[1].next_hop_address = A("10.0.0.6");
  c.network->security_groups[0].rules[1].priority = 50;
  const auto errors = validate(c);
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_EQ(errors[0].key, "network.route_tables[0].routes[1].next_hop_address");
  EXPECT_EQ(errors[1].key, "network.security_groups[0].rules[1].priority");
  EXPECT_EQ(to_string(errors[1]),
            "network.security_groups[0].rules[1].priority: 50 is out of range; allowed: 100..4096, "
            "each priority once per direction in a security group");
}

// --- Reading errors --------------------------------------------------------------------------

constexpr const char* kNetworkAllowed =
    "allowed: address_space, default_outbound_access, route_tables, security_groups, "
    "private_endpoints, service_endpoints, instance_public_ips, load_balancer_outbound_rules";

TEST(NetworkConfig, UnknownKeys) {
  EXPECT_CONFIG_ERROR(only_error(with_network("  route_table: []\n")), "network.route_table",
                      "route_table",
                      std::string("network.route_table: route_table is not a key of network; ") +
                          kNetworkAllowed + " (did you mean route_tables?)");
  EXPECT_CONFIG_ERROR(
      only_error(with_network("  route_tables:\n    - name: rt\n      routes:\n        - { name: "
                              "r, address_prefix: 0.0.0.0/0, "
                              "next_hop_type: internet, nexthop: 10.0.0.5 }\n")),
      "network.route_tables[0].routes[0].nexthop", "nexthop",
      "network.route_tables[0].routes[0].nexthop: nexthop is not a key of "
      "network.route_tables[0].routes[0]; allowed: name, address_prefix, next_hop_type, "
      "next_hop_address");
}

TEST(NetworkConfig, NetworkMustBeAMap) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.text() + "network: [10.0.0.0/16]\n"), "network", "[10.0.0.0/16]",
      std::string("network: [10.0.0.0/16] is a list, not a map; allowed: a map with keys ") +
          std::string(kNetworkAllowed).substr(9));
}

TEST(NetworkConfig, MissingRequiredKeys) {
  const auto errors =
      errors_of(with_network("  security_groups:\n    - name: g\n      rules:\n        - { name: "
                             "r, priority: 100, direction: outbound }\n"));
  ASSERT_EQ(errors.size(), 1u) << dump(errors);
  EXPECT_CONFIG_ERROR(
      errors[0], "network.security_groups[0].rules[0].access", "",
      "network.security_groups[0].rules[0].access: missing (required); allowed: allow, deny");
}

TEST(NetworkConfig, BadEnumerations) {
  EXPECT_CONFIG_ERROR(
      only_error(with_network("  route_tables:\n    - name: rt\n      routes:\n        - { name: "
                              "r, address_prefix: 0.0.0.0/0, "
                              "next_hop_type: VirtualAppliance, next_hop_address: 10.0.0.5 }\n")),
      "network.route_tables[0].routes[0].next_hop_type", "VirtualAppliance",
      "network.route_tables[0].routes[0].next_hop_type: VirtualAppliance is not a next hop type; "
      "allowed: internet, virtual_appliance, virtual_network, virtual_network_gateway, none");
  EXPECT_CONFIG_ERROR(
      only_error(with_network("  security_groups:\n    - name: g\n      rules:\n        - { name: "
                              "r, priority: 100, direction: out, access: deny }\n")),
      "network.security_groups[0].rules[0].direction", "out",
      "network.security_groups[0].rules[0].direction: out is not a direction; allowed: inbound, "
      "outbound");
  EXPECT_CONFIG_ERROR(
      only_error(with_network("  default_outbound_access: yes\n")),
      "network.default_outbound_access", "yes",
      "network.default_outbound_access: yes is not true or false; allowed: true, false");
}

TEST(NetworkConfig, BadAddressMatchesAndPorts) {
  const std::string head =
      "  security_groups:\n    - name: g\n      rules:\n        - { name: r, priority: 100, "
      "direction: outbound, access: deny, ";
  EXPECT_CONFIG_ERROR(only_error(with_network(head + "destination: anywhere }\n")),
                      "network.security_groups[0].rules[0].destination", "anywhere",
                      "network.security_groups[0].rules[0].destination: anywhere is not an "
                      "address, a prefix or a service tag; "
                      "allowed: any, virtual_network, internet, azure_load_balancer, an address "
                      "such as 203.0.113.80 or a "
                      "prefix such as 203.0.113.0/24; one or a list");
  EXPECT_CONFIG_ERROR(only_error(with_network(head + "destination_ports: [443, 90-80] }\n")),
                      "network.security_groups[0].rules[0].destination_ports[1]", "90-80",
                      "network.security_groups[0].rules[0].destination_ports[1]: 90-80 is a range "
                      "that ends before it "
                      "starts; allowed: any, a port such as 443 or a range such as 8000-8999 "
                      "(0..65535); one or a list");
  EXPECT_CONFIG_ERROR(
      only_error(with_network(head + "source_ports: http }\n")),
      "network.security_groups[0].rules[0].source_ports", "http",
      "network.security_groups[0].rules[0].source_ports: http is not a port or a port "
      "range; allowed: any, a port such as 443 or a range such as 8000-8999 (0..65535); "
      "one or a list");
  EXPECT_CONFIG_ERROR(
      only_error(with_network(head + "source: [] }\n")),
      "network.security_groups[0].rules[0].source", "[]",
      "network.security_groups[0].rules[0].source: [] has no entry; allowed: any, "
      "virtual_network, internet, azure_load_balancer, an address such as 203.0.113.80 or "
      "a prefix such as 203.0.113.0/24; one or a list");
  EXPECT_CONFIG_ERROR(
      only_error(with_network(head + "protocol: icmp, destination_ports: 7 }\n")),
      "network.security_groups[0].rules[0].destination_ports", "7",
      "network.security_groups[0].rules[0].destination_ports: 7 is a port condition on "
      "protocol icmp, which has no ports; allowed: any");
}

// --- Value rules -----------------------------------------------------------------------------

TEST(NetworkConfig, NextHopAddressWithTheRightTypesOnly) {
  const std::string head =
      "  route_tables:\n    - name: rt\n      routes:\n        - { name: r, address_prefix: "
      "0.0.0.0/0, ";
  EXPECT_CONFIG_ERROR(
      only_error(with_network(head + "next_hop_type: virtual_appliance }\n")),
      "network.route_tables[0].routes[0].next_hop_address", "",
      "network.route_tables[0].routes[0].next_hop_address: missing (required with "
      "next_hop_type virtual_appliance); allowed: an IPv4 address inside the virtual "
      "network's address space, such as 10.0.0.4, with next_hop_type virtual_appliance "
      "or virtual_network_gateway only");
  EXPECT_CONFIG_ERROR(
      only_error(with_network(head + "next_hop_type: none, next_hop_address: 10.0.0.5 }\n")),
      "network.route_tables[0].routes[0].next_hop_address", "10.0.0.5",
      "network.route_tables[0].routes[0].next_hop_address: 10.0.0.5 is a next hop "
      "address for next_hop_type none, which takes none; allowed: an IPv4 address inside "
      "the virtual network's address space, such as 10.0.0.4, with next_hop_type "
      "virtual_appliance or virtual_network_gateway only");
  EXPECT_CONFIG_ERROR(
      only_error(
          with_network(head + "next_hop_type: virtual_appliance, next_hop_address: 10.9.0.5 }\n")),
      "network.route_tables[0].routes[0].next_hop_address", "10.9.0.5",
      "network.route_tables[0].routes[0].next_hop_address: 10.9.0.5 is outside the attached "
      "subnets "
      "(10.0.0.0/24); allowed: an IPv4 address inside the virtual network's address space, such as "
      "10.0.0.4, with next_hop_type virtual_appliance or virtual_network_gateway only");
}

TEST(NetworkConfig, RoutesAndNamesAreUnique) {
  const auto errors = errors_of(with_network(
      "  route_tables:\n"
      "    - name: rt\n      routes:\n"
      "        - { name: a, address_prefix: 198.51.100.0/24, next_hop_type: none }\n"
      "        - { name: a, address_prefix: 198.51.100.0/24, next_hop_type: internet }\n"
      "    - name: rt\n"));
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_CONFIG_ERROR(errors[0], "network.route_tables[0].routes[1].name", "a",
                      "network.route_tables[0].routes[1].name: a is also the name of "
                      "network.route_tables[0].routes[0].name; allowed: each route name once");
  EXPECT_CONFIG_ERROR(
      errors[1], "network.route_tables[0].routes[1].address_prefix", "198.51.100.0/24",
      "network.route_tables[0].routes[1].address_prefix: 198.51.100.0/24 is also the "
      "prefix of network.route_tables[0].routes[0].address_prefix; allowed: each address "
      "prefix once in a route table");
  EXPECT_CONFIG_ERROR(
      errors[2], "network.route_tables[1].name", "rt",
      "network.route_tables[1].name: rt is also the name of network.route_tables[0].name; "
      "allowed: each route table name once");
}

TEST(NetworkConfig, RulePrioritiesAndNames) {
  const auto errors = errors_of(with_network(
      "  security_groups:\n    - name: g\n      rules:\n"
      "        - { name: a, priority: 100, direction: outbound, access: deny }\n"
      "        - { name: b, priority: 100, direction: inbound, access: deny }\n"
      "        - { name: c, priority: 100, direction: outbound, access: allow }\n"
      "        - { name: DenyAllOutBound, priority: 5000, direction: outbound, access: deny }\n"));
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_CONFIG_ERROR(
      errors[0], "network.security_groups[0].rules[2].priority", "100",
      "network.security_groups[0].rules[2].priority: 100 is also the priority of "
      "network.security_groups[0].rules[0] (outbound); allowed: 100..4096, each priority "
      "once per direction in a security group");
  EXPECT_EQ(errors[1].key, "network.security_groups[0].rules[3].name");
  EXPECT_EQ(errors[1].message,
            "DenyAllOutBound is the name of a default rule; allowed: a name other than "
            "AllowVnetOutBound, AllowInternetOutBound, DenyAllOutBound, AllowVnetInBound, "
            "AllowAzureLoadBalancerInBound, DenyAllInBound");
  EXPECT_EQ(errors[2].key, "network.security_groups[0].rules[3].priority");
}

TEST(NetworkConfig, SubnetsInsideTheAddressSpaceOneTableAndGroupEach) {
  const auto errors =
      errors_of(with_network("  address_space: [10.0.0.0/16]\n"
                             "  route_tables:\n"
                             "    - { name: a, subnets: [10.0.1.0/24, 10.1.0.0/24] }\n"
                             "    - { name: b, subnets: [10.0.1.0/24, 10.0.0.128/25] }\n"
                             "  security_groups:\n"
                             "    - { name: g, subnets: [10.0.1.0/24] }\n"));
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_CONFIG_ERROR(
      errors[0], "network.route_tables[0].subnets[1]", "10.1.0.0/24",
      "network.route_tables[0].subnets[1]: 10.1.0.0/24 is outside network.address_space "
      "(10.0.0.0/16); allowed: a prefix a.b.c.d/len inside the virtual network's address "
      "space (network.address_space, else the attached subnets)");
  EXPECT_CONFIG_ERROR(
      errors[1], "network.route_tables[1].subnets[0]", "10.0.1.0/24",
      "network.route_tables[1].subnets[0]: 10.0.1.0/24 is also associated with "
      "network.route_tables[0].subnets[0] (10.0.1.0/24); allowed: one route table per subnet");
  EXPECT_CONFIG_ERROR(
      errors[2], "network.route_tables[1].subnets[1]", "10.0.0.128/25",
      "network.route_tables[1].subnets[1]: 10.0.0.128/25 overlaps attached subnet "
      "gateway.subnets[0] (10.0.0.0/24); allowed: a subnet equal to or apart from every "
      "other subnet");
}

TEST(NetworkConfig, AddressSpaceHoldsTheSubnetsNotThePublicIps) {
  const auto errors = errors_of(with_network("  address_space: [10.1.0.0/16, 203.0.113.0/24]\n"));
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_CONFIG_ERROR(
      errors[0], "gateway.public_ips[0]", "203.0.113.10",
      "gateway.public_ips[0]: 203.0.113.10 is inside network.address_space (10.1.0.0/16, "
      "203.0.113.0/24); allowed: public addresses outside the virtual network's address space");
  EXPECT_CONFIG_ERROR(
      errors[1], "gateway.subnets[0]", "10.0.0.0/24",
      "gateway.subnets[0]: 10.0.0.0/24 is outside network.address_space (10.1.0.0/16, "
      "203.0.113.0/24); allowed: attached subnets inside the virtual network's address space");
  EXPECT_CONFIG_ERROR(only_error(with_network("  address_space: [10.0.0.0/16, 10.0.128.0/17]\n")),
                      "network.address_space[1]", "10.0.128.0/17",
                      "network.address_space[1]: 10.0.128.0/17 overlaps network.address_space[0] "
                      "(10.0.0.0/16); allowed: prefixes that do not overlap");
}

TEST(NetworkConfig, OtherOutboundMethodsAndEndpoints) {
  const auto errors = errors_of(
      with_network("  address_space: [10.0.0.0/16]\n"
                   "  private_endpoints:\n    - { name: a, address: 10.0.2.5 }\n    - { name: b, "
                   "address: 10.0.2.5 }\n"
                   "  service_endpoints:\n    - { service: s, subnets: [10.0.0.0/24], prefixes: "
                   "[10.0.9.0/24] }\n"
                   "  instance_public_ips:\n    - { host: 10.5.0.4, public_ip: 10.0.0.50 }\n"
                   "  load_balancer_outbound_rules:\n    - { name: lb, frontend_ips: "
                   "[203.0.113.10], backends: [10.0.1.0/24], protocol: icmp }\n"));
  ASSERT_EQ(errors.size(), 6u) << dump(errors);
  EXPECT_EQ(errors[0].key, "network.private_endpoints[1].address");
  EXPECT_EQ(
      errors[0].message,
      "10.0.2.5 is also the address of network.private_endpoints[0].address; allowed: one private "
      "endpoint per address");
  EXPECT_EQ(errors[1].key, "network.service_endpoints[0].prefixes[0]");
  EXPECT_EQ(errors[2].key, "network.instance_public_ips[0].host");
  EXPECT_EQ(errors[3].key, "network.instance_public_ips[0].public_ip");
  EXPECT_EQ(
      errors[3].message,
      "10.0.0.50 is inside network.address_space (10.0.0.0/16); allowed: a unicast IPv4 address "
      "outside the virtual network's address space and not one of the gateway's public IPs, such "
      "as "
      "198.51.100.50");
  EXPECT_EQ(errors[4].key, "network.load_balancer_outbound_rules[0].frontend_ips[0]");
  EXPECT_EQ(errors[4].message,
            "203.0.113.10 is one of the gateway's public IPs; allowed: a unicast IPv4 address "
            "outside the "
            "virtual network's address space and not one of the gateway's public IPs, such as "
            "198.51.100.50");
  EXPECT_EQ(errors[5].key, "network.load_balancer_outbound_rules[0].protocol");
  EXPECT_EQ(errors[5].message, "icmp is not a protocol of outbound rules; allowed: any, tcp, udp");
}

TEST(NetworkConfig, EmptyListsThatMustHoldSomething) {
  const auto errors = errors_of(with_network(
      "  service_endpoints:\n    - { service: s, subnets: [], prefixes: [192.0.2.0/24] }\n"
      "  load_balancer_outbound_rules:\n    - { name: lb, frontend_ips: [198.51.100.60], backends: "
      "[] }\n"));
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_CONFIG_ERROR(
      errors[0], "network.service_endpoints[0].subnets", "[]",
      "network.service_endpoints[0].subnets: [] enables the service on no subnet; allowed: "
      "1 or more subnets, each a prefix a.b.c.d/len inside the virtual network's address "
      "space (network.address_space, else the attached subnets)");
  EXPECT_CONFIG_ERROR(
      errors[1], "network.load_balancer_outbound_rules[0].backends", "[]",
      "network.load_balancer_outbound_rules[0].backends: [] gives the rule no backend; "
      "allowed: 1 or more entries, each an address or prefix inside the virtual network's "
      "address space, such as 10.0.1.0/24");
}

TEST(NetworkConfig, ResourceNames) {
  EXPECT_CONFIG_ERROR(
      only_error(with_network("  route_tables:\n    - name: my table\n")),
      "network.route_tables[0].name", "\"my table\"",
      "network.route_tables[0].name: \"my table\" has a character that is not allowed (a "
      "space at position 3); allowed: 1..64 characters: letters, digits, '-', '_' or '.', "
      "starting with a letter or digit");
}

TEST(NetworkConfig, ExampleFileIsValid) {
  const auto r = load_config(NATGW_NETWORK_EXAMPLE);
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  ASSERT_TRUE(r.config().network.has_value());
  EXPECT_EQ(r.config().network->route_tables.size(), 2u);
  EXPECT_NE(r.config().network_model(), nullptr);
}

}  // namespace
}  // namespace natgw::control::test
