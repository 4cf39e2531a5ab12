#include "doctor/diagnose.hpp"

#include "vnet/network.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace natgw::doctor {
namespace {

using nlohmann::json;

std::string num(double v) {
  char buf[32];
  const auto n = static_cast<long long>(v);
  // thousands separators, as the guide writes its figures
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  std::snprintf(buf, sizeof buf, "%s%s", n < 0 ? "-" : "", s.c_str());
  return buf;
}

double drops(const Evidence& e, const std::string& reason) {
  return e.metric("natgw_dropped_packets_total{reason=\"" + reason + "\"}");
}

double conns(const Evidence& e, const std::string& proto, const std::string& state) {
  return e.metric("natgw_snat_connections_total{protocol=\"" + proto + "\",state=\"" + state + "\"}");
}

// The recent drops of one reason, as "src -> dst" with counts, most frequent first.
std::vector<std::string> drop_examples(const Evidence& e, const std::string& reason, std::size_t max,
                                       bool by_source_only = false) {
  std::map<std::string, int> count;
  if (e.drops.is_object() && e.drops.contains("drops")) {
    for (const auto& d : e.drops["drops"]) {
      if (d.value("reason", "") != reason) continue;
      const std::string src = d.value("src", "?");
      const std::string key = by_source_only ? src.substr(0, src.find(':')) : src + " -> " + d.value("dst", "?");
      ++count[key];
    }
  }
  std::vector<std::pair<int, std::string>> v;
  for (const auto& [k, n] : count) v.emplace_back(n, k);
  std::sort(v.rbegin(), v.rend());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) {
    out.push_back(v[i].second + (v[i].first > 1 ? " (" + std::to_string(v[i].first) + " times)" : ""));
  }
  return out;
}

// Minutes of the history with a value above zero, and the last such minute (HH:MM UTC).
struct Spread {
  int minutes_with = 0;
  int minutes_total = 0;
  std::string last;
  double total = 0;
};
template <class F>
Spread spread(const Evidence& e, F value) {
  Spread s;
  if (!e.minutes.is_array()) return s;
  for (const auto& m : e.minutes) {
    ++s.minutes_total;
    const double v = value(m);
    s.total += v;
    if (v > 0) {
      ++s.minutes_with;
      const auto t = static_cast<std::time_t>(m.value("minute", 0LL));
      std::tm tm{};
      gmtime_r(&t, &tm);
      char buf[8];
      std::strftime(buf, sizeof buf, "%H:%M", &tm);
      s.last = buf;
    }
  }
  return s;
}

double minute_failed(const json& m) {
  return m["snat_connections"]["tcp"].value("failed", 0.0) + m["snat_connections"]["udp"].value("failed", 0.0);
}
double minute_attempted(const json& m) {
  return m["snat_connections"]["tcp"].value("attempted", 0.0) + m["snat_connections"]["udp"].value("attempted", 0.0);
}

// Busiest destinations per public IP from the status document.
std::vector<std::string> busiest(const Evidence& e, double min_share, double limit) {
  std::vector<std::string> out;
  if (!e.status.is_object() || !e.status.contains("public_ips")) return out;
  for (const auto& ip : e.status["public_ips"]) {
    for (const char* p : {"tcp", "udp"}) {
      const auto& b = ip["busiest_destination"][p];
      if (b.is_null()) continue;
      const double c = b.value("connections", 0.0);
      if (c < min_share * limit) continue;
      out.push_back(ip.value("address", "?") + " -> " + b.value("destination", "?") + "/" + p + ": " + num(c) +
                    " connections of the " + num(limit) + " allowed per destination, " +
                    num(ip["ports_holddown"].value(p, 0.0)) + " ports in hold-down on this address");
    }
  }
  return out;
}

struct FlowFacts {
  std::size_t total = 0;
  std::map<std::string, std::pair<int, int>> per_destination;  // "dst/proto" -> (live, holddown)
  // FTP: (inside host, server) -> control (21) and data connections, as (ms since the last
  // packet, public address)
  using Seen = std::vector<std::pair<double, std::string>>;
  std::map<std::pair<std::string, std::string>, std::pair<Seen, Seen>> ftp;
};

FlowFacts flow_facts(const Evidence& e) {
  FlowFacts f;
  if (!e.flows.is_object() || !e.flows.contains("flows")) return f;
  f.total = e.flows.value("total", std::size_t{0});
  for (const auto& x : e.flows["flows"]) {
    const std::string dst = x.value("destination", "");
    const std::string proto = x.value("protocol", "");
    auto& pd = f.per_destination[dst + "/" + proto];
    (x.value("live", false) ? pd.first : pd.second)++;
    // FTP: control connections (to port 21) and passive data connections (to a port >= 1024 of
    // the same server), live or in hold-down: a session that failed a minute ago still shows.
    const auto colon = dst.rfind(':');
    const int port = colon == std::string::npos ? 0 : std::atoi(dst.c_str() + colon + 1);
    if (proto == "tcp" && (port == 21 || port >= 1024)) {
      const std::string inside = x.value("inside", "");
      const std::string host = inside.substr(0, inside.find(':'));
      const std::string server = dst.substr(0, colon);
      const std::string pub = x.value("public", "");
      const std::string pub_ip = pub.substr(0, pub.find(':'));
      const double ago = std::min(x.value("last_in_ms_ago", 0.0), x.value("last_out_ms_ago", 0.0));
      auto& entry = f.ftp[{host, server}];
      (port == 21 ? entry.first : entry.second).emplace_back(ago, pub_ip);
    }
  }
  return f;
}

}  // namespace

const char* name(Severity s) {
  switch (s) {
    case Severity::error: return "error";
    case Severity::warning: return "warning";
    case Severity::info: return "info";
  }
  return "?";
}

Report diagnose(const Evidence& e) {
  Report r;
  r.source = e.source;
  r.gateway = e.config ? e.config->gateway.name : (e.status.is_object() ? e.status.value("gateway", "") : "");
  auto add = [&r](Finding f) { r.findings.push_back(std::move(f)); };

  // --- Configuration (scenario 3: no outbound connectivity) --------------------------------
  if (!e.config_errors.empty()) {
    Finding f{3, "invalid_configuration", "No outbound connectivity: the configuration is not valid", Severity::error,
              "the gateway cannot run this configuration as it is", {}, {}};
    for (const auto& err : e.config_errors) f.evidence.push_back(control::to_string(err));
    f.fix = {"correct each key named above (`natgw validate --config F` checks the file)",
             "a gateway needs at least one public IP and one attached subnet to forward anything"};
    add(std::move(f));
  }
  const double limit = e.metric("natgw_destination_connections_limit", 50000);
  if (!e.has_gateway_data()) {
    r.checked.push_back("configuration: " + std::string(e.config_errors.empty() ? "valid" : "not valid") +
                        " (no gateway metrics: traffic-based checks not run)");
    return r;
  }

  const double failed = conns(e, "tcp", "failed") + conns(e, "udp", "failed");
  const double attempted = conns(e, "tcp", "attempted") + conns(e, "udp", "attempted");
  const Spread fail_spread = spread(e, minute_failed);
  const double availability = e.metric("natgw_datapath_availability_percent", 100);

  // --- Scenario 1: SNAT exhaustion, connection limits ---------------------------------------
  if (const double n = drops(e, "snat_exhausted"); n > 0) {
    Finding f{1, "snat_exhaustion", "SNAT port exhaustion", Severity::error,
              "new connections found no free SNAT port for their destination on any public IP: ports are in use or "
              "in hold-down after recent connections to the same destination",
              {}, {}};
    f.evidence.push_back(num(n) + " connection attempts failed for want of a port (drop reason snat_exhausted); " +
                         num(failed) + " failed SNAT connections of " + num(attempted) + " attempted in all");
    for (auto& b : busiest(e, 0.0, limit)) f.evidence.push_back(b);
    if (fail_spread.minutes_with > 0) {
      f.evidence.push_back("failures in " + std::to_string(fail_spread.minutes_with) + " of the last " +
                           std::to_string(fail_spread.minutes_total) + " minutes, most recently at " + fail_spread.last + " UTC");
    }
    f.fix = {"reuse connections: pool them and keep them open (HTTP keep-alive, a connection pool per destination) "
             "instead of a new connection per request",
             "retry failed connections with exponential back-off and jitter, not at once",
             "keep pooled connections alive with keepalives rather than letting them idle out and reconnecting",
             "use private connectivity (private endpoints / service endpoints) for the cloud's own services, which "
             "needs no SNAT port",
             "only then add public IPs or a prefix: each address adds 64,512 ports per protocol"};
    add(std::move(f));
  }
  if (const double n = drops(e, "connection_limit"); n > 0) {
    Finding f{1, "connection_limit", "Connection limit reached", Severity::error,
              "new connections were refused because a destination already has the maximum number of connections "
              "on every public IP (" + num(limit) + " per IP per destination), or the gateway has 2,000,000 in all",
              {}, {}};
    f.evidence.push_back(num(n) + " connection attempts refused by the limit (drop reason connection_limit)");
    for (auto& b : busiest(e, 0.8, limit)) f.evidence.push_back(b);
    const double active = e.metric("natgw_snat_connections_active{protocol=\"tcp\"}") + e.metric("natgw_snat_connections_active{protocol=\"udp\"}");
    f.evidence.push_back(num(active) + " connections open now");
    f.fix = {"pool and reuse connections to the busy destination instead of opening one per request",
             "spread the load over more destination addresses (the limit counts per destination IP, port and protocol)",
             "add public IPs: each adds " + num(limit) + " connections per destination"};
    add(std::move(f));
  }
  // Port usage approaching the per-destination limit, before anything fails.
  if (drops(e, "connection_limit") == 0 && drops(e, "snat_exhausted") == 0) {
    const auto hot = busiest(e, 0.8, limit);
    if (!hot.empty()) {
      Finding f{1, "port_usage_high", "Port usage above 80 % of the per-destination limit", Severity::warning,
                "connections to one destination approach the limit; new ones will fail when it is reached", hot,
                {"pool and reuse connections to that destination", "add public IPs before the limit is reached"}};
      add(std::move(f));
    }
  }

  // --- Scenario 1 / 8: idle timeouts and keepalives -----------------------------------------
  if (const double n = drops(e, "flow_expired"); n > 0) {
    Finding f{8, "idle_timeout", "Connections idled out and then saw late packets (missing keepalives)", Severity::warning,
              "flows were idle longer than the idle timeout, so the gateway ended them; packets that came later were "
              "dropped (TCP ones answered with a reset), so the applications saw failures",
              {}, {}};
    f.evidence.push_back(num(n) + " packets arrived for flows that had idled out; " +
                         num(e.metric("natgw_late_packets_rst_total")) + " of them answered with a TCP reset");
    if (e.config) {
      const nat::Timers t = e.config->engine().timers;
      const auto span = [](nat::Duration d) {
        const auto sec = std::chrono::duration_cast<std::chrono::seconds>(d).count();
        return sec % 60 == 0 ? std::to_string(sec / 60) + (sec == 60 ? " minute" : " minutes") : std::to_string(sec) + " s";
      };
      f.evidence.push_back("TCP idle timeout " + span(t.tcp_idle) + "; UDP " + span(t.udp_idle) + " (profile " +
                           std::string(control::name(e.config->profile)) + ")");
    }
    for (auto& x : drop_examples(e, "flow_expired", 5)) f.evidence.push_back("late packet " + x);
    f.fix = {"enable TCP keepalives (from one side is enough: the other side's ACK refreshes the flow both ways) "
             "at an interval below the idle timeout",
             "for UDP, send keepalives in both directions: a keepalive refreshes the flow only in the direction it is sent",
             "or use application-level keepalives",
             "raise the TCP idle timeout only as a last resort (up to 120 minutes): long timeouts hold ports longer"};
    add(std::move(f));
  }

  // --- Scenario 1 / 2: datapath availability --------------------------------------------------
  if (availability < 90) {
    const bool with_failures = fail_spread.minutes_with > 0 || failed > 0;
    Finding f{with_failures ? 1 : 2, with_failures ? "availability_with_failures" : "availability_without_failures",
              with_failures ? "Datapath availability dropped, with connection failures"
                            : "Datapath availability dropped, without connection failures",
              with_failures ? Severity::error : Severity::warning, "", {}, {}};
    f.evidence.push_back("availability " + num(availability) + " % over the last 60 health probes (" +
                         num(e.metric("natgw_health_probes_total{result=\"ok\"}")) + " of " +
                         num(e.metric("natgw_health_probes_total{result=\"sent\"}")) + " probes crossed since start)");
    double ring = 0;
    for (const auto& [k, v] : e.metrics) {
      if (k.rfind("natgw_interface_drops_total{", 0) == 0 && k.find("cause=\"rx_ring_full\"") != std::string::npos) ring += v;
    }
    if (ring > 0) f.evidence.push_back(num(ring) + " frames lost because the receive ring was full: the datapath is overloaded");
    if (with_failures) {
      f.cause = "the probes failed while connections failed too: look at the connection failures above first";
      f.fix = {"resolve the SNAT exhaustion or connection limit findings", "check the datapath's load (frames lost at the rings)"};
    } else {
      f.cause = "a short dip with no failed connections is usually transient";
      f.fix = {"alert on availability below 90 % over 15 minutes, not on one-minute dips",
               "if it persists, check the next hop and the datapath's load"};
    }
    add(std::move(f));
  }

  // --- Scenario 3: no outbound connectivity --------------------------------------------------
  if (const double n = drops(e, "no_neighbor"); n > 0) {
    Finding f{3, "next_hop_unreachable", "No outbound connectivity: a next hop does not answer", Severity::error,
              "packets were dropped because the MAC address of the next hop (or of an inside host) is unknown: it does "
              "not answer ARP",
              {num(n) + " packets dropped with reason no_neighbor"}, {}};
    if (e.config && e.config->interfaces.outside.next_hop) {
      f.evidence.push_back("outside next hop " + std::string(e.config->interfaces.outside.next_hop->text().view()) + " on " +
                           e.config->interfaces.outside.name);
    }
    f.fix = {"check interfaces.outside.next_hop: it must be a router on the outside link",
             "check the link: `ip neigh` on the gateway host, cabling, VLANs"};
    add(std::move(f));
  }
  if (const double n = drops(e, "source_not_in_subnet"); n > 0) {
    Finding f{3, "subnet_not_attached", "No outbound connectivity: the hosts' subnet is not attached", Severity::error,
              "packets came from addresses outside every attached subnet; the gateway translates attached subnets only",
              {num(n) + " packets dropped with reason source_not_in_subnet"}, {}};
    for (auto& x : drop_examples(e, "source_not_in_subnet", 5, true)) f.evidence.push_back("from " + x);
    f.fix = {"attach the hosts' subnet (gateway.subnets) if they should use this gateway",
             "otherwise give them a route to another outbound method"};
    add(std::move(f));
  }
  if (const double n = drops(e, "no_public_ip"); n > 0) {
    add({3, "no_public_ip", "No outbound connectivity: no public IP takes new connections", Severity::error,
         "every public IP was removed (draining), so new connections cannot be translated",
         {num(n) + " connection attempts dropped with reason no_public_ip"},
         {"add a public IP or prefix to gateway.public_ips / public_ip_prefixes and reload"}});
  }

  // --- Scenarios 3 and 4: the network around the gateway --------------------------------------
  {
    std::vector<std::pair<double, std::string>> denied;
    const std::string prefix = "natgw_security_rule_denied_total{";
    for (const auto& [k, v] : e.metrics) {
      if (k.rfind(prefix, 0) == 0 && v > 0) denied.emplace_back(v, k.substr(prefix.size(), k.size() - prefix.size() - 1));
    }
    std::sort(denied.rbegin(), denied.rend());
    if (!denied.empty() || drops(e, "security_rule_denied") > 0) {
      Finding f{3, "security_rule_denied", "No outbound connectivity: security rules block the traffic", Severity::error,
                "a security rule on the hosts' subnet denies these flows before they reach the NAT", {}, {}};
      for (const auto& [n, labels] : denied) f.evidence.push_back(num(n) + " packets denied by " + labels);
      for (auto& x : drop_examples(e, "security_rule_denied", 5)) f.evidence.push_back("denied " + x);
      f.fix = {"allow the traffic with a rule of higher priority (a lower number) than the deny rule, or remove the "
               "deny rule if it is not meant for this traffic",
               "`natgw explain --from HOST --to DEST:PORT/PROTO` shows the rule that matches a flow"};
      add(std::move(f));
    }
  }
  if (const double n = drops(e, "route_none"); n > 0) {
    Finding f{3, "route_none", "No outbound connectivity: a route drops the traffic (next hop none)", Severity::error,
              "the longest matching route for these destinations has next hop type none", {num(n) + " packets dropped by a route to none"}, {}};
    for (auto& x : drop_examples(e, "route_none", 5)) f.evidence.push_back("dropped " + x);
    f.fix = {"remove or narrow the route to none in the subnet's route table", "check with `natgw explain` which route matches"};
    add(std::move(f));
  }
  if (const double n = e.metric("natgw_forwarded_untranslated_packets_total{next_hop_type=\"virtual_appliance\"}") +
                       e.metric("natgw_forwarded_untranslated_packets_total{next_hop_type=\"virtual_network_gateway\"}");
      n > 0) {
    add({4, "forced_tunnelling", "The NAT public IP is not used: traffic is routed to an appliance or VPN", Severity::warning,
         "a user route sends internet-bound traffic to a virtual appliance or VPN gateway; routes to an appliance "
         "take precedence over the NAT gateway",
         {num(n) + " packets forwarded untranslated to an appliance or VPN gateway"},
         {"remove the 0.0.0.0/0 (or wider) route to the appliance if the NAT gateway should carry internet traffic",
          "or keep it, knowing the appliance's address is what destinations see"}});
  }
  if (e.config && e.config->network) {
    // explain() on sample flows: what an attached subnet's traffic to the internet meets now.
    std::shared_ptr<const vnet::Network> model;
    try {
      model = e.config->network_model();
    } catch (const std::exception&) {
      model = nullptr;
    }
    std::set<std::string> dests;
    if (e.flows.is_object() && e.flows.contains("flows")) {
      for (const auto& x : e.flows["flows"]) {
        if (dests.size() < 3) dests.insert(x.value("destination", ""));
      }
    }
    if (dests.empty()) dests.insert("198.51.100.1:443");
    for (const auto& sub : e.config->gateway.subnets) {
      if (model == nullptr) break;
      for (const auto& d : dests) {
        const auto colon = d.find(':');
        const auto addr = net::Ipv4::parse(d.substr(0, colon));
        if (!addr || colon == std::string::npos) continue;
        const net::FiveTuple t{net::Proto::tcp, {net::Ipv4{sub.address().value() + 1}, 40000},
                               {*addr, static_cast<std::uint16_t>(std::stoi(d.substr(colon + 1)))}};
        const vnet::Decision dec = model->decide(t);
        if (dec.method == vnet::Method::nat_gateway || dec.fate == vnet::Fate::drop) continue;
        std::string route = dec.route == nullptr ? "no route" : (dec.route->user() ? dec.route->table + "/" + dec.route->name : "system route " + dec.route->name);
        add({4, "nat_not_used", "The NAT public IP is not used for some of the attached subnets' traffic", Severity::warning,
             "another path takes precedence over the NAT gateway for this traffic",
             {std::string(sub.address().text().view()) + "/" + std::to_string(sub.length()) + " -> " + d + ": leaves by " +
              std::string(vnet::name(dec.method)) + " (" + route + ")"},
             {"check the route table and the endpoints of the subnet (`natgw explain` shows the decision)",
              "private endpoints and service endpoints are meant to bypass the NAT: nothing to do for those"}});
        break;
      }
    }
    const auto& net = *e.config->network;
    std::vector<std::string> others;
    for (const auto& i : net.instance_public_ips) {
      for (const auto& sub : e.config->gateway.subnets) {
        if (sub.contains(i.host)) others.push_back(std::string(i.host.text().view()) + " has the instance public IP " + std::string(i.public_ip.text().view()));
      }
    }
    for (const auto& lb : net.load_balancer_outbound_rules) {
      for (const auto& b : lb.backends) {
        for (const auto& sub : e.config->gateway.subnets) {
          if (sub.overlaps(b)) others.push_back("load balancer outbound rule " + lb.name + " covers " + std::string(b.address().text().view()) + "/" + std::to_string(b.length()));
        }
      }
    }
    if (!others.empty()) {
      add({4, "other_outbound_methods", "Hosts of attached subnets also have another outbound method", Severity::info,
           "the NAT gateway takes precedence for new connections; flows opened before it was attached keep their old "
           "method (and its public IP) until they end",
           others,
           {"to see the NAT public IP at once, open new connections (restart long-lived clients or disable connection "
            "reuse for the test)",
            "remove the instance public IP or the outbound rule if the NAT gateway should be the only way out"}});
    }
  }

  // --- Scenario 6: FTP ----------------------------------------------------------------------
  const json no_ftp = json::object();
  const json& ftp =
      e.drops.is_object() && e.drops.contains("ftp_active") ? e.drops["ftp_active"] : no_ftp;
  const double ftp_active = ftp.value("total", 0.0);
  // The FTP ALG (profile rfc, or custom with engine.ftp_alg) rewrites the commands and lets the
  // data connection in: PORT/EPRT are expected then, and only those it left alone are a problem.
  const bool ftp_alg = ftp.value("alg", false) || (e.config && e.config->engine().ftp_alg);
  const double ftp_left = ftp_alg ? ftp.value("not_rewritten", 0.0) : ftp_active;
  if (ftp_left > 0) {
    Finding f{6,
              "ftp_active",
              "Active FTP is not supported",
              Severity::error,
              "in active mode the FTP server opens the data connection back to the client; the "
              "gateway is outbound only, so that connection is dropped as unsolicited",
              {num(ftp_active) + " PORT/EPRT commands seen on FTP control connections"},
              {}};
    if (ftp_alg) {
      f.title = "Active FTP commands the FTP ALG did not rewrite";
      f.severity = Severity::warning;
      f.cause =
          "the gateway's FTP ALG rewrites a PORT/EPRT command that names the client itself, whole "
          "in one segment; the server's data connection for any other is dropped as unsolicited";
      f.evidence = {num(ftp_left) + " of " + num(ftp_active) + " PORT/EPRT commands not rewritten"};
    }
    std::map<std::string, int> pairs;
    for (const auto& s : ftp.value("recent", json::array())) {
      const std::string c = s.value("client", "?");
      ++pairs[c.substr(0, c.find(':')) + " asked " + s.value("server", "?") + " to connect back"];
    }
    for (const auto& [text, n] : pairs) f.evidence.push_back(text + (n > 1 ? " (" + std::to_string(n) + " commands)" : ""));
    const auto back = drop_examples(e, "unsolicited_inbound", 3);
    for (const auto& x : back) f.evidence.push_back("dropped inbound " + x);
    f.fix = {"use passive FTP (the client opens the data connection): most clients have a setting, e.g. curl's default "
             "--ftp-pasv",
             "keep the server's passive port range open on its side"};
    if (!ftp_alg) {
      f.fix.push_back(
          "or use profile rfc, or custom with engine.ftp_alg: true (an FTP ALG, as "
          "the kernel's ftp helper)");
    }
    add(std::move(f));
  }
  FlowFacts facts = flow_facts(e);
  {
    std::vector<std::string> mixed;
    for (auto& [key, seen] : facts.ftp) {
      auto& [control, data] = seen;
      if (control.empty() || data.empty()) continue;
      std::sort(control.begin(), control.end());  // by ms since the last packet
      int n = 0;
      std::string example;
      for (const auto& [data_ago, data_ip] : data) {
        // Its control connection: the one of this host and server whose last packet came soonest
        // after the data connection's (the control connection outlives its transfers), i.e. the
        // largest "ago" not above the data connection's.
        const auto after = std::upper_bound(control.begin(), control.end(), data_ago,
                                            [](double a, const auto& c) { return a < c.first; });
        if (after == control.begin()) continue;
        const auto own = std::prev(after);
        if (own->second == data_ip) continue;
        if (n++ == 0) example = "control connection from " + own->second + ", its data connection from " + data_ip;
      }
      if (n > 0) {
        mixed.push_back(key.first + " -> " + key.second + ": " + example + " (" + std::to_string(n) + " of " +
                        std::to_string(data.size()) + " data connections on another address than their control "
                        "connection)");
      }
    }
    if (!mixed.empty()) {
      const bool per_host = e.config && e.config->gateway.public_ip_selection == nat::IpSelection::per_host;
      Finding f{6, "ftp_passive_multiple_ips", "Passive FTP with more than one public IP", Severity::error,
                per_host ? "the host's own public IP had no room for a data connection to this server, so it left from "
                           "another address than its control connection; servers that check (most do) refuse it"
                         : "each new connection takes a public IP at random, so an FTP data connection may leave from "
                           "another address than its control connection; servers that check (most do) refuse it",
                mixed, {}};
      if (e.config) f.evidence.push_back("gateway.public_ip_selection: " + std::string(control::name(e.config->gateway.public_ip_selection)));
      if (per_host) {
        f.fix = {"reuse and pool connections to this server, so the host's own public IP keeps room for it",
                 "give the FTP clients a gateway (or subnet) with a single public IP",
                 "or let the server accept data connections from other addresses (vsftpd: pasv_promiscuous=YES), "
                 "knowing what that allows"};
      } else {
        f.fix = {"set gateway.public_ip_selection: per_host, so every connection of an inside host leaves from one "
                 "public IP (natgw's option beyond the reference; a reload applies it to new connections)",
                 "or give the FTP clients a gateway (or subnet) with a single public IP",
                 "or let the server accept data connections from other addresses (vsftpd: pasv_promiscuous=YES), "
                 "knowing what that allows"};
      }
      add(std::move(f));
    }
  }

  // --- Scenario 7: port 25 ------------------------------------------------------------------
  if (const double n = drops(e, "smtp_blocked"); n > 0) {
    Finding f{7, "smtp_blocked", "Outbound SMTP (TCP port 25) is blocked", Severity::warning,
              "the gateway does not carry outbound connections to port 25",
              {num(n) + " packets to port 25 dropped (reason smtp_blocked)"}, {}};
    for (auto& x : drop_examples(e, "smtp_blocked", 5)) f.evidence.push_back(x);
    f.fix = {"send mail through an authenticated SMTP relay service on port 587 (submission) instead of directly on 25"};
    add(std::move(f));
  }

  // --- Scenario 5: failures at the destination: fragments -------------------------------------
  if (const double n = drops(e, "fragment"); n > 0) {
    Finding f{5, "fragments", "Fragmented packets are dropped", Severity::warning,
              "IP fragments are not carried: a datagram larger than the path MTU never arrives",
              {num(n) + " fragments dropped (reason fragment)"}, {}};
    for (auto& x : drop_examples(e, "fragment", 5)) f.evidence.push_back(x);
    f.fix = {"keep datagrams below the path MTU (for DNS: EDNS buffer size <= 1232 bytes; for VPNs: a lower tunnel MTU)",
             "for TCP, let path MTU discovery work (allow ICMP fragmentation-needed) or clamp the MSS"};
    add(std::move(f));
  }

  // --- Scenario 8: traffic patterns ---------------------------------------------------------
  {
    std::vector<std::pair<int, std::string>> churn;
    for (const auto& [dst, lh] : facts.per_destination) {
      const auto [live, held] = lh;
      if (held >= 200 && held >= 5 * std::max(live, 1)) churn.emplace_back(held, dst + ": " + num(held) + " connections ended in the last minute or so (ports in hold-down), " + num(live) + " open");
    }
    std::sort(churn.rbegin(), churn.rend());
    if (!churn.empty()) {
      Finding f{8, "no_connection_reuse", "Many short connections to one destination (no pooling or reuse)", Severity::warning,
                "each request opens a new connection, and each ended connection holds its port for that destination "
                "during its hold-down: ports run out long before the connection count suggests",
                {}, {}};
      for (std::size_t i = 0; i < churn.size() && i < 5; ++i) f.evidence.push_back(churn[i].second);
      const Spread att = spread(e, minute_attempted);
      if (att.minutes_total > 0) f.evidence.push_back(num(att.total) + " new connections in the last " + std::to_string(att.minutes_total) + " minutes");
      f.fix = {"use connection pooling and keep-alive (HTTP/1.1 keep-alive, HTTP/2, a database pool)",
               "close connections only when idle for long, and from the client side"};
      add(std::move(f));
    }
  }
  {
    // Retries without back-off: failures keep coming at a steady or rising rate.
    int streak = 0, best = 0;
    double peak_failed = 0;
    if (e.minutes.is_array()) {
      for (const auto& m : e.minutes) {
        const double fl = minute_failed(m), at = minute_attempted(m);
        if (fl > 0 && at > 0 && fl / at >= 0.5) {
          best = std::max(best, ++streak);
          peak_failed = std::max(peak_failed, fl);
        } else {
          streak = 0;
        }
      }
    }
    if (best >= 3) {
      add({8, "retry_without_backoff", "Failed connections retried without back-off", Severity::warning,
           "most connection attempts failed, minute after minute: clients retry at once and keep the pressure on",
           {"at least half of the new connections failed in " + std::to_string(best) + " consecutive minutes (up to " +
            num(peak_failed) + " failures a minute)"},
           {"retry with exponential back-off and jitter", "fix the cause of the failures (see the findings above)"}});
    }
  }

  // --- Information ----------------------------------------------------------------------------
  if (const double n = drops(e, "unsolicited_inbound"); n > 0 && ftp_active == 0) {
    Finding f{3, "unsolicited_inbound", "Inbound connections are not supported", Severity::info,
              "the gateway is outbound only: packets from the internet that belong to no flow are dropped",
              {num(n) + " unsolicited inbound packets dropped"}, {}};
    for (auto& x : drop_examples(e, "unsolicited_inbound", 3)) f.evidence.push_back(x);
    f.fix = {"for inbound access use a load balancer or an instance-level public IP; nothing to do if this is scanning noise"};
    add(std::move(f));
  }

  std::stable_sort(r.findings.begin(), r.findings.end(),
                   [](const Finding& a, const Finding& b) { return static_cast<int>(a.severity) < static_cast<int>(b.severity); });
  double total_drops = 0;
  for (const auto& [k, v] : e.metrics) {
    if (k.rfind("natgw_dropped_packets_total{", 0) == 0) total_drops += v;
  }
  r.checked = {"configuration: " + std::string(e.config_errors.empty() ? "valid" : "not valid"),
               "connections: " + num(attempted) + " attempted, " + num(failed) + " failed",
               "datapath availability: " + num(availability) + " %",
               "dropped packets: " + num(total_drops),
               "flows examined: " + num(static_cast<double>(facts.total))};
  return r;
}

std::string render_text(const Report& r) {
  std::ostringstream o;
  o << "natgw doctor: " << (r.gateway.empty() ? "gateway" : "gateway " + r.gateway) << " (" << r.source << ")\n";
  if (r.findings.empty()) {
    o << "\nNo problems found: no scenario of the troubleshooting guide applies.\n";
  }
  int i = 0;
  for (const auto& f : r.findings) {
    o << "\n[" << name(f.severity) << "] " << ++i << ". " << f.title << "   (scenario " << f.scenario << ", " << f.id << ")\n";
    o << "  cause: " << f.cause << "\n  evidence:\n";
    for (const auto& ev : f.evidence) o << "    - " << ev << "\n";
    o << "  fix, in this order:\n";
    int k = 0;
    for (const auto& x : f.fix) o << "    " << ++k << ". " << x << "\n";
  }
  o << "\nchecked:\n";
  for (const auto& c : r.checked) o << "  " << c << "\n";
  return o.str();
}

json render_json(const Report& r) {
  json j;
  j["source"] = r.source;
  j["gateway"] = r.gateway;
  j["healthy"] = r.findings.empty();
  j["findings"] = json::array();
  for (const auto& f : r.findings) {
    j["findings"].push_back({{"scenario", f.scenario}, {"id", f.id}, {"title", f.title}, {"severity", name(f.severity)},
                             {"cause", f.cause}, {"evidence", f.evidence}, {"fix", f.fix}});
  }
  j["checked"] = r.checked;
  return j;
}

}  // namespace natgw::doctor
