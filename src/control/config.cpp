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
  }
  return "unknown";
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
  switch (p) {
    case Profile::azure:
      return ProfileRules{};
  }
  return ProfileRules{};
}

std::vector<net::Ipv4> GatewayConfig::public_addresses() const {
  std::vector<net::Ipv4> out = public_ips;
  for (const auto& p : public_ip_prefixes) {
    for (std::uint64_t i = 0; i < p.size(); ++i) {
      out.emplace_back(static_cast<std::uint32_t>(p.address().value() + i));
    }
  }
  return out;
}

nat::EngineConfig Config::engine() const {
  nat::EngineConfig e = nat::azure_profile();
  e.public_ips = gateway.public_addresses();
  e.subnets = gateway.subnets;
  e.timers.tcp_idle = gateway.idle_timeout;
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
  if (d.workers) c.datapath.workers = static_cast<std::uint32_t>(d.workers->value);
  for (const auto& f : d.cpus) c.datapath.cpus.push_back(static_cast<std::uint32_t>(f.value));
  if (d.network.present) c.network = to_network(d.network);
  return c;
}

Draft to_draft(const Config& c) {
  Draft d;
  d.profile = c.profile;
  d.gateway_present = true;
  d.name = Field<std::string>{"gateway.name", shown(c.gateway.name), {}, c.gateway.name};
  const auto minutes = static_cast<std::int64_t>(c.gateway.idle_timeout.count());
  d.idle_timeout_minutes =
      Field<std::int64_t>{"gateway.idle_timeout_minutes", std::to_string(minutes), {}, minutes};
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
  const auto workers = static_cast<std::int64_t>(c.datapath.workers);
  d.workers = Field<std::int64_t>{"datapath.workers", std::to_string(workers), {}, workers};
  for (std::size_t i = 0; i < c.datapath.cpus.size(); ++i) {
    const auto cpu = static_cast<std::int64_t>(c.datapath.cpus[i]);
    d.cpus.push_back({fmt::format("datapath.cpus[{}]", i), std::to_string(cpu), {}, cpu});
  }
  d.cpu_entries = c.datapath.cpus.size();
  if (c.network) d.network = to_network_draft(*c.network);
  return d;
}

}  // namespace detail
}  // namespace natgw::control
