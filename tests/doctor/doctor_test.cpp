// The doctor's rules on evidence built by hand: each scenario is reported from its evidence,
// with numbers, and nothing is reported without evidence.
#include <gtest/gtest.h>

#include <algorithm>

#include "doctor/diagnose.hpp"

namespace natgw::doctor {
namespace {

using nlohmann::json;

const char* kConfig = R"(
profile: azure
gateway:
  name: edge
  public_ips: [203.0.113.10, 203.0.113.11]
  subnets: [10.0.0.0/24]
interfaces:
  inside: { name: gw-in }
  outside: { name: gw-out, next_hop: 198.51.100.2 }
)";

// A healthy gateway's metrics: some traffic, no drops.
std::string healthy_metrics() {
  return "natgw_snat_connections_total{protocol=\"tcp\",state=\"attempted\"} 120\n"
         "natgw_snat_connections_total{protocol=\"tcp\",state=\"failed\"} 0\n"
         "natgw_snat_connections_active{protocol=\"tcp\"} 12\n"
         "natgw_datapath_availability_percent 100\n"
         "natgw_destination_connections_limit 50000\n"
         "natgw_dropped_packets_total{reason=\"malformed\"} 0\n";
}

json status_with(double conns, const std::string& dest = "192.0.2.11:443", double held = 0) {
  json ip;
  ip["address"] = "203.0.113.10";
  ip["state"] = "active";
  ip["ports_in_use"] = {{"tcp", conns}, {"udp", 0}};
  ip["ports_holddown"] = {{"tcp", held}, {"udp", 0}};
  ip["busiest_destination"]["tcp"] = {{"destination", dest}, {"connections", conns}, {"limit", 50000}};
  ip["busiest_destination"]["udp"] = nullptr;
  return {{"gateway", "edge"}, {"public_ips", json::array({ip})}};
}

Evidence evidence(const std::string& extra_metrics = "", json status = status_with(10)) {
  json bundle = {{"natgw_doctor_bundle", 1}, {"source", "test"}, {"config_yaml", kConfig},
                 {"metrics", healthy_metrics() + extra_metrics}, {"status", std::move(status)},
                 {"minutes", json::array()}, {"flows", {{"total", 0}, {"flows", json::array()}}},
                 {"drops", {{"drops", json::array()}, {"ftp_active", {{"total", 0}, {"recent", json::array()}}}}}};
  return from_bundle(bundle);
}

const Finding* find(const Report& r, const std::string& id) {
  for (const auto& f : r.findings) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

bool mentions(const Finding& f, const std::string& text) {
  return std::any_of(f.evidence.begin(), f.evidence.end(), [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

TEST(Doctor, HealthyGatewayGetsACleanReport) {
  const Report r = diagnose(evidence());
  EXPECT_TRUE(r.findings.empty()) << render_text(r);
  EXPECT_NE(render_text(r).find("No problems found"), std::string::npos);
  EXPECT_TRUE(render_json(r)["healthy"].get<bool>());
}

TEST(Doctor, SnatExhaustionWithNumbersAndTheFixInTheGuidesOrder) {
  Evidence e = evidence("natgw_dropped_packets_total{reason=\"snat_exhausted\"} 4200\n"
                        "natgw_snat_connections_total{protocol=\"tcp\",state=\"failed\"} 4200\n",
                        status_with(49000, "192.0.2.11:443", 15512));
  const Report r = diagnose(e);
  const Finding* f = find(r, "snat_exhaustion");
  ASSERT_NE(f, nullptr) << render_text(r);
  EXPECT_EQ(f->scenario, 1);
  EXPECT_EQ(f->severity, Severity::error);
  EXPECT_TRUE(mentions(*f, "4,200 connection attempts failed")) << render_text(r);
  EXPECT_TRUE(mentions(*f, "192.0.2.11:443/tcp: 49,000 connections")) << render_text(r);
  EXPECT_TRUE(mentions(*f, "15,512 ports in hold-down"));
  ASSERT_GE(f->fix.size(), 3u);
  EXPECT_NE(f->fix.front().find("pool"), std::string::npos) << "reuse and pool first";
  EXPECT_NE(f->fix.back().find("add public IPs"), std::string::npos) << "more addresses last";
}

TEST(Doctor, ConnectionLimit) {
  const Report r = diagnose(evidence("natgw_dropped_packets_total{reason=\"connection_limit\"} 5000\n", status_with(50000)));
  const Finding* f = find(r, "connection_limit");
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(mentions(*f, "5,000 connection attempts refused"));
  EXPECT_TRUE(mentions(*f, "50,000 connections of the 50,000 allowed"));
}

TEST(Doctor, PortUsageAbove80PercentWarnsBeforeFailures) {
  const Report r = diagnose(evidence("", status_with(42000)));
  const Finding* f = find(r, "port_usage_high");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::warning);
  EXPECT_TRUE(diagnose(evidence("", status_with(39000))).findings.empty());
}

TEST(Doctor, IdleExpiryWithLatePacketsMeansMissingKeepalives) {
  Evidence e = evidence("natgw_dropped_packets_total{reason=\"flow_expired\"} 37\nnatgw_late_packets_rst_total 30\n");
  e.drops["drops"].push_back({{"reason", "flow_expired"}, {"src", "10.0.0.5:40000"}, {"dst", "192.0.2.11:5432"}});
  const Report r = diagnose(e);
  const Finding* f = find(r, "idle_timeout");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->scenario, 8);
  EXPECT_TRUE(mentions(*f, "37 packets arrived for flows that had idled out; 30 of them"));
  EXPECT_TRUE(mentions(*f, "TCP idle timeout 4 minutes"));
  EXPECT_TRUE(mentions(*f, "10.0.0.5:40000 -> 192.0.2.11:5432"));
  EXPECT_NE(f->fix.back().find("last resort"), std::string::npos);
}

TEST(Doctor, AvailabilityDropWithAndWithoutFailures) {
  const Report quiet = diagnose(evidence("natgw_datapath_availability_percent 70\n"));
  // A later sample line for the same series wins in the parser: availability is 70.
  const Finding* f = find(quiet, "availability_without_failures");
  ASSERT_NE(f, nullptr) << render_text(quiet);
  EXPECT_EQ(f->scenario, 2);
  EXPECT_NE(f->fix.front().find("15 minutes"), std::string::npos);
  const Report busy = diagnose(evidence("natgw_datapath_availability_percent 70\n"
                                        "natgw_snat_connections_total{protocol=\"tcp\",state=\"failed\"} 12\n"));
  EXPECT_NE(find(busy, "availability_with_failures"), nullptr);
}

TEST(Doctor, NoOutboundConnectivityCauses) {
  Evidence e = evidence("natgw_dropped_packets_total{reason=\"no_neighbor\"} 8\n"
                        "natgw_dropped_packets_total{reason=\"source_not_in_subnet\"} 3\n");
  e.drops["drops"].push_back({{"reason", "source_not_in_subnet"}, {"src", "10.0.1.7:5000"}, {"dst", "192.0.2.1:53"}});
  const Report r = diagnose(e);
  const Finding* nh = find(r, "next_hop_unreachable");
  ASSERT_NE(nh, nullptr);
  EXPECT_TRUE(mentions(*nh, "outside next hop 198.51.100.2 on gw-out"));
  const Finding* sub = find(r, "subnet_not_attached");
  ASSERT_NE(sub, nullptr);
  EXPECT_TRUE(mentions(*sub, "from 10.0.1.7"));
}

TEST(Doctor, InvalidConfigurationIsReportedWithEveryError) {
  json bundle = {{"natgw_doctor_bundle", 1}, {"config_yaml", "profile: azure\ngateway: {name: x, idle_timeout_minutes: 500}\n"}};
  const Report r = diagnose(from_bundle(bundle));
  const Finding* f = find(r, "invalid_configuration");
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(mentions(*f, "idle_timeout_minutes: 500"));
  EXPECT_EQ(r.findings.size(), 1u) << "no traffic evidence: nothing else is claimed";
}

TEST(Doctor, ActiveFtpAndPassiveFtpOverTwoAddresses) {
  Evidence e = evidence();
  e.drops["ftp_active"] = {{"total", 2}, {"recent", json::array({{{"client", "10.0.0.7:40100"}, {"server", "192.0.2.10:21"}}})}};
  // Three sessions of 10.0.0.8, one after another, on both addresses; the second one's data
  // connection left from another address than its control connection. An HTTP connection to the
  // same server (port 80) is not FTP.
  const auto flow = [](const char* pub, const char* dst, double ago) {
    return json{{"protocol", "tcp"}, {"live", false}, {"inside", "10.0.0.8:40200"}, {"public", pub},
                {"destination", dst}, {"last_in_ms_ago", ago}, {"last_out_ms_ago", ago}};
  };
  e.flows = {{"total", 7},
             {"flows", json::array({flow("203.0.113.10:5000", "192.0.2.10:21", 5000), flow("203.0.113.10:5001", "192.0.2.10:30001", 5010),
                                    flow("203.0.113.11:6000", "192.0.2.10:21", 3000), flow("203.0.113.10:5002", "192.0.2.10:30002", 3010),
                                    flow("203.0.113.10:5003", "192.0.2.10:21", 1000), flow("203.0.113.10:5004", "192.0.2.10:30003", 1005),
                                    flow("203.0.113.11:6001", "192.0.2.10:80", 900)})}};
  const Report r = diagnose(e);
  const Finding* active = find(r, "ftp_active");
  ASSERT_NE(active, nullptr);
  EXPECT_TRUE(mentions(*active, "10.0.0.7 asked 192.0.2.10:21 to connect back"));
  const Finding* passive = find(r, "ftp_passive_multiple_ips");
  ASSERT_NE(passive, nullptr) << render_text(r);
  EXPECT_TRUE(mentions(*passive, "10.0.0.8 -> 192.0.2.10: control connection from 203.0.113.11, its data connection "
                                 "from 203.0.113.10 (1 of 3 data connections"))
      << render_text(r);
  EXPECT_NE(passive->fix.front().find("public_ip_selection: per_host"), std::string::npos);

  // Without the second session nothing is reported: the HTTP connection on the other address is
  // not FTP.
  e.flows["flows"].erase(e.flows["flows"].begin() + 2, e.flows["flows"].begin() + 4);
  EXPECT_EQ(find(diagnose(e), "ftp_passive_multiple_ips"), nullptr);
}

// With the FTP ALG (profile rfc; the gateway says so in /v1/drops) PORT/EPRT are expected: only
// commands it did not rewrite are reported, as a warning.
TEST(Doctor, ActiveFtpThroughTheFtpAlg) {
  Evidence e = evidence();
  e.drops["ftp_active"] = {
      {"total", 3},
      {"recent", json::array({{{"client", "10.0.0.7:40100"}, {"server", "192.0.2.10:21"}}})},
      {"alg", true},
      {"rewritten", 3},
      {"not_rewritten", 0}};
  EXPECT_EQ(find(diagnose(e), "ftp_active"), nullptr) << render_text(diagnose(e));
  e.drops["ftp_active"]["rewritten"] = 2;
  e.drops["ftp_active"]["not_rewritten"] = 1;
  const Report r = diagnose(e);
  const Finding* f = find(r, "ftp_active");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::warning);
  EXPECT_TRUE(mentions(*f, "1 of 3 PORT/EPRT commands not rewritten")) << render_text(r);

  // A bundle from an older gateway says nothing of the ALG: the configuration does.
  Evidence rfc = evidence();
  rfc.config->profile = control::Profile::rfc;
  rfc.drops["ftp_active"] = {{"total", 1}, {"recent", json::array()}};
  EXPECT_EQ(find(diagnose(rfc), "ftp_active"), nullptr);
  // Without it, an error that names the way out.
  Evidence azure = evidence();
  azure.drops["ftp_active"] = {{"total", 1}, {"recent", json::array()}};
  const Report ra = diagnose(azure);
  const Finding* a = find(ra, "ftp_active");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->severity, Severity::error);
  EXPECT_NE(a->fix.back().find("engine.ftp_alg: true"), std::string::npos);
}

TEST(Doctor, Port25AndFragments) {
  Evidence e = evidence("natgw_dropped_packets_total{reason=\"smtp_blocked\"} 3\nnatgw_dropped_packets_total{reason=\"fragment\"} 40\n");
  e.drops["drops"].push_back({{"reason", "smtp_blocked"}, {"src", "10.0.0.9:41000"}, {"dst", "192.0.2.25:25"}});
  const Report r = diagnose(e);
  const Finding* smtp = find(r, "smtp_blocked");
  ASSERT_NE(smtp, nullptr);
  EXPECT_EQ(smtp->scenario, 7);
  EXPECT_TRUE(mentions(*smtp, "10.0.0.9:41000 -> 192.0.2.25:25"));
  EXPECT_NE(smtp->fix.front().find("587"), std::string::npos);
  const Finding* frag = find(r, "fragments");
  ASSERT_NE(frag, nullptr);
  EXPECT_EQ(frag->scenario, 5);
}

TEST(Doctor, ManyShortConnectionsToOneDestinationFromTheFlowTable) {
  Evidence e = evidence();
  json flows = json::array();
  for (int i = 0; i < 300; ++i) {
    flows.push_back({{"protocol", "tcp"}, {"live", false}, {"state", "closed"}, {"inside", "10.0.0.4:" + std::to_string(30000 + i)},
                     {"public", "203.0.113.10:" + std::to_string(2000 + i)}, {"destination", "192.0.2.80:443"}});
  }
  flows.push_back({{"protocol", "tcp"}, {"live", true}, {"inside", "10.0.0.4:1"}, {"public", "203.0.113.10:1999"}, {"destination", "192.0.2.80:443"}});
  e.flows = {{"total", 301}, {"flows", flows}};
  const Report r = diagnose(e);
  const Finding* f = find(r, "no_connection_reuse");
  ASSERT_NE(f, nullptr) << render_text(r);
  EXPECT_TRUE(mentions(*f, "192.0.2.80:443/tcp: 300 connections ended"));
}

TEST(Doctor, RetriesWithoutBackoffFromThePerMinuteHistory) {
  Evidence e = evidence("natgw_snat_connections_total{protocol=\"tcp\",state=\"failed\"} 900\n");
  for (int m = 0; m < 4; ++m) {
    json minute;
    minute["minute"] = 1700000000 + m * 60;
    minute["snat_connections"]["tcp"] = {{"attempted", 300}, {"failed", 250}};
    minute["snat_connections"]["udp"] = {{"attempted", 0}, {"failed", 0}};
    e.minutes.push_back(minute);
  }
  const Report r = diagnose(e);
  const Finding* f = find(r, "retry_without_backoff");
  ASSERT_NE(f, nullptr) << render_text(r);
  EXPECT_TRUE(mentions(*f, "4 consecutive minutes (up to 250 failures a minute)"));
}

TEST(Doctor, SecurityRulesRoutesAndForcedTunnelling) {
  const Report r = diagnose(evidence(
      "natgw_dropped_packets_total{reason=\"security_rule_denied\"} 12\n"
      "natgw_security_rule_denied_total{security_group=\"nsg-web\",rule=\"deny-http\"} 12\n"
      "natgw_dropped_packets_total{reason=\"route_none\"} 2\n"
      "natgw_forwarded_untranslated_packets_total{next_hop_type=\"virtual_appliance\"} 340\n"));
  const Finding* nsg = find(r, "security_rule_denied");
  ASSERT_NE(nsg, nullptr) << render_text(r);
  EXPECT_EQ(nsg->scenario, 3);
  EXPECT_TRUE(mentions(*nsg, "12 packets denied by security_group=\"nsg-web\",rule=\"deny-http\""));
  ASSERT_NE(find(r, "route_none"), nullptr);
  const Finding* tun = find(r, "forced_tunnelling");
  ASSERT_NE(tun, nullptr);
  EXPECT_EQ(tun->scenario, 4);
  EXPECT_TRUE(mentions(*tun, "340 packets forwarded untranslated"));
}

TEST(Doctor, ExplainsSampleFlowsThroughTheConfiguredNetwork) {
  const std::string yaml = std::string(kConfig) + R"(
network:
  route_tables:
    - name: rt-app
      subnets: [10.0.0.0/24]
      routes:
        - { name: to-firewall, address_prefix: 0.0.0.0/0, next_hop_type: virtual_appliance, next_hop_address: 10.0.0.5 }
  instance_public_ips:
    - { host: 10.0.0.7, public_ip: 198.51.100.50 }
)";
  json bundle = {{"natgw_doctor_bundle", 1}, {"config_yaml", yaml}, {"metrics", healthy_metrics()}, {"status", status_with(10)}};
  const Report r = diagnose(from_bundle(bundle));
  const Finding* f = find(r, "nat_not_used");
  ASSERT_NE(f, nullptr) << render_text(r);
  EXPECT_TRUE(mentions(*f, "leaves by virtual_appliance (rt-app/to-firewall)")) << render_text(r);
  const Finding* other = find(r, "other_outbound_methods");
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(mentions(*other, "10.0.0.7 has the instance public IP 198.51.100.50"));
  EXPECT_EQ(other->severity, Severity::info);
}

TEST(Doctor, BundleRoundTrip) {
  const Evidence e = evidence("natgw_dropped_packets_total{reason=\"smtp_blocked\"} 1\n");
  const Evidence back = from_bundle(to_bundle(e, kConfig));
  EXPECT_EQ(render_json(diagnose(e)), render_json(diagnose(back)));
  EXPECT_THROW(from_bundle(json{{"x", 1}}), std::runtime_error);
}

}  // namespace
}  // namespace natgw::doctor
