// Networks for tests, written in code: short helpers so that a test reads as the network it
// describes.
#pragma once

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "vnet/network.hpp"

namespace natgw::vnet::test {

inline net::Prefix P(std::string_view s) {
  const auto p = net::Prefix::parse(s);
  EXPECT_TRUE(p.has_value()) << s;
  return p.value_or(net::Prefix{});
}
inline net::Ipv4 A(std::string_view s) {
  const auto a = net::Ipv4::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(net::Ipv4{});
}
// "10.0.0.4:50000" -> endpoint
inline net::Endpoint E(std::string_view s) {
  const auto colon = s.find(':');
  net::Endpoint e{A(s.substr(0, colon)), 50000};
  if (colon != std::string_view::npos) {
    e.port = static_cast<std::uint16_t>(std::stoi(std::string(s.substr(colon + 1))));
  }
  return e;
}
inline net::FiveTuple tcp(std::string_view from, std::string_view to) {
  return {net::Proto::tcp, E(from), E(to)};
}
inline net::FiveTuple udp(std::string_view from, std::string_view to) {
  return {net::Proto::udp, E(from), E(to)};
}

inline RouteConfig route(std::string name, std::string_view prefix, NextHopType type,
                         std::string_view address = {}) {
  RouteConfig r{std::move(name), P(prefix), type, std::nullopt};
  if (!address.empty()) r.next_hop_address = A(address);
  return r;
}

inline AddressMatch any() {
  return {};
}
inline AddressMatch internet() {
  return {AddressMatch::Kind::internet, {}};
}
inline AddressMatch vnet_tag() {
  return {AddressMatch::Kind::virtual_network, {}};
}
inline AddressMatch prefix(std::string_view p) {
  return {AddressMatch::Kind::prefix, P(p)};
}

inline SecurityRuleConfig rule(std::string name, std::uint16_t priority, Access access,
                               Protocol protocol = Protocol::any,
                               std::vector<AddressMatch> destinations = {AddressMatch{}},
                               std::vector<PortRange> destination_ports = {PortRange{}},
                               RuleDirection direction = RuleDirection::outbound) {
  SecurityRuleConfig r;
  r.name = std::move(name);
  r.priority = priority;
  r.access = access;
  r.protocol = protocol;
  r.destinations = std::move(destinations);
  r.destination_ports = std::move(destination_ports);
  r.direction = direction;
  return r;
}

inline PortRange port(std::uint16_t p) {
  return {p, p};
}

// The gateway's attached subnet in most tests.
inline const std::vector<net::Prefix> kAttached = {P("10.0.0.0/24")};

}  // namespace natgw::vnet::test
