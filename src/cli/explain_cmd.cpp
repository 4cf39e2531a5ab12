// natgw explain --from ADDR[:PORT] --to ADDR:PORT/PROTO [--config F | --api ADDR] [--json]:
// the fate of one flow through the network model and the real engine (src/vnet/explain.hpp).
// With --config: a dry run on a fresh engine built from the file; otherwise the running gateway
// answers from its live state, without creating anything.
#include <httplib.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.hpp"
#include "control/config.hpp"
#include "vnet/explain.hpp"
#include "vnet/network.hpp"

namespace natgw::cli {
namespace {

struct ExplainOptions {
  std::string from;
  std::string to;
  std::string config;
  std::string api;
  bool json = false;
  bool opened_before_nat = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "natgw explain: %s\n", message.c_str());
  return 1;
}

void print(const nlohmann::json& j, bool as_json) {
  if (as_json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << vnet::to_text(j);
  }
}

int dry_run(const ExplainOptions& o, vnet::ExplainQuery q) {
  const auto result = control::load_config(o.config);
  if (!result) {
    for (const auto& e : result.errors()) {
      std::fprintf(stderr, "%s: %s\n", o.config.c_str(), control::to_string(e).c_str());
    }
    return 1;
  }
  const control::Config& config = result.config();
  try {
    const auto network = config.network_model();
    nat::EngineConfig ec = config.engine();
    // The engine's tables are sized from the limits; an explanation needs one flow.
    ec.limits.max_connections = 1024;
    nat::Engine engine(ec);
    const auto e = vnet::explain_dry_run(network, engine, q, std::chrono::hours(1));
    print(vnet::to_json(e), o.json);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}

int live(const ExplainOptions& o, const vnet::ExplainQuery& q) {
  const std::string addr = o.api.empty() ? "127.0.0.1:9490" : o.api;
  const auto colon = addr.rfind(':');
  int port = 0;
  try {
    port = colon == std::string::npos ? 0 : std::stoi(addr.substr(colon + 1));
  } catch (...) {
    port = 0;
  }
  if (port <= 0 || port > 65535) return fail("--api: expected HOST:PORT, got '" + addr + "'");
  const std::string host = addr.substr(0, colon);
  httplib::Client cli(host, port);
  cli.set_connection_timeout(3);
  cli.set_read_timeout(10);
  std::string path = "/v1/explain?from=" + httplib::detail::encode_query_param(o.from) +
                     "&to=" + httplib::detail::encode_query_param(o.to);
  if (q.opened_before_nat) path += "&opened_before_nat=true";
  auto res = cli.Get(path.c_str());
  if (!res) {
    return fail("cannot reach the gateway API at " + addr + " (" + httplib::to_string(res.error()) +
                "); is `natgw run` running, and is --api right? (--config F explains from a file)");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(res->body);
  } catch (...) {
    return fail("the gateway answered " + std::to_string(res->status) + ": " + res->body);
  }
  if (res->status != 200) {
    return fail("the gateway answered " + std::to_string(res->status) + ": " +
                j.value("error", res->body));
  }
  print(j, o.json);
  return 0;
}

const Registration registration{
    35, [](CLI::App& app, int& exit_code) {
      auto o = std::make_shared<ExplainOptions>();
      auto* cmd = app.add_subcommand(
          "explain",
          "Explain the fate of one flow: security rule, route, outbound method, public IP or drop");
      cmd->add_option("--from", o->from, "Inside host ADDR[:PORT] (port default 50000)")
          ->required()
          ->type_name("ADDR[:PORT]");
      cmd->add_option("--to", o->to,
                      "Destination ADDR:PORT/PROTO, PROTO tcp, udp or icmp (ADDR/icmp)")
          ->required()
          ->type_name("ADDR:PORT/PROTO");
      auto* config =
          cmd->add_option("-c,--config", o->config,
                          "Explain from this config file: a dry run through a fresh engine");
      auto* api = cmd->add_option("--api", o->api,
                                  "Ask the running gateway at HOST:PORT (default 127.0.0.1:9490)");
      config->excludes(api);
      cmd->add_flag("--opened-before-nat", o->opened_before_nat,
                    "The flow was opened before the NAT gateway was attached to its subnet");
      cmd->add_flag("--json", o->json, "Print the explanation as JSON");
      cmd->footer(
          "Without --config, the running gateway answers from its live rules and flow table and\n"
          "creates nothing. Exit status 0 when the flow was explained (whatever its fate), else "
          "1.\n"
          "Example: natgw explain --from 10.0.0.4 --to 203.0.113.80:443/tcp\n"
          "Example: natgw explain --config /etc/natgw/natgw.yaml --from 10.0.0.4:40000 --to "
          "192.0.2.10:80/tcp --json");
      cmd->callback([o, &exit_code] {
        std::string error;
        auto q = vnet::parse_query(o->from, o->to, error);
        if (!q) {
          exit_code = fail(error);
          return;
        }
        q->opened_before_nat = o->opened_before_nat;
        exit_code = o->config.empty() ? live(*o, *q) : dry_run(*o, *q);
      });
    }};

}  // namespace
}  // namespace natgw::cli
