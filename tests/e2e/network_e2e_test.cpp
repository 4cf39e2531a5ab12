// End to end: the network around the gateway (docs/network.md) enforced by the real natgw binary
// in a lab. Each test adds a `network:` section to the lab's config, reloads the gateway
// (SIGHUP), and checks what a real client sees, the metrics, and `natgw explain`. Needs root;
// skipped otherwise. Traffic stays inside the lab's namespaces.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/doctor_json.hpp"
#include "support/lab.hpp"

namespace natgw::test {
namespace {

using namespace std::chrono_literals;

const std::string kBin = NATGW_BIN;

struct NetworkLab : LabUnderTest {
  NetworkLab() : LabUnderTest(kBin, "e2n", 2, 1) {}
  // `natgw explain` against the running gateway.
  Ran explain(const std::string& args) const { return natgw("explain " + args); }
};

bool can_run() {
  return is_root() && have("ip") && have("nginx") && have("curl");
}

double value(const std::map<std::string, double>& m, const std::string& key) {
  const auto it = m.find(key);
  return it == m.end() ? -1 : it->second;
}

const std::string kDeniedHttp =
    "natgw_security_rule_denied_total{security_group=\"nsg-e2e\",rule=\"deny-http\"}";

const std::string kDenyHttp =
    "network:\n"
    "  security_groups:\n"
    "    - name: nsg-e2e\n"
    "      subnets: [10.0.0.0/24]\n"
    "      rules:\n"
    "        - { name: deny-http, priority: 100, direction: outbound, access: deny, protocol: "
    "tcp,\n"
    "            destination: internet, destination_ports: 80 }\n";

class Network : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (can_run()) lab_ = new NetworkLab();
  }
  static void TearDownTestSuite() {
    delete lab_;
    lab_ = nullptr;
  }
  void SetUp() override {
    if (!can_run()) GTEST_SKIP() << "needs root, iproute2, nginx, curl";
    ASSERT_TRUE(lab_->ok()) << lab_->log();
  }
  void TearDown() override {
    if (lab_ != nullptr && lab_->ok()) {
      EXPECT_TRUE(lab_->restore());
    }
  }
  static NetworkLab* lab_;
};
NetworkLab* Network::lab_ = nullptr;

std::string http_code(const NetworkLab& lab, const std::string& vm, const std::string& url) {
  return lab.exec(vm, "curl -sS -o /dev/null -w '%{http_code}' --max-time 3 " + url).out;
}

TEST_F(Network, SecurityRuleDeniesHttpAndCountsItByRule) {
  ASSERT_EQ(http_code(*lab_, "vm1", "http://192.0.2.10/"), "200") << "before the rule";
  ASSERT_TRUE(lab_->apply(kDenyHttp));
  const auto before = lab_->metrics();
  EXPECT_EQ(value(before, kDeniedHttp), 0) << "every deny rule is exported, zero included";

  const Ran curl = lab_->exec("vm1", "curl -sS -o /dev/null --max-time 3 http://192.0.2.10/");
  EXPECT_NE(curl.rc, 0) << "TCP 80 is denied: " << curl.out;
  // Other traffic still leaves through the NAT gateway.
  const Ran echo =
      lab_->exec("vm1", "timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.10/7; head -n1 <&3'");
  ASSERT_EQ(echo.rc, 0) << echo.out;
  EXPECT_EQ(echo.out.rfind("203.0.113.10:", 0), 0u) << echo.out;

  const auto after = lab_->metrics();
  EXPECT_GE(value(after, kDeniedHttp), 1) << "the SYN (and its retransmissions)";
  EXPECT_EQ(value(after, kDeniedHttp) - value(before, kDeniedHttp),
            value(after, "natgw_dropped_packets_total{reason=\"security_rule_denied\"}") -
                value(before, "natgw_dropped_packets_total{reason=\"security_rule_denied\"}"));
  EXPECT_EQ(
      value(
          after,
          "natgw_security_rule_denied_total{security_group=\"nsg-e2e\",rule=\"DenyAllOutBound\"}"),
      0);

  const Ran why = lab_->explain("--from 10.0.0.11 --to 192.0.2.10:80/tcp");
  EXPECT_EQ(why.rc, 0) << why.out;
  EXPECT_NE(
      why.out.find("fate      dropped: security_rule_denied by nsg-e2e/deny-http (priority 100)"),
      std::string::npos)
      << why.out;
  const Ran ok = lab_->explain("--from 10.0.0.11 --to 192.0.2.10:443/tcp --json");
  EXPECT_NE(ok.out.find("\"fate\": \"translate\""), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("\"public_ip\": \"203.0.113.10\""), std::string::npos) << ok.out;

  // The doctor names the scenario, the rule, the numbers and the host.
  const auto report = doctor_report(*lab_);
  const auto f = finding(report, "security_rule_denied");
  ASSERT_FALSE(f.empty()) << report.dump(2);
  EXPECT_EQ(f["scenario"], 3);
  EXPECT_NE(evidence_with(f, "packets denied by security_group=\"nsg-e2e\",rule=\"deny-http\""), "")
      << f.dump(2);
  EXPECT_NE(evidence_with(f, "denied 10.0.0.11:"), "") << f.dump(2);
  EXPECT_NE(evidence_with(f, "-> 192.0.2.10:80"), "") << f.dump(2);
  EXPECT_EQ(report["healthy"], false);
}

TEST_F(Network, AConnectionOpenBeforeTheRuleKeepsItsFate) {
  // Two requests on one connection, 4 s apart; the rule denying HTTP arrives between them.
  std::thread client([&] {
    const Ran r =
        lab_->exec("vm2",
                   "curl -sS --max-time 20 --rate 15/m -o /dev/null -o /dev/null "
                   "-w '%{http_code} %{num_connects}\\n' http://192.0.2.10/ http://192.0.2.10/");
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(r.out, "200 1\n200 0\n") << "the second request used the open connection";
  });
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(lab_->apply(kDenyHttp));
  client.join();
  EXPECT_NE(lab_->exec("vm2", "curl -sS -o /dev/null --max-time 3 http://192.0.2.10/").rc, 0)
      << "a new connection meets the rule";
}

TEST_F(Network, RouteNoneForAPrefix) {
  ASSERT_TRUE(lab_->apply(
      "network:\n"
      "  route_tables:\n"
      "    - name: rt-e2e\n"
      "      subnets: [10.0.0.0/24]\n"
      "      routes:\n"
      "        - { name: no-dot-11, address_prefix: 192.0.2.11/32, next_hop_type: none }\n"));
  const auto before = lab_->metrics();
  const Ran blocked =
      lab_->exec("vm1", "timeout 3 bash -c 'exec 3<>/dev/tcp/192.0.2.11/7; head -n1 <&3'");
  EXPECT_NE(blocked.rc, 0) << blocked.out;
  EXPECT_EQ(http_code(*lab_, "vm1", "http://192.0.2.10/"), "200") << "the rest of the internet";
  const auto after = lab_->metrics();
  EXPECT_GE(value(after, "natgw_dropped_packets_total{reason=\"route_none\"}") -
                value(before, "natgw_dropped_packets_total{reason=\"route_none\"}"),
            1);
  const Ran why = lab_->explain("--from 10.0.0.11 --to 192.0.2.11:7/tcp");
  EXPECT_NE(why.out.find("fate      dropped: route_none by rt-e2e/no-dot-11 192.0.2.11/32 -> none"),
            std::string::npos)
      << why.out;
  const auto report = doctor_report(*lab_);
  const auto f = finding(report, "route_none");
  ASSERT_FALSE(f.empty()) << report.dump(2);
  EXPECT_NE(evidence_with(f, "packets dropped by a route to none"), "") << f.dump(2);
  EXPECT_NE(evidence_with(f, "-> 192.0.2.11:7"), "") << f.dump(2);
}

TEST_F(Network, DefaultRouteToAnApplianceTakesTrafficAwayFromTheNat) {
  // vm2 plays the appliance: natgw forwards vm1's packets to it, untranslated.
  ASSERT_TRUE(lab_->apply(
      "network:\n"
      "  route_tables:\n"
      "    - name: rt-e2e\n"
      "      subnets: [10.0.0.0/24]\n"
      "      routes:\n"
      "        - { name: to-fw, address_prefix: 0.0.0.0/0, next_hop_type: virtual_appliance,\n"
      "            next_hop_address: 10.0.0.12 }\n"));
  const std::string key =
      "natgw_forwarded_untranslated_packets_total{next_hop_type=\"virtual_appliance\"}";
  const auto before = lab_->metrics();
  std::string seen;
  std::thread capture([&] {
    if (have("tcpdump")) {
      seen = lab_->exec("vm2",
                        "timeout 6 tcpdump -n -c 1 -i eth0 'tcp and src host 10.0.0.11 and dst "
                        "host 192.0.2.10'")
                 .out;
    }
  });
  std::this_thread::sleep_for(1000ms);
  EXPECT_NE(lab_->exec("vm1", "curl -sS -o /dev/null --max-time 3 http://192.0.2.10/").rc, 0)
      << "the appliance (a VM that does not forward) answers nothing";
  capture.join();
  const auto after = lab_->metrics();
  EXPECT_GE(value(after, key) - value(before, key), 1);
  EXPECT_EQ(value(after, "natgw_snat_connections_total{protocol=\"tcp\",state=\"attempted\"}"),
            value(before, "natgw_snat_connections_total{protocol=\"tcp\",state=\"attempted\"}"))
      << "no SNAT connection was attempted";
  if (have("tcpdump")) {
    EXPECT_NE(seen.find("10.0.0.11."), std::string::npos)
        << "the appliance got the original packet: " << seen;
  }
  const Ran why = lab_->explain("--from 10.0.0.11 --to 192.0.2.10:80/tcp");
  EXPECT_NE(why.out.find("forwarded untranslated to the virtual appliance 10.0.0.12"),
            std::string::npos)
      << why.out;
  // While the route is in place: forced tunnelling, from the counters.
  const auto report = doctor_report(*lab_);
  const auto f = finding(report, "forced_tunnelling");
  ASSERT_FALSE(f.empty()) << report.dump(2);
  EXPECT_EQ(f["scenario"], 4);
  EXPECT_NE(evidence_with(f, "packets forwarded untranslated to an appliance or VPN gateway"), "")
      << f.dump(2);
}

TEST_F(Network, ExplainFromTheConfigFileNeedsNoGateway) {
  ASSERT_TRUE(lab_->apply(kDenyHttp));
  const Ran why = sh(kBin + " explain --config " + lab_->config_path() +
                     " --from 10.0.0.11 --to 192.0.2.10:80/tcp");
  EXPECT_EQ(why.rc, 0) << why.out;
  EXPECT_NE(why.out.find("engine    dry run"), std::string::npos) << why.out;
  EXPECT_NE(why.out.find("security_rule_denied"), std::string::npos) << why.out;
}

}  // namespace
}  // namespace natgw::test
