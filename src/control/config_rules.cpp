// The value rules of a config (SPEC sections 1 and 6): ranges, name formats, duplicates,
// overlaps, totals. Every rule runs on what the reader could read, so one run reports everything.
#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control/config_draft.hpp"
#include "control/config_text.hpp"

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
      : d_(d), errors_(errors), rules_(rules_of(d.profile)) {}

  void run() {
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
  }

 private:
  template <class T>
  void error(const Field<T>& f, std::string message) {
    add_error(errors_, f.key, f.text, std::move(message), f.at);
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

  void idle_timeout(const Field<std::int64_t>& f) {
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
};

}  // namespace

void check_rules(const Draft& draft, std::vector<ConfigError>& errors) {
  Rules{draft, errors}.run();
}

}  // namespace natgw::control::detail
