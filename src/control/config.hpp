// The gateway's configuration (SPEC section 6): the YAML file as a struct with named fields,
// its validation, and the engine configuration it produces.
//
// Error policy: nothing here throws for a bad config. parse_config / load_config return either a
// Config or every error found (not only the first); each error names the key, the offending value
// and what is allowed. Decisions where the SPEC is silent: src/control/README.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nat/config.hpp"
#include "net/types.hpp"
#include "vnet/config.hpp"

namespace natgw::vnet {
class Network;
}

namespace natgw::control {

// Only `azure` in this version; aws, gcp and custom come later (SPEC section 3).
enum class Profile : std::uint8_t { azure };

// Packet I/O backend of an interface.
enum class Backend : std::uint8_t { af_packet, af_xdp };

[[nodiscard]] std::string_view name(Profile p) noexcept;
[[nodiscard]] std::string_view name(Backend b) noexcept;

// What a profile allows: the bounds that validation checks against.
struct ProfileRules {
  std::uint32_t idle_min_minutes = 4;  // TCP idle timeout, inclusive
  std::uint32_t idle_max_minutes = 120;
  std::uint8_t prefix_min_length = 28;  // public IP prefix lengths, inclusive (/28 = 16 addresses)
  std::uint8_t prefix_max_length = 31;
  std::size_t max_public_ips = nat::kMaxPublicIps;  // addresses in all, prefixes expanded
};

[[nodiscard]] ProfileRules rules_of(Profile p) noexcept;

struct GatewayConfig {
  std::string name;
  std::chrono::minutes idle_timeout{4};  // `idle_timeout_minutes`: the TCP idle timeout
  std::vector<net::Ipv4> public_ips;
  std::vector<net::Prefix> public_ip_prefixes;  // every address of a prefix is a public IP
  std::vector<net::Prefix> subnets;             // attached subnets: only these are translated

  // Every public address: public_ips in order, then each prefix's addresses in ascending order.
  [[nodiscard]] std::vector<net::Ipv4> public_addresses() const;

  bool operator==(const GatewayConfig&) const = default;
};

struct InterfaceConfig {
  std::string name;  // Linux interface name
  Backend backend = Backend::af_packet;
  std::optional<net::Ipv4> next_hop;  // the router beyond the interface; required on outside

  bool operator==(const InterfaceConfig&) const = default;
};

struct InterfacesConfig {
  InterfaceConfig inside;   // towards the attached subnets
  InterfaceConfig outside;  // towards the internet

  bool operator==(const InterfacesConfig&) const = default;
};

struct ApiConfig {
  net::Endpoint listen{net::Ipv4{127, 0, 0, 1}, 9490};  // HTTP: /metrics, /v1/status, /v1/flows

  bool operator==(const ApiConfig&) const = default;
};

// `datapath:` how many worker threads run the datapath, and on which CPUs (src/control/README.md).
inline constexpr std::uint32_t kMaxWorkers = 16;
inline constexpr std::uint32_t kMaxCpu = 1023;
struct DatapathConfig {
  std::uint32_t workers = 1;        // 1..kMaxWorkers
  std::vector<std::uint32_t> cpus;  // empty, or one CPU per worker (pinned in this order)
  bool operator==(const DatapathConfig&) const = default;
};

struct Config {
  Profile profile = Profile::azure;
  GatewayConfig gateway;
  InterfacesConfig interfaces;
  ApiConfig api;
  DatapathConfig datapath;
  // The network around the gateway (docs/network.md). Absent: nothing of it is modelled or
  // enforced (no routes, no security rules), as before the section existed.
  std::optional<vnet::NetworkConfig> network;

  // The engine's configuration: the profile's timers and limits, the TCP idle timeout, every
  // public address (public_addresses()) and the subnets. Meant for a validated Config; the engine
  // rejects (throws on) one it cannot run.
  [[nodiscard]] nat::EngineConfig engine() const;
  // The network model of `network` with the attached subnets; nullptr when there is no
  // `network:` section. Meant for a validated Config; throws std::invalid_argument otherwise.
  [[nodiscard]] std::shared_ptr<const vnet::Network> network_model() const;

  bool operator==(const Config&) const = default;
};

// One problem in a config.
struct ConfigError {
  std::string key;      // key path, e.g. "gateway.public_ips[2]"; empty for the file as a whole
  std::string value;    // the offending value as the message shows it; empty when there is none
  std::string message;  // what is wrong with the value and what is allowed
  int line = 0;         // where the value is in the YAML text, 1-based; 0 when unknown
  int column = 0;

  bool operator==(const ConfigError&) const = default;
};

// "key: message", or "message" for an error about the file as a whole.
[[nodiscard]] std::string to_string(const ConfigError& error);

// A Config, or every error found (in the order of the YAML text).
class [[nodiscard]] ConfigResult {
 public:
  // Implicit, so that a function can `return config;` or `return errors;`.
  ConfigResult(Config config) : config_(std::move(config)) {}
  ConfigResult(std::vector<ConfigError> errors);  // precondition: at least one error

  [[nodiscard]] bool ok() const noexcept { return config_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  // Preconditions: ok().
  [[nodiscard]] const Config& config() const& { return *config_; }
  [[nodiscard]] Config config() && { return std::move(*config_); }

  // Empty when ok().
  [[nodiscard]] const std::vector<ConfigError>& errors() const noexcept { return errors_; }

 private:
  std::optional<Config> config_;
  std::vector<ConfigError> errors_;
};

// Parses and validates a YAML config.
[[nodiscard]] ConfigResult parse_config(std::string_view yaml_text);

// Reads `path` and parses it; a file that cannot be read is one error with an empty key.
[[nodiscard]] ConfigResult load_config(const std::filesystem::path& path);

// The value rules alone, for a Config built in code (same rules and messages as parse_config;
// keys index the vectors as they are). Empty when the config is valid.
[[nodiscard]] std::vector<ConfigError> validate(const Config& config);

// "gateway NAME, N public IPs, M subnets" (N counts every address of every prefix), and with a
// network section ", network: R route tables, G security groups".
[[nodiscard]] std::string summary(const Config& config);

}  // namespace natgw::control
