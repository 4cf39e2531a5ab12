#include "vnet/explain.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "net/checksum.hpp"
#include "net/packet.hpp"
#include "vnet/enforcer.hpp"

namespace natgw::vnet {
namespace {

std::string text(net::Ipv4 a) {
  return std::string(a.text().view());
}
std::string text(const net::Prefix& p) {
  return text(p.address()) + "/" + std::to_string(p.length());
}
std::string text(const net::Endpoint& e) {
  return text(e.addr) + ":" + std::to_string(e.port);
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v == 0 || v > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

RuleMatch rule_match(const Network& n, const Rule& r) {
  return RuleMatch{n.security_groups()[r.group].name,
                   r.name,
                   r.priority,
                   r.access,
                   r.direction,
                   r.platform_default};
}

std::string rule_text(const RuleMatch& r) {
  return r.security_group + "/" + r.rule + " (priority " + std::to_string(r.priority) +
         (r.platform_default ? ", a default rule" : "") + ")";
}

std::string route_text(const RouteMatch& r) {
  std::string s = r.table.empty() ? "system route (" + r.name + ")" : r.table + "/" + r.name;
  s += " " + text(r.prefix) + " -> " + std::string(name(r.next_hop));
  if (r.next_hop_address) s += " " + text(*r.next_hop_address);
  return s;
}

// The first packet of the flow, built in memory: a TCP SYN, a UDP datagram or an ICMP echo.
std::size_t write_first_packet(const net::FiveTuple& t, std::array<std::uint8_t, 64>& buf) {
  buf.fill(0);
  std::uint8_t* ip = buf.data();
  constexpr std::size_t kIp = 20;
  std::size_t l4 = 0;
  if (t.proto == net::Proto::tcp) l4 = 20;
  if (t.proto == net::Proto::udp) l4 = 8 + 8;
  if (t.proto == net::Proto::icmp) l4 = 8 + 8;
  const std::size_t len = kIp + l4;
  ip[0] = 0x45;
  net::put_be16(ip + 2, static_cast<std::uint16_t>(len));
  net::put_be16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = static_cast<std::uint8_t>(t.proto);
  net::put_be32(ip + 12, t.src.addr.value());
  net::put_be32(ip + 16, t.dst.addr.value());
  net::store16(ip + 10, net::checksum(ip, kIp));
  std::uint8_t* p = ip + kIp;
  if (t.proto == net::Proto::icmp) {
    p[0] = net::kIcmpEchoRequest;
    net::put_be16(p + 4, t.src.port);
    net::put_be16(p + 6, 1);
    std::copy_n("natgw-ex", 8, p + 8);
    net::store16(p + 2, net::checksum(p, l4));
    return len;
  }
  net::put_be16(p, t.src.port);
  net::put_be16(p + 2, t.dst.port);
  if (t.proto == net::Proto::tcp) {
    net::put_be32(p + 4, 1);
    p[12] = 5 << 4;
    p[13] = net::kTcpSyn;
    net::put_be16(p + 14, 65535);
    net::store16(p + 16, net::transport_checksum(ip));
  } else {
    net::put_be16(p + 4, static_cast<std::uint16_t>(l4));
    std::copy_n("natgw-ex", 8, p + 8);
    net::store16(p + 6, net::transport_checksum(ip));
  }
  return len;
}

// The network model's part of the explanation.
Decision model(Explanation& e, const Network* n, const ExplainQuery& q, bool attached_by_engine) {
  Decision d;
  e.modelled = n != nullptr;
  if (n == nullptr) {
    e.source_attached = attached_by_engine;
    e.method = attached_by_engine ? Method::nat_gateway : Method::none;
    e.fate = attached_by_engine ? Fate::translate : Fate::drop;
    if (!attached_by_engine) e.drop_reason = nat::DropReason::source_not_in_subnet;
    e.notes.push_back(
        "the config has no network: section: no route tables or security rules apply");
    return d;
  }
  d = n->decide(q.flow, DecideOptions{q.opened_before_nat});
  if (d.source->listed) e.source_subnet = d.source->prefix;
  e.source_attached = d.source->attached;
  if (d.outbound_rule) e.outbound_rule = rule_match(*n, *d.outbound_rule);
  if (d.destination) e.destination_subnet = d.destination->prefix;
  if (d.inbound_rule) e.inbound_rule = rule_match(*n, *d.inbound_rule);
  if (d.route) {
    e.route =
        RouteMatch{d.route->table, d.route->name, d.route->prefix, d.route->type, d.route->address};
  }
  e.method = d.method;
  e.fate = d.fate;
  if (d.fate == Fate::drop) e.drop_reason = d.reason;
  const auto& c = n->config();
  switch (d.method) {
    case Method::instance_public_ip:
      e.method_detail = "instance public IP of " + text(c.instance_public_ips[d.method_index].host);
      e.public_ips = {c.instance_public_ips[d.method_index].public_ip};
      break;
    case Method::load_balancer:
      e.method_detail =
          "load balancer outbound rule " + c.load_balancer_outbound_rules[d.method_index].name;
      e.public_ips = c.load_balancer_outbound_rules[d.method_index].frontend_ips;
      break;
    case Method::private_endpoint:
      e.method_detail = "private endpoint " + c.private_endpoints[d.method_index].name;
      break;
    case Method::service_endpoint:
      e.method_detail = "service endpoint " + c.service_endpoints[d.method_index].service;
      break;
    case Method::default_outbound:
      e.method_detail = "the platform's default outbound access (an address natgw does not know)";
      break;
    default:
      break;
  }
  if (d.fate == Fate::forward) {
    const ForwardTarget& t = n->targets()[d.tag];
    if (t.via == ForwardTarget::Via::outside_next_hop) {
      e.forward_via = "outside";
    } else {
      e.forward_via = "inside";
      e.forward_to = t.via == ForwardTarget::Via::inside_address ? t.address : q.flow.dst.addr;
    }
  }
  if (d.route && d.route->user() && d.method == Method::virtual_appliance &&
      d.route->prefix.length() == 0 && e.source_attached) {
    e.notes.push_back(
        "a 0.0.0.0/0 route to a virtual appliance takes the subnet's internet traffic "
        "away from the NAT gateway");
  }
  if (d.outbound_rule && d.outbound_rule->platform_default && d.route && d.route->user() &&
      d.outbound_rule->name == "AllowVnetOutBound" &&
      d.route->type != NextHopType::virtual_network) {
    e.notes.push_back(
        "the VirtualNetwork service tag includes the prefixes of the subnet's user "
        "routes, so AllowVnetOutBound matched");
  }
  if (q.opened_before_nat && e.source_attached && d.fate == Fate::elsewhere) {
    e.notes.push_back(
        "flows opened before the NAT gateway was attached keep their old outbound "
        "method until they end; new connections use the NAT gateway");
  }
  return d;
}

// The engine refused before the network model was asked (its own checks come first).
bool engine_first(nat::DropReason r) {
  return r == nat::DropReason::source_not_in_subnet || r == nat::DropReason::unsupported_protocol ||
         r == nat::DropReason::smtp_blocked || r == nat::DropReason::fragment ||
         r == nat::DropReason::ttl_expired || r == nat::DropReason::malformed;
}

void engine_refused(Explanation& e, nat::DropReason r) {
  if (r == nat::DropReason::source_not_in_subnet && e.fate == Fate::elsewhere) {
    e.notes.push_back(
        "its packets do not go through natgw; if they reached it, natgw would drop "
        "them (source_not_in_subnet)");
    return;
  }
  e.fate = Fate::drop;
  e.drop_reason = r;
  e.forward_to.reset();
  e.forward_via.clear();
  e.public_ips.clear();
}

std::string join(const std::vector<net::Ipv4>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : ", ") + text(a);
  return s;
}

void summarise(Explanation& e) {
  std::string s;
  switch (e.fate) {
    case Fate::translate:
      if (e.existing_flow) {
        s = "an existing flow: translated by the NAT gateway as " +
            text(e.existing_flow->public_endpoint);
      } else if (e.public_endpoint) {
        s = "translated by the NAT gateway: leaves as " + text(*e.public_endpoint);
      } else {
        s = "a new connection would be translated by the NAT gateway, leaving from " +
            (e.host_ip_first ? text(e.room.front().public_ip) + " (the host's own public IP)"
             : e.room.size() == 1
                 ? text(e.room.front().public_ip)
                 : "one of " + std::to_string(e.room.size()) + " public IPs with room, at random");
      }
      break;
    case Fate::forward:
      if (e.forward_via == "outside") {
        s = "sent untranslated over the " + e.method_detail + ": the service sees " +
            text(e.query.flow.src.addr);
      } else if (e.method == Method::virtual_appliance ||
                 e.method == Method::virtual_network_gateway) {
        s = "forwarded untranslated to the " +
            std::string(e.method == Method::virtual_appliance ? "virtual appliance "
                                                              : "virtual network gateway ") +
            text(*e.forward_to) + " on the inside link; the NAT gateway is not used";
      } else {
        s = "delivered untranslated inside the virtual network" +
            (e.method == Method::private_endpoint ? " to " + e.method_detail : std::string{});
      }
      break;
    case Fate::drop:
      s = "dropped: " + std::string(nat::name(*e.drop_reason));
      if (*e.drop_reason == nat::DropReason::security_rule_denied) {
        const auto& r = e.inbound_rule && e.inbound_rule->access == Access::deny ? *e.inbound_rule
                                                                                 : *e.outbound_rule;
        s += " by " + rule_text(r);
      } else if (*e.drop_reason == nat::DropReason::route_none && e.route) {
        s += " by " + route_text(*e.route);
      } else {
        s += " (" +
             std::string(nat::kDropReasonDescriptions[static_cast<std::size_t>(*e.drop_reason)]) +
             ")";
      }
      break;
    case Fate::elsewhere:
      s = "not through this gateway: " + std::string(name(e.method)) +
          (e.public_ips.empty() ? "" : " " + join(e.public_ips)) + " (" + e.method_detail + ")";
      break;
  }
  e.summary = s;
}

}  // namespace

std::optional<ExplainQuery> parse_query(std::string_view from, std::string_view to,
                                        std::string& error) {
  ExplainQuery q;
  {
    const auto colon = from.find(':');
    const auto a = net::Ipv4::parse(from.substr(0, colon));
    if (!a) {
      error = "--from: expected ADDR or ADDR:PORT, such as 10.0.0.4 or 10.0.0.4:50000, got '" +
              std::string(from) + "'";
      return std::nullopt;
    }
    q.flow.src = {*a, kDefaultSourcePort};
    if (colon != std::string_view::npos) {
      const auto p = parse_port(from.substr(colon + 1));
      if (!p) {
        error =
            "--from: the port must be 1..65535, got '" + std::string(from.substr(colon + 1)) + "'";
        return std::nullopt;
      }
      q.flow.src.port = *p;
    }
  }
  const auto slash = to.find('/');
  const std::string_view proto = slash == std::string_view::npos ? "tcp" : to.substr(slash + 1);
  const std::string_view endpoint = to.substr(0, slash);
  if (proto == "tcp") {
    q.flow.proto = net::Proto::tcp;
  } else if (proto == "udp") {
    q.flow.proto = net::Proto::udp;
  } else if (proto == "icmp") {
    q.flow.proto = net::Proto::icmp;
  } else {
    error = "--to: the protocol must be tcp, udp or icmp, got '" + std::string(proto) + "'";
    return std::nullopt;
  }
  const auto colon = endpoint.find(':');
  const auto a = net::Ipv4::parse(endpoint.substr(0, colon));
  if (!a || (colon == std::string_view::npos && q.flow.proto != net::Proto::icmp)) {
    error =
        "--to: expected ADDR:PORT/PROTO, such as 203.0.113.80:443/tcp (ADDR/icmp for ICMP), got '" +
        std::string(to) + "'";
    return std::nullopt;
  }
  q.flow.dst = {*a, 0};
  if (colon != std::string_view::npos) {
    if (q.flow.proto == net::Proto::icmp) {
      error = "--to: ICMP has no port: write ADDR/icmp, got '" + std::string(to) + "'";
      return std::nullopt;
    }
    const auto p = parse_port(endpoint.substr(colon + 1));
    if (!p) {
      error =
          "--to: the port must be 1..65535, got '" + std::string(endpoint.substr(colon + 1)) + "'";
      return std::nullopt;
    }
    q.flow.dst.port = *p;
  }
  if (q.flow.proto == net::Proto::icmp) q.flow.src.port = 1;  // the echo identifier
  return q;
}

Explanation explain_live(const Network* network, const nat::Engine& engine, const ExplainQuery& q) {
  Explanation e;
  e.query = q;
  e.engine_mode = "live";
  e.per_destination_limit = engine.config().limits.per_destination;
  const auto& subnets = engine.config().subnets;
  const bool attached = std::any_of(subnets.begin(), subnets.end(), [&](const net::Prefix& p) {
    return p.contains(q.flow.src.addr);
  });
  model(e, network, q, attached);
  if (q.opened_before_nat && e.fate == Fate::elsewhere) {
    summarise(e);
    return e;
  }
  if (const auto f = engine.find_outbound(q.flow); f && nat::is_live(f->state)) {
    e.existing_flow = *f;
    e.public_endpoint = f->public_endpoint;
    const bool same = e.fate == Fate::translate;
    e.fate = Fate::translate;
    e.method = Method::nat_gateway;
    e.drop_reason.reset();
    e.forward_to.reset();
    e.forward_via.clear();
    e.notes.push_back(
        std::string("an existing flow keeps the fate it got when it opened; rule and route "
                    "changes apply to new connections only") +
        (same ? "" : " (a new connection would not be translated now)"));
    summarise(e);
    return e;
  }
  const nat::NewConnectionOutlook o = engine.would_open(q.flow);
  if (o.refused && engine_first(*o.refused)) {
    engine_refused(e, *o.refused);
  } else if (e.fate == Fate::translate) {
    if (o.refused) {
      engine_refused(e, *o.refused);
    } else {
      e.room = o.room;
      e.host_ip_first = o.host_ip_first;
      for (const auto& r : o.room) e.public_ips.push_back(r.public_ip);
    }
  }
  summarise(e);
  return e;
}

Explanation explain_dry_run(const std::shared_ptr<const Network>& network, nat::Engine& engine,
                            const ExplainQuery& q, nat::Time now) {
  Explanation e;
  e.query = q;
  e.engine_mode = "dry_run";
  e.per_destination_limit = engine.config().limits.per_destination;
  const auto& subnets = engine.config().subnets;
  const bool attached = std::any_of(subnets.begin(), subnets.end(), [&](const net::Prefix& p) {
    return p.contains(q.flow.src.addr);
  });
  model(e, network.get(), q, attached);
  if (q.opened_before_nat && e.fate == Fate::elsewhere) {
    e.engine_verdict = "not run: the flow does not go through the NAT gateway";
    summarise(e);
    return e;
  }
  std::array<std::uint8_t, 64> buf{};
  const std::size_t len = write_first_packet(q.flow, buf);
  std::optional<Enforcer> enforcer;
  nat::AdmissionPolicy* before = engine.admission();
  if (network) {
    enforcer.emplace(network);
    engine.set_admission(&*enforcer);
  }
  const nat::Verdict v = engine.translate(buf.data(), len, nat::Direction::out, now);
  engine.set_admission(before);
  const bool passed = enforcer && !enforcer->passed().empty();
  e.engine_verdict = v.action == nat::Action::drop ? "dropped: " + std::string(nat::name(v.reason))
                     : v.action == nat::Action::reply
                         ? "answered: " + std::string(nat::name(v.reason))
                     : passed ? "passed untranslated (routed past the NAT)"
                              : "translated";
  if (v.action == nat::Action::forward && !passed) {
    e.fate = Fate::translate;
    e.method = Method::nat_gateway;
    e.public_endpoint = net::Endpoint{
        net::Ipv4{net::get_be32(buf.data() + 12)},
        q.flow.proto == net::Proto::icmp ? q.flow.src.port : net::get_be16(buf.data() + 20)};
    e.public_ips = {e.public_endpoint->addr};
  } else if (v.action == nat::Action::forward) {
    e.fate = Fate::forward;  // the model said so too: the Enforcer is the model
  } else if (v.action == nat::Action::drop) {
    if (engine_first(v.reason) || e.fate == Fate::translate || e.fate == Fate::drop) {
      engine_refused(e, v.reason);
    }
  }
  summarise(e);
  return e;
}

nlohmann::json to_json(const Explanation& e) {
  using nlohmann::json;
  const auto rule = [](const std::optional<RuleMatch>& r) -> json {
    if (!r) return nullptr;
    return {{"security_group", r->security_group},
            {"rule", r->rule},
            {"priority", r->priority},
            {"access", std::string(name(r->access))},
            {"direction", std::string(name(r->direction))},
            {"default", r->platform_default}};
  };
  json j;
  j["flow"] = {{"protocol", std::string(net::name(e.query.flow.proto))},
               {"source", text(e.query.flow.src)},
               {"destination", e.query.flow.proto == net::Proto::icmp ? text(e.query.flow.dst.addr)
                                                                      : text(e.query.flow.dst)}};
  j["opened_before_nat"] = e.query.opened_before_nat;
  j["network_modelled"] = e.modelled;
  j["source"] = {{"subnet", e.source_subnet ? json(text(*e.source_subnet)) : json(nullptr)},
                 {"attached", e.source_attached}};
  j["security"] = {{"outbound", rule(e.outbound_rule)},
                   {"destination_subnet",
                    e.destination_subnet ? json(text(*e.destination_subnet)) : json(nullptr)},
                   {"inbound", rule(e.inbound_rule)}};
  if (e.route) {
    j["route"] = {
        {"table", e.route->table.empty() ? json(nullptr) : json(e.route->table)},
        {"name", e.route->name},
        {"prefix", text(e.route->prefix)},
        {"next_hop_type", std::string(name(e.route->next_hop))},
        {"next_hop_address",
         e.route->next_hop_address ? json(text(*e.route->next_hop_address)) : json(nullptr)}};
  } else {
    j["route"] = nullptr;
  }
  json ips = json::array();
  for (const auto& a : e.public_ips) ips.push_back(text(a));
  j["method"] = {
      {"name", std::string(name(e.method))}, {"detail", e.method_detail}, {"public_ips", ips}};
  j["verdict"] = {
      {"fate", std::string(name(e.fate))},
      {"drop_reason", e.drop_reason ? json(std::string(nat::name(*e.drop_reason))) : json(nullptr)},
      {"forward_to", e.forward_to ? json(text(*e.forward_to)) : json(nullptr)},
      {"via", e.forward_via.empty() ? json(nullptr) : json(e.forward_via)}};
  json engine;
  engine["mode"] = e.engine_mode;
  engine["verdict"] = e.engine_verdict.empty() ? json(nullptr) : json(e.engine_verdict);
  if (e.existing_flow) {
    engine["existing_flow"] = {{"state", std::string(nat::name(e.existing_flow->state))},
                               {"public", text(e.existing_flow->public_endpoint)}};
  } else {
    engine["existing_flow"] = nullptr;
  }
  engine["public_endpoint"] = e.public_endpoint ? json(text(*e.public_endpoint)) : json(nullptr);
  json room = json::array();
  for (const auto& r : e.room) {
    room.push_back({{"public_ip", text(r.public_ip)},
                    {"connections", r.live},
                    {"ports_held", r.holddown},
                    {"limit", e.per_destination_limit}});
  }
  engine["room"] = room;
  engine["host_ip_first"] = e.host_ip_first;
  j["engine"] = engine;
  j["notes"] = e.notes;
  j["summary"] = e.summary;
  return j;
}

std::string to_text(const nlohmann::json& j) {
  std::string out;
  const auto line = [&out](std::string_view label, const std::string& value) {
    out += label;
    out.append(label.size() < 10 ? 10 - label.size() : 1, ' ');
    out += value;
    out += '\n';
  };
  const auto str = [](const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : std::string{};
  };
  const auto rule = [&](const nlohmann::json& r) {
    return str(r["security_group"]) + "/" + str(r["rule"]) + " (priority " +
           std::to_string(r["priority"].get<int>()) +
           (r["default"].get<bool>() ? ", a default rule" : "") + "): " + str(r["access"]);
  };
  const auto& f = j["flow"];
  line("flow",
       str(f["protocol"]) + " " + str(f["source"]) + " -> " + str(f["destination"]) +
           (j["opened_before_nat"].get<bool>() ? "  (opened before the NAT gateway was attached)"
                                               : ""));
  line("fate", str(j["summary"]));
  const auto& src = j["source"];
  const std::string from =
      f["source"].get<std::string>().substr(0, f["source"].get<std::string>().find(':'));
  if (src["subnet"].is_string()) {
    line("source", from + " in subnet " + str(src["subnet"]) +
                       (src["attached"].get<bool>() ? ", attached to the NAT gateway"
                                                    : ", not attached to the NAT gateway"));
  } else {
    line("source", from + (src["attached"].get<bool>() ? ", in an attached subnet"
                                                       : " is in no listed subnet"));
  }
  if (j["network_modelled"].get<bool>()) {
    const auto& sec = j["security"];
    line("security", sec["outbound"].is_null() ? "no security group on the source subnet: allowed"
                                               : "outbound " + rule(sec["outbound"]));
    if (!sec["inbound"].is_null()) {
      line("", "inbound at " + str(sec["destination_subnet"]) + ": " + rule(sec["inbound"]));
    }
    const auto& r = j["route"];
    if (r.is_null()) {
      line("route", "not looked up (denied first)");
    } else {
      std::string s = r["table"].is_null() ? "system route (" + str(r["name"]) + ")"
                                           : str(r["table"]) + "/" + str(r["name"]);
      s += " " + str(r["prefix"]) + " -> " + str(r["next_hop_type"]);
      if (r["next_hop_address"].is_string()) s += " " + str(r["next_hop_address"]);
      line("route", s);
    }
  }
  const auto& m = j["method"];
  std::string method = str(m["name"]);
  if (!str(m["detail"]).empty()) method += " (" + str(m["detail"]) + ")";
  std::string ips;
  for (const auto& a : m["public_ips"]) ips += (ips.empty() ? "" : ", ") + a.get<std::string>();
  if (!ips.empty()) method += ": " + ips;
  line("method", method);
  const auto& v = j["verdict"];
  const std::string fate = str(v["fate"]);
  std::string verdict = fate == "translate" ? "translated (source NAT)"
                        : fate == "elsewhere"
                            ? "not seen: the flow leaves by its own outbound method"
                            : fate;
  if (v["drop_reason"].is_string()) verdict += " " + str(v["drop_reason"]);
  if (v["via"].is_string()) {
    verdict += " out of the " + str(v["via"]) + " interface";
    if (v["forward_to"].is_string()) verdict += " to " + str(v["forward_to"]);
    verdict += ", untranslated";
  }
  line("datapath", verdict);
  const auto& e = j["engine"];
  if (str(e["mode"]) == "dry_run") {
    line("engine",
         "dry run, a first packet through a fresh engine built from the config: " +
             (e["public_endpoint"].is_string() ? "translated to " + str(e["public_endpoint"])
              : e["verdict"].is_string()       ? str(e["verdict"])
                                               : std::string("not run")));
  } else if (e["existing_flow"].is_object()) {
    line("engine", "the running gateway has this flow: " + str(e["existing_flow"]["state"]) +
                       ", leaving as " + str(e["existing_flow"]["public"]));
  } else {
    line("engine", "the running gateway has no flow for it (nothing was created to answer)");
    for (const auto& r : e["room"]) {
      line("", "room on " + str(r["public_ip"]) + ": " +
                   std::to_string(r["connections"].get<long long>()) + "/" +
                   std::to_string(r["limit"].get<long long>()) +
                   " connections to this destination, " +
                   std::to_string(r["ports_held"].get<long long>()) + " ports in hold-down");
    }
  }
  for (const auto& n : j["notes"]) line("note", n.get<std::string>());
  return out;
}

}  // namespace natgw::vnet
