#include "doctor/evidence.hpp"

#include <sstream>
#include <stdexcept>

#include <httplib.h>

namespace natgw::doctor {

std::map<std::string, double> parse_prometheus(const std::string& text) {
  std::map<std::string, double> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    try {
      m[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    } catch (...) {
      // not a sample line
    }
  }
  return m;
}

Evidence collect(const std::string& host, int port) {
  httplib::Client cli(host, port);
  cli.set_connection_timeout(3);
  cli.set_read_timeout(30);
  auto get = [&](const std::string& path) {
    auto res = cli.Get(path.c_str());
    if (!res) {
      throw std::runtime_error("cannot reach the gateway API at " + host + ":" + std::to_string(port) + " (" +
                               httplib::to_string(res.error()) + "); is `natgw run` running, and is --api right?");
    }
    if (res->status != 200) {
      throw std::runtime_error("the gateway answered " + std::to_string(res->status) + " for " + path + ": " + res->body);
    }
    return res->body;
  };
  Evidence e;
  e.source = "http://" + host + ":" + std::to_string(port);
  e.metrics_text = get("/metrics");
  e.metrics = parse_prometheus(e.metrics_text);
  e.status = nlohmann::json::parse(get("/v1/status"));
  e.minutes = nlohmann::json::parse(get("/v1/metrics/minutes"));
  e.flows = nlohmann::json::parse(get("/v1/flows?limit=10000"));
  e.drops = nlohmann::json::parse(get("/v1/drops"));
  return e;
}

nlohmann::json to_bundle(const Evidence& e, const std::string& config_text) {
  return {{"natgw_doctor_bundle", 1}, {"source", e.source},  {"config_yaml", config_text}, {"metrics", e.metrics_text},
          {"status", e.status},       {"minutes", e.minutes}, {"flows", e.flows},           {"drops", e.drops}};
}

Evidence from_bundle(const nlohmann::json& b) {
  if (!b.is_object() || !b.contains("natgw_doctor_bundle")) {
    throw std::runtime_error("not a natgw doctor bundle (save one with `natgw doctor --api ADDR --save FILE`)");
  }
  Evidence e;
  e.source = b.value("source", std::string("bundle"));
  e.metrics_text = b.value("metrics", std::string());
  e.metrics = parse_prometheus(e.metrics_text);
  e.status = b.value("status", nlohmann::json());
  e.minutes = b.value("minutes", nlohmann::json::array());
  e.flows = b.value("flows", nlohmann::json());
  e.drops = b.value("drops", nlohmann::json());
  const std::string yaml = b.value("config_yaml", std::string());
  if (!yaml.empty()) {
    auto r = control::parse_config(yaml);
    if (r) e.config = std::move(r).config();
    else e.config_errors = r.errors();
  }
  return e;
}

}  // namespace natgw::doctor
