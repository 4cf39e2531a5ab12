// YAML text to Draft: syntax, shape (maps, lists, single values), unknown and duplicate keys,
// missing required keys, value types and formats. Ranges and cross-key rules: config_rules.cpp.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/suggest.hpp"
#include "control/config_draft.hpp"
#include "control/config_text.hpp"

namespace natgw::control::detail {
namespace {

using Keys = std::span<const std::string_view>;

constexpr std::array<std::string_view, 7> kTopKeys = {"profile", "gateway", "interfaces",
                                                      "api",     "network", "flow_logs", "datapath"};
// With profile custom, the engine knobs too.
constexpr std::array<std::string_view, 8> kTopKeysCustom = {
    "profile", "gateway", "interfaces", "api", "network", "flow_logs", "datapath", "engine"};
constexpr std::array<std::string_view, 6> kGatewayKeys = {
    "name",    "idle_timeout_minutes", "public_ips", "public_ip_prefixes",
    "subnets", "public_ip_selection"};
constexpr std::array<std::string_view, 3> kDatapathKeys = {"workers", "cpus", "steering"};
constexpr std::array<std::string_view, 2> kInterfacesKeys = {"inside", "outside"};
constexpr std::array<std::string_view, 3> kInterfaceKeys = {"name", "backend", "next_hop"};
constexpr std::array<std::string_view, 1> kApiKeys = {"listen"};
constexpr std::array<std::string_view, 5> kFlowLogsKeys = {"enabled", "path", "max_bytes", "keep",
                                                           "rate_per_second"};
constexpr std::array<std::string_view, 8> kNetworkKeys = {
    "address_space",     "default_outbound_access", "route_tables",        "security_groups",
    "private_endpoints", "service_endpoints",       "instance_public_ips", "load_balancer_outbound_rules"};
constexpr std::array<std::string_view, 3> kRouteTableKeys = {"name", "subnets", "routes"};
constexpr std::array<std::string_view, 4> kRouteKeys = {"name", "address_prefix", "next_hop_type",
                                                        "next_hop_address"};
constexpr std::array<std::string_view, 3> kSecurityGroupKeys = {"name", "subnets", "rules"};
constexpr std::array<std::string_view, 9> kRuleKeys = {
    "name",   "priority",     "direction",   "access",           "protocol",
    "source", "source_ports", "destination", "destination_ports"};
constexpr std::array<std::string_view, 2> kPrivateEndpointKeys = {"name", "address"};
constexpr std::array<std::string_view, 3> kServiceEndpointKeys = {"service", "subnets", "prefixes"};
constexpr std::array<std::string_view, 2> kInstancePublicIpKeys = {"host", "public_ip"};
constexpr std::array<std::string_view, 4> kLoadBalancerRuleKeys = {"name", "frontend_ips", "backends",
                                                                   "protocol"};

constexpr std::array kProfiles = {Profile::azure, Profile::aws, Profile::gcp, Profile::rfc,
                                  Profile::custom};

constexpr std::size_t kShownMax = 60;  // longest map or list shown in a message

Position position(const YAML::Node& n) {
  const auto m = n.Mark();
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string{key} : fmt::format("{}.{}", path, key);
}

std::string list_of(Keys keys) {
  std::string out;
  for (auto k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

// Quoted scalars (and !!str) are strings; a plain scalar's type is left to the reader of the key.
bool is_string(const YAML::Node& n) {
  return n.IsScalar() && (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str");
}

// A node as a message shows it.
std::string display(const YAML::Node& n) {
  if (n.IsNull()) return "null";
  if (n.IsScalar()) return shown(n.Scalar());
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  e << n;
  std::string s = e.good() ? e.c_str() : (n.IsMap() ? "{...}" : "[...]");
  if (s.size() > kShownMax) s = s.substr(0, kShownMax - 3) + "...";
  return s;
}

std::string kind(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (is_string(n)) return "a string";
  return "a single value";
}

using control::suggestion;

struct Entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

struct Map {
  std::string path;
  Position at;
  std::vector<Entry> entries;

  [[nodiscard]] const Entry* find(std::string_view name) const {
    for (const auto& e : entries) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
};

struct Scalar {
  std::string key;
  std::string text;   // the scalar itself
  std::string shown;  // as messages show it
  Position at;
  bool is_string = false;
};

class Reader {
 public:
  explicit Reader(std::vector<ConfigError>& errors) : errors_(errors) {}

  Draft read(const YAML::Node& root) {
    if (root.IsNull()) {
      error("", "",
            fmt::format("the file is empty; allowed: a map with keys {}", list_of(kTopKeys)),
            position(root));
      return std::move(draft_);
    }
    Keys top_keys = kTopKeys;
    if (root.IsMap()) {
      const YAML::Node p = root["profile"];
      if (p && p.IsScalar() && p.Scalar() == name(Profile::custom)) top_keys = kTopKeysCustom;
    }
    const auto top = read_map(root, "", position(root), top_keys);
    if (!top) return std::move(draft_);
    if (const auto* e = top->find("profile")) read_profile(*e);
    read_gateway(*top);
    read_interfaces(*top);
    if (const auto* e = top->find("api")) read_api(*e);
    if (const auto* e = top->find("flow_logs")) read_flow_logs(*e);
    if (const auto* e = top->find("network")) read_network(*e);
    if (const auto* e = top->find("engine")) read_engine(*e);
    if (const auto* e = top->find("datapath")) read_datapath(*e);
    return std::move(draft_);
  }

 private:
  void error(std::string key, std::string value, std::string message, Position at) {
    add_error(errors_, std::move(key), std::move(value), std::move(message), at);
  }

  // A map (null: an empty one) whose keys are in `keys`; reports unknown and repeated keys and
  // keeps the first of a repeated key.
  std::optional<Map> read_map(const YAML::Node& node, const std::string& path, Position at,
                              Keys keys) {
    if (!node.IsNull() && !node.IsMap()) {
      const auto v = display(node);
      error(path, v,
            fmt::format("{} is {}, not a map; allowed: a map with keys {}", v, kind(node),
                        list_of(keys)),
            position(node));
      return std::nullopt;
    }
    Map m{path, at, {}};
    if (node.IsNull()) return m;
    for (const auto& kv : node) {
      // Copies: yaml-cpp's iterators hand out proxies, and a Node is a cheap handle.
      const YAML::Node k = kv.first;
      std::string name = k.IsScalar() ? k.Scalar() : display(k);
      const std::string key_path = join(path, name);
      if (!k.IsScalar() || std::find(keys.begin(), keys.end(), name) == keys.end()) {
        const auto v = display(k);
        std::string message = fmt::format(
            "{} is not {}; allowed: {}", v,
            path.empty() ? std::string{"a top-level key"} : fmt::format("a key of {}", path),
            list_of(keys));
        if (const auto s = k.IsScalar() ? suggestion(name, keys) : std::nullopt) {
          message += fmt::format(" (did you mean {}?)", *s);
        }
        if (path.empty() && name == "engine") {
          message = fmt::format(
              "{} is only for profile custom (the other profiles fix every engine knob: see "
              "src/nat/README.md); allowed: profile: custom with an engine section, or no engine "
              "section",
              v);
        }
        error(key_path, v, std::move(message), position(k));
        continue;
      }
      if (const auto* first = m.find(name)) {
        error(
            key_path, name,
            fmt::format("{} appears more than once in {} (lines {} and {}); allowed: each key once",
                        name, path.empty() ? std::string{"the top level"} : path,
                        position(first->key).line, position(k).line),
            position(k));
        continue;
      }
      m.entries.push_back({std::move(name), k, kv.second});
    }
    return m;
  }

  const Entry* require(const Map& m, std::string_view key, const std::string& allowed_text) {
    const auto* e = m.find(key);
    if (!e) {
      error(join(m.path, key), "", fmt::format("missing (required); allowed: {}", allowed_text),
            m.at);
    }
    return e;
  }

  // The value of a key that takes one value (list entries included).
  std::optional<Scalar> read_scalar(const YAML::Node& node, std::string key, Position at,
                                    const std::string& allowed_text) {
    if (node.IsNull()) {
      error(std::move(key), "", fmt::format("no value; allowed: {}", allowed_text), at);
      return std::nullopt;
    }
    if (!node.IsScalar()) {
      const auto v = display(node);
      error(std::move(key), v,
            fmt::format("{} is {}, not a single value; allowed: {}", v, kind(node), allowed_text),
            position(node));
      return std::nullopt;
    }
    return Scalar{std::move(key), node.Scalar(), display(node), position(node), is_string(node)};
  }

  std::optional<Scalar> read_scalar(const Entry& e, const std::string& path,
                                    const std::string& allowed_text) {
    return read_scalar(e.value, join(path, e.name), position(e.key), allowed_text);
  }

  // The entries of a list (null: none), each with its key path; `bad_shape` when it is no list.
  std::vector<std::pair<std::string, YAML::Node>> read_list(const Entry& e, const std::string& path,
                                                            const std::string& allowed_text,
                                                            bool& bad_shape) {
    std::vector<std::pair<std::string, YAML::Node>> out;
    const auto key = join(path, e.name);
    bad_shape = false;
    if (e.value.IsNull()) return out;
    if (!e.value.IsSequence()) {
      bad_shape = true;
      const auto v = display(e.value);
      const auto example = e.value.IsScalar() ? fmt::format(" such as [{}]", v) : std::string{};
      error(key, v,
            fmt::format("{} is {}, not a list; allowed: a list{}, each entry {}", v, kind(e.value),
                        example, allowed_text),
            position(e.value));
      return out;
    }
    std::size_t i = 0;
    for (const auto& entry : e.value) {
      out.emplace_back(fmt::format("{}[{}]", key, i++), entry);
    }
    return out;
  }

  template <class T, class Parse>
  std::optional<Field<T>> read_value(const Scalar& s, const std::string& allowed_text,
                                     Parse parse) {
    std::string problem;
    const auto v = parse(s.text, problem);
    if (!v) {
      error(s.key, s.shown, fmt::format("{} {}; allowed: {}", s.shown, problem, allowed_text),
            s.at);
      return std::nullopt;
    }
    return Field<T>{s.key, s.shown, s.at, *v};
  }

  // A list of addresses or prefixes: the readable entries, and how many there were (a value that
  // is no list counts as one unreadable entry: it is reported as such, not as an empty list).
  template <class T, class Parse>
  std::size_t read_values(const Entry& e, const std::string& path, const std::string& allowed_text,
                          std::vector<Field<T>>& out, Parse parse) {
    bool bad_shape = false;
    const auto entries = read_list(e, path, allowed_text, bad_shape);
    if (bad_shape) return 1;
    for (const auto& [key, node] : entries) {
      const auto s = read_scalar(node, key, position(node), allowed_text);
      if (!s) continue;
      if (auto f = read_value<T>(*s, allowed_text, parse)) out.push_back(std::move(*f));
    }
    return entries.size();
  }

  void read_profile(const Entry& e) {
    const auto s = read_scalar(e, "", allowed::profile());
    if (!s) return;
    for (const Profile p : kProfiles) {
      if (s->text == name(p)) {
        draft_.profile = p;
        return;
      }
    }
    error(s->key, s->shown,
          fmt::format("{} is not a profile; allowed: {}", s->shown, allowed::profile()), s->at);
  }

  // The `engine:` section: every knob is a single value (an integer, or one of its words), and
  // blocked_ports a list of ports. Bounds and cross-key rules are config_rules.cpp's.
  void read_engine(const Entry& e) {
    const auto m = read_map(e.value, "engine", position(e.key), engine_keys());
    if (!m) return;
    draft_.engine.present = true;
    draft_.engine.at = position(e.key);
    for (const auto& entry : m->entries) {
      if (entry.name == "blocked_ports") {
        draft_.engine.blocked_ports_given = true;
        bool bad_shape = false;
        for (const auto& [key, node] :
             read_list(entry, m->path, blocked_port_allowed(), bad_shape)) {
          if (auto f = read_integer(Entry{key, node, node}, "", blocked_port_allowed())) {
            f->key = key;
            draft_.engine.blocked_ports.push_back(std::move(*f));
          }
        }
        continue;
      }
      const KnobSpec* k = find_knob(entry.name);
      if (k == nullptr) continue;  // read_map reported it
      const auto allowed_text = knob_allowed(*k);
      if (k->choices.empty()) {
        if (auto f = read_integer(entry, m->path, allowed_text)) {
          draft_.engine.values.push_back(std::move(*f));
        }
        continue;
      }
      const auto s = read_scalar(entry, m->path, allowed_text);
      if (!s) continue;
      const auto it = std::find(k->choices.begin(), k->choices.end(), s->text);
      if (it == k->choices.end()) {
        error(s->key, s->shown,
              fmt::format("{} is not a value of {}; allowed: {}", s->shown, k->name, allowed_text),
              s->at);
        continue;
      }
      draft_.engine.values.push_back(Field<std::int64_t>{
          s->key, s->shown, s->at, static_cast<std::int64_t>(it - k->choices.begin())});
    }
  }

  void read_gateway(const Map& top) {
    const auto* e =
        require(top, "gateway", fmt::format("a map with keys {}", list_of(kGatewayKeys)));
    if (!e) return;
    const auto m = read_map(e->value, "gateway", position(e->key), kGatewayKeys);
    if (!m) return;
    draft_.gateway_present = true;
    draft_.gateway_at = m->at;
    draft_.public_ips_at = draft_.public_ip_prefixes_at = draft_.subnets_at = m->at;
    const auto rules = rules_of(draft_.profile);

    if (const auto* n = require(*m, "name", allowed::gateway_name())) {
      if (const auto s = read_scalar(*n, m->path, allowed::gateway_name())) {
        draft_.name = Field<std::string>{s->key, s->shown, s->at, s->text};
      }
    }
    if (const auto* n = m->find("idle_timeout_minutes")) {
      draft_.idle_timeout_minutes =
          read_integer(*n, m->path, allowed::idle_timeout(rules, draft_.profile));
    }
    if (const auto* n = m->find("public_ips")) {
      draft_.public_ips_at = position(n->key);
      draft_.public_entries +=
          read_values(*n, m->path, allowed::public_ip(), draft_.public_ips, parse_ipv4);
    }
    if (const auto* n = m->find("public_ip_prefixes")) {
      draft_.public_ip_prefixes_at = position(n->key);
      draft_.public_entries +=
          read_values(*n, m->path, allowed::public_ip_prefix(rules, draft_.profile),
                      draft_.public_ip_prefixes, parse_prefix);
    }
    if (const auto* n = m->find("public_ip_selection")) {
      if (const auto s = read_scalar(*n, m->path, allowed::ip_selection())) {
        if (s->text == name(nat::IpSelection::per_connection)) {
          draft_.ip_selection = nat::IpSelection::per_connection;
        } else if (s->text == name(nat::IpSelection::per_host)) {
          draft_.ip_selection = nat::IpSelection::per_host;
        } else {
          error(s->key, s->shown,
                fmt::format("{} is not a public IP selection; allowed: {}", s->shown,
                            allowed::ip_selection()),
                s->at);
        }
      }
    }
    if (const auto* n = m->find("subnets")) {
      draft_.subnets_at = position(n->key);
      draft_.subnet_entries =
          read_values(*n, m->path, allowed::subnet(), draft_.subnets, parse_prefix);
    }
  }

  // An integer key. Quoted numbers are strings; floats, signs other than '-' and '+', and other
  // bases are not integers. Negative values are read and left to the range check.
  std::optional<Field<std::int64_t>> read_integer(const Entry& e, const std::string& path,
                                                  const std::string& allowed_text) {
    const auto s = read_scalar(e, path, allowed_text);
    if (!s) return std::nullopt;
    if (s->is_string) {
      const auto v = in_quotes(s->text);  // the quotes are the problem: show them
      error(s->key, v, fmt::format("{} is a string, not an integer; allowed: {}", v, allowed_text),
            s->at);
      return std::nullopt;
    }
    std::string_view digits = s->text;
    const bool negative = digits.starts_with('-');
    if (negative || digits.starts_with('+')) digits.remove_prefix(1);
    const bool is_integer =
        !digits.empty() &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!is_integer) {
      error(s->key, s->shown,
            fmt::format("{} is not an integer; allowed: {}", s->shown, allowed_text), s->at);
      return std::nullopt;
    }
    // Saturates: anything this large is out of range, and messages show the text as written.
    constexpr std::int64_t kCap = std::int64_t{1} << 40;
    std::int64_t v = 0;
    for (char c : digits) v = std::min(kCap, v * 10 + (c - '0'));
    return Field<std::int64_t>{s->key, s->shown, s->at, negative ? -v : v};
  }

  void read_interfaces(const Map& top) {
    const auto* e =
        require(top, "interfaces", fmt::format("a map with keys {}", list_of(kInterfacesKeys)));
    if (!e) return;
    const auto m = read_map(e->value, "interfaces", position(e->key), kInterfacesKeys);
    if (!m) return;
    const auto iface_allowed = fmt::format("a map with keys {}", list_of(kInterfaceKeys));
    if (const auto* n = require(*m, "inside", iface_allowed)) read_interface(*n, draft_.inside);
    if (const auto* n = require(*m, "outside", iface_allowed)) read_interface(*n, draft_.outside);
  }

  void read_interface(const Entry& e, InterfaceDraft& out) {
    const auto path = join("interfaces", e.name);
    const auto m = read_map(e.value, path, position(e.key), kInterfaceKeys);
    if (!m) return;
    out.present = true;
    out.key = path;
    out.at = m->at;
    if (const auto* n = require(*m, "name", allowed::interface_name())) {
      if (const auto s = read_scalar(*n, path, allowed::interface_name())) {
        out.name = Field<std::string>{s->key, s->shown, s->at, s->text};
      }
    }
    if (const auto* n = m->find("backend")) {
      if (const auto s = read_scalar(*n, path, allowed::backend())) {
        if (s->text == name(Backend::af_packet)) {
          out.backend = Backend::af_packet;
        } else if (s->text == name(Backend::af_xdp)) {
          out.backend = Backend::af_xdp;
        } else {
          error(s->key, s->shown,
                fmt::format("{} is not a backend; allowed: {}", s->shown, allowed::backend()),
                s->at);
        }
      }
    }
    if (const auto* n = m->find("next_hop")) {
      out.next_hop_given = true;
      if (const auto s = read_scalar(*n, path, allowed::next_hop())) {
        out.next_hop = read_value<net::Ipv4>(*s, allowed::next_hop(), parse_ipv4);
      }
    }
  }

  void read_api(const Entry& e) {
    const auto m = read_map(e.value, "api", position(e.key), kApiKeys);
    if (!m) return;
    if (const auto* n = m->find("listen")) {
      if (const auto s = read_scalar(*n, m->path, allowed::api_listen())) {
        draft_.api_listen = read_value<net::Endpoint>(*s, allowed::api_listen(), parse_endpoint);
      }
    }
  }

  void read_flow_logs(const Entry& e) {
    const auto m = read_map(e.value, "flow_logs", position(e.key), kFlowLogsKeys);
    if (!m) return;
    FlowLogsDraft& f = draft_.flow_logs;
    f.present = true;
    f.enabled = value_of<bool>(*m, "enabled", allowed::flow_logs_enabled(), parse_bool, false);
    if (const auto* n = m->find("path")) {
      if (const auto s = read_scalar(*n, m->path, allowed::flow_logs_path())) {
        f.path = Field<std::string>{s->key, s->shown, s->at, s->text};
      }
    }
    if (const auto* n = m->find("max_bytes")) {
      f.max_bytes = read_integer(*n, m->path, allowed::flow_logs_max_bytes());
    }
    if (const auto* n = m->find("keep"))
      f.keep = read_integer(*n, m->path, allowed::flow_logs_keep());
    if (const auto* n = m->find("rate_per_second")) {
      f.rate_per_second = read_integer(*n, m->path, allowed::flow_logs_rate());
    }
  }

  void read_datapath(const Entry& e) {
    const auto m = read_map(e.value, "datapath", position(e.key), kDatapathKeys);
    if (!m) return;
    if (const auto* n = m->find("workers"))
      draft_.workers = read_integer(*n, m->path, allowed::workers());
    if (const auto* n = m->find("cpus")) {
      draft_.cpus_at = position(n->key);
      bool bad_shape = false;
      const auto entries = read_list(*n, m->path, allowed::cpu(), bad_shape);
      draft_.cpu_entries = bad_shape ? 1 : entries.size();
      for (const auto& [key, node] : entries) {
        if (auto f = read_integer(Entry{key, node, node}, "", allowed::cpu())) {
          draft_.cpus.push_back(std::move(*f));
        }
      }
    }
    if (const auto* n = m->find("steering")) {
      if (const auto s = read_scalar(*n, m->path, allowed::steering())) {
        bool known = false;
        for (const Steering v : {Steering::automatic, Steering::flow, Steering::host}) {
          if (s->text != name(v)) continue;
          draft_.steering = Field<Steering>{s->key, s->shown, s->at, v};
          known = true;
        }
        if (!known) {
          error(s->key, s->shown,
                fmt::format("{} is not a steering; allowed: {}", s->shown, allowed::steering()),
                s->at);
        }
      }
    }
  }

  // --- network: (docs/network.md) ---------------------------------------------------------

  // A key of `m` that takes one value, parsed by `parse`.
  template <class T, class Parse>
  std::optional<Field<T>> value_of(const Map& m, std::string_view key, const std::string& allowed_text,
                                   Parse parse, bool required) {
    const Entry* n = required ? require(m, key, allowed_text) : m.find(key);
    if (!n) return std::nullopt;
    const auto s = read_scalar(*n, m.path, allowed_text);
    if (!s) return std::nullopt;
    return read_value<T>(*s, allowed_text, parse);
  }

  std::optional<Field<std::string>> name_of(const Map& m, std::string_view key) {
    const Entry* n = require(m, key, allowed::resource_name());
    if (!n) return std::nullopt;
    const auto s = read_scalar(*n, m.path, allowed::resource_name());
    if (!s) return std::nullopt;
    return Field<std::string>{s->key, s->shown, s->at, s->text};
  }

  std::optional<Field<std::int64_t>> integer_of(const Map& m, std::string_view key,
                                                const std::string& allowed_text) {
    const Entry* n = require(m, key, allowed_text);
    if (!n) return std::nullopt;
    return read_integer(*n, m.path, allowed_text);
  }

  // A list of maps with `keys`; `fn` reads each map that could be read.
  template <class Fn>
  void map_list(const Map& parent, std::string_view key, Keys keys, Fn fn) {
    const Entry* e = parent.find(key);
    if (!e) return;
    bool bad_shape = false;
    const auto entries =
        read_list(*e, parent.path, fmt::format("a map with keys {}", list_of(keys)), bad_shape);
    for (const auto& [k, node] : entries) {
      if (const auto m = read_map(node, k, position(node), keys)) fn(*m);
    }
  }

  // A key that takes one value or a list of them (security rule sources, destinations, ports).
  // Absent: `out` stays empty (the caller's default, any).
  template <class T, class Parse>
  void one_or_many(const Map& m, std::string_view key, const std::string& allowed_text,
                   std::vector<Field<T>>& out, Parse parse) {
    const Entry* e = m.find(key);
    if (!e) return;
    const std::string k = join(m.path, e->name);
    auto one = [&](const YAML::Node& node, std::string entry_key, Position at) {
      const auto s = read_scalar(node, std::move(entry_key), at, allowed_text);
      if (!s) return;
      if (auto f = read_value<T>(*s, allowed_text, parse)) out.push_back(std::move(*f));
    };
    if (!e->value.IsSequence()) {
      one(e->value, k, position(e->key));
      return;
    }
    if (e->value.size() == 0) {
      error(k, "[]", fmt::format("[] has no entry; allowed: {}", allowed_text), position(e->value));
      return;
    }
    std::size_t i = 0;
    for (const auto& node : e->value) one(node, fmt::format("{}[{}]", k, i++), position(node));
  }

  void read_network(const Entry& e) {
    const auto m = read_map(e.value, "network", position(e.key), kNetworkKeys);
    if (!m) return;
    NetworkDraft& nd = draft_.network;
    nd.present = true;
    nd.at = m->at;
    if (const auto* n = m->find("address_space")) {
      read_values(*n, m->path, allowed::address_space(), nd.address_space, parse_prefix);
    }
    nd.default_outbound_access = value_of<bool>(*m, "default_outbound_access",
                                                allowed::default_outbound_access(), parse_bool, false);
    map_list(*m, "route_tables", kRouteTableKeys, [&](const Map& t) {
      RouteTableDraft d{t.path, t.at, name_of(t, "name"), {}, {}};
      if (const auto* n = t.find("subnets")) {
        read_values(*n, t.path, allowed::network_subnet(), d.subnets, parse_prefix);
      }
      map_list(t, "routes", kRouteKeys, [&](const Map& r) {
        RouteDraft rd;
        rd.key = r.path;
        rd.at = r.at;
        rd.name = name_of(r, "name");
        rd.prefix = value_of<net::Prefix>(r, "address_prefix", allowed::route_prefix(), parse_prefix, true);
        rd.next_hop = value_of<vnet::NextHopType>(r, "next_hop_type", allowed::next_hop_type(),
                                                  parse_next_hop_type, true);
        rd.next_hop_address_given = r.find("next_hop_address") != nullptr;
        rd.next_hop_address = value_of<net::Ipv4>(r, "next_hop_address", allowed::next_hop_address(),
                                                  parse_ipv4, false);
        d.routes.push_back(std::move(rd));
      });
      nd.route_tables.push_back(std::move(d));
    });
    map_list(*m, "security_groups", kSecurityGroupKeys, [&](const Map& g) {
      SecurityGroupDraft d{g.path, g.at, name_of(g, "name"), {}, {}};
      if (const auto* n = g.find("subnets")) {
        read_values(*n, g.path, allowed::network_subnet(), d.subnets, parse_prefix);
      }
      map_list(g, "rules", kRuleKeys, [&](const Map& r) {
        RuleDraft rd;
        rd.key = r.path;
        rd.at = r.at;
        rd.name = name_of(r, "name");
        rd.priority = integer_of(r, "priority", allowed::priority());
        rd.direction = value_of<vnet::RuleDirection>(r, "direction", allowed::direction(),
                                                     parse_direction, true);
        rd.access = value_of<vnet::Access>(r, "access", allowed::access(), parse_access, true);
        rd.protocol = value_of<vnet::Protocol>(r, "protocol", allowed::protocol(), parse_protocol, false);
        one_or_many(r, "source", allowed::address_match(), rd.sources, parse_address_match);
        one_or_many(r, "source_ports", allowed::port_range(), rd.source_ports, parse_port_range);
        one_or_many(r, "destination", allowed::address_match(), rd.destinations, parse_address_match);
        one_or_many(r, "destination_ports", allowed::port_range(), rd.destination_ports,
                    parse_port_range);
        d.rules.push_back(std::move(rd));
      });
      nd.security_groups.push_back(std::move(d));
    });
    map_list(*m, "private_endpoints", kPrivateEndpointKeys, [&](const Map& p) {
      nd.private_endpoints.push_back(
          {p.path, p.at, name_of(p, "name"),
           value_of<net::Ipv4>(p, "address", allowed::endpoint_address(), parse_ipv4, true)});
    });
    map_list(*m, "service_endpoints", kServiceEndpointKeys, [&](const Map& p) {
      ServiceEndpointDraft d{p.path, p.at, name_of(p, "service"), {}, {}};
      if (const auto* n = require(p, "subnets", "a list, each entry " + allowed::network_subnet())) {
        if (read_values(*n, p.path, allowed::network_subnet(), d.subnets, parse_prefix) == 0) {
          error(join(p.path, "subnets"), "[]",
                fmt::format("[] enables the service on no subnet; allowed: 1 or more subnets, each {}",
                            allowed::network_subnet()),
                position(n->key));
        }
      }
      if (const auto* n = require(p, "prefixes", "a list, each entry " + allowed::service_prefix())) {
        if (read_values(*n, p.path, allowed::service_prefix(), d.prefixes, parse_prefix) == 0) {
          error(join(p.path, "prefixes"), "[]",
                fmt::format("[] names no address of the service; allowed: 1 or more prefixes, each {}",
                            allowed::service_prefix()),
                position(n->key));
        }
      }
      nd.service_endpoints.push_back(std::move(d));
    });
    map_list(*m, "instance_public_ips", kInstancePublicIpKeys, [&](const Map& p) {
      nd.instance_public_ips.push_back(
          {p.path, p.at, value_of<net::Ipv4>(p, "host", allowed::host_address(), parse_ipv4, true),
           value_of<net::Ipv4>(p, "public_ip", allowed::method_public_ip(), parse_ipv4, true)});
    });
    map_list(*m, "load_balancer_outbound_rules", kLoadBalancerRuleKeys, [&](const Map& p) {
      LoadBalancerRuleDraft d;
      d.key = p.path;
      d.at = p.at;
      d.name = name_of(p, "name");
      if (const auto* n = require(p, "frontend_ips", "a list, each entry " + allowed::method_public_ip())) {
        d.frontend_entries = read_values(*n, p.path, allowed::method_public_ip(), d.frontend_ips, parse_ipv4);
        if (d.frontend_entries == 0) {
          error(join(p.path, "frontend_ips"), "[]",
                fmt::format("[] gives the rule no public IP; allowed: 1 or more addresses, each {}",
                            allowed::method_public_ip()),
                position(n->key));
        }
      }
      if (const auto* n = require(p, "backends", "a list, each entry " + allowed::backend_prefix())) {
        d.backend_entries = read_values(*n, p.path, allowed::backend_prefix(), d.backends,
                                        parse_address_or_prefix);
        if (d.backend_entries == 0) {
          error(join(p.path, "backends"), "[]",
                fmt::format("[] gives the rule no backend; allowed: 1 or more entries, each {}",
                            allowed::backend_prefix()),
                position(n->key));
        }
      }
      d.protocol = value_of<vnet::Protocol>(p, "protocol", allowed::lb_protocol(), parse_protocol, false);
      nd.load_balancer_outbound_rules.push_back(std::move(d));
    });
  }

  std::vector<ConfigError>& errors_;
  Draft draft_;
};

}  // namespace

Draft read_yaml(std::string_view yaml_text, std::vector<ConfigError>& errors) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string{yaml_text});
  } catch (const YAML::ParserException& e) {
    add_error(errors, "", "",
              fmt::format("YAML syntax error at line {}, column {}: {}", e.mark.line + 1,
                          e.mark.column + 1, e.msg),
              Position{e.mark.line + 1, e.mark.column + 1});
    return {};
  } catch (const YAML::Exception& e) {
    add_error(errors, "", "", fmt::format("YAML error: {}", e.what()), {});
    return {};
  }
  if (docs.size() > 1) {
    add_error(errors, "", "",
              fmt::format("the file holds {} YAML documents; allowed: one", docs.size()),
              position(docs[1]));
  }
  Reader reader{errors};
  return reader.read(docs.empty() ? YAML::Node{} : docs.front());
}

}  // namespace natgw::control::detail
