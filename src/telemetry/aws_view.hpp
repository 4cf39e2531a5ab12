// natgw's counters under the names of the AWS NAT gateway's CloudWatch metrics (`natgw metrics
// --as aws`), for operators who come from AWS or compare the two. Derived at read time from the
// Prometheus exposition; nothing is counted twice on the packet path.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace natgw::telemetry {

struct AwsMetric {
  std::string name;  // CloudWatch name, e.g. "ActiveConnectionCount"
  double value = 0;
  std::string derived_from;  // the natgw series it comes from, for people
};

// Samples of a Prometheus text exposition: "name{labels}" -> value (comments skipped).
[[nodiscard]] std::map<std::string, double> parse_prometheus_text(std::string_view text);

// The 14 NAT gateway metrics of CloudWatch, in the AWS documentation's order. natgw counts
// bytes and packets of forwarded traffic, and a NAT does not change a packet's length: what
// came in from the sources is what went out to the destinations, and the other way round.
[[nodiscard]] std::vector<AwsMetric> aws_view(const std::map<std::string, double>& samples);

}  // namespace natgw::telemetry
