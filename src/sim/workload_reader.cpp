// YAML text to Workload: shape, keys, types, ranges and cross-key rules, every error collected.
// The wording follows the gateway config's (src/control/README.md): "KEY: VALUE is ...;
// allowed: ...", unknown keys suggest the closest allowed one.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <span>
#include <sstream>
#include <utility>

#include "control/suggest.hpp"
#include "sim/workload.hpp"

namespace natgw::sim {
namespace {

using Keys = std::span<const std::string_view>;

constexpr std::array<std::string_view, 8> kTopKeys = {
    "name", "description", "seed", "duration", "gateway", "clients", "destinations", "traffic"};
constexpr std::array<std::string_view, 3> kGatewayKeys = {"profile", "public_ips",
                                                          "idle_timeout_minutes"};
constexpr std::array<std::string_view, 3> kClientKeys = {"name", "count", "subnet"};
constexpr std::array<std::string_view, 6> kDestinationKeys = {"name", "address",  "count",
                                                              "port", "protocol", "rtt"};
constexpr std::array<std::string_view, 8> kTrafficKeys = {
    "name", "from", "to", "rate", "arrivals", "duration", "connections", "retry"};
constexpr std::array<std::string_view, 6> kPhaseKeys = {"steady", "ramp", "burst",
                                                        "start",  "end",  "length"};
constexpr std::array<std::string_view, 3> kDistributionKeys = {"fixed", "uniform", "exponential"};
constexpr std::array<std::string_view, 6> kConnectionKeys = {
    "reuse", "pool_size", "close", "idle_close", "keepalive", "keepalive_from"};
constexpr std::array<std::string_view, 7> kRetryKeys = {"policy",   "base",       "max",   "delay",
                                                        "attempts", "multiplier", "jitter"};

constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kShownMax = 60;
constexpr std::uint64_t kMaxClients = 1'000'000;
constexpr double kMaxRate = 10'000'000;
constexpr std::uint32_t kMaxPoolSize = 10'000;
constexpr std::uint32_t kMaxAttempts = 100;
constexpr std::uint32_t kMaxDestinations = 65'536;

std::string join(Keys keys) {
  std::string out;
  for (auto k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

bool is_quoted(const YAML::Node& n) {
  return n.IsScalar() && (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str");
}

std::string shown(std::string_view s) {
  const bool plain = !s.empty() && std::none_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '"' || c == '\'' || static_cast<unsigned char>(c) < 0x20;
  });
  if (plain) return std::string{s};
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string display(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "null";
  if (n.IsScalar()) return is_quoted(n) && n.Scalar().empty() ? "\"\"" : shown(n.Scalar());
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
  if (is_quoted(n)) return "a string";
  return "a single value";
}

using control::suggestion;

// A duration as written in a workload: a number and a unit (ms, s, m, h), e.g. 250ms, 1.5s, 4m;
// a bare 0 is zero.
std::optional<Duration> parse_duration(std::string_view s) {
  if (s == "0") return Duration{0};
  std::size_t unit_at = 0;
  while (unit_at < s.size() && ((s[unit_at] >= '0' && s[unit_at] <= '9') || s[unit_at] == '.')) {
    ++unit_at;
  }
  if (unit_at == 0 || s[0] == '.') return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + unit_at, value);
  if (ec != std::errc{} || end != s.data() + unit_at) return std::nullopt;
  const std::string_view unit = s.substr(unit_at);
  double ns_per = 0;
  if (unit == "ms") {
    ns_per = 1e6;
  } else if (unit == "s") {
    ns_per = 1e9;
  } else if (unit == "m" || unit == "min") {
    ns_per = 60e9;
  } else if (unit == "h") {
    ns_per = 3600e9;
  } else {
    return std::nullopt;
  }
  const double ns = value * ns_per;
  if (!(ns < 1e18)) return std::nullopt;
  return Duration{static_cast<std::int64_t>(std::llround(ns))};
}

struct Entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

struct Map {
  std::string path;
  std::vector<Entry> entries;
  [[nodiscard]] const Entry* find(std::string_view name) const {
    for (const auto& e : entries) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
  [[nodiscard]] std::string key(std::string_view name) const {
    return path.empty() ? std::string{name} : fmt::format("{}.{}", path, name);
  }
};

class Reader {
 public:
  explicit Reader(std::vector<WorkloadError>& errors) : errors_(errors) {}

  void error(std::string key, const YAML::Node& at, std::string value, std::string message) {
    int line = 0;
    int column = 0;
    if (at.IsDefined()) {
      const auto m = at.Mark();
      if (!m.is_null()) {
        line = m.line + 1;
        column = m.column + 1;
      }
    }
    errors_.push_back({std::move(key), std::move(value), std::move(message), line, column});
  }

  std::optional<Map> map(const YAML::Node& node, const std::string& path, Keys keys) {
    if (!node.IsNull() && !node.IsMap()) {
      const auto v = display(node);
      error(path, node, v,
            fmt::format("{} is {}, not a map; allowed: a map with keys {}", v, kind(node),
                        join(keys)));
      return std::nullopt;
    }
    Map m{path, {}};
    if (node.IsNull()) return m;
    for (const auto& kv : node) {
      const YAML::Node k = kv.first;
      const std::string name = k.IsScalar() ? k.Scalar() : display(k);
      if (!k.IsScalar() || std::find(keys.begin(), keys.end(), name) == keys.end()) {
        const auto v = display(k);
        std::string message = fmt::format(
            "{} is not {}; allowed: {}", v,
            path.empty() ? std::string{"a top-level key"} : fmt::format("a key of {}", path),
            join(keys));
        if (const auto s = k.IsScalar() ? suggestion(name, keys) : std::nullopt) {
          message += fmt::format(" (did you mean {}?)", *s);
        }
        error(m.key(name), k, v, std::move(message));
        continue;
      }
      if (const auto* first = m.find(name)) {
        error(m.key(name), k, name,
              fmt::format("{} appears more than once in {} (lines {} and {}); allowed: each key "
                          "once",
                          name, path.empty() ? std::string{"the file"} : path,
                          first->key.Mark().line + 1, k.Mark().line + 1));
        continue;
      }
      m.entries.push_back({name, k, kv.second});
    }
    return m;
  }

  // A required key; reports it missing.
  const Entry* need(const Map& m, std::string_view name, std::string_view allowed,
                    const YAML::Node& at) {
    const Entry* e = m.find(name);
    if (e == nullptr) {
      error(m.key(name), at, "", fmt::format("missing (required); allowed: {}", allowed));
    }
    return e;
  }

  // A single value (not a map or list, not empty).
  std::optional<std::string> scalar(const Map& m, const Entry& e, std::string_view allowed) {
    const std::string key = m.key(e.name);
    if (e.value.IsNull()) {
      error(key, e.key, "", fmt::format("no value; allowed: {}", allowed));
      return std::nullopt;
    }
    if (!e.value.IsScalar()) {
      const auto v = display(e.value);
      error(key, e.value, v,
            fmt::format("{} is {}, not a single value; allowed: {}", v, kind(e.value), allowed));
      return std::nullopt;
    }
    return e.value.Scalar();
  }

  void bad(const Map& m, const Entry& e, std::string_view problem, std::string_view allowed) {
    const auto v = display(e.value);
    error(m.key(e.name), e.value, v, fmt::format("{} {}; allowed: {}", v, problem, allowed));
  }
  void bad_node(const std::string& key, const YAML::Node& n, std::string_view problem,
                std::string_view allowed) {
    const auto v = display(n);
    error(key, n, v, fmt::format("{} {}; allowed: {}", v, problem, allowed));
  }

  std::optional<std::int64_t> integer_of(const std::string& key, const YAML::Node& n,
                                         std::int64_t lo, std::int64_t hi,
                                         std::string_view allowed_extra = {}) {
    const std::string allowed =
        allowed_extra.empty() ? fmt::format("{}..{}", lo, hi) : std::string{allowed_extra};
    if (n.IsNull() || !n.IsScalar()) {
      const auto v = display(n);
      error(key, n, v,
            n.IsNull()
                ? fmt::format("no value; allowed: {}", allowed)
                : fmt::format("{} is {}, not a single value; allowed: {}", v, kind(n), allowed));
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    if (is_quoted(n)) {
      error(key, n, fmt::format("\"{}\"", s),
            fmt::format("\"{}\" is a string, not an integer; allowed: {}", s, allowed));
      return std::nullopt;
    }
    std::int64_t v = 0;
    const char* b = s.data();
    if (!s.empty() && s[0] == '+') ++b;
    const auto [end, ec] = std::from_chars(b, s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range && end == s.data() + s.size()) {
      error(key, n, shown(s), fmt::format("{} is out of range; allowed: {}", shown(s), allowed));
      return std::nullopt;
    }
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) {
      error(key, n, shown(s), fmt::format("{} is not an integer; allowed: {}", shown(s), allowed));
      return std::nullopt;
    }
    if (v < lo || v > hi) {
      error(key, n, shown(s), fmt::format("{} is out of range; allowed: {}", shown(s), allowed));
      return std::nullopt;
    }
    return v;
  }
  std::optional<std::int64_t> integer(const Map& m, const Entry& e, std::int64_t lo,
                                      std::int64_t hi) {
    return integer_of(m.key(e.name), e.value, lo, hi);
  }

  std::optional<double> number_of(const std::string& key, const YAML::Node& n, double lo, double hi,
                                  std::string_view allowed) {
    if (n.IsNull() || !n.IsScalar()) {
      const auto v = display(n);
      error(key, n, v,
            n.IsNull()
                ? fmt::format("no value; allowed: {}", allowed)
                : fmt::format("{} is {}, not a single value; allowed: {}", v, kind(n), allowed));
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    if (is_quoted(n)) {
      error(key, n, fmt::format("\"{}\"", s),
            fmt::format("\"{}\" is a string, not a number; allowed: {}", s, allowed));
      return std::nullopt;
    }
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty() || !std::isfinite(v)) {
      error(key, n, shown(s), fmt::format("{} is not a number; allowed: {}", shown(s), allowed));
      return std::nullopt;
    }
    if (v < lo || v > hi) {
      error(key, n, shown(s), fmt::format("{} is out of range; allowed: {}", shown(s), allowed));
      return std::nullopt;
    }
    return v;
  }

  // A duration between lo and hi; `words` lists accepted words (e.g. "never") returned as nullopt
  // with `word` set.
  std::optional<Duration> duration_of(const std::string& key, const YAML::Node& n, Duration lo,
                                      Duration hi, std::string_view allowed, bool& ok,
                                      std::initializer_list<std::string_view> words = {},
                                      std::string* word = nullptr) {
    ok = false;
    if (n.IsNull() || !n.IsScalar()) {
      const auto v = display(n);
      error(key, n, v,
            n.IsNull()
                ? fmt::format("no value; allowed: {}", allowed)
                : fmt::format("{} is {}, not a single value; allowed: {}", v, kind(n), allowed));
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    for (auto w : words) {
      if (s == w) {
        ok = true;
        if (word) *word = s;
        return std::nullopt;
      }
    }
    const auto d = parse_duration(s);
    if (!d) {
      error(key, n, shown(s), fmt::format("{} is not a duration; allowed: {}", shown(s), allowed));
      return std::nullopt;
    }
    if (*d < lo || *d > hi) {
      error(key, n, shown(s), fmt::format("{} is out of range; allowed: {}", shown(s), allowed));
      return std::nullopt;
    }
    ok = true;
    return d;
  }
  std::optional<Duration> duration(const Map& m, const Entry& e, Duration lo, Duration hi) {
    bool ok = false;
    return duration_of(m.key(e.name), e.value, lo, hi,
                       fmt::format("a duration {}..{} such as 250ms, 30s, 4m, 1h",
                                   format_duration(lo), format_duration(hi)),
                       ok);
  }

  template <class E, std::size_t N>
  std::optional<E> choice(const Map& m, const Entry& e, std::string_view what,
                          const std::array<std::string_view, N>& names) {
    const std::string allowed = join(Keys{names.data(), names.size()});
    const auto s = scalar(m, e, allowed);
    if (!s) return std::nullopt;
    for (std::size_t i = 0; i < N; ++i) {
      if (*s == names[i]) return static_cast<E>(i);
    }
    bad(m, e, fmt::format("is not {}", what), allowed);
    return std::nullopt;
  }

  std::optional<net::Ipv4> ipv4_of(const std::string& key, const YAML::Node& n) {
    constexpr std::string_view allowed = "an IPv4 address such as 198.51.100.10";
    if (n.IsNull() || !n.IsScalar()) {
      const auto v = display(n);
      error(key, n, v,
            n.IsNull()
                ? fmt::format("no value; allowed: {}", allowed)
                : fmt::format("{} is {}, not a single value; allowed: {}", v, kind(n), allowed));
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    const auto a = net::Ipv4::parse(s);
    bool leading_zero = false;
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
      if (s[i] == '0' && (i == 0 || s[i - 1] == '.') && s[i + 1] >= '0' && s[i + 1] <= '9') {
        leading_zero = true;
      }
    }
    if (!a || leading_zero) {
      error(key, n, shown(s),
            fmt::format("{} is not an IPv4 address; allowed: {}", shown(s), allowed));
      return std::nullopt;
    }
    return a;
  }

  std::optional<std::string> name_of(const Map& m, const Entry& e) {
    constexpr std::string_view allowed =
        "1..64 letters, digits, '-', '_' or '.', starting with a letter or a digit";
    const auto s = scalar(m, e, allowed);
    if (!s) return std::nullopt;
    const bool ok =
        !s->empty() && s->size() <= 64 && std::isalnum(static_cast<unsigned char>((*s)[0])) &&
        std::all_of(s->begin(), s->end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    if (!ok) {
      bad(m, e, "is not a name", allowed);
      return std::nullopt;
    }
    return s;
  }

 private:
  std::vector<WorkloadError>& errors_;
};

bool special_use(net::Ipv4 a) {
  const auto v = a.value();
  const auto in = [v](std::uint32_t net, int len) {
    return (v & (len == 0 ? 0u : ~0u << (32 - len))) == net;
  };
  return in(0x00000000u, 8) || in(0x7F000000u, 8) || in(0xA9FE0000u, 16) || in(0xE0000000u, 4) ||
         in(0xF0000000u, 4);
}

std::string text(net::Ipv4 a) {
  return std::string{a.text().view()};
}
std::string text(const net::Prefix& p) {
  return fmt::format("{}/{}", text(p.address()), p.length());
}

class WorkloadReader {
 public:
  WorkloadReader(std::vector<WorkloadError>& errors, std::string default_name)
      : r_(errors), errors_(errors) {
    w_.name = std::move(default_name);
  }

  Workload read(const YAML::Node& root) {
    if (root.IsNull()) {
      r_.error("", root, "",
               fmt::format("the file is empty; allowed: a map with keys {}", join(kTopKeys)));
      return std::move(w_);
    }
    const auto top = r_.map(root, "", kTopKeys);
    if (!top) return std::move(w_);
    if (const auto* e = top->find("name")) {
      if (auto n = r_.name_of(*top, *e)) w_.name = *n;
    }
    if (const auto* e = top->find("description")) {
      if (auto s = r_.scalar(*top, *e, "text")) w_.description = *s;
    }
    if (const auto* e = top->find("seed")) {
      if (auto v = r_.integer(*top, *e, 0, std::numeric_limits<std::int64_t>::max())) {
        w_.seed = static_cast<std::uint64_t>(*v);
      }
    }
    if (const auto* e = top->find("duration")) {
      if (auto d = r_.duration(*top, *e, std::chrono::seconds(1), std::chrono::hours(24))) {
        w_.duration = *d;
      }
    }
    if (const auto* e = top->find("gateway")) read_gateway(*top, *e);
    if (w_.gateway.public_ips.empty()) w_.gateway.public_ips = generated_public_ips(1);
    read_list(
        *top, "clients", root,
        "a list of client populations, each a map with keys name, count, subnet",
        [this](const Map& m, const YAML::Node& at) { read_client(m, at); }, kClientKeys);
    read_list(
        *top, "destinations", root,
        "a list of destination groups, each a map with keys name, address, count, port, "
        "protocol, rtt",
        [this](const Map& m, const YAML::Node& at) { read_destination(m, at); }, kDestinationKeys);
    read_list(
        *top, "traffic", root,
        "a list of traffic streams, each a map with keys name, from, to, rate, arrivals, "
        "duration, connections, retry",
        [this](const Map& m, const YAML::Node& at) { read_traffic(m, at); }, kTrafficKeys);
    cross_checks();
    return std::move(w_);
  }

 private:
  template <class Fn>
  void read_list(const Map& top, std::string_view key, const YAML::Node& root,
                 std::string_view allowed, Fn fn, Keys keys) {
    const auto* e = r_.need(top, key, allowed, root);
    if (e == nullptr) return;
    const std::string path = top.key(key);
    if (!e->value.IsSequence() || e->value.size() == 0) {
      const auto v = display(e->value);
      r_.error(path, e->value, v,
               e->value.IsSequence() || e->value.IsNull()
                   ? fmt::format("{} is an empty list; allowed: {}", v, allowed)
                   : fmt::format("{} is {}, not a list; allowed: {}", v, kind(e->value), allowed));
      return;
    }
    for (std::size_t i = 0; i < e->value.size(); ++i) {
      const YAML::Node item = e->value[i];
      if (const auto m = r_.map(item, fmt::format("{}[{}]", path, i), keys)) fn(*m, item);
    }
  }

  void read_gateway(const Map& top, const Entry& e) {
    const auto g = r_.map(e.value, "gateway", kGatewayKeys);
    if (!g) return;
    if (const auto* p = g->find("profile")) {
      (void)r_.choice<int>(*g, *p, "a profile this version simulates",
                           std::array<std::string_view, 1>{"azure"});
    }
    if (const auto* t = g->find("idle_timeout_minutes")) {
      if (auto v = r_.integer(*g, *t, 4, 120)) {
        w_.gateway.idle_timeout_minutes = static_cast<std::uint32_t>(*v);
      }
    }
    if (const auto* p = g->find("public_ips")) {
      const std::string key = g->key("public_ips");
      constexpr std::string_view allowed =
          "a count 1..16 (addresses 203.0.113.10 onwards) or a list of 1..16 IPv4 addresses";
      if (p->value.IsSequence()) {
        if (p->value.size() == 0 || p->value.size() > nat::kMaxPublicIps) {
          r_.bad(*g, *p, fmt::format("has {} addresses", p->value.size()), allowed);
          return;
        }
        for (std::size_t i = 0; i < p->value.size(); ++i) {
          const std::string k = fmt::format("{}[{}]", key, i);
          const auto a = r_.ipv4_of(k, p->value[i]);
          if (!a) continue;
          if (special_use(*a)) {
            r_.bad_node(k, p->value[i], "is a special-use address",
                        "an address outside 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, "
                        "240.0.0.0/4");
            continue;
          }
          if (std::find(w_.gateway.public_ips.begin(), w_.gateway.public_ips.end(), *a) !=
              w_.gateway.public_ips.end()) {
            r_.bad_node(k, p->value[i], "appears twice", "each address once");
            continue;
          }
          w_.gateway.public_ips.push_back(*a);
        }
        explicit_ips_ = true;
      } else if (auto n = r_.integer_of(key, p->value, 1, 16, allowed)) {
        w_.gateway.public_ips = generated_public_ips(static_cast<std::size_t>(*n));
      }
    }
    (void)top;
  }

  void read_client(const Map& m, const YAML::Node& at) {
    ClientPopulation c;
    bool ok = true;
    if (const auto* e = r_.need(m, "name", "a name such as web", at)) {
      if (auto n = r_.name_of(m, *e)) {
        c.name = *n;
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    const auto* subnet = r_.need(m, "subnet", "a private IPv4 prefix such as 10.0.0.0/16", at);
    if (subnet != nullptr) {
      constexpr std::string_view allowed =
          "a prefix a.b.c.d/len inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or "
          "100.64.0.0/10";
      if (auto s = r_.scalar(m, *subnet, allowed)) {
        const auto p = net::Prefix::parse(*s);
        if (!p || s->find('/') == std::string::npos) {
          r_.bad(m, *subnet, "is not a prefix with its host bits clear", allowed);
          ok = false;
        } else if (!p->is_private()) {
          r_.bad(m, *subnet, "is not private address space", allowed);
          ok = false;
        } else if (p->length() > 30) {
          r_.bad(m, *subnet, "is too small for clients", "a prefix of length /30 or shorter");
          ok = false;
        } else {
          for (const auto& other : w_.clients) {
            if (other.subnet.overlaps(*p)) {
              r_.bad(m, *subnet,
                     fmt::format("overlaps the subnet of clients {} ({})", other.name,
                                 text(other.subnet)),
                     "a subnet of its own for each population");
              ok = false;
              break;
            }
          }
          c.subnet = *p;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const auto* e = m.find("count")) {
      const std::int64_t room =
          ok ? static_cast<std::int64_t>(c.subnet.size()) - 2 : std::int64_t{kMaxClients};
      const std::int64_t hi = std::min<std::int64_t>(room, kMaxClients);
      const std::string allowed =
          ok ? fmt::format("1..{} (host addresses of {}, at most {} clients)", hi, text(c.subnet),
                           kMaxClients)
             : fmt::format("1..{}", hi);
      if (auto v = r_.integer_of(m.key("count"), e->value, 1, hi, allowed)) {
        c.count = static_cast<std::uint32_t>(*v);
      } else {
        ok = false;
      }
    }
    total_clients_ += c.count;
    if (total_clients_ > kMaxClients) {
      r_.error(m.key("count"), at, std::to_string(c.count),
               fmt::format("{} brings the clients to {}; allowed: {} clients in all", c.count,
                           total_clients_, kMaxClients));
      ok = false;
    }
    for (const auto& other : w_.clients) {
      if (ok && other.name == c.name) {
        r_.error(
            m.key("name"), at, c.name,
            fmt::format("{} names two client populations; allowed: a name of its own", c.name));
        ok = false;
      }
    }
    client_ok_.push_back(ok);
    w_.clients.push_back(std::move(c));
  }

  void read_destination(const Map& m, const YAML::Node& at) {
    DestinationGroup d;
    bool ok = true;
    if (const auto* e = r_.need(m, "name", "a name such as api", at)) {
      if (auto n = r_.name_of(m, *e)) {
        d.name = *n;
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const auto* e = r_.need(m, "address", "an IPv4 address such as 198.51.100.10", at)) {
      if (auto a = r_.ipv4_of(m.key("address"), e->value)) {
        if (special_use(*a)) {
          r_.bad(m, *e, "is a special-use address",
                 "an address outside 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, "
                 "240.0.0.0/4");
          ok = false;
        }
        d.address = *a;
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const auto* e = m.find("count")) {
      if (auto v = r_.integer(m, *e, 1, kMaxDestinations)) {
        d.count = static_cast<std::uint32_t>(*v);
        if (ok && std::uint64_t{d.address.value()} + d.count - 1 > 0xFFFFFFFFull) {
          r_.bad(m, *e, fmt::format("addresses from {} run past 255.255.255.255", text(d.address)),
                 "a count that stays within the address space");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (const auto* e = m.find("port")) {
      if (auto v = r_.integer(m, *e, 1, 65535)) {
        d.port = static_cast<std::uint16_t>(*v);
      } else {
        ok = false;
      }
    }
    if (const auto* e = m.find("protocol")) {
      if (auto p = r_.choice<Protocol>(m, *e, "a protocol",
                                       std::array<std::string_view, 2>{"tcp", "udp"})) {
        d.protocol = *p;
      } else {
        ok = false;
      }
    }
    if (const auto* e = m.find("rtt")) {
      if (auto v = r_.duration(m, *e, Duration{0}, std::chrono::seconds(10))) {
        d.rtt = *v;
      } else {
        ok = false;
      }
    }
    for (const auto& other : w_.destinations) {
      if (ok && other.name == d.name) {
        r_.error(
            m.key("name"), at, d.name,
            fmt::format("{} names two destination groups; allowed: a name of its own", d.name));
        ok = false;
      }
    }
    destination_ok_.push_back(ok);
    destination_at_.push_back(m.path);
    w_.destinations.push_back(std::move(d));
  }

  std::optional<std::size_t> reference(const Map& m, std::string_view key, const YAML::Node& at,
                                       bool clients) {
    const std::string what = clients ? "client population" : "destination group";
    std::string names;
    const std::size_t n = clients ? w_.clients.size() : w_.destinations.size();
    for (std::size_t i = 0; i < n; ++i) {
      names += (i ? ", " : "") + (clients ? w_.clients[i].name : w_.destinations[i].name);
    }
    const std::string allowed = n == 0 ? fmt::format("the name of a {} (none defined)", what)
                                       : fmt::format("the name of a {}: {}", what, names);
    const auto* e = r_.need(m, key, allowed, at);
    if (e == nullptr) return std::nullopt;
    const auto s = r_.scalar(m, *e, allowed);
    if (!s) return std::nullopt;
    for (std::size_t i = 0; i < n; ++i) {
      if ((clients ? w_.clients[i].name : w_.destinations[i].name) == *s) {
        if (!(clients ? client_ok_[i] : destination_ok_[i])) return std::nullopt;
        return i;
      }
    }
    r_.bad(m, *e, fmt::format("is not a {}", what), allowed);
    return std::nullopt;
  }

  void read_rate(const Map& m, const Entry& e, Traffic& t, bool& ok) {
    const std::string key = m.key("rate");
    const std::string allowed_number = fmt::format("requests per second, 0..{}", kMaxRate);
    if (!e.value.IsSequence()) {
      if (e.value.IsMap()) {
        r_.bad(m, e, "is a map, not a number or a list of phases",
               "a number (requests per second for the whole run) or a list of phases such as "
               "[{steady: 100}, {ramp: [100, 2000], start: 10m, end: 20m}]");
        ok = false;
        return;
      }
      if (auto v = r_.number_of(key, e.value, 0, kMaxRate, allowed_number)) {
        t.rate.push_back({*v, *v, Duration{0}, w_.duration});
      } else {
        ok = false;
      }
      return;
    }
    if (e.value.size() == 0) {
      r_.bad(m, e, "is an empty list", "at least one phase: steady, ramp or burst");
      ok = false;
      return;
    }
    for (std::size_t i = 0; i < e.value.size(); ++i) {
      const auto pm = r_.map(e.value[i], fmt::format("{}[{}]", key, i), kPhaseKeys);
      if (!pm) {
        ok = false;
        continue;
      }
      read_phase(*pm, e.value[i], t, ok);
    }
  }

  void read_phase(const Map& pm, const YAML::Node& at, Traffic& t, bool& ok) {
    const Entry* kinds[3] = {pm.find("steady"), pm.find("ramp"), pm.find("burst")};
    const int n = (kinds[0] != nullptr) + (kinds[1] != nullptr) + (kinds[2] != nullptr);
    if (n != 1) {
      r_.error(pm.path, at, display(at),
               fmt::format("{} {}; allowed: exactly one of steady, ramp, burst", display(at),
                           n == 0 ? "has no kind" : "has more than one kind"));
      ok = false;
      return;
    }
    const std::string allowed_number = fmt::format("requests per second, 0..{}", kMaxRate);
    RatePhase p;
    p.start = Duration{0};
    p.end = w_.duration;
    const auto time_key = [&](std::string_view k, Duration& out) {
      if (const auto* e = pm.find(k)) {
        if (auto d = r_.duration(pm, *e, Duration{0}, w_.duration)) {
          out = *d;
        } else {
          ok = false;
        }
        return true;
      }
      return false;
    };
    if (kinds[0] != nullptr || kinds[2] != nullptr) {
      const Entry& k = kinds[0] ? *kinds[0] : *kinds[2];
      if (auto v = r_.number_of(pm.key(k.name), k.value, 0, kMaxRate, allowed_number)) {
        p.from_per_second = p.to_per_second = *v;
      } else {
        ok = false;
      }
    } else {
      const Entry& k = *kinds[1];
      constexpr std::string_view allowed = "[FROM, TO] in requests per second, such as [100, 2000]";
      if (!k.value.IsSequence() || k.value.size() != 2) {
        r_.bad(pm, k, "is not a pair of rates", allowed);
        ok = false;
      } else {
        const auto a =
            r_.number_of(pm.key("ramp") + "[0]", k.value[0], 0, kMaxRate, allowed_number);
        const auto b =
            r_.number_of(pm.key("ramp") + "[1]", k.value[1], 0, kMaxRate, allowed_number);
        if (a && b) {
          p.from_per_second = *a;
          p.to_per_second = *b;
        } else {
          ok = false;
        }
      }
    }
    if (kinds[2] != nullptr) {
      if (pm.find("end")) {
        r_.error(pm.key("end"), at, "", "a burst ends by its length; allowed: start, length");
        ok = false;
      }
      const auto* s = r_.need(pm, "start", "when the burst begins, such as 10m", at);
      const auto* l = r_.need(pm, "length", "how long the burst lasts, such as 30s", at);
      if (s == nullptr || l == nullptr) {
        ok = false;
        return;
      }
      time_key("start", p.start);
      if (auto d = r_.duration(pm, *l, std::chrono::milliseconds(1), w_.duration)) {
        p.end = p.start + *d;
        if (p.end > w_.duration) {
          r_.bad(pm, *l,
                 fmt::format("ends the burst after the run ({})", format_duration(w_.duration)),
                 "a burst inside the run's duration");
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      if (pm.find("length")) {
        r_.error(pm.key("length"), at, "", "length is for bursts; allowed: start, end");
        ok = false;
      }
      time_key("start", p.start);
      time_key("end", p.end);
      if (ok && p.start >= p.end) {
        r_.error(pm.path, at, display(at),
                 fmt::format("starts at {} and ends at {}; allowed: start before end",
                             format_duration(p.start), format_duration(p.end)));
        ok = false;
      }
    }
    t.rate.push_back(p);
  }

  void read_distribution(const Map& m, const Entry& e, Traffic& t, bool& ok) {
    const std::string key = m.key("duration");
    const Duration hi = std::chrono::hours(24);
    const std::string allowed =
        "a duration such as 200ms, or one of {fixed: 1s}, {exponential: 200ms} (the mean), "
        "{uniform: [50ms, 2s]}";
    if (e.value.IsScalar()) {
      bool fine = false;
      if (auto d = r_.duration_of(key, e.value, Duration{0}, hi, allowed, fine)) {
        t.duration = {Distribution::Kind::fixed, *d, *d};
      } else {
        ok = false;
      }
      return;
    }
    const auto dm = r_.map(e.value, key, kDistributionKeys);
    if (!dm) {
      ok = false;
      return;
    }
    if (dm->entries.size() != 1) {
      r_.bad(m, e,
             dm->entries.empty() ? "names no distribution" : "names more than one distribution",
             allowed);
      ok = false;
      return;
    }
    const Entry& d = dm->entries[0];
    if (d.name == "uniform") {
      if (!d.value.IsSequence() || d.value.size() != 2) {
        r_.bad(*dm, d, "is not a pair of durations", "[MIN, MAX] such as [50ms, 2s]");
        ok = false;
        return;
      }
      bool f1 = false;
      bool f2 = false;
      const std::string a_allowed = "a duration 0..24h such as 50ms";
      const auto lo =
          r_.duration_of(dm->key("uniform") + "[0]", d.value[0], Duration{0}, hi, a_allowed, f1);
      const auto up =
          r_.duration_of(dm->key("uniform") + "[1]", d.value[1], Duration{0}, hi, a_allowed, f2);
      if (!lo || !up) {
        ok = false;
        return;
      }
      if (*lo > *up) {
        r_.bad(*dm, d, "has its minimum above its maximum", "[MIN, MAX] with MIN <= MAX");
        ok = false;
        return;
      }
      t.duration = {Distribution::Kind::uniform, *lo, *up};
      return;
    }
    if (auto v = r_.duration(*dm, d, Duration{0}, hi)) {
      t.duration = {d.name == "fixed" ? Distribution::Kind::fixed : Distribution::Kind::exponential,
                    *v, *v};
    } else {
      ok = false;
    }
  }

  void read_connections(const Map& tm, const Entry& e, Traffic& t, Protocol proto, bool& ok) {
    const auto m = r_.map(e.value, tm.key("connections"), kConnectionKeys);
    if (!m) {
      ok = false;
      return;
    }
    ConnectionBehaviour& c = t.connections;
    c.close = proto == Protocol::udp ? Close::idle : Close::fin;
    if (const auto* x = m->find("reuse")) {
      if (auto v = r_.choice<Reuse>(*m, *x, "a reuse mode",
                                    std::array<std::string_view, 2>{"none", "pool"})) {
        c.reuse = *v;
      } else {
        ok = false;
      }
    }
    if (const auto* x = m->find("pool_size")) {
      if (c.reuse != Reuse::pool) {
        r_.bad(*m, *x, "is for pooled connections", "pool_size together with reuse: pool");
        ok = false;
      } else if (auto v = r_.integer(*m, *x, 1, kMaxPoolSize)) {
        c.pool_size = static_cast<std::uint32_t>(*v);
      } else {
        ok = false;
      }
    }
    if (const auto* x = m->find("close")) {
      if (auto v = r_.choice<Close>(*m, *x, "a way to close",
                                    std::array<std::string_view, 3>{"fin", "rst", "idle"})) {
        if (proto == Protocol::udp && *v != Close::idle) {
          r_.bad(*m, *x, "is not possible for UDP (it has no close)", "idle for UDP destinations");
          ok = false;
        }
        c.close = *v;
      } else {
        ok = false;
      }
    }
    if (const auto* x = m->find("idle_close")) {
      bool fine = false;
      std::string word;
      if (c.reuse != Reuse::pool) {
        r_.bad(*m, *x, "is for pooled connections", "idle_close together with reuse: pool");
        ok = false;
      } else {
        auto v = r_.duration_of(m->key("idle_close"), x->value, std::chrono::seconds(1),
                                std::chrono::hours(24), "never, or a duration 1s..24h such as 90s",
                                fine, {"never"}, &word);
        if (!fine) ok = false;
        c.idle_close = v;
      }
    }
    if (const auto* x = m->find("keepalive")) {
      bool fine = false;
      std::string word;
      auto v = r_.duration_of(m->key("keepalive"), x->value, std::chrono::seconds(1),
                              std::chrono::hours(2), "off, or a duration 1s..2h such as 60s", fine,
                              {"off"}, &word);
      if (!fine) ok = false;
      c.keepalive = v;
    }
    if (const auto* x = m->find("keepalive_from")) {
      if (auto v = r_.choice<KeepaliveFrom>(*m, *x, "a keepalive sender",
                                            std::array<std::string_view, 2>{"client", "both"})) {
        c.keepalive_from = *v;
      } else {
        ok = false;
      }
    }
  }

  void read_retry(const Map& tm, const Entry& e, Traffic& t, bool& ok) {
    const auto m = r_.map(e.value, tm.key("retry"), kRetryKeys);
    if (!m) {
      ok = false;
      return;
    }
    RetryBehaviour& r = t.retry;
    if (const auto* x = m->find("policy")) {
      if (auto v = r_.choice<RetryPolicy>(
              *m, *x, "a retry policy",
              std::array<std::string_view, 3>{"none", "immediate", "backoff"})) {
        r.policy = *v;
      } else {
        ok = false;
      }
    }
    r.attempts = r.policy == RetryPolicy::none ? 1 : 5;
    const auto only_for = [&](std::string_view key, RetryPolicy p, std::string_view pname) {
      const auto* x = m->find(key);
      if (x != nullptr && r.policy != p) {
        r_.bad(*m, *x, fmt::format("is for policy {}", pname),
               fmt::format("{} together with policy: {}", key, pname));
        ok = false;
        return static_cast<const Entry*>(nullptr);
      }
      return x;
    };
    if (const auto* x = m->find("attempts")) {
      if (r.policy == RetryPolicy::none) {
        r_.bad(*m, *x, "is for policies immediate and backoff",
               "attempts together with policy: immediate or backoff");
        ok = false;
      } else if (auto v = r_.integer(*m, *x, 1, kMaxAttempts)) {
        r.attempts = static_cast<std::uint32_t>(*v);
      } else {
        ok = false;
      }
    }
    if (const auto* x = only_for("delay", RetryPolicy::immediate, "immediate")) {
      if (auto v = r_.duration(*m, *x, Duration{0}, std::chrono::hours(1))) {
        r.delay = *v;
      } else {
        ok = false;
      }
    }
    if (const auto* x = only_for("base", RetryPolicy::backoff, "backoff")) {
      if (auto v = r_.duration(*m, *x, std::chrono::milliseconds(1), std::chrono::hours(1))) {
        r.base = *v;
      } else {
        ok = false;
      }
    }
    if (const auto* x = only_for("max", RetryPolicy::backoff, "backoff")) {
      if (auto v = r_.duration(*m, *x, std::chrono::milliseconds(1), std::chrono::hours(1))) {
        r.max = *v;
        if (r.max < r.base) {
          r_.bad(*m, *x, fmt::format("is shorter than base ({})", format_duration(r.base)),
                 "max >= base");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (const auto* x = only_for("multiplier", RetryPolicy::backoff, "backoff")) {
      if (auto v = r_.number_of(m->key("multiplier"), x->value, 1, 10, "a number 1..10")) {
        r.multiplier = *v;
      } else {
        ok = false;
      }
    }
    if (const auto* x = only_for("jitter", RetryPolicy::backoff, "backoff")) {
      if (auto v = r_.choice<Jitter>(*m, *x, "a jitter",
                                     std::array<std::string_view, 3>{"full", "equal", "none"})) {
        r.jitter = *v;
      } else {
        ok = false;
      }
    }
  }

  void read_traffic(const Map& m, const YAML::Node& at) {
    Traffic t;
    bool ok = true;
    t.name = fmt::format("traffic{}", w_.traffic.size() + 1);
    if (const auto* e = m.find("name")) {
      if (auto n = r_.name_of(m, *e)) {
        t.name = *n;
      } else {
        ok = false;
      }
    }
    const auto from = reference(m, "from", at, true);
    const auto to = reference(m, "to", at, false);
    if (!from || !to) ok = false;
    if (from) t.from = *from;
    if (to) t.to = *to;
    const Protocol proto = to ? w_.destinations[*to].protocol : Protocol::tcp;
    if (const auto* e = r_.need(m, "rate", "requests per second, or a list of phases", at)) {
      read_rate(m, *e, t, ok);
    } else {
      ok = false;
    }
    if (const auto* e = m.find("arrivals")) {
      if (auto v = r_.choice<Arrivals>(m, *e, "an arrival process",
                                       std::array<std::string_view, 2>{"poisson", "even"})) {
        t.arrivals = *v;
      } else {
        ok = false;
      }
    }
    if (const auto* e = m.find("duration")) read_distribution(m, *e, t, ok);
    if (const auto* e = m.find("connections")) {
      read_connections(m, *e, t, proto, ok);
    } else {
      t.connections.close = proto == Protocol::udp ? Close::idle : Close::fin;
    }
    if (const auto* e = m.find("retry")) read_retry(m, *e, t, ok);
    if (ok) w_.traffic.push_back(std::move(t));
  }

  void cross_checks() {
    // Destinations must be outside: not in a client subnet, not a public IP.
    for (std::size_t i = 0; i < w_.destinations.size(); ++i) {
      if (!destination_ok_[i]) continue;
      const auto& d = w_.destinations[i];
      const net::Ipv4 last = d.at(d.count - 1);
      for (std::size_t c = 0; c < w_.clients.size(); ++c) {
        if (!client_ok_[c]) continue;
        const auto& s = w_.clients[c].subnet;
        if (s.contains(d.address) || s.contains(last) ||
            (d.address < s.address() && last > s.address())) {
          r_.error(destination_at_[i] + ".address", YAML::Node{}, text(d.address),
                   fmt::format("{} (count {}) overlaps the subnet of clients {} ({}); allowed: "
                               "destinations outside the client subnets",
                               text(d.address), d.count, w_.clients[c].name, text(s)));
        }
      }
      for (const auto& p : w_.gateway.public_ips) {
        if (p.value() >= d.address.value() && p.value() <= last.value()) {
          r_.error(destination_at_[i] + ".address", YAML::Node{}, text(d.address),
                   fmt::format("{} (count {}) includes the gateway's public IP {}; allowed: "
                               "destinations other than the gateway",
                               text(d.address), d.count, text(p)));
        }
      }
    }
    if (explicit_ips_) {
      for (const auto& p : w_.gateway.public_ips) {
        for (std::size_t c = 0; c < w_.clients.size(); ++c) {
          if (client_ok_[c] && w_.clients[c].subnet.contains(p)) {
            r_.error("gateway.public_ips", YAML::Node{}, text(p),
                     fmt::format("{} is inside the subnet of clients {} ({}); allowed: addresses "
                                 "outside the client subnets",
                                 text(p), w_.clients[c].name, text(w_.clients[c].subnet)));
          }
        }
      }
    }
    (void)errors_;
  }

  Reader r_;
  std::vector<WorkloadError>& errors_;
  Workload w_;
  std::vector<bool> client_ok_;
  std::vector<bool> destination_ok_;
  std::vector<std::string> destination_at_;
  std::uint64_t total_clients_ = 0;
  bool explicit_ips_ = false;
};

}  // namespace

WorkloadResult parse_workload(std::string_view text, std::string default_name) {
  WorkloadResult result;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string{text});
  } catch (const YAML::Exception& e) {
    result.errors.push_back({"", "",
                             fmt::format("line {}, column {}: {}; allowed: a YAML map",
                                         e.mark.line + 1, e.mark.column + 1, e.msg),
                             e.mark.line + 1, e.mark.column + 1});
    return result;
  }
  if (docs.size() > 1) {
    result.errors.push_back(
        {"", "", fmt::format("the file holds {} YAML documents; allowed: one", docs.size()), 0, 0});
  }
  WorkloadReader reader(result.errors, std::move(default_name));
  Workload w = reader.read(docs.empty() ? YAML::Node{} : docs[0]);
  if (result.errors.empty()) {
    result.workload = std::move(w);
  } else {
    std::stable_sort(result.errors.begin(), result.errors.end(),
                     [](const WorkloadError& a, const WorkloadError& b) {
                       const int la = a.line ? a.line : std::numeric_limits<int>::max();
                       const int lb = b.line ? b.line : std::numeric_limits<int>::max();
                       return la != lb ? la < lb : a.column < b.column;
                     });
  }
  return result;
}

WorkloadResult load_workload(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    WorkloadResult r;
    r.errors.push_back(
        {"", "", fmt::format("cannot read the file: {}", std::strerror(errno)), 0, 0});
    return r;
  }
  std::string text;
  text.resize(kMaxFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) {
    WorkloadResult r;
    r.errors.push_back(
        {"", "", "the file is larger than 1 MiB; allowed: a workload of at most 1 MiB", 0, 0});
    return r;
  }
  return parse_workload(text, path.stem().string());
}

}  // namespace natgw::sim
