#include "telemetry/aws_view.hpp"

#include <charconv>
#include <cstdlib>

namespace natgw::telemetry {
namespace {

// Sum of a family's samples whose labels contain every one of `with` ("state=\"attempted\"").
double sum(const std::map<std::string, double>& s, std::string_view family,
           std::initializer_list<std::string_view> with = {}) {
  double total = 0;
  for (const auto& [key, value] : s) {
    if (key.compare(0, family.size(), family) != 0) continue;
    if (key.size() > family.size() && key[family.size()] != '{') continue;
    bool match = true;
    for (const std::string_view w : with) match = match && key.find(w) != std::string::npos;
    if (match) total += value;
  }
  return total;
}

}  // namespace

std::map<std::string, double> parse_prometheus_text(std::string_view text) {
  std::map<std::string, double> out;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    const auto sp = line.rfind(' ');
    if (sp == std::string_view::npos) continue;
    const std::string number(line.substr(sp + 1));
    char* end = nullptr;
    const double v = std::strtod(number.c_str(), &end);
    if (end == number.c_str()) continue;
    out[std::string(line.substr(0, sp))] = v;
  }
  return out;
}

std::vector<AwsMetric> aws_view(const std::map<std::string, double>& s) {
  const double bytes_out = sum(s, "natgw_bytes_total", {"direction=\"out\""});
  const double bytes_in = sum(s, "natgw_bytes_total", {"direction=\"in\""});
  const double packets_out = sum(s, "natgw_packets_total", {"direction=\"out\""});
  const double packets_in = sum(s, "natgw_packets_total", {"direction=\"in\""});
  const std::string b_out = "natgw_bytes_total{direction=\"out\"}";
  const std::string b_in = "natgw_bytes_total{direction=\"in\"}";
  const std::string p_out = "natgw_packets_total{direction=\"out\"}";
  const std::string p_in = "natgw_packets_total{direction=\"in\"}";
  return {
      {"ActiveConnectionCount", sum(s, "natgw_snat_connections_active"),
       "natgw_snat_connections_active (every protocol)"},
      {"BytesInFromDestination", bytes_in, b_in},
      {"BytesInFromSource", bytes_out, b_out},
      {"BytesOutToDestination", bytes_out, b_out},
      {"BytesOutToSource", bytes_in, b_in},
      {"ConnectionAttemptCount", sum(s, "natgw_snat_connections_total", {"state=\"attempted\""}),
       "natgw_snat_connections_total{state=\"attempted\"}"},
      {"ConnectionEstablishedCount",
       sum(s, "natgw_snat_connections_total", {"state=\"established\""}),
       "natgw_snat_connections_total{state=\"established\"}"},
      {"ErrorPortAllocation",
       sum(s, "natgw_dropped_packets_total", {"reason=\"snat_exhausted\""}) +
           sum(s, "natgw_dropped_packets_total", {"reason=\"out_of_resources\""}),
       "natgw_dropped_packets_total{reason=\"snat_exhausted\" or \"out_of_resources\"}"},
      {"IdleTimeoutCount", sum(s, "natgw_snat_connections_total", {"state=\"timed_out\""}),
       "natgw_snat_connections_total{state=\"timed_out\"}"},
      {"PacketsDropCount", sum(s, "natgw_dropped_packets_total"),
       "natgw_dropped_packets_total (every reason)"},
      {"PacketsInFromDestination", packets_in, p_in},
      {"PacketsInFromSource", packets_out, p_out},
      {"PacketsOutToDestination", packets_out, p_out},
      {"PacketsOutToSource", packets_in, p_in},
  };
}

}  // namespace natgw::telemetry
