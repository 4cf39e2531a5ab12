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
  return fmt::format("gateway {}, {} public IP{}, {} subnet{}", config.gateway.name, ips,
                     ips == 1 ? "" : "s", subnets, subnets == 1 ? "" : "s");
}

namespace detail {

void add_error(std::vector<ConfigError>& errors, std::string key, std::string value,
               std::string message, Position at) {
  errors.push_back({std::move(key), std::move(value), std::move(message), at.line, at.column});
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
  return d;
}

}  // namespace detail
}  // namespace natgw::control
