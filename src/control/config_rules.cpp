// The value rules of a config (SPEC sections 1 and 6): ranges, name formats, duplicates,
// overlaps, totals. Every rule runs on what the reader could read, so one run reports everything.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control/config_draft.hpp"
#include "control/config_text.hpp"
#include "vnet/network.hpp"

namespace natgw::control::detail {
namespace {

constexpr std::size_t kGatewayNameMax = 64;
constexpr std::size_t kInterfaceNameMax = 15;  // IFNAMSIZ (16) less the terminating NUL

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_name_char(char c) noexcept {
  return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

std::string char_text(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (c == ' ') return "a space";
  if (c == '\t') return "a tab";
  if (u < 0x20 || u >= 0x7f) return fmt::format("byte 0x{:02x}", u);
  if (c == '\'') return "\"'\"";
  return fmt::format("'{}'", c);
}

// What is wrong with a name of letters, digits, '-', '_' and '.'; empty when nothing.
std::string name_problem(std::string_view s, std::size_t max) {
  if (s.empty()) return "is empty";
  if (s.size() > max) return fmt::format("is {} characters long", s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_name_char(s[i])) {
      return fmt::format("has a character that is not allowed ({} at position {})", char_text(s[i]),
                         i + 1);
    }
  }
  return {};
}

class Rules {
 public:
  Rules(const Draft& d, std::vector<ConfigError>& errors)
      : d_(d), errors_(errors), rules_(rules_of(d.profile)) {
    if (d.profile == Profile::custom) {
      if (const auto* f = knob("max_public_ips");
          f && f->value >= 1 && f->value <= static_cast<std::int64_t>(nat::kMaxPublicIps)) {
        rules_.max_public_ips = static_cast<std::size_t>(f->value);
      }
    }
  }

  void run() {
    if (d_.engine.present) engine();
    if (d_.name) gateway_name(*d_.name);
    if (d_.idle_timeout_minutes) idle_timeout(*d_.idle_timeout_minutes);
    subnets();
    public_addresses();
    interface(d_.inside, true);
    interface(d_.outside, false);
    if (d_.inside.name && d_.outside.name && !d_.outside.name->value.empty() &&
        d_.inside.name->value == d_.outside.name->value) {
      const auto& f = *d_.outside.name;
      error(f, fmt::format("{} is also the inside interface ({}); allowed: an interface other "
                           "than the inside one",
                           f.text, d_.inside.name->key));
    }
    if (d_.api_listen && d_.api_listen->value.port == 0) {
      error(*d_.api_listen, fmt::format("{} has port 0, out of range; allowed: {}",
                                        d_.api_listen->text, allowed::api_listen()));
    }
    if (d_.flow_logs.present) flow_logs();
    if (d_.network.present) network();
    datapath();
  }

 private:
  template <class T>
  void error(const Field<T>& f, std::string message) {
    add_error(errors_, f.key, f.text, std::move(message), f.at);
  }

  void datapath() {
    if (d_.workers && (d_.workers->value < 1 || d_.workers->value > kMaxWorkers)) {
      error(*d_.workers,
            fmt::format("{} is out of range; allowed: {}", d_.workers->text, allowed::workers()));
    }
    for (std::size_t i = 0; i < d_.cpus.size(); ++i) {
      const auto& c = d_.cpus[i];
      if (c.value < 0 || c.value > kMaxCpu) {
        error(c, fmt::format("{} is out of range; allowed: {}", c.text, allowed::cpu()));
        continue;
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (d_.cpus[j].value == c.value) {
          error(c,
                fmt::format("{} is also {}; allowed: {}", c.text, d_.cpus[j].key, allowed::cpu()));
          break;
        }
      }
    }
    const std::int64_t workers = d_.workers ? d_.workers->value : 1;
    const bool workers_ok = workers >= 1 && workers <= kMaxWorkers;  // else reported above
    if (workers_ok && d_.cpu_entries != 0 && static_cast<std::int64_t>(d_.cpu_entries) != workers) {
      add_error(
          errors_, "datapath.cpus", "",
          fmt::format("{} CPU{} for {} worker{}; allowed: none (not pinned), or one CPU per worker",
                      d_.cpu_entries, d_.cpu_entries == 1 ? "" : "s", workers,
                      workers == 1 ? "" : "s"),
          d_.cpus_at);
    }
    if (d_.steering && d_.steering->value == Steering::flow) {
      if (const std::string_view why = host_bound_reason(draft_engine(d_)); !why.empty()) {
        error(*d_.steering,
              fmt::format("{} would split a host's packets between workers, and profile {} keeps "
                          "{}; allowed: auto (here: host), host",
                          d_.steering->text, name(d_.profile), why));
      }
    }
  }

  void gateway_name(const Field<std::string>& f) {
    auto problem = name_problem(f.value, kGatewayNameMax);
    if (problem.empty() && !is_alnum(f.value.front())) {
      problem = fmt::format("starts with {}", char_text(f.value.front()));
    }
    if (!problem.empty()) {
      error(f, fmt::format("{} {}; allowed: {}", f.text, problem, allowed::gateway_name()));
    }
  }

  // The `engine:` section: custom only; each knob within its bounds; then the rules between them.
  const Field<std::int64_t>* knob(std::string_view name) const {
    for (const auto& f : d_.engine.values) {
      if (std::string_view{f.key}.substr(7) == name) return &f;
    }
    return nullptr;
  }
  std::int64_t knob_value(std::string_view name) const {
    if (const auto* f = knob(name)) return f->value;
    return find_knob(name)->get(EngineKnobs{});
  }

  void engine() {
    if (d_.profile != Profile::custom) {
      add_error(errors_, "engine", "",
                fmt::format("is only for profile custom (profile {} fixes every engine knob: "
                            "nat/README.md); allowed: profile: custom with this section, or no "
                            "engine section",
                            name(d_.profile)),
                d_.engine.at);
      return;
    }
    for (const auto& f : d_.engine.values) {
      const KnobSpec* k = find_knob(std::string_view{f.key}.substr(7));
      if (k == nullptr || !k->choices.empty()) continue;
      if (f.value < k->min || f.value > k->max) {
        error(f, fmt::format("{} is out of range; allowed: {}", f.text, knob_allowed(*k)));
      } else if (k->name == "fragment_table" &&
                 !std::has_single_bit(static_cast<std::uint64_t>(f.value))) {
        error(f, fmt::format("{} is not a power of two; allowed: {}", f.text, knob_allowed(*k)));
      }
    }
    for (const auto& f : d_.engine.blocked_ports) {
      if (f.value < 1 || f.value > 65535) {
        error(f, fmt::format("{} is out of range; allowed: {}", f.text, blocked_port_allowed()));
      }
    }
    constexpr auto eim = static_cast<std::int64_t>(nat::Mapping::endpoint_independent);
    const bool mapping_eim = knob_value("mapping") == eim;
    if (const auto* f = knob("filtering");
        f && f->value == static_cast<std::int64_t>(nat::Filtering::endpoint_independent) &&
        !mapping_eim) {
      error(*f, fmt::format("{} needs engine.mapping endpoint_independent (a public IP:port must "
                            "belong to one inside host); allowed: endpoint_dependent, or "
                            "mapping: endpoint_independent",
                            f->text));
    }
    const std::int64_t host_min = knob_value("ports_per_host_min");
    const std::int64_t host_max = knob_value("ports_per_host_max");
    if (const auto* f = knob("ports_per_host_min"); f && f->value > 0 && !mapping_eim) {
      error(*f, fmt::format("{} needs engine.mapping endpoint_independent (the allowance counts "
                            "mappings); allowed: 0, or mapping: endpoint_independent",
                            f->text));
    }
    if (const auto* f = knob("ports_per_host_max"); f && host_max < host_min) {
      error(*f, fmt::format("{} is below engine.ports_per_host_min ({}); allowed: {}..65536",
                            f->text, host_min, host_min));
    } else if (f && host_max > 0 && host_min == 0) {
      error(*f, fmt::format("{} needs engine.ports_per_host_min of 1 or more; allowed: 0, or a "
                            "maximum with a minimum",
                            f->text));
    }
    if (const auto* f = knob("port_max"); f && f->value < knob_value("port_min")) {
      error(*f, fmt::format("{} is below engine.port_min ({}); allowed: {}..65535", f->text,
                            knob_value("port_min"), knob_value("port_min")));
    }
  }

  void flow_logs() {
    const FlowLogsDraft& f = d_.flow_logs;
    if (f.path) {
      const std::string& p = f.path->value;
      if (p != "-") {
        const bool control_char = std::any_of(p.begin(), p.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        });
        if (!p.starts_with('/')) {
          error(*f.path, fmt::format("{} is not an absolute path; allowed: {}", f.path->text,
                                     allowed::flow_logs_path()));
        } else if (p.ends_with('/')) {
          error(*f.path, fmt::format("{} names a directory, not a file; allowed: {}", f.path->text,
                                     allowed::flow_logs_path()));
        } else if (control_char) {
          error(*f.path, fmt::format("{} has a control character; allowed: {}", f.path->text,
                                     allowed::flow_logs_path()));
        }
      }
    }
    const auto range = [&](const std::optional<Field<std::int64_t>>& v, std::int64_t lo,
                           std::int64_t hi, const std::string& allowed_text) {
      if (v && (v->value < lo || v->value > hi)) {
        error(*v, fmt::format("{} is out of range; allowed: {}", v->text, allowed_text));
      }
    };
    range(f.max_bytes, allowed::kFlowLogMaxBytesMin, allowed::kFlowLogMaxBytesMax,
          allowed::flow_logs_max_bytes());
    range(f.keep, 0, allowed::kFlowLogKeepMax, allowed::flow_logs_keep());
    range(f.rate_per_second, 1, allowed::kFlowLogRateMax, allowed::flow_logs_rate());
  }

  void idle_timeout(const Field<std::int64_t>& f) {
    if (!rules_.idle_configurable) {
      error(f, fmt::format("{} cannot be set with profile {}; allowed: {}", f.text,
                           name(d_.profile), allowed::idle_timeout(rules_, d_.profile)));
      return;
    }
    if (f.value < rules_.idle_min_minutes || f.value > rules_.idle_max_minutes) {
      error(f, fmt::format("{} is out of range; allowed: {}", f.text,
                           allowed::idle_timeout(rules_, d_.profile)));
    }
  }

  void subnets() {
    for (std::size_t i = 0; i < d_.subnets.size(); ++i) {
      const auto& s = d_.subnets[i];
      if (!s.value.is_private()) {
        error(s, fmt::format("{} is not private; allowed: {}", s.text, allowed::subnet()));
      }
      for (std::size_t j = 0; j < i; ++j) {
        const auto& other = d_.subnets[j];
        if (s.value.overlaps(other.value)) {
          error(s, fmt::format("{} overlaps {} ({}); allowed: subnets that do not overlap", s.text,
                               other.key, other.text));
          break;
        }
      }
    }
    if (d_.gateway_present && d_.subnet_entries == 0) {
      add_error(errors_, "gateway.subnets", "[]",
                fmt::format("[] attaches no subnet: a gateway with no subnet is not operational: "
                            "it forwards nothing; allowed: 1 or more subnets, each {}",
                            allowed::subnet()),
                d_.subnets_at);
    }
  }

  // The attached subnet that overlaps `p`, if any.
  const Field<net::Prefix>* subnet_overlapping(const net::Prefix& p) const {
    for (const auto& s : d_.subnets) {
      if (s.value.overlaps(p)) return &s;
    }
    return nullptr;
  }

  void public_addresses() {
    // Prefixes first: the addresses are checked against the prefixes that are usable.
    std::vector<const Field<net::Prefix>*> good_prefixes;
    std::uint64_t prefix_addresses = 0;
    const auto prefix_allowed = allowed::public_ip_prefix(rules_, d_.profile);
    for (const auto& p : d_.public_ip_prefixes) {
      const auto len = p.value.length();
      if (len < rules_.prefix_min_length || len > rules_.prefix_max_length) {
        error(p, fmt::format("{} is a /{} ({} address{}); allowed: {}", p.text, len, p.value.size(),
                             p.value.size() == 1 ? "" : "es", prefix_allowed));
        continue;
      }
      if (const auto special = special_use(p.value)) {
        error(p,
              fmt::format("{} overlaps {}; allowed: public addresses, none of them in 0.0.0.0/8, "
                          "127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4 or 240.0.0.0/4",
                          p.text, *special));
        continue;
      }
      const Field<net::Prefix>* overlapping = nullptr;
      for (const auto* q : good_prefixes) {
        if (q->value.overlaps(p.value)) overlapping = q;
      }
      if (overlapping) {
        error(p, fmt::format("{} overlaps {} ({}); allowed: each public address once", p.text,
                             overlapping->key, overlapping->text));
        continue;
      }
      if (const auto* s = subnet_overlapping(p.value)) {
        error(p, fmt::format("{} overlaps attached subnet {} ({}); allowed: public addresses "
                             "outside every attached subnet",
                             p.text, s->key, s->text));
        continue;
      }
      good_prefixes.push_back(&p);
      good_prefixes_.push_back(p.value);
      prefix_addresses += p.value.size();
    }

    std::vector<const Field<net::Ipv4>*> good_ips;
    for (const auto& a : d_.public_ips) {
      if (const auto special = special_use(net::Prefix{a.value, 32})) {
        error(a, fmt::format("{} is in {}; allowed: {}", a.text, *special, allowed::public_ip()));
        continue;
      }
      const Field<net::Ipv4>* twin = nullptr;
      for (const auto* b : good_ips) {
        if (b->value == a.value) twin = b;
      }
      if (twin) {
        error(a, fmt::format("{} appears twice (also {}); allowed: each public address once",
                             a.text, twin->key));
        continue;
      }
      const Field<net::Prefix>* in_prefix = nullptr;
      for (const auto* p : good_prefixes) {
        if (p->value.contains(a.value)) in_prefix = p;
      }
      if (in_prefix) {
        error(a, fmt::format("{} is also in {} ({}); allowed: each public address once", a.text,
                             in_prefix->key, in_prefix->text));
        continue;
      }
      if (const auto* s = subnet_overlapping(net::Prefix{a.value, 32})) {
        error(a, fmt::format("{} is inside attached subnet {} ({}); allowed: {}", a.text, s->key,
                             s->text, allowed::public_ip()));
        continue;
      }
      good_ips.push_back(&a);
      good_ips_.push_back(a.value);
    }

    const auto total = good_ips.size() + prefix_addresses;
    if (total > rules_.max_public_ips) {
      const bool prefixes = prefix_addresses > 0;
      const auto value = std::to_string(total);
      add_error(errors_, prefixes ? "gateway.public_ip_prefixes" : "gateway.public_ips", value,
                fmt::format("{} public addresses in total ({} in public_ips, {} in "
                            "public_ip_prefixes) are too many; allowed: {}",
                            value, good_ips.size(), prefix_addresses,
                            allowed::public_ip_count(rules_, d_.profile)),
                prefixes ? d_.public_ip_prefixes_at : d_.public_ips_at);
    }
    if (d_.gateway_present && d_.public_entries == 0) {
      add_error(errors_, "gateway.public_ips", "[]",
                fmt::format("[] and no public_ip_prefixes give no public IP: a gateway with no "
                            "public IP is not operational: it forwards nothing; allowed: {}",
                            allowed::public_ip_count(rules_, d_.profile)),
                d_.public_ips_at);
    }
  }

  void interface(const InterfaceDraft& i, bool inside) {
    if (!i.present) return;
    if (i.name) {
      const auto& f = *i.name;
      auto problem = name_problem(f.value, kInterfaceNameMax);
      if (problem.empty() && (f.value == "." || f.value == "..")) problem = "is not a name";
      if (!problem.empty()) {
        error(f, fmt::format("{} {}; allowed: {}", f.text, problem, allowed::interface_name()));
      }
    }
    if (!inside && !i.next_hop_given) {
      add_error(errors_, i.key + ".next_hop", "",
                fmt::format("missing (required on the outside interface); allowed: {}",
                            allowed::next_hop()),
                i.at);
    }
    if (i.next_hop) {
      const auto& f = *i.next_hop;
      if (const auto special = special_use(net::Prefix{f.value, 32})) {
        error(f, fmt::format("{} is in {}; allowed: {}", f.text, *special, allowed::next_hop()));
      } else if (is_public_address(f.value)) {
        error(f, fmt::format("{} is one of the gateway's public IPs; allowed: {}", f.text,
                             allowed::next_hop()));
      }
    }
  }

  // --- network: (docs/network.md) ---------------------------------------------------------

  // A name of a network resource (route table, route, security group, rule, endpoint).
  void resource_name(const Field<std::string>& f) {
    auto problem = name_problem(f.value, kGatewayNameMax);
    if (problem.empty() && !is_alnum(f.value.front())) {
      problem = fmt::format("starts with {}", char_text(f.value.front()));
    }
    if (!problem.empty()) {
      error(f, fmt::format("{} {}; allowed: {}", f.text, problem, allowed::resource_name()));
    }
  }

  // Names must be unique in their list: reports the later one.
  void unique_names(const std::vector<const Field<std::string>*>& names, std::string_view what) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (names[i]->value == names[j]->value) {
          error(*names[i], fmt::format("{} is also the name of {}; allowed: each {} name once",
                                       names[i]->text, names[j]->key, what));
          break;
        }
      }
    }
  }

  [[nodiscard]] bool in_space(const net::Prefix& p) const {
    for (const auto& s : space_) {
      if (s.length() <= p.length() && s.contains(p.address())) return true;
    }
    return false;
  }
  [[nodiscard]] bool overlaps_space(const net::Prefix& p) const {
    for (const auto& s : space_) {
      if (s.overlaps(p)) return true;
    }
    return false;
  }
  [[nodiscard]] std::string space_text() const {
    std::string out;
    for (const auto& s : space_) out += (out.empty() ? "" : ", ") + text(s);
    return space_given_ ? "network.address_space (" + out + ")" : "the attached subnets (" + out + ")";
  }

  // An address of the network (appliance, endpoint, host): inside the address space.
  bool network_address(const Field<net::Ipv4>& f, const std::string& allowed_text) {
    if (const auto special = special_use(net::Prefix{f.value, 32})) {
      error(f, fmt::format("{} is in {}; allowed: {}", f.text, *special, allowed_text));
      return false;
    }
    if (!in_space(net::Prefix{f.value, 32})) {
      error(f, fmt::format("{} is outside {}; allowed: {}", f.text, space_text(), allowed_text));
      return false;
    }
    return true;
  }

  // A public address of another outbound method (instance public IP, load balancer frontend).
  void method_address(const Field<net::Ipv4>& f) {
    const auto allowed_text = allowed::method_public_ip();
    if (const auto special = special_use(net::Prefix{f.value, 32})) {
      error(f, fmt::format("{} is in {}; allowed: {}", f.text, *special, allowed_text));
    } else if (in_space(net::Prefix{f.value, 32})) {
      error(f, fmt::format("{} is inside {}; allowed: {}", f.text, space_text(), allowed_text));
    } else if (is_public_address(f.value)) {
      error(f, fmt::format("{} is one of the gateway's public IPs; allowed: {}", f.text, allowed_text));
    }
  }

  struct ListedSubnet {
    const Field<net::Prefix>* field;
    int route_table;     // -1 when the entry is not a route table's
    int security_group;  // -1 when the entry is not a security group's
  };

  // A subnet a route table, security group or service endpoint names: inside the address space,
  // equal to or apart from every other subnet, one route table and one security group at most.
  void listed_subnet(const Field<net::Prefix>& f, int table, int group) {
    if (!in_space(f.value)) {
      error(f, fmt::format("{} is outside {}; allowed: {}", f.text, space_text(),
                           allowed::network_subnet()));
      return;
    }
    for (const auto& s : d_.subnets) {
      if (s.value != f.value && s.value.overlaps(f.value)) {
        error(f, fmt::format("{} overlaps attached subnet {} ({}); allowed: a subnet equal to or "
                             "apart from every other subnet",
                             f.text, s.key, s.text));
        return;
      }
    }
    for (const auto& other : listed_) {
      const auto& o = *other.field;
      if (o.value != f.value) {
        if (o.value.overlaps(f.value)) {
          error(f, fmt::format("{} overlaps subnet {} ({}); allowed: a subnet equal to or apart "
                               "from every other subnet",
                               f.text, o.key, o.text));
          return;
        }
        continue;
      }
      if (table >= 0 && other.route_table >= 0) {
        error(f, fmt::format("{} is also associated with {} ({}); allowed: one route table per "
                             "subnet",
                             f.text, o.key, o.text));
        return;
      }
      if (group >= 0 && other.security_group >= 0) {
        error(f, fmt::format("{} is also associated with {} ({}); allowed: one security group per "
                             "subnet",
                             f.text, o.key, o.text));
        return;
      }
    }
    listed_.push_back({&f, table, group});
  }

  void route(const RouteDraft& r) {
    if (r.name) resource_name(*r.name);
    if (!r.next_hop) return;
    const auto type = r.next_hop->value;
    if (vnet::needs_address(type) && !r.next_hop_address_given) {
      add_error(errors_, r.key + ".next_hop_address", "",
                fmt::format("missing (required with next_hop_type {}); allowed: {}",
                            r.next_hop->text, allowed::next_hop_address()),
                r.at);
    }
    if (!r.next_hop_address) return;
    const auto& a = *r.next_hop_address;
    if (!vnet::needs_address(type)) {
      error(a, fmt::format("{} is a next hop address for next_hop_type {}, which takes none; "
                           "allowed: {}",
                           a.text, r.next_hop->text, allowed::next_hop_address()));
      return;
    }
    if (network_address(a, allowed::next_hop_address()) && is_public_address(a.value)) {
      error(a, fmt::format("{} is one of the gateway's public IPs; allowed: {}", a.text,
                           allowed::next_hop_address()));
    }
  }

  void route_table(const RouteTableDraft& t, int index) {
    if (t.name) resource_name(*t.name);
    for (const auto& s : t.subnets) listed_subnet(s, index, -1);
    std::vector<const Field<std::string>*> names;
    for (std::size_t i = 0; i < t.routes.size(); ++i) {
      const auto& r = t.routes[i];
      route(r);
      if (r.name) names.push_back(&*r.name);
      if (!r.prefix) continue;
      for (std::size_t j = 0; j < i; ++j) {
        const auto& o = t.routes[j];
        if (o.prefix && o.prefix->value == r.prefix->value) {
          error(*r.prefix, fmt::format("{} is also the prefix of {}; allowed: each address prefix "
                                       "once in a route table",
                                       r.prefix->text, o.prefix->key));
          break;
        }
      }
    }
    unique_names(names, "route");
  }

  void rule(const RuleDraft& r) {
    if (r.name) {
      resource_name(*r.name);
      for (const auto& def : vnet::Network::default_rules()) {
        if (def.name == r.name->value) {
          error(*r.name, fmt::format("{} is the name of a default rule; allowed: a name other than "
                                     "AllowVnetOutBound, AllowInternetOutBound, DenyAllOutBound, "
                                     "AllowVnetInBound, AllowAzureLoadBalancerInBound, "
                                     "DenyAllInBound",
                                     r.name->text));
          break;
        }
      }
    }
    if (r.priority && (r.priority->value < 100 || r.priority->value > 4096)) {
      error(*r.priority, fmt::format("{} is out of range; allowed: {}", r.priority->text,
                                     allowed::priority()));
    }
    if (r.protocol && r.protocol->value == vnet::Protocol::icmp) {
      for (const auto* ports : {&r.source_ports, &r.destination_ports}) {
        for (const auto& p : *ports) {
          if (p.value.first != 0 || p.value.last != 65535) {
            error(p, fmt::format("{} is a port condition on protocol icmp, which has no ports; "
                                 "allowed: any",
                                 p.text));
          }
        }
      }
    }
  }

  void security_group(const SecurityGroupDraft& g, int index) {
    if (g.name) resource_name(*g.name);
    for (const auto& s : g.subnets) listed_subnet(s, -1, index);
    std::vector<const Field<std::string>*> names;
    for (std::size_t i = 0; i < g.rules.size(); ++i) {
      const auto& r = g.rules[i];
      rule(r);
      if (r.name) names.push_back(&*r.name);
      if (!r.priority || !r.direction) continue;
      for (std::size_t j = 0; j < i; ++j) {
        const auto& o = g.rules[j];
        if (o.priority && o.direction && o.priority->value == r.priority->value &&
            o.direction->value == r.direction->value) {
          error(*r.priority, fmt::format("{} is also the priority of {} ({}); allowed: {}",
                                         r.priority->text, o.key, o.direction->text,
                                         allowed::priority()));
          break;
        }
      }
    }
    unique_names(names, "rule");
  }

  void network() {
    const NetworkDraft& n = d_.network;
    // The address space: explicit, else the attached subnets.
    for (std::size_t i = 0; i < n.address_space.size(); ++i) {
      const auto& p = n.address_space[i];
      if (const auto special = special_use(p.value)) {
        error(p, fmt::format("{} overlaps {}; allowed: {}", p.text, *special, allowed::address_space()));
        continue;
      }
      bool overlap = false;
      for (std::size_t j = 0; j < i && !overlap; ++j) {
        if (n.address_space[j].value.overlaps(p.value)) {
          error(p, fmt::format("{} overlaps {} ({}); allowed: prefixes that do not overlap", p.text,
                               n.address_space[j].key, n.address_space[j].text));
          overlap = true;
        }
      }
      if (!overlap) space_.push_back(p.value);
    }
    space_given_ = !n.address_space.empty();
    if (space_given_) {
      for (const auto& s : d_.subnets) {
        if (!in_space(s.value)) {
          error(s, fmt::format("{} is outside {}; allowed: attached subnets inside the virtual "
                               "network's address space",
                               s.text, space_text()));
        }
      }
      for (const auto& a : d_.public_ips) {
        if (in_space(net::Prefix{a.value, 32})) {
          error(a, fmt::format("{} is inside {}; allowed: public addresses outside the virtual "
                               "network's address space",
                               a.text, space_text()));
        }
      }
      for (const auto& p : d_.public_ip_prefixes) {
        if (overlaps_space(p.value)) {
          error(p, fmt::format("{} overlaps {}; allowed: public addresses outside the virtual "
                               "network's address space",
                               p.text, space_text()));
        }
      }
    } else {
      for (const auto& s : d_.subnets) space_.push_back(s.value);
    }

    std::vector<const Field<std::string>*> names;
    for (std::size_t i = 0; i < n.route_tables.size(); ++i) {
      route_table(n.route_tables[i], static_cast<int>(i));
      if (n.route_tables[i].name) names.push_back(&*n.route_tables[i].name);
    }
    unique_names(names, "route table");
    names.clear();
    for (std::size_t i = 0; i < n.security_groups.size(); ++i) {
      security_group(n.security_groups[i], static_cast<int>(i));
      if (n.security_groups[i].name) names.push_back(&*n.security_groups[i].name);
    }
    unique_names(names, "security group");

    names.clear();
    std::vector<const Field<net::Ipv4>*> addresses;
    for (const auto& pe : n.private_endpoints) {
      if (pe.name) {
        resource_name(*pe.name);
        names.push_back(&*pe.name);
      }
      if (!pe.address || !network_address(*pe.address, allowed::endpoint_address())) continue;
      bool twice = false;
      for (const auto* other : addresses) {
        if (other->value == pe.address->value) {
          error(*pe.address, fmt::format("{} is also the address of {}; allowed: one private "
                                         "endpoint per address",
                                         pe.address->text, other->key));
          twice = true;
          break;
        }
      }
      if (!twice) addresses.push_back(&*pe.address);
    }
    unique_names(names, "private endpoint");

    names.clear();
    for (const auto& se : n.service_endpoints) {
      if (se.service) {
        resource_name(*se.service);
        names.push_back(&*se.service);
      }
      for (const auto& s : se.subnets) listed_subnet(s, -1, -1);
      for (const auto& p : se.prefixes) {
        if (const auto special = special_use(p.value)) {
          error(p, fmt::format("{} overlaps {}; allowed: {}", p.text, *special, allowed::service_prefix()));
        } else if (overlaps_space(p.value)) {
          error(p, fmt::format("{} overlaps {}; allowed: {}", p.text, space_text(),
                               allowed::service_prefix()));
        }
      }
    }
    unique_names(names, "service");

    std::vector<const Field<net::Ipv4>*> hosts;
    for (const auto& ip : n.instance_public_ips) {
      if (ip.public_ip) method_address(*ip.public_ip);
      if (!ip.host || !network_address(*ip.host, allowed::host_address())) continue;
      bool twice = false;
      for (const auto* other : hosts) {
        if (other->value == ip.host->value) {
          error(*ip.host, fmt::format("{} also has {}; allowed: one instance public IP per host",
                                      ip.host->text, other->key));
          twice = true;
          break;
        }
      }
      if (!twice) hosts.push_back(&*ip.host);
    }

    names.clear();
    for (const auto& lb : n.load_balancer_outbound_rules) {
      if (lb.name) {
        resource_name(*lb.name);
        names.push_back(&*lb.name);
      }
      for (const auto& f : lb.frontend_ips) method_address(f);
      for (const auto& b : lb.backends) {
        if (!in_space(b.value)) {
          error(b, fmt::format("{} is outside {}; allowed: {}", b.text, space_text(),
                               allowed::backend_prefix()));
        }
      }
      if (lb.protocol && lb.protocol->value == vnet::Protocol::icmp) {
        error(*lb.protocol, fmt::format("{} is not a protocol of outbound rules; allowed: {}",
                                        lb.protocol->text, allowed::lb_protocol()));
      }
    }
    unique_names(names, "load balancer outbound rule");
  }

  // Among the public addresses that passed their own rules (public_addresses() runs first).
  bool is_public_address(net::Ipv4 a) const {
    for (const auto& ip : good_ips_) {
      if (ip == a) return true;
    }
    for (const auto& p : good_prefixes_) {
      if (p.contains(a)) return true;
    }
    return false;
  }

  const Draft& d_;
  std::vector<ConfigError>& errors_;
  ProfileRules rules_;
  std::vector<net::Ipv4> good_ips_;
  std::vector<net::Prefix> good_prefixes_;
  std::vector<net::Prefix> space_;  // the virtual network's address space, as usable
  bool space_given_ = false;
  std::vector<ListedSubnet> listed_;
};

}  // namespace

void check_rules(const Draft& draft, std::vector<ConfigError>& errors) {
  Rules{draft, errors}.run();
}

}  // namespace natgw::control::detail
