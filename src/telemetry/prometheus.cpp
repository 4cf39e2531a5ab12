#include <algorithm>
#include <array>
#include <string>

#include "telemetry/snapshot.hpp"

namespace natgw::telemetry {
namespace {

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // labels: "k=\"v\",k2=\"v2\"" already escaped
  template <class T>
  void sample(std::string_view name, const std::string& labels, T value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    if constexpr (std::is_floating_point_v<T>) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6g", value);
      out_ += buf;
    } else {
      out_ += std::to_string(value);
    }
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view k, std::string_view v) {
  std::string s(k);
  s += "=\"";
  for (char c : v) {
    if (c == '\\' || c == '"') s += '\\';
    if (c == '\n') {
      s += "\\n";
      continue;
    }
    s += c;
  }
  s += '"';
  return s;
}

// The next hop types that forward packets untranslated.
constexpr std::array<vnet::NextHopType, 4> kForwardedTypes = {
    vnet::NextHopType::virtual_appliance, vnet::NextHopType::virtual_network_gateway,
    vnet::NextHopType::virtual_network, vnet::NextHopType::service_endpoint};

std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  std::string s;
  for (const auto& [k, v] : kv) {
    if (!s.empty()) s += ',';
    s += label(k, v);
  }
  return s;
}

}  // namespace

void fill_from_engine(Snapshot& s, const nat::Engine& engine) {
  s.counters = engine.counters();
  s.per_destination_limit = engine.config().limits.per_destination;
  s.port_inventory = std::uint32_t{engine.config().limits.port_max} - engine.config().limits.port_min + 1;
  s.flow_capacity = engine.flow_capacity();
  s.slots_in_use = engine.slots_in_use();
  s.ftp_alg = engine.ftp_alg_stats();
  s.public_ips.clear();
  const auto pubs = engine.public_ips();
  for (std::size_t i = 0; i < pubs.size(); ++i) {
    PublicIpReport r;
    r.addr = pubs[i].addr;
    r.accepting = pubs[i].accepting;
    r.live = pubs[i].live;
    r.holddown = pubs[i].holddown;
    for (std::size_t p = 0; p < nat::kL4Count; ++p) {
      r.busiest[p] = engine.busiest_destination(i, static_cast<nat::L4>(p));
    }
    s.public_ips.push_back(r);
  }
}

void accumulate(Snapshot& total, const Snapshot& part) {
  total.counters += part.counters;
  total.per_destination_limit += part.per_destination_limit;
  total.port_inventory += part.port_inventory;
  total.flow_capacity += part.flow_capacity;
  total.slots_in_use += part.slots_in_use;
  total.probes_sent += part.probes_sent;
  total.probes_ok += part.probes_ok;
  total.frames_not_for_gateway += part.frames_not_for_gateway;
  total.checksums_completed += part.checksums_completed;
  total.ftp_alg += part.ftp_alg;
  total.network_modelled = total.network_modelled || part.network_modelled;
  for (std::size_t i = 0; i < vnet::kNextHopTypeCount; ++i) {
    total.forwarded_packets[i] += part.forwarded_packets[i];
    total.forwarded_bytes[i] += part.forwarded_bytes[i];
  }
  for (const auto& p : part.public_ips) {
    auto it = std::find_if(total.public_ips.begin(), total.public_ips.end(),
                           [&](const PublicIpReport& r) { return r.addr == p.addr; });
    if (it == total.public_ips.end()) {
      total.public_ips.push_back(p);
      continue;
    }
    for (std::size_t l = 0; l < nat::kL4Count; ++l) {
      it->live[l] += p.live[l];
      it->holddown[l] += p.holddown[l];
      auto& mine = it->busiest[l];
      const auto& theirs = p.busiest[l];
      if (!theirs) continue;
      if (mine && mine->destination == theirs->destination) {
        mine->live += theirs->live;
        mine->holddown += theirs->holddown;
      } else if (!mine || theirs->live > mine->live) {
        mine = theirs;
      }
    }
  }
  for (const auto& r : part.interfaces) {
    auto it = std::find_if(total.interfaces.begin(), total.interfaces.end(),
                           [&](const InterfaceReport& t) { return t.role == r.role; });
    if (it == total.interfaces.end()) {
      total.interfaces.push_back(r);
      continue;
    }
    it->rx_frames += r.rx_frames;
    it->rx_bytes += r.rx_bytes;
    it->rx_kernel_drops += r.rx_kernel_drops;
    it->rx_invalid += r.rx_invalid;
    it->tx_frames += r.tx_frames;
    it->tx_bytes += r.tx_bytes;
    it->tx_queue_full += r.tx_queue_full;
    it->tx_invalid += r.tx_invalid;
    it->tx_errors += r.tx_errors;
  }
  for (const auto& d : part.security_rule_denials) {
    auto it = std::find_if(total.security_rule_denials.begin(), total.security_rule_denials.end(),
                           [&](const RuleDenialReport& t) {
                             return t.security_group == d.security_group && t.rule == d.rule;
                           });
    if (it == total.security_rule_denials.end()) {
      total.security_rule_denials.push_back(d);
    } else {
      it->packets += d.packets;
    }
  }
}

std::string render_prometheus(const Snapshot& s) {
  Writer w;
  const auto& c = s.counters;

  w.family("natgw_bytes_total", "counter", "Bytes processed (forwarded), by protocol and direction.");
  for (std::size_t p = 0; p < nat::kL4Count; ++p) {
    for (std::size_t d = 0; d < 2; ++d) {
      w.sample("natgw_bytes_total", labels({{"protocol", nat::kL4Names[p]}, {"direction", nat::kDirectionNames[d]}}), c.bytes[p][d]);
    }
  }
  w.family("natgw_packets_total", "counter", "Packets processed (forwarded), by protocol and direction.");
  for (std::size_t p = 0; p < nat::kL4Count; ++p) {
    for (std::size_t d = 0; d < 2; ++d) {
      w.sample("natgw_packets_total", labels({{"protocol", nat::kL4Names[p]}, {"direction", nat::kDirectionNames[d]}}), c.packets[p][d]);
    }
  }
  w.family("natgw_dropped_packets_total", "counter", "Packets dropped by the datapath, by reason.");
  for (std::size_t r = 0; r < nat::kDropReasonCount; ++r) {
    w.sample("natgw_dropped_packets_total", labels({{"reason", nat::kDropReasonNames[r]}}), c.drops[r]);
  }
  w.family("natgw_snat_connections_total", "counter", "SNAT connections by protocol and state (attempted, failed, established, closed, timed_out).");
  for (std::size_t p = 0; p < nat::kL4Count; ++p) {
    for (std::size_t st = 0; st < nat::kConnStateCount; ++st) {
      w.sample("natgw_snat_connections_total", labels({{"protocol", nat::kL4Names[p]}, {"state", nat::kConnStateNames[st]}}), c.connections[p][st]);
    }
  }
  w.family("natgw_snat_connections_active", "gauge", "SNAT connections open now (Total SNAT Connection Count).");
  for (std::size_t p = 0; p < nat::kL4Count; ++p) {
    w.sample("natgw_snat_connections_active", labels({{"protocol", nat::kL4Names[p]}}), c.active[p]);
  }
  w.family("natgw_datapath_availability_percent", "gauge", "Share of health probes that crossed the datapath over the last 60 probes, 0..100.");
  w.sample("natgw_datapath_availability_percent", "", s.availability_percent);

  w.family("natgw_snat_ports_in_use", "gauge", "SNAT ports in use by live connections, per public IP and protocol (a port counts once per destination it serves).");
  for (const auto& ip : s.public_ips) {
    const auto t = ip.addr.text();
    for (std::size_t p = 0; p < nat::kL4Count; ++p) {
      w.sample("natgw_snat_ports_in_use", labels({{"public_ip", t.view()}, {"protocol", nat::kL4Names[p]}}), ip.live[p]);
    }
  }
  w.family("natgw_destination_connections_max", "gauge", "Live connections from a public IP to its busiest destination (the limit is natgw_destination_connections_limit).");
  for (const auto& ip : s.public_ips) {
    const auto t = ip.addr.text();
    for (std::size_t p = 0; p < nat::kL4Count; ++p) {
      w.sample("natgw_destination_connections_max", labels({{"public_ip", t.view()}, {"protocol", nat::kL4Names[p]}}), ip.busiest[p] ? ip.busiest[p]->live : 0u);
    }
  }

  // natgw's additions.
  w.family("natgw_snat_ports_holddown", "gauge", "SNAT ports of ended connections in hold-down, per public IP and protocol.");
  for (const auto& ip : s.public_ips) {
    const auto t = ip.addr.text();
    for (std::size_t p = 0; p < nat::kL4Count; ++p) {
      w.sample("natgw_snat_ports_holddown", labels({{"public_ip", t.view()}, {"protocol", nat::kL4Names[p]}}), ip.holddown[p]);
    }
  }
  w.family("natgw_snat_port_inventory", "gauge", "SNAT ports per public IP and protocol.");
  w.sample("natgw_snat_port_inventory", "", s.port_inventory);
  w.family("natgw_destination_connections_limit", "gauge", "Connection limit per public IP per destination.");
  w.sample("natgw_destination_connections_limit", "", s.per_destination_limit);
  w.family("natgw_public_ip_accepting", "gauge", "1 when the public IP takes new connections, 0 while it drains after removal.");
  for (const auto& ip : s.public_ips) {
    const auto t = ip.addr.text();
    w.sample("natgw_public_ip_accepting", labels({{"public_ip", t.view()}}), ip.accepting ? 1 : 0);
  }
  w.family("natgw_late_packets_rst_total", "counter", "Late TCP segments of idle-expired flows answered with RST.");
  w.sample("natgw_late_packets_rst_total", "", c.late_rst);
  w.family("natgw_icmp_errors_translated_total", "counter", "ICMP errors about flows translated to their host.");
  w.sample("natgw_icmp_errors_translated_total", "", c.icmp_errors_translated);
  w.family("natgw_flow_slots", "gauge", "Flow table slots (live connections and ports in hold-down): used and capacity.");
  w.sample("natgw_flow_slots", labels({{"kind", "used"}}), s.slots_in_use);
  w.sample("natgw_flow_slots", labels({{"kind", "capacity"}}), s.flow_capacity);
  w.family("natgw_health_probes_total", "counter", "Datapath health probes sent and those that crossed the datapath.");
  w.sample("natgw_health_probes_total", labels({{"result", "sent"}}), s.probes_sent);
  w.sample("natgw_health_probes_total", labels({{"result", "ok"}}), s.probes_ok);
  w.family("natgw_frames_not_for_gateway_total", "counter", "Frames seen on the interfaces and left to the host's kernel.");
  w.sample("natgw_frames_not_for_gateway_total", "", s.frames_not_for_gateway);
  w.family("natgw_checksums_completed_total", "counter", "TCP/UDP checksums a sender left to offload, completed by natgw.");
  w.sample("natgw_checksums_completed_total", "", s.checksums_completed);
  w.family("natgw_ftp_alg_commands_total", "counter", "PORT/EPRT commands the FTP ALG saw: rewritten to a public endpoint, or left as they were.");
  w.sample("natgw_ftp_alg_commands_total", labels({{"result", "rewritten"}}), s.ftp_alg.rewritten);
  w.sample("natgw_ftp_alg_commands_total", labels({{"result", "not_rewritten"}}), s.ftp_alg.not_rewritten);
  w.family("natgw_ftp_alg_data_connections_total", "counter", "Active FTP data connections the FTP ALG let in.");
  w.sample("natgw_ftp_alg_data_connections_total", "", s.ftp_alg.data_connections);
  w.family("natgw_ftp_alg_expectations_lost_total", "counter", "Expected FTP data connections forgotten because the expectation table was full.");
  w.sample("natgw_ftp_alg_expectations_lost_total", "", s.ftp_alg.expectations_lost);
  w.family("natgw_interface_frames_total", "counter", "Frames through the datapath's interfaces.");
  w.family("natgw_interface_drops_total", "counter", "Frames lost at the datapath's interfaces, by cause.");
  for (const auto& i : s.interfaces) {
    w.sample("natgw_interface_frames_total", labels({{"interface", i.name}, {"role", i.role}, {"direction", "rx"}}), i.rx_frames);
    w.sample("natgw_interface_frames_total", labels({{"interface", i.name}, {"role", i.role}, {"direction", "tx"}}), i.tx_frames);
  }
  for (const auto& i : s.interfaces) {
    w.sample("natgw_interface_drops_total", labels({{"interface", i.name}, {"role", i.role}, {"cause", "rx_ring_full"}}), i.rx_kernel_drops);
    w.sample("natgw_interface_drops_total", labels({{"interface", i.name}, {"role", i.role}, {"cause", "rx_invalid"}}), i.rx_invalid);
    w.sample("natgw_interface_drops_total", labels({{"interface", i.name}, {"role", i.role}, {"cause", "tx_queue_full"}}), i.tx_queue_full);
    w.sample("natgw_interface_drops_total", labels({{"interface", i.name}, {"role", i.role}, {"cause", "tx_error"}}), i.tx_errors);
  }
  w.family("natgw_security_rule_denied_total", "counter", "Packets denied by a security rule, by security group and rule (every deny rule, zero included).");
  for (const auto& d : s.security_rule_denials) {
    w.sample("natgw_security_rule_denied_total", labels({{"security_group", d.security_group}, {"rule", d.rule}}), d.packets);
  }
  w.family("natgw_forwarded_untranslated_packets_total", "counter", "Packets the network's routes sent past the NAT, forwarded untranslated, by next hop type.");
  w.family("natgw_forwarded_untranslated_bytes_total", "counter", "Bytes the network's routes sent past the NAT, forwarded untranslated, by next hop type.");
  for (const auto t : kForwardedTypes) {
    const auto i = static_cast<std::size_t>(t);
    w.sample("natgw_forwarded_untranslated_packets_total", labels({{"next_hop_type", vnet::name(t)}}), s.forwarded_packets[i]);
  }
  for (const auto t : kForwardedTypes) {
    const auto i = static_cast<std::size_t>(t);
    w.sample("natgw_forwarded_untranslated_bytes_total", labels({{"next_hop_type", vnet::name(t)}}), s.forwarded_bytes[i]);
  }
  const FlowLogReport& fl = s.flow_log;
  w.family("natgw_flow_log_records_total", "counter",
           "Flow-log records produced: connection starts, ends and failed attempts.");
  w.sample("natgw_flow_log_records_total", "", fl.records);
  w.family("natgw_flow_log_written_total", "counter", "Flow-log records written.");
  w.sample("natgw_flow_log_written_total", "", fl.written);
  w.family("natgw_flow_log_dropped_total", "counter",
           "Flow-log records left out, by reason (ring_full, rate_limit, write_error).");
  w.sample("natgw_flow_log_dropped_total", labels({{"reason", "ring_full"}}), fl.ring_full);
  w.sample("natgw_flow_log_dropped_total", labels({{"reason", "rate_limit"}}), fl.rate_limited);
  w.sample("natgw_flow_log_dropped_total", labels({{"reason", "write_error"}}), fl.write_errors);
  w.family("natgw_uptime_seconds", "gauge", "Seconds since the gateway started.");
  w.sample("natgw_uptime_seconds", "", s.uptime_seconds);
  w.family("natgw_info", "gauge", "The gateway's name, profile and version.");
  w.sample("natgw_info", labels({{"gateway", s.gateway}, {"profile", s.profile}, {"version", s.version}}), 1);
  return w.take();
}

void Availability::record(bool ok) {
  results_.push_back(ok);
  while (results_.size() > window_) results_.pop_front();
}

double Availability::percent() const {
  if (results_.empty()) return 100.0;
  const auto ok = std::count(results_.begin(), results_.end(), true);
  return 100.0 * static_cast<double>(ok) / static_cast<double>(results_.size());
}

}  // namespace natgw::telemetry
