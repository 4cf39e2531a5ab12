// vnet::explain: the fate of one flow, as a dry run through a fresh engine and against a live
// engine (read-only), for every kind of outcome; its JSON and text.
#include "vnet/explain.hpp"

#include <gtest/gtest.h>

#include "control/config.hpp"
#include "model.hpp"
#include "nat/harness.hpp"
#include "vnet/enforcer.hpp"

namespace natgw::vnet::test {
namespace {

using nat::DropReason;

constexpr const char* kConfig = R"(
gateway:
  name: gw
  public_ips: [203.0.113.10, 203.0.113.11]
  subnets: [10.0.0.0/24, 10.0.1.0/24]
interfaces:
  inside: { name: gw-in }
  outside: { name: gw-out, next_hop: 198.51.100.2 }
network:
  address_space: [10.0.0.0/16]
  route_tables:
    - name: rt-app
      subnets: [10.0.1.0/24]
      routes:
        - { name: to-firewall, address_prefix: 0.0.0.0/0, next_hop_type: virtual_appliance, next_hop_address: 10.0.0.5 }
    - name: rt-web
      subnets: [10.0.0.0/24]
      routes:
        - { name: blackhole, address_prefix: 198.51.100.128/25, next_hop_type: none }
  security_groups:
    - name: nsg-web
      subnets: [10.0.0.0/24]
      rules:
        - { name: deny-http, priority: 100, direction: outbound, access: deny, protocol: tcp, destination: internet, destination_ports: 80 }
  private_endpoints:
    - { name: pe-sql, address: 10.0.2.5 }
  service_endpoints:
    - { service: storage, subnets: [10.0.0.0/24], prefixes: [192.0.2.128/25] }
  instance_public_ips:
    - { host: 10.0.0.4, public_ip: 198.51.100.50 }
    - { host: 10.0.3.4, public_ip: 198.51.100.51 }
)";

class ExplainTest : public ::testing::Test {
 protected:
  ExplainTest() {
    const auto r = control::parse_config(kConfig);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : control::to_string(r.errors().front()));
    config_ = r.config();
    network_ = config_.network_model();
  }
  Explanation dry(std::string_view from, std::string_view to, bool before_nat = false) {
    std::string error;
    auto q = parse_query(from, to, error);
    EXPECT_TRUE(q) << error;
    q->opened_before_nat = before_nat;
    auto ec = config_.engine();
    ec.limits.max_connections = 1000;
    nat::Engine engine(ec);
    return explain_dry_run(network_, engine, *q, std::chrono::hours(1));
  }

  control::Config config_;
  std::shared_ptr<const Network> network_;
};

TEST_F(ExplainTest, TranslatedByTheNatGateway) {
  const auto e = dry("10.0.0.9", "203.0.113.80:443/tcp");
  EXPECT_EQ(e.fate, Fate::translate);
  EXPECT_EQ(e.method, Method::nat_gateway);
  ASSERT_TRUE(e.outbound_rule);
  EXPECT_EQ(e.outbound_rule->rule, "AllowInternetOutBound");
  EXPECT_TRUE(e.outbound_rule->platform_default);
  ASSERT_TRUE(e.route);
  EXPECT_TRUE(e.route->table.empty());
  EXPECT_EQ(e.route->next_hop, NextHopType::internet);
  ASSERT_TRUE(e.public_endpoint);
  EXPECT_TRUE(e.public_endpoint->addr == A("203.0.113.10") ||
              e.public_endpoint->addr == A("203.0.113.11"));
  EXPECT_GE(e.public_endpoint->port, 1024);
  EXPECT_EQ(e.engine_verdict, "translated");
  EXPECT_EQ(e.summary.rfind("translated by the NAT gateway: leaves as 203.0.113.1", 0), 0u)
      << e.summary;
}

TEST_F(ExplainTest, DeniedBySecurityRule) {
  const auto e = dry("10.0.0.9", "203.0.113.80:80/tcp");
  EXPECT_EQ(e.fate, Fate::drop);
  EXPECT_EQ(e.drop_reason, DropReason::security_rule_denied);
  EXPECT_EQ(e.outbound_rule->security_group, "nsg-web");
  EXPECT_EQ(e.outbound_rule->rule, "deny-http");
  EXPECT_EQ(e.outbound_rule->priority, 100);
  EXPECT_FALSE(e.route);
  EXPECT_EQ(e.engine_verdict, "dropped: security_rule_denied");
  EXPECT_EQ(e.summary, "dropped: security_rule_denied by nsg-web/deny-http (priority 100)");
}

TEST_F(ExplainTest, RouteNone) {
  const auto e = dry("10.0.0.9", "198.51.100.200:53/udp");
  EXPECT_EQ(e.drop_reason, DropReason::route_none);
  EXPECT_EQ(e.route->table, "rt-web");
  EXPECT_EQ(e.route->name, "blackhole");
  EXPECT_EQ(e.summary, "dropped: route_none by rt-web/blackhole 198.51.100.128/25 -> none");
}

TEST_F(ExplainTest, ForwardedToTheAppliance) {
  const auto e = dry("10.0.1.4", "203.0.113.80:443/tcp");
  EXPECT_EQ(e.fate, Fate::forward);
  EXPECT_EQ(e.method, Method::virtual_appliance);
  EXPECT_EQ(e.forward_to, A("10.0.0.5"));
  EXPECT_EQ(e.forward_via, "inside");
  EXPECT_EQ(e.route->name, "to-firewall");
  EXPECT_EQ(e.engine_verdict, "passed untranslated (routed past the NAT)");
  EXPECT_FALSE(e.public_endpoint);
  ASSERT_FALSE(e.notes.empty());
  EXPECT_NE(e.notes.front().find("takes the subnet's internet traffic away from the NAT gateway"),
            std::string::npos);
}

TEST_F(ExplainTest, PrivateAndServiceEndpoints) {
  auto e = dry("10.0.0.9", "10.0.2.5:1433/tcp");
  EXPECT_EQ(e.method, Method::private_endpoint);
  EXPECT_EQ(e.method_detail, "private endpoint pe-sql");
  EXPECT_EQ(e.forward_to, A("10.0.2.5"));
  e = dry("10.0.0.9", "192.0.2.200:443/tcp");
  EXPECT_EQ(e.method, Method::service_endpoint);
  EXPECT_EQ(e.forward_via, "outside");
  EXPECT_EQ(e.summary,
            "sent untranslated over the service endpoint storage: the service sees 10.0.0.9");
}

TEST_F(ExplainTest, OtherOutboundMethods) {
  // An instance public IP in an attached subnet: the NAT gateway wins for new connections...
  auto e = dry("10.0.0.4", "203.0.113.80:443/tcp");
  EXPECT_EQ(e.method, Method::nat_gateway);
  // ... while a flow opened before the NAT gateway was attached keeps the instance's IP.
  e = dry("10.0.0.4", "203.0.113.80:443/tcp", true);
  EXPECT_EQ(e.method, Method::instance_public_ip);
  EXPECT_EQ(e.fate, Fate::elsewhere);
  EXPECT_EQ(e.public_ips, std::vector<net::Ipv4>{A("198.51.100.50")});
  EXPECT_EQ(e.engine_verdict, "not run: the flow does not go through the NAT gateway");
  // A host outside the attached subnets.
  e = dry("10.0.3.4", "203.0.113.80:443/tcp");
  EXPECT_EQ(e.method, Method::instance_public_ip);
  EXPECT_EQ(e.fate, Fate::elsewhere);
  EXPECT_FALSE(e.source_subnet);
  EXPECT_EQ(e.summary,
            "not through this gateway: instance_public_ip 198.51.100.51 (instance public IP of "
            "10.0.3.4)");
}

TEST_F(ExplainTest, TheEnginesOwnChecksComeFirst) {
  const auto e = dry("10.0.1.4", "203.0.113.80:25/tcp");
  EXPECT_EQ(e.drop_reason, DropReason::smtp_blocked) << "before the appliance route";
  const auto icmp = dry("10.0.0.9", "203.0.113.80/icmp");
  EXPECT_EQ(icmp.drop_reason, DropReason::unsupported_protocol);
}

TEST_F(ExplainTest, WithoutANetworkSection) {
  config_.network.reset();
  network_ = config_.network_model();
  ASSERT_EQ(network_, nullptr);
  const auto e = dry("10.0.1.4", "203.0.113.80:443/tcp");
  EXPECT_FALSE(e.modelled);
  EXPECT_EQ(e.fate, Fate::translate) << "no route table: the NAT gateway";
  EXPECT_FALSE(e.route);
  EXPECT_EQ(dry("10.0.9.4", "203.0.113.80:443/tcp").drop_reason, DropReason::source_not_in_subnet);
}

TEST_F(ExplainTest, LiveNeverCreatesAFlowAndReportsExistingOnes) {
  natgw::test::Harness h([&] {
    auto ec = config_.engine();
    ec.limits.max_connections = 1000;
    return ec;
  }());
  Enforcer enforcer(network_);
  h.engine.set_admission(&enforcer);
  std::string error;
  const auto q = parse_query("10.0.0.9:40000", "203.0.113.80:443/tcp", error);
  ASSERT_TRUE(q) << error;

  auto e = explain_live(network_.get(), h.engine, *q);
  EXPECT_EQ(e.fate, Fate::translate);
  EXPECT_FALSE(e.existing_flow);
  ASSERT_EQ(e.room.size(), 2u) << "both public IPs have room";
  EXPECT_EQ(h.engine.slots_in_use(), 0u) << "explaining created nothing";
  EXPECT_EQ(h.engine.counters().conn(nat::L4::tcp, nat::ConnState::attempted), 0u);

  const net::Endpoint pub = h.establish(E("10.0.0.9:40000"), E("203.0.113.80:443"));
  e = explain_live(network_.get(), h.engine, *q);
  ASSERT_TRUE(e.existing_flow);
  EXPECT_EQ(e.existing_flow->public_endpoint, pub);
  EXPECT_EQ(e.existing_flow->state, nat::FlowState::tcp_established);
  EXPECT_EQ(e.public_endpoint, pub);
  EXPECT_EQ(h.engine.slots_in_use(), 1u);

  // Denials and routes are explained live as well.
  e = explain_live(network_.get(), h.engine,
                   *parse_query("10.0.0.9", "203.0.113.80:80/tcp", error));
  EXPECT_EQ(e.drop_reason, DropReason::security_rule_denied);
  e = explain_live(network_.get(), h.engine,
                   *parse_query("10.0.1.9", "203.0.113.80:443/tcp", error));
  EXPECT_EQ(e.method, Method::virtual_appliance);
  EXPECT_EQ(e.engine_mode, "live");
  EXPECT_EQ(h.engine.slots_in_use(), 1u);
}

TEST_F(ExplainTest, JsonAndText) {
  const auto e = dry("10.0.0.9", "203.0.113.80:80/tcp");
  const auto j = to_json(e);
  EXPECT_EQ(j["flow"]["source"], "10.0.0.9:50000");
  EXPECT_EQ(j["flow"]["destination"], "203.0.113.80:80");
  EXPECT_EQ(j["verdict"]["fate"], "drop");
  EXPECT_EQ(j["verdict"]["drop_reason"], "security_rule_denied");
  EXPECT_EQ(j["security"]["outbound"]["rule"], "deny-http");
  EXPECT_EQ(j["route"], nullptr);
  const std::string text = to_text(j);
  EXPECT_NE(text.find("flow      tcp 10.0.0.9:50000 -> 203.0.113.80:80\n"), std::string::npos)
      << text;
  EXPECT_NE(
      text.find("fate      dropped: security_rule_denied by nsg-web/deny-http (priority 100)\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("security  outbound nsg-web/deny-http (priority 100): deny\n"),
            std::string::npos)
      << text;

  const std::string fw = to_text(to_json(dry("10.0.1.4", "203.0.113.80:443/tcp")));
  EXPECT_NE(fw.find("route     rt-app/to-firewall 0.0.0.0/0 -> virtual_appliance 10.0.0.5\n"),
            std::string::npos)
      << fw;
  EXPECT_NE(fw.find("datapath  forward out of the inside interface to 10.0.0.5, untranslated\n"),
            std::string::npos)
      << fw;
}

TEST(ParseQuery, AcceptsAndRefuses) {
  std::string error;
  auto q = parse_query("10.0.0.4", "203.0.113.80:443/tcp", error);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->flow,
            (net::FiveTuple{
                net::Proto::tcp, {A("10.0.0.4"), kDefaultSourcePort}, {A("203.0.113.80"), 443}}));
  q = parse_query("10.0.0.4:1234", "203.0.113.80:53/udp", error);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->flow.proto, net::Proto::udp);
  EXPECT_EQ(q->flow.src.port, 1234);
  q = parse_query("10.0.0.4", "203.0.113.80:443", error);
  ASSERT_TRUE(q) << "tcp when no protocol is given";
  EXPECT_EQ(q->flow.proto, net::Proto::tcp);
  EXPECT_TRUE(parse_query("10.0.0.4", "203.0.113.80/icmp", error));

  EXPECT_FALSE(parse_query("10.0.0", "203.0.113.80:443/tcp", error));
  EXPECT_EQ(error,
            "--from: expected ADDR or ADDR:PORT, such as 10.0.0.4 or 10.0.0.4:50000, got '10.0.0'");
  EXPECT_FALSE(parse_query("10.0.0.4:0", "203.0.113.80:443/tcp", error));
  EXPECT_EQ(error, "--from: the port must be 1..65535, got '0'");
  EXPECT_FALSE(parse_query("10.0.0.4", "203.0.113.80:443/sctp", error));
  EXPECT_EQ(error, "--to: the protocol must be tcp, udp or icmp, got 'sctp'");
  EXPECT_FALSE(parse_query("10.0.0.4", "203.0.113.80/tcp", error));
  EXPECT_EQ(error,
            "--to: expected ADDR:PORT/PROTO, such as 203.0.113.80:443/tcp (ADDR/icmp for ICMP), "
            "got '203.0.113.80/tcp'");
  EXPECT_FALSE(parse_query("10.0.0.4", "203.0.113.80:70000/udp", error));
  EXPECT_FALSE(parse_query("10.0.0.4", "203.0.113.80:7/icmp", error));
}

}  // namespace
}  // namespace natgw::vnet::test
