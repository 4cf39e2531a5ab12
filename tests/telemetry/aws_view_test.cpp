// `natgw metrics --as aws`: the CloudWatch names derived from natgw's Prometheus series.
#include "telemetry/aws_view.hpp"

#include <gtest/gtest.h>

namespace natgw::telemetry {
namespace {

TEST(AwsView, DerivesEveryCloudWatchMetricFromTheExposition) {
  const std::string text =
      "# HELP natgw_bytes_total bytes\n"
      "natgw_bytes_total{protocol=\"tcp\",direction=\"out\"} 1000\n"
      "natgw_bytes_total{protocol=\"udp\",direction=\"out\"} 24\n"
      "natgw_bytes_total{protocol=\"tcp\",direction=\"in\"} 5000\n"
      "natgw_packets_total{protocol=\"tcp\",direction=\"out\"} 10\n"
      "natgw_packets_total{protocol=\"icmp\",direction=\"in\"} 3\n"
      "natgw_snat_connections_total{protocol=\"tcp\",state=\"attempted\"} 7\n"
      "natgw_snat_connections_total{protocol=\"udp\",state=\"attempted\"} 2\n"
      "natgw_snat_connections_total{protocol=\"tcp\",state=\"established\"} 6\n"
      "natgw_snat_connections_total{protocol=\"tcp\",state=\"timed_out\"} 1\n"
      "natgw_snat_connections_active{protocol=\"tcp\"} 4\n"
      "natgw_snat_connections_active{protocol=\"icmp\"} 1\n"
      "natgw_dropped_packets_total{reason=\"snat_exhausted\"} 2\n"
      "natgw_dropped_packets_total{reason=\"out_of_resources\"} 1\n"
      "natgw_dropped_packets_total{reason=\"fragment\"} 5\n";
  const auto view = aws_view(parse_prometheus_text(text));
  ASSERT_EQ(view.size(), 14u);
  std::map<std::string, double> v;
  for (const auto& m : view) v[m.name] = m.value;
  EXPECT_EQ(v["ActiveConnectionCount"], 5);
  EXPECT_EQ(v["ConnectionAttemptCount"], 9);
  EXPECT_EQ(v["ConnectionEstablishedCount"], 6);
  EXPECT_EQ(v["IdleTimeoutCount"], 1);
  EXPECT_EQ(v["ErrorPortAllocation"], 3);
  EXPECT_EQ(v["PacketsDropCount"], 8);
  EXPECT_EQ(v["BytesOutToDestination"], 1024);
  EXPECT_EQ(v["BytesInFromSource"], 1024);
  EXPECT_EQ(v["BytesInFromDestination"], 5000);
  EXPECT_EQ(v["BytesOutToSource"], 5000);
  EXPECT_EQ(v["PacketsOutToDestination"], 10);
  EXPECT_EQ(v["PacketsOutToSource"], 3);
}

}  // namespace
}  // namespace natgw::telemetry
