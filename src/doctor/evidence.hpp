// What the doctor reasons from: a gateway's configuration and what its API reports — metrics,
// the per-minute history, the status (per public IP: ports in use, busiest destination), the
// flow table, and the recent drops. Collected from a running gateway, or loaded from a bundle
// saved earlier (so a support case can be diagnosed offline).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/config.hpp"

namespace natgw::doctor {

struct Evidence {
  std::string source;  // where it came from, for the report
  std::optional<control::Config> config;
  std::vector<control::ConfigError> config_errors;  // when the configuration is not valid
  std::string metrics_text;                         // /metrics
  std::map<std::string, double> metrics;            // parsed: "name{labels}" -> value
  nlohmann::json status;   // /v1/status (null when absent)
  nlohmann::json minutes;  // /v1/metrics/minutes
  nlohmann::json flows;    // /v1/flows
  nlohmann::json drops;    // /v1/drops

  [[nodiscard]] bool has_gateway_data() const { return !metrics.empty(); }
  [[nodiscard]] double metric(const std::string& key, double dflt = 0) const {
    const auto it = metrics.find(key);
    return it == metrics.end() ? dflt : it->second;
  }
};

[[nodiscard]] std::map<std::string, double> parse_prometheus(const std::string& text);

// Everything from a running gateway's API. Throws std::runtime_error with a clear message when
// it cannot be reached.
[[nodiscard]] Evidence collect(const std::string& host, int port);

// A bundle: one JSON document with the API's answers (and the configuration text, when known).
[[nodiscard]] nlohmann::json to_bundle(const Evidence& e, const std::string& config_text);
// Throws std::runtime_error naming what is missing or malformed.
[[nodiscard]] Evidence from_bundle(const nlohmann::json& bundle);

}  // namespace natgw::doctor
