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

#include "control/config_draft.hpp"
#include "control/config_text.hpp"

namespace natgw::control::detail {
namespace {

using Keys = std::span<const std::string_view>;

constexpr std::array<std::string_view, 4> kTopKeys = {"profile", "gateway", "interfaces", "api"};
constexpr std::array<std::string_view, 5> kGatewayKeys = {
    "name", "idle_timeout_minutes", "public_ips", "public_ip_prefixes", "subnets"};
constexpr std::array<std::string_view, 2> kInterfacesKeys = {"inside", "outside"};
constexpr std::array<std::string_view, 3> kInterfaceKeys = {"name", "backend", "next_hop"};
constexpr std::array<std::string_view, 1> kApiKeys = {"listen"};

// Profiles the SPEC names that this version does not implement yet.
constexpr std::array<std::string_view, 3> kLaterProfiles = {"aws", "gcp", "custom"};

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

// Levenshtein distance, for "did you mean".
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The allowed key a misspelt key most likely meant, if any.
std::optional<std::string_view> suggestion(std::string_view key, Keys keys) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;  // at most 2 edits
  for (auto k : keys) {
    const auto d = distance(key, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  if (best) return best;
  for (auto k : keys) {  // a truncated key: "idle_timeout" for "idle_timeout_minutes"
    if (key.size() >= 4 && (k.starts_with(key) || key.starts_with(k))) return k;
  }
  return std::nullopt;
}

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
    const auto top = read_map(root, "", position(root), kTopKeys);
    if (!top) return std::move(draft_);
    if (const auto* e = top->find("profile")) read_profile(*e);
    read_gateway(*top);
    read_interfaces(*top);
    if (const auto* e = top->find("api")) read_api(*e);
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
    if (!s || s->text == name(Profile::azure)) return;
    if (std::find(kLaterProfiles.begin(), kLaterProfiles.end(), s->text) != kLaterProfiles.end()) {
      error(s->key, s->shown,
            fmt::format("{} is not supported in this version (profiles aws, gcp and custom come "
                        "later); allowed: azure",
                        s->shown),
            s->at);
    } else {
      error(s->key, s->shown,
            fmt::format("{} is not a profile; allowed: {}", s->shown, allowed::profile()), s->at);
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
