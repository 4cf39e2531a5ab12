// natgw status | flows | metrics: clients of a running gateway's HTTP API. Tables for people,
// --json for programs.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "control/config.hpp"
#include "telemetry/aws_view.hpp"

namespace natgw::cli {
namespace {

using nlohmann::json;

struct ClientOptions {
  std::string api;
  std::string config;
  bool json = false;
};

void add_client_options(CLI::App* cmd, ClientOptions& o) {
  cmd->add_option("--api", o.api, "Address of the gateway's API (default: api.listen of --config, else 127.0.0.1:9490)");
  cmd->add_option("-c,--config", o.config, "Configuration file to take the API address from");
  cmd->add_flag("--json", o.json, "Print the API's JSON document");
}

// Host and port of the API, from --api, --config, or the default.
std::pair<std::string, int> api_address(const ClientOptions& o) {
  std::string addr = o.api;
  if (addr.empty() && !o.config.empty()) {
    auto r = control::load_config(o.config);
    if (!r) throw std::runtime_error(o.config + ": " + control::to_string(r.errors().front()));
    const auto& l = r.config().api.listen;
    addr = std::string(l.addr.text().view()) + ":" + std::to_string(l.port);
  }
  if (addr.empty()) addr = "127.0.0.1:9490";
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--api: expected HOST:PORT, got '" + addr + "'");
  int port = 0;
  try {
    port = std::stoi(addr.substr(colon + 1));
  } catch (...) {
    port = 0;
  }
  if (port <= 0 || port > 65535) throw std::runtime_error("--api: bad port in '" + addr + "'");
  return {addr.substr(0, colon), port};
}

json request(const ClientOptions& o, const std::string& path, bool post = false) {
  const auto [host, port] = api_address(o);
  httplib::Client cli(host, port);
  cli.set_connection_timeout(3);
  cli.set_read_timeout(30);
  auto res = post ? cli.Post(path.c_str()) : cli.Get(path.c_str());
  if (!res) {
    throw std::runtime_error("cannot reach the gateway API at " + host + ":" + std::to_string(port) + " (" +
                             httplib::to_string(res.error()) + "); is `natgw run` running, and is --api right?");
  }
  if (res->status != 200) {
    std::string msg = res->body;
    try {
      msg = json::parse(res->body).value("error", res->body);
    } catch (...) {
    }
    throw std::runtime_error("the gateway answered " + std::to_string(res->status) + ": " + msg);
  }
  if (path == "/metrics") return json(res->body);
  return json::parse(res->body);
}

json get(const ClientOptions& o, const std::string& path) { return request(o, path); }

std::string human_duration(double s) {
  const auto t = static_cast<long long>(s);
  char buf[64];
  if (t >= 86400) std::snprintf(buf, sizeof buf, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
  else if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, t % 3600 / 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%llds", t);
  return buf;
}

std::string busiest(const json& b) {
  if (b.is_null()) return "-";
  return b["destination"].get<std::string>() + " " + std::to_string(b["connections"].get<long>()) + "/" +
         std::to_string(b["limit"].get<long>());
}

void print_status(const json& s) {
  std::printf("gateway %s   profile %s   natgw %s   up %s   datapath availability %.1f%%\n",
              s["gateway"].get<std::string>().c_str(), s["profile"].get<std::string>().c_str(),
              s["version"].get<std::string>().c_str(), human_duration(s["uptime_seconds"].get<double>()).c_str(),
              s["availability_percent"].get<double>());
  std::string subnets;
  for (const auto& n : s["subnets"]) subnets += (subnets.empty() ? "" : ", ") + n.get<std::string>();
  std::printf("subnets %s   TCP idle timeout %lld min   flow slots %llu/%llu\n\n", subnets.c_str(),
              s["idle_timeout_minutes"].get<long long>(), s["limits"]["flow_slots_used"].get<unsigned long long>(),
              s["limits"]["flow_slots"].get<unsigned long long>());
  std::printf("%-16s %-9s %9s %9s %9s %9s  %-32s %-32s\n", "PUBLIC IP", "STATE", "TCP PORTS", "UDP PORTS",
              "TCP HOLD", "UDP HOLD", "BUSIEST TCP DESTINATION", "BUSIEST UDP DESTINATION");
  for (const auto& ip : s["public_ips"]) {
    std::printf("%-16s %-9s %9llu %9llu %9llu %9llu  %-32s %-32s\n", ip["address"].get<std::string>().c_str(),
                ip["state"].get<std::string>().c_str(), ip["ports_in_use"]["tcp"].get<unsigned long long>(),
                ip["ports_in_use"]["udp"].get<unsigned long long>(), ip["ports_holddown"]["tcp"].get<unsigned long long>(),
                ip["ports_holddown"]["udp"].get<unsigned long long>(), busiest(ip["busiest_destination"]["tcp"]).c_str(),
                busiest(ip["busiest_destination"]["udp"]).c_str());
  }
  const auto& c = s["counters"];
  std::printf("\n%-5s %8s %10s %8s %12s %8s %10s\n", "PROTO", "ACTIVE", "ATTEMPTED", "FAILED", "ESTABLISHED", "CLOSED", "TIMED OUT");
  for (const char* p : {"tcp", "udp"}) {
    const auto& sc = c["snat_connections"][p];
    std::printf("%-5s %8llu %10llu %8llu %12llu %8llu %10llu\n", p, c["active"][p].get<unsigned long long>(),
                sc["attempted"].get<unsigned long long>(), sc["failed"].get<unsigned long long>(),
                sc["established"].get<unsigned long long>(), sc["closed"].get<unsigned long long>(),
                sc["timed_out"].get<unsigned long long>());
  }
  std::printf("\ndropped packets: %llu", c["dropped_total"].get<unsigned long long>());
  bool first = true;
  for (const auto& [reason, n] : c["dropped"].items()) {
    if (n.get<unsigned long long>() == 0) continue;
    std::printf("%s%s %llu", first ? " (" : ", ", reason.c_str(), n.get<unsigned long long>());
    first = false;
  }
  std::printf("%s\n", first ? "" : ")");
}

void print_flows(const json& f) {
  std::printf("%-5s %-12s %-21s %-21s %-21s %8s %10s\n", "PROTO", "STATE", "INSIDE", "PUBLIC", "DESTINATION", "IDLE", "EXPIRES");
  for (const auto& x : f["flows"]) {
    const double idle = static_cast<double>(std::min(x["last_out_ms_ago"].get<long long>(), x["last_in_ms_ago"].get<long long>())) / 1000.0;
    std::printf("%-5s %-12s %-21s %-21s %-21s %8s %10s\n", x["protocol"].get<std::string>().c_str(),
                x["state"].get<std::string>().c_str(), x["inside"].get<std::string>().c_str(),
                x["public"].get<std::string>().c_str(), x["destination"].get<std::string>().c_str(),
                human_duration(idle).c_str(), human_duration(static_cast<double>(x["expires_in_ms"].get<long long>()) / 1000.0).c_str());
  }
  const auto total = f["total"].get<unsigned long long>();
  const auto shown = f["flows"].size();
  std::printf("%zu of %llu flows", shown, total);
  if (shown < total) std::printf(" (use --offset/--limit to page)");
  std::printf("\n");
}

std::string human_bytes(unsigned long long b) {
  char buf[32];
  if (b >= 10ull << 30) std::snprintf(buf, sizeof buf, "%.1fG", static_cast<double>(b) / (1ull << 30));
  else if (b >= 10ull << 20) std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(b) / (1ull << 20));
  else if (b >= 10ull << 10) std::snprintf(buf, sizeof buf, "%.1fK", static_cast<double>(b) / (1ull << 10));
  else std::snprintf(buf, sizeof buf, "%llu", b);
  return buf;
}

void print_minutes(const json& m) {
  std::printf("%-6s %9s %9s %9s %9s %9s %10s %7s %10s %8s %8s\n", "MINUTE", "BYTES OUT", "BYTES IN", "PKTS OUT", "PKTS IN",
              "DROPPED", "SNAT ATTMP", "FAILED", "TOTAL SNAT", "AVAIL%", "");
  for (const auto& x : m) {
    const auto t = static_cast<std::time_t>(x["minute"].get<long long>());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char when[8];
    std::strftime(when, sizeof when, "%H:%M", &tm);
    auto sum2 = [&](const char* k, const char* dir) {
      return x[k]["tcp"][dir].get<unsigned long long>() + x[k]["udp"][dir].get<unsigned long long>();
    };
    const auto att = x["snat_connections"]["tcp"]["attempted"].get<unsigned long long>() + x["snat_connections"]["udp"]["attempted"].get<unsigned long long>();
    const auto fail = x["snat_connections"]["tcp"]["failed"].get<unsigned long long>() + x["snat_connections"]["udp"]["failed"].get<unsigned long long>();
    const auto active = x["active"]["tcp"].get<unsigned long long>() + x["active"]["udp"].get<unsigned long long>();
    std::printf("%-6s %9s %9s %9llu %9llu %9llu %10llu %7llu %10llu %8.1f %8s\n", when, human_bytes(sum2("bytes", "out")).c_str(),
                human_bytes(sum2("bytes", "in")).c_str(), sum2("packets", "out"), sum2("packets", "in"),
                x["dropped_total"].get<unsigned long long>(), att, fail, active, x["availability_percent"].get<double>(),
                x["complete"].get<bool>() ? "" : "(now)");
  }
  std::printf("UTC minutes; counts per minute; TOTAL SNAT is the number of open connections at the minute's end.\n");
}

int guarded(const std::function<void()>& fn) {
  try {
    fn();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "natgw: %s\n", e.what());
    return 1;
  }
}

const Registration reg(30, [](CLI::App& app, int& exit_code) {
  {
    auto o = std::make_shared<ClientOptions>();
    auto* cmd = app.add_subcommand("status", "Show a running gateway: public IPs, ports in use, busiest destinations, connections, drops");
    add_client_options(cmd, *o);
    cmd->footer("Example: natgw status --api 127.0.0.1:9490");
    cmd->callback([o, &exit_code] {
      exit_code = guarded([&] {
        const auto s = get(*o, "/v1/status");
        if (o->json) std::cout << s.dump(2) << "\n";
        else print_status(s);
      });
    });
  }
  {
    auto o = std::make_shared<ClientOptions>();
    auto q = std::make_shared<std::map<std::string, std::string>>();
    auto* cmd = app.add_subcommand("flows", "List a running gateway's flows (live connections and ports in hold-down)");
    add_client_options(cmd, *o);
    for (const auto& [name, help] : std::vector<std::pair<std::string, std::string>>{
             {"inside", "Inside host ADDR[:PORT]"},
             {"outside", "Destination ADDR[:PORT]"},
             {"public", "Public ADDR[:PORT]"},
             {"protocol", "tcp or udp"},
             {"state", "live, holddown, or a state: syn_sent, syn_acked, established, fin_out, fin_in, closed, reset, expired, new, replied"},
             {"limit", "Flows per page (default 100, at most 10000)"},
             {"offset", "Skip this many matching flows"}}) {
      cmd->add_option_function<std::string>("--" + name, [q, name](const std::string& v) { (*q)[name] = v; }, help);
    }
    cmd->footer("Example: natgw flows --outside 198.51.100.80:443 --state established");
    cmd->callback([o, q, &exit_code] {
      exit_code = guarded([&] {
        std::string path = "/v1/flows";
        char sep = '?';
        for (const auto& [k, v] : *q) {
          path += sep + k + "=" + httplib::detail::encode_query_param(v);
          sep = '&';
        }
        const auto f = get(*o, path);
        if (o->json) std::cout << f.dump(2) << "\n";
        else print_flows(f);
      });
    });
  }
  {
    auto o = std::make_shared<ClientOptions>();
    auto* cmd = app.add_subcommand("snapshot", "Save a running gateway's flows and port hold-downs to its --state-file now");
    add_client_options(cmd, *o);
    cmd->footer("The daemon must run with --state-file; it also saves there on a clean stop.\n"
                "Example: natgw snapshot --api 127.0.0.1:9490");
    cmd->callback([o, &exit_code] {
      exit_code = guarded([&] {
        const auto r = request(*o, "/v1/snapshot", true);
        if (o->json) std::cout << r.dump(2) << "\n";
        else std::printf("saved %llu flows to %s\n", r["saved_flows"].get<unsigned long long>(), r["path"].get<std::string>().c_str());
      });
    });
  }
  {
    auto o = std::make_shared<ClientOptions>();
    auto raw = std::make_shared<bool>(false);
    auto as = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("metrics", "Show the gateway's metrics per minute, as a cloud portal would (or --prometheus: the raw exposition)");
    add_client_options(cmd, *o);
    cmd->add_flag("--prometheus", *raw, "Print the Prometheus text exposition of /metrics");
    cmd->add_option("--as", *as,
                    "aws: the counters under the AWS NAT gateway's CloudWatch metric names")
        ->check(CLI::IsMember({"aws"}));
    cmd->footer("Example: natgw metrics --api 127.0.0.1:9490\nExample: natgw metrics --as aws");
    cmd->callback([o, raw, as, &exit_code] {
      exit_code = guarded([&] {
        if (*raw) {
          std::cout << get(*o, "/metrics").get<std::string>();
          return;
        }
        if (*as == "aws") {
          const auto view = telemetry::aws_view(
              telemetry::parse_prometheus_text(get(*o, "/metrics").get<std::string>()));
          if (o->json) {
            json j = json::object();
            for (const auto& m : view) j[m.name] = m.value;
            std::cout << j.dump(2) << "\n";
          } else {
            std::printf("%-28s %16s  %s\n", "AWS metric", "value", "natgw source");
            for (const auto& m : view)
              std::printf("%-28s %16.0f  %s\n", m.name.c_str(), m.value, m.derived_from.c_str());
          }
          return;
        }
        const auto m = get(*o, "/v1/metrics/minutes");
        if (o->json) std::cout << m.dump(2) << "\n";
        else print_minutes(m);
      });
    });
  }
});

}  // namespace
}  // namespace natgw::cli
