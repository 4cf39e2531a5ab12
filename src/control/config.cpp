#include "control/config.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <system_error>
#include <tuple>

#include "control/config_draft.hpp"
#include "control/config_text.hpp"
#include "vnet/network.hpp"

namespace natgw::control {
namespace {

// A config is a few hundred bytes; the cap keeps `--config /dev/zero` from reading forever.
constexpr std::size_t kMaxFileSize = 1024 * 1024;

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// The file's bytes, or the reason it cannot be read.
bool read_file(const std::filesystem::path& path, std::string& out, std::string& problem) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    problem = fmt::format("cannot read the file: {}", errno_text(errno));
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    problem = "cannot read the file: it is a directory";
    return false;
  }
  std::array<char, 64 * 1024> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      problem = fmt::format("cannot read the file: {}", errno_text(errno));
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
    if (out.size() > kMaxFileSize) {
      problem = "the file is larger than 1 MiB; allowed: a config of at most 1 MiB";
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  return true;
}

}  // namespace

std::string_view name(Profile p) noexcept {
  switch (p) {
    case Profile::azure:
      return "azure";
    case Profile::aws:
      return "aws";
    case Profile::gcp:
      return "gcp";
    case Profile::rfc:
      return "rfc";
    case Profile::custom:
      return "custom";
  }
  return "unknown";
}

std::string_view name(nat::IpSelection s) noexcept {
  switch (s) {
    case nat::IpSelection::per_connection:
      return "per_connection";
    case nat::IpSelection::per_host:
      return "per_host";
  }
  return "unknown";
}

std::string_view name(Steering s) noexcept {
  switch (s) {
    case Steering::automatic:
      return "auto";
    case Steering::flow:
      return "flow";
    case Steering::host:
      return "host";
  }
  return "unknown";
}

std::string_view host_bound_reason(const nat::EngineConfig& e) noexcept {
  const nat::Behaviour& b = e.behaviour;
  if (b.ports_per_host_min > 0) return "a per-host port allowance";
  if (b.udp_fragments) return "UDP fragments forwarded (later fragments carry no port)";
  if (e.ftp_alg) {
    return "the FTP ALG (an active data connection is opened on the worker of its control "
           "connection)";
  }
  if (b.hairpinning) return "hairpinning (a host's own mappings are looked up on its worker)";
  return {};
}

std::string_view name(Backend b) noexcept {
  switch (b) {
    case Backend::af_packet:
      return "af_packet";
    case Backend::af_xdp:
      return "af_xdp";
  }
  return "unknown";
}

ProfileRules rules_of(Profile p) noexcept {
  ProfileRules r;  // azure
  switch (p) {
    case Profile::azure:
      break;
    case Profile::aws:
      // 350 s, fixed; up to 8 addresses (a /29 at most as a prefix).
      r.idle_configurable = false;
      r.prefix_min_length = 29;
      r.max_public_ips = 8;
      break;
    case Profile::gcp:
    case Profile::rfc:
      r.idle_configurable = false;  // the preset's timers (nat/README.md "Profiles")
      break;
    case Profile::custom:
      // Any TCP idle timeout the engine's timer wheel holds beside a hold-down of 600 s;
      // engine.max_public_ips lowers the address count.
      r.idle_min_minutes = 1;
      r.idle_max_minutes = 120;
      break;
  }
  return r;
}

namespace {

nat::EngineConfig custom_engine(const EngineKnobs& k) {
  using std::chrono::seconds;
  nat::EngineConfig e;
  nat::Behaviour& b = e.behaviour;
  b.mapping = k.mapping;
  b.filtering = k.filtering;
  b.icmp_echo = k.icmp_echo;
  b.udp_fragments = k.udp_fragments;
  b.fragment_table = k.fragment_table;
  b.hairpinning = k.hairpinning;
  b.late_rst = k.late_rst;
  b.ports_per_host_min = k.ports_per_host_min;
  b.ports_per_host_max = k.ports_per_host_max;
  b.blocked_ports = k.blocked_ports;
  e.block_smtp = k.block_smtp;
  e.ftp_alg = k.ftp_alg;
  e.limits.per_destination = k.connections_per_destination;
  e.limits.max_connections = k.max_connections;
  e.limits.port_min = static_cast<std::uint16_t>(k.port_min);
  e.limits.port_max = static_cast<std::uint16_t>(k.port_max);
  nat::Timers& t = e.timers;
  t.tcp_half_open = seconds(k.tcp_half_open_seconds);
  t.tcp_closing = seconds(k.tcp_closing_seconds);
  t.udp_idle = seconds(k.udp_idle_seconds);
  t.icmp_idle = seconds(k.icmp_idle_seconds);
  t.holddown_fin = seconds(k.holddown_fin_seconds);
  t.holddown_rst = seconds(k.holddown_rst_seconds);
  t.holddown_udp = seconds(k.holddown_udp_seconds);
  t.holddown_idle = seconds(k.holddown_idle_seconds);
  t.holddown_icmp = seconds(k.holddown_icmp_seconds);
  t.udp_refresh_each_direction = k.udp_refresh_each_direction;
  return e;
}

}  // namespace

std::vector<net::Ipv4> GatewayConfig::public_addresses() const {
  std::vector<net::Ipv4> out = public_ips;
  for (const auto& p : public_ip_prefixes) {
    for (std::uint64_t i = 0; i < p.size(); ++i) {
      out.emplace_back(static_cast<std::uint32_t>(p.address().value() + i));
    }
  }
  return out;
}

namespace {

nat::EngineConfig profile_engine(Profile p, const EngineKnobs& knobs) {
  switch (p) {
    case Profile::azure:
      return nat::azure_profile();
    case Profile::aws:
      return nat::aws_profile();
    case Profile::gcp:
      return nat::gcp_profile();
    case Profile::rfc:
      return nat::rfc_profile();
    case Profile::custom:
      return custom_engine(knobs);
  }
  return nat::azure_profile();
}

}  // namespace

Steering Config::inside_steering() const {
  if (datapath.steering != Steering::automatic) return datapath.steering;
  return host_bound_reason(engine()).empty() ? Steering::flow : Steering::host;
}

nat::EngineConfig Config::engine() const {
  nat::EngineConfig e = profile_engine(profile, knobs.value_or(EngineKnobs{}));
  e.public_ips = gateway.public_addresses();
  e.subnets = gateway.subnets;
  // The profiles that take `idle_timeout_minutes`; the others fix their TCP idle timeout.
  if (rules_of(profile).idle_configurable) e.timers.tcp_idle = gateway.idle_timeout;
  e.ip_selection = gateway.public_ip_selection;
  e.flow_log = flow_logs.enabled;
  return e;
}

std::shared_ptr<const vnet::Network> Config::network_model() const {
  if (!network) return nullptr;
  return vnet::Network::build(*network, gateway.subnets);
}

std::string to_string(const ConfigError& error) {
  if (error.key.empty()) return error.message;
  return fmt::format("{}: {}", error.key, error.message);
}

ConfigResult::ConfigResult(std::vector<ConfigError> errors) : errors_(std::move(errors)) {
  assert(!errors_.empty() && "a failed ConfigResult has at least one error");
}

ConfigResult parse_config(std::string_view yaml_text) {
  std::vector<ConfigError> errors;
  const auto draft = detail::read_yaml(yaml_text, errors);
  detail::check_rules(draft, errors);
  if (errors.empty()) return detail::to_config(draft);
  // In the order of the text; errors of one place keep the order they were found in.
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return errors;
}

ConfigResult load_config(const std::filesystem::path& path) {
  std::string text;
  std::string problem;
  if (!read_file(path, text, problem)) return std::vector<ConfigError>{{"", "", problem, 0, 0}};
  return parse_config(text);
}

std::vector<ConfigError> validate(const Config& config) {
  std::vector<ConfigError> errors;
  detail::check_rules(detail::to_draft(config), errors);
  return errors;
}

std::string summary(const Config& config) {
  const auto ips = config.gateway.public_addresses().size();
  const auto subnets = config.gateway.subnets.size();
  auto s = fmt::format("gateway {}, {} public IP{}, {} subnet{}", config.gateway.name, ips,
                       ips == 1 ? "" : "s", subnets, subnets == 1 ? "" : "s");
  if (config.network) {
    const auto tables = config.network->route_tables.size();
    const auto groups = config.network->security_groups.size();
    s += fmt::format(", network: {} route table{}, {} security group{}", tables,
                     tables == 1 ? "" : "s", groups, groups == 1 ? "" : "s");
  }
  return s;
}

namespace detail {

void add_error(std::vector<ConfigError>& errors, std::string key, std::string value,
               std::string message, Position at) {
  errors.push_back({std::move(key), std::move(value), std::move(message), at.line, at.column});
}

namespace {

template <class T>
std::vector<T> values(const std::vector<Field<T>>& fields) {
  std::vector<T> out;
  for (const auto& f : fields) out.push_back(f.value);
  return out;
}

// Absent lists of a security rule mean "any".
template <class T>
std::vector<T> values_or_any(const std::vector<Field<T>>& fields) {
  if (fields.empty()) return {T{}};
  return values(fields);
}

vnet::NetworkConfig to_network(const NetworkDraft& d) {
  vnet::NetworkConfig n;
  n.address_space = values(d.address_space);
  if (d.default_outbound_access) n.default_outbound_access = d.default_outbound_access->value;
  for (const auto& t : d.route_tables) {
    vnet::RouteTableConfig tc;
    if (t.name) tc.name = t.name->value;
    tc.subnets = values(t.subnets);
    for (const auto& r : t.routes) {
      vnet::RouteConfig rc;
      if (r.name) rc.name = r.name->value;
      if (r.prefix) rc.prefix = r.prefix->value;
      if (r.next_hop) rc.next_hop = r.next_hop->value;
      if (r.next_hop_address) rc.next_hop_address = r.next_hop_address->value;
      tc.routes.push_back(std::move(rc));
    }
    n.route_tables.push_back(std::move(tc));
  }
  for (const auto& g : d.security_groups) {
    vnet::SecurityGroupConfig gc;
    if (g.name) gc.name = g.name->value;
    gc.subnets = values(g.subnets);
    for (const auto& r : g.rules) {
      vnet::SecurityRuleConfig rc;
      if (r.name) rc.name = r.name->value;
      if (r.priority) rc.priority = static_cast<std::uint16_t>(r.priority->value);
      if (r.direction) rc.direction = r.direction->value;
      if (r.access) rc.access = r.access->value;
      if (r.protocol) rc.protocol = r.protocol->value;
      rc.sources = values_or_any(r.sources);
      rc.source_ports = values_or_any(r.source_ports);
      rc.destinations = values_or_any(r.destinations);
      rc.destination_ports = values_or_any(r.destination_ports);
      gc.rules.push_back(std::move(rc));
    }
    n.security_groups.push_back(std::move(gc));
  }
  for (const auto& p : d.private_endpoints) {
    vnet::PrivateEndpointConfig pc;
    if (p.name) pc.name = p.name->value;
    if (p.address) pc.address = p.address->value;
    n.private_endpoints.push_back(std::move(pc));
  }
  for (const auto& e : d.service_endpoints) {
    vnet::ServiceEndpointConfig ec;
    if (e.service) ec.service = e.service->value;
    ec.subnets = values(e.subnets);
    ec.prefixes = values(e.prefixes);
    n.service_endpoints.push_back(std::move(ec));
  }
  for (const auto& i : d.instance_public_ips) {
    vnet::InstancePublicIpConfig ic;
    if (i.host) ic.host = i.host->value;
    if (i.public_ip) ic.public_ip = i.public_ip->value;
    n.instance_public_ips.push_back(ic);
  }
  for (const auto& l : d.load_balancer_outbound_rules) {
    vnet::LoadBalancerRuleConfig lc;
    if (l.name) lc.name = l.name->value;
    lc.frontend_ips = values(l.frontend_ips);
    lc.backends = values(l.backends);
    if (l.protocol) lc.protocol = l.protocol->value;
    n.load_balancer_outbound_rules.push_back(std::move(lc));
  }
  return n;
}

std::string match_text(const vnet::AddressMatch& m) {
  switch (m.kind) {
    case vnet::AddressMatch::Kind::any: return "any";
    case vnet::AddressMatch::Kind::virtual_network: return "virtual_network";
    case vnet::AddressMatch::Kind::internet: return "internet";
    case vnet::AddressMatch::Kind::azure_load_balancer: return "azure_load_balancer";
    case vnet::AddressMatch::Kind::prefix: break;
  }
  return text(m.prefix);
}

std::string range_text(const vnet::PortRange& r) {
  if (r.first == 0 && r.last == 65535) return "any";
  if (r.first == r.last) return std::to_string(r.first);
  return fmt::format("{}-{}", r.first, r.last);
}

template <class T, class Text>
std::vector<Field<T>> fields(const std::vector<T>& values, const std::string& key, Text to_text) {
  std::vector<Field<T>> out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out.push_back({fmt::format("{}[{}]", key, i), to_text(values[i]), {}, values[i]});
  }
  return out;
}

template <class T, class Text>
std::optional<Field<T>> field(const T& value, const std::string& key, Text to_text) {
  return Field<T>{key, to_text(value), {}, value};
}

NetworkDraft to_network_draft(const vnet::NetworkConfig& n) {
  const auto prefix_text = [](const net::Prefix& p) { return text(p); };
  const auto addr_text = [](const net::Ipv4& a) { return text(a); };
  const auto name_text = [](const std::string& s) { return shown(s); };
  const auto enum_text = [](auto v) { return std::string(vnet::name(v)); };
  NetworkDraft d;
  d.present = true;
  d.address_space = fields(n.address_space, "network.address_space", prefix_text);
  d.default_outbound_access = field(n.default_outbound_access, "network.default_outbound_access",
                                    [](bool b) { return std::string(b ? "true" : "false"); });
  for (std::size_t t = 0; t < n.route_tables.size(); ++t) {
    const auto& tc = n.route_tables[t];
    RouteTableDraft td;
    td.key = fmt::format("network.route_tables[{}]", t);
    td.name = field(tc.name, td.key + ".name", name_text);
    td.subnets = fields(tc.subnets, td.key + ".subnets", prefix_text);
    for (std::size_t r = 0; r < tc.routes.size(); ++r) {
      const auto& rc = tc.routes[r];
      RouteDraft rd;
      rd.key = fmt::format("{}.routes[{}]", td.key, r);
      rd.name = field(rc.name, rd.key + ".name", name_text);
      rd.prefix = field(rc.prefix, rd.key + ".address_prefix", prefix_text);
      rd.next_hop = field(rc.next_hop, rd.key + ".next_hop_type", enum_text);
      rd.next_hop_address_given = rc.next_hop_address.has_value();
      if (rc.next_hop_address) {
        rd.next_hop_address = field(*rc.next_hop_address, rd.key + ".next_hop_address", addr_text);
      }
      td.routes.push_back(std::move(rd));
    }
    d.route_tables.push_back(std::move(td));
  }
  for (std::size_t g = 0; g < n.security_groups.size(); ++g) {
    const auto& gc = n.security_groups[g];
    SecurityGroupDraft gd;
    gd.key = fmt::format("network.security_groups[{}]", g);
    gd.name = field(gc.name, gd.key + ".name", name_text);
    gd.subnets = fields(gc.subnets, gd.key + ".subnets", prefix_text);
    for (std::size_t r = 0; r < gc.rules.size(); ++r) {
      const auto& rc = gc.rules[r];
      RuleDraft rd;
      rd.key = fmt::format("{}.rules[{}]", gd.key, r);
      rd.name = field(rc.name, rd.key + ".name", name_text);
      rd.priority = field(std::int64_t{rc.priority}, rd.key + ".priority",
                          [](std::int64_t v) { return std::to_string(v); });
      rd.direction = field(rc.direction, rd.key + ".direction", enum_text);
      rd.access = field(rc.access, rd.key + ".access", enum_text);
      rd.protocol = field(rc.protocol, rd.key + ".protocol", enum_text);
            rd.sources = fields(rc.sources, rd.key + ".source", &match_text);
      rd.source_ports = fields(rc.source_ports, rd.key + ".source_ports", &range_text);
      rd.destinations = fields(rc.destinations, rd.key + ".destination", &match_text);
      rd.destination_ports = fields(rc.destination_ports, rd.key + ".destination_ports", &range_text);
      gd.rules.push_back(std::move(rd));
    }
    d.security_groups.push_back(std::move(gd));
  }
  for (std::size_t i = 0; i < n.private_endpoints.size(); ++i) {
    const auto& pc = n.private_endpoints[i];
    const auto key = fmt::format("network.private_endpoints[{}]", i);
    d.private_endpoints.push_back({key, {}, field(pc.name, key + ".name", name_text),
                                   field(pc.address, key + ".address", addr_text)});
  }
  for (std::size_t i = 0; i < n.service_endpoints.size(); ++i) {
    const auto& ec = n.service_endpoints[i];
    const auto key = fmt::format("network.service_endpoints[{}]", i);
    d.service_endpoints.push_back({key, {}, field(ec.service, key + ".service", name_text),
                                   fields(ec.subnets, key + ".subnets", prefix_text),
                                   fields(ec.prefixes, key + ".prefixes", prefix_text)});
  }
  for (std::size_t i = 0; i < n.instance_public_ips.size(); ++i) {
    const auto& ic = n.instance_public_ips[i];
    const auto key = fmt::format("network.instance_public_ips[{}]", i);
    d.instance_public_ips.push_back({key, {}, field(ic.host, key + ".host", addr_text),
                                     field(ic.public_ip, key + ".public_ip", addr_text)});
  }
  for (std::size_t i = 0; i < n.load_balancer_outbound_rules.size(); ++i) {
    const auto& lc = n.load_balancer_outbound_rules[i];
    LoadBalancerRuleDraft ld;
    ld.key = fmt::format("network.load_balancer_outbound_rules[{}]", i);
    ld.name = field(lc.name, ld.key + ".name", name_text);
    ld.frontend_ips = fields(lc.frontend_ips, ld.key + ".frontend_ips", addr_text);
    ld.backends = fields(lc.backends, ld.key + ".backends", prefix_text);
    ld.protocol = field(lc.protocol, ld.key + ".protocol", enum_text);
    ld.frontend_entries = lc.frontend_ips.size();
    ld.backend_entries = lc.backends.size();
    d.load_balancer_outbound_rules.push_back(std::move(ld));
  }
  return d;
}

}  // namespace

EngineKnobs knobs_of(const EngineDraft& e) {
  EngineKnobs k;
  for (const auto& f : e.values) {
    if (const KnobSpec* spec = find_knob(std::string_view{f.key}.substr(7))) spec->set(k, f.value);
  }
  for (const auto& f : e.blocked_ports)
    k.blocked_ports.push_back(static_cast<std::uint16_t>(f.value));
  return k;
}

nat::EngineConfig draft_engine(const Draft& d) {
  return profile_engine(d.profile, d.engine.present ? knobs_of(d.engine) : EngineKnobs{});
}

Config to_config(const Draft& d) {
  Config c;
  c.profile = d.profile;
  if (d.name) c.gateway.name = d.name->value;
  if (d.idle_timeout_minutes) {
    c.gateway.idle_timeout = std::chrono::minutes(d.idle_timeout_minutes->value);
  }
  for (const auto& f : d.public_ips) c.gateway.public_ips.push_back(f.value);
  for (const auto& f : d.public_ip_prefixes) c.gateway.public_ip_prefixes.push_back(f.value);
  for (const auto& f : d.subnets) c.gateway.subnets.push_back(f.value);
  c.gateway.public_ip_selection = d.ip_selection;
  const auto iface = [](const InterfaceDraft& i) {
    InterfaceConfig out;
    if (i.name) out.name = i.name->value;
    out.backend = i.backend;
    if (i.next_hop) out.next_hop = i.next_hop->value;
    return out;
  };
  c.interfaces.inside = iface(d.inside);
  c.interfaces.outside = iface(d.outside);
  if (d.api_listen) c.api.listen = d.api_listen->value;
  const FlowLogsDraft& fl = d.flow_logs;
  if (fl.enabled) c.flow_logs.enabled = fl.enabled->value;
  if (fl.path) c.flow_logs.path = fl.path->value;
  if (fl.max_bytes) c.flow_logs.max_bytes = static_cast<std::uint64_t>(fl.max_bytes->value);
  if (fl.keep) c.flow_logs.keep = static_cast<std::uint32_t>(fl.keep->value);
  if (fl.rate_per_second)
    c.flow_logs.rate_per_second = static_cast<std::uint32_t>(fl.rate_per_second->value);
  if (d.workers) c.datapath.workers = static_cast<std::uint32_t>(d.workers->value);
  for (const auto& f : d.cpus) c.datapath.cpus.push_back(static_cast<std::uint32_t>(f.value));
  if (d.steering) c.datapath.steering = d.steering->value;
  if (d.network.present) c.network = to_network(d.network);
  if (d.engine.present) c.knobs = knobs_of(d.engine);
  return c;
}

Draft to_draft(const Config& c) {
  Draft d;
  d.profile = c.profile;
  d.gateway_present = true;
  d.name = Field<std::string>{"gateway.name", shown(c.gateway.name), {}, c.gateway.name};
  const auto minutes = static_cast<std::int64_t>(c.gateway.idle_timeout.count());
  if (rules_of(c.profile).idle_configurable) {
    d.idle_timeout_minutes =
        Field<std::int64_t>{"gateway.idle_timeout_minutes", std::to_string(minutes), {}, minutes};
  }
  d.ip_selection = c.gateway.public_ip_selection;
  const auto list = [](const auto& values, std::string_view key, auto& out) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      out.push_back({fmt::format("{}[{}]", key, i), text(values[i]), {}, values[i]});
    }
  };
  list(c.gateway.public_ips, "gateway.public_ips", d.public_ips);
  list(c.gateway.public_ip_prefixes, "gateway.public_ip_prefixes", d.public_ip_prefixes);
  list(c.gateway.subnets, "gateway.subnets", d.subnets);
  d.public_entries = c.gateway.public_ips.size() + c.gateway.public_ip_prefixes.size();
  d.subnet_entries = c.gateway.subnets.size();
  const auto iface = [](const InterfaceConfig& i, std::string key) {
    InterfaceDraft out;
    out.present = true;
    out.name = Field<std::string>{key + ".name", shown(i.name), {}, i.name};
    out.key = std::move(key);
    out.backend = i.backend;
    out.next_hop_given = i.next_hop.has_value();
    if (i.next_hop) {
      out.next_hop = Field<net::Ipv4>{out.key + ".next_hop", text(*i.next_hop), {}, *i.next_hop};
    }
    return out;
  };
  d.inside = iface(c.interfaces.inside, "interfaces.inside");
  d.outside = iface(c.interfaces.outside, "interfaces.outside");
  d.api_listen = Field<net::Endpoint>{"api.listen", text(c.api.listen), {}, c.api.listen};
  const FlowLogsConfig& fl = c.flow_logs;
  FlowLogsDraft& fd = d.flow_logs;
  fd.present = true;
  fd.enabled = Field<bool>{"flow_logs.enabled", fl.enabled ? "true" : "false", {}, fl.enabled};
  fd.path = Field<std::string>{"flow_logs.path", shown(fl.path), {}, fl.path};
  const auto integer = [](std::string key, std::uint64_t v) {
    const auto i = static_cast<std::int64_t>(std::min<std::uint64_t>(v, std::uint64_t{1} << 62));
    return Field<std::int64_t>{std::move(key), std::to_string(v), {}, i};
  };
  fd.max_bytes = integer("flow_logs.max_bytes", fl.max_bytes);
  fd.keep = integer("flow_logs.keep", fl.keep);
  fd.rate_per_second = integer("flow_logs.rate_per_second", fl.rate_per_second);
  const auto workers = static_cast<std::int64_t>(c.datapath.workers);
  d.workers = Field<std::int64_t>{"datapath.workers", std::to_string(workers), {}, workers};
  for (std::size_t i = 0; i < c.datapath.cpus.size(); ++i) {
    const auto cpu = static_cast<std::int64_t>(c.datapath.cpus[i]);
    d.cpus.push_back({fmt::format("datapath.cpus[{}]", i), std::to_string(cpu), {}, cpu});
  }
  d.cpu_entries = c.datapath.cpus.size();
  d.steering = Field<Steering>{
      "datapath.steering", std::string(name(c.datapath.steering)), {}, c.datapath.steering};
  if (c.network) d.network = to_network_draft(*c.network);
  if (c.knobs) {
    d.engine.present = true;
    for (const KnobSpec& k : knob_specs()) {
      const std::int64_t v = k.get(*c.knobs);
      const bool word =
          !k.choices.empty() && v >= 0 && static_cast<std::size_t>(v) < k.choices.size();
      d.engine.values.push_back(
          {fmt::format("engine.{}", k.name),
           word ? std::string{k.choices[static_cast<std::size_t>(v)]} : std::to_string(v),
           {},
           v});
    }
    d.engine.blocked_ports_given = !c.knobs->blocked_ports.empty();
    for (std::size_t i = 0; i < c.knobs->blocked_ports.size(); ++i) {
      const std::int64_t port = c.knobs->blocked_ports[i];
      d.engine.blocked_ports.push_back(
          {fmt::format("engine.blocked_ports[{}]", i), std::to_string(port), {}, port});
    }
  }
  return d;
}

}  // namespace detail
}  // namespace natgw::control
