#include "daemon/views.hpp"

#include <charconv>

namespace natgw::daemon {
namespace {

using nlohmann::json;

std::string text(net::Ipv4 a) { return std::string(a.text().view()); }
std::string text(const net::Endpoint& e) { return text(e.addr) + ":" + std::to_string(e.port); }

json counters_json(const nat::Counters& c) {
  json j;
  for (std::size_t p = 0; p < nat::kL4Count; ++p) {
    const std::string proto(nat::kL4Names[p]);
    for (std::size_t d = 0; d < 2; ++d) {
      const std::string dir(nat::kDirectionNames[d]);
      j["bytes"][proto][dir] = c.bytes[p][d];
      j["packets"][proto][dir] = c.packets[p][d];
    }
    for (std::size_t s = 0; s < nat::kConnStateCount; ++s) {
      j["snat_connections"][proto][std::string(nat::kConnStateNames[s])] = c.connections[p][s];
    }
    j["active"][proto] = c.active[p];
    j["holddown"][proto] = c.holddown[p];
  }
  for (std::size_t r = 0; r < nat::kDropReasonCount; ++r) {
    j["dropped"][std::string(nat::kDropReasonNames[r])] = c.drops[r];
  }
  j["dropped_total"] = c.total_drops();
  j["late_rst"] = c.late_rst;
  j["icmp_errors_translated"] = c.icmp_errors_translated;
  return j;
}

bool parse_u16(std::string_view s, std::uint16_t& out) {
  unsigned v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

// ADDR or ADDR:PORT
bool parse_endpoint(std::string_view s, std::optional<net::Ipv4>& addr,
                    std::optional<std::uint16_t>& port) {
  const auto colon = s.find(':');
  const auto a = net::Ipv4::parse(s.substr(0, colon));
  if (!a) return false;
  addr = *a;
  if (colon != std::string_view::npos) {
    std::uint16_t p = 0;
    if (!parse_u16(s.substr(colon + 1), p)) return false;
    port = p;
  }
  return true;
}

}  // namespace

json status_json(const telemetry::Snapshot& s, const control::Config& c) {
  json j;
  j["gateway"] = s.gateway;
  j["profile"] = s.profile;
  j["version"] = s.version;
  j["uptime_seconds"] = s.uptime_seconds;
  j["idle_timeout_minutes"] = c.gateway.idle_timeout.count();
  j["public_ip_selection"] = std::string(control::name(c.gateway.public_ip_selection));
  j["subnets"] = json::array();
  for (const auto& p : c.gateway.subnets) {
    j["subnets"].push_back(text(p.address()) + "/" + std::to_string(p.length()));
  }
  j["interfaces"] = json::array();
  for (const auto& i : s.interfaces) {
    j["interfaces"].push_back({{"role", i.role}, {"name", i.name}, {"rx_frames", i.rx_frames},
                               {"tx_frames", i.tx_frames}, {"rx_kernel_drops", i.rx_kernel_drops},
                               {"tx_queue_full", i.tx_queue_full}});
  }
  j["limits"] = {{"per_destination", s.per_destination_limit},
                 {"ports_per_ip", s.port_inventory},
                 {"flow_slots", s.flow_capacity},
                 {"flow_slots_used", s.slots_in_use}};
  j["availability_percent"] = s.availability_percent;
  j["health_probes"] = {{"sent", s.probes_sent}, {"ok", s.probes_ok}};
  j["public_ips"] = json::array();
  for (const auto& ip : s.public_ips) {
    json e;
    e["address"] = text(ip.addr);
    e["state"] = ip.accepting ? "active" : "draining";
    for (std::size_t p = 0; p < nat::kL4Count; ++p) {
      const std::string proto(nat::kL4Names[p]);
      e["ports_in_use"][proto] = ip.live[p];
      e["ports_holddown"][proto] = ip.holddown[p];
      if (ip.busiest[p]) {
        e["busiest_destination"][proto] = {{"destination", text(ip.busiest[p]->destination)},
                                           {"connections", ip.busiest[p]->live},
                                           {"limit", s.per_destination_limit}};
      } else {
        e["busiest_destination"][proto] = nullptr;
      }
    }
    j["public_ips"].push_back(e);
  }
  j["counters"] = counters_json(s.counters);
  // The network around the gateway (docs/network.md).
  json net;
  net["modelled"] = s.network_modelled;
  net["route_tables"] = c.network ? c.network->route_tables.size() : 0;
  net["security_groups"] = c.network ? c.network->security_groups.size() : 0;
  net["security_rule_denials"] = json::array();
  for (const auto& d : s.security_rule_denials) {
    net["security_rule_denials"].push_back({{"security_group", d.security_group},
                                            {"rule", d.rule},
                                            {"packets", d.packets},
                                            {"configured", d.configured}});
  }
  for (const auto t : {vnet::NextHopType::virtual_appliance, vnet::NextHopType::virtual_network_gateway,
                       vnet::NextHopType::virtual_network, vnet::NextHopType::service_endpoint}) {
    const auto i = static_cast<std::size_t>(t);
    net["forwarded_untranslated"][std::string(vnet::name(t))] = {{"packets", s.forwarded_packets[i]},
                                                                 {"bytes", s.forwarded_bytes[i]}};
  }
  j["network"] = net;
  return j;
}

std::variant<FlowQuery, std::string> parse_flow_query(
    const std::multimap<std::string, std::string>& params) {
  FlowQuery q;
  for (const auto& [k, v] : params) {
    if (k == "inside") {
      if (!parse_endpoint(v, q.inside_addr, q.inside_port)) return "inside: expected ADDR or ADDR:PORT, got '" + v + "'";
    } else if (k == "outside" || k == "destination") {
      if (!parse_endpoint(v, q.outside_addr, q.outside_port)) return k + ": expected ADDR or ADDR:PORT, got '" + v + "'";
    } else if (k == "public") {
      if (!parse_endpoint(v, q.public_addr, q.public_port)) return "public: expected ADDR or ADDR:PORT, got '" + v + "'";
    } else if (k == "protocol") {
      if (v == "tcp") q.proto = nat::L4::tcp;
      else if (v == "udp") q.proto = nat::L4::udp;
      else if (v == "icmp") q.proto = nat::L4::icmp;  // ICMP echo, in the profiles that translate it
      else return "protocol: expected tcp, udp or icmp, got '" + v + "'";
    } else if (k == "state") {
      bool known = v == "live" || v == "holddown";
      for (int i = 1; i < nat::kFlowStateCount; ++i) known |= nat::name(static_cast<nat::FlowState>(i)) == v;
      if (!known) return "state: expected live, holddown or a state name (syn_sent, established, closed, ...), got '" + v + "'";
      q.state = v;
    } else if (k == "offset" || k == "limit") {
      std::size_t n = 0;
      const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
      if (r.ec != std::errc{} || r.ptr != v.data() + v.size()) return k + ": expected a number, got '" + v + "'";
      if (k == "limit" && (n == 0 || n > kMaxFlowPage)) return "limit: expected 1.." + std::to_string(kMaxFlowPage) + ", got " + v;
      (k == "offset" ? q.offset : q.limit) = n;
    } else {
      return "unknown parameter '" + k + "'; allowed: inside, outside, public, protocol, state, offset, limit";
    }
  }
  return q;
}

json flows_json(const nat::Engine& engine, const FlowQuery& q, nat::Time now) {
  json flows = json::array();
  std::size_t matched = 0;
  const auto ms = [&](nat::Time t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count();
  };
  engine.for_each_flow([&](const nat::FlowInfo& f) {
    if (q.inside_addr && f.inside.addr != *q.inside_addr) return;
    if (q.inside_port && f.inside.port != *q.inside_port) return;
    if (q.outside_addr && f.destination.addr != *q.outside_addr) return;
    if (q.outside_port && f.destination.port != *q.outside_port) return;
    if (q.public_addr && f.public_endpoint.addr != *q.public_addr) return;
    if (q.public_port && f.public_endpoint.port != *q.public_port) return;
    if (q.proto && f.proto != *q.proto) return;
    if (q.state) {
      const bool live = nat::is_live(f.state);
      if (*q.state == "live" ? !live : *q.state == "holddown" ? live : nat::name(f.state) != *q.state) return;
    }
    if (matched++ < q.offset || flows.size() >= q.limit) return;
    flows.push_back({{"protocol", std::string(nat::kL4Names[static_cast<std::size_t>(f.proto)])},
                     {"state", std::string(nat::name(f.state))},
                     {"live", nat::is_live(f.state)},
                     {"inside", text(f.inside)},
                     {"public", text(f.public_endpoint)},
                     {"destination", text(f.destination)},
                     {"last_out_ms_ago", -ms(f.last_out)},
                     {"last_in_ms_ago", -ms(f.last_in)},
                     {"expires_in_ms", ms(f.deadline)}});
  });
  return {{"total", matched}, {"offset", q.offset}, {"limit", q.limit}, {"flows", flows}};
}

void MetricsHistory::sample(std::int64_t unix_seconds, const nat::Counters& c, double availability) {
  const std::int64_t minute = unix_seconds / 60 * 60;
  last_ = MinuteSample{minute, c, availability};
  if (starts_.empty() || starts_.back().minute_start != minute) {
    starts_.push_back(*last_);  // the counters as this minute begins
    while (starts_.size() > keep_) starts_.pop_front();
  }
}

nlohmann::json MetricsHistory::json() const {
  nlohmann::json out = nlohmann::json::array();
  // Counters are cumulative; a minute's figures are the change from its start to the next
  // minute's start (gauges: the value at its end).
  auto delta = [](const nat::Counters& end, const nat::Counters& start) {
    nat::Counters d = end;
    for (std::size_t p = 0; p < nat::kL4Count; ++p) {
      for (std::size_t i = 0; i < 2; ++i) {
        d.bytes[p][i] -= start.bytes[p][i];
        d.packets[p][i] -= start.packets[p][i];
      }
      for (std::size_t s = 0; s < nat::kConnStateCount; ++s) d.connections[p][s] -= start.connections[p][s];
    }
    for (std::size_t r = 0; r < nat::kDropReasonCount; ++r) d.drops[r] -= start.drops[r];
    d.late_rst -= start.late_rst;
    d.icmp_errors_translated -= start.icmp_errors_translated;
    return d;
  };
  for (std::size_t i = 0; i < starts_.size(); ++i) {
    const bool complete = i + 1 < starts_.size();
    const MinuteSample& end = complete ? starts_[i + 1] : *last_;
    auto j = counters_json(delta(end.counters, starts_[i].counters));
    j["minute"] = starts_[i].minute_start;
    j["availability_percent"] = end.availability;
    j["complete"] = complete;
    out.push_back(j);
  }
  return out;
}

}  // namespace natgw::daemon
