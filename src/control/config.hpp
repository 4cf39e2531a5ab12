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

// The presets of SPEC section 3 (nat/README.md "Profiles"); `custom` takes every engine knob
// from the `engine:` section.
enum class Profile : std::uint8_t { azure, aws, gcp, rfc, custom };

// Packet I/O backend of an interface.
enum class Backend : std::uint8_t { af_packet, af_xdp };

[[nodiscard]] std::string_view name(Profile p) noexcept;
[[nodiscard]] std::string_view name(Backend b) noexcept;
// `datapath.steering`: flow (by source address and port), host (by source address), or
// automatic: flow unless the engine needs all of a host's packets in one place
// (host_bound_reason).
enum class Steering : std::uint8_t { automatic, flow, host };
[[nodiscard]] std::string_view name(nat::IpSelection s) noexcept;
[[nodiscard]] std::string_view name(Steering s) noexcept;
// What, in this engine, needs all of a host's packets on one worker (a per-host port allowance;
// forwarded UDP fragments, whose later fragments carry no port; the FTP ALG; hairpinning);
// empty: nothing.
[[nodiscard]] std::string_view host_bound_reason(const nat::EngineConfig& e) noexcept;

// What a profile allows: the bounds that validation checks against.
struct ProfileRules {
  bool idle_configurable = true;       // false: the profile fixes the TCP idle timeout
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
  // `public_ip_selection`: per_connection (random, the default) or per_host (one IP per inside
  // host, so passive FTP works with many public IPs).
  nat::IpSelection public_ip_selection = nat::IpSelection::per_connection;

  // Every public address: public_ips in order, then each prefix's addresses in ascending order.
  [[nodiscard]] std::vector<net::Ipv4> public_addresses() const;

  bool operator==(const GatewayConfig&) const = default;
};

// The `engine:` section (profile custom only): every knob of the engine, in the units people
// write. Absent keys keep these defaults, which are azure's behaviour. Bounds: control/README.md.
struct EngineKnobs {
  nat::Mapping mapping = nat::Mapping::endpoint_dependent;
  nat::Filtering filtering = nat::Filtering::endpoint_dependent;
  bool icmp_echo = false;
  bool udp_fragments = false;
  std::uint32_t fragment_table = 4096;
  bool hairpinning = false;
  nat::LateRst late_rst = nat::LateRst::sender;
  bool block_smtp = true;
  bool ftp_alg = false;  // active FTP (nat::EngineConfig::ftp_alg); changed by a restart only
  std::vector<std::uint16_t> blocked_ports;
  std::uint32_t max_public_ips = nat::kMaxPublicIps;
  std::uint32_t connections_per_destination = 50'000;
  std::uint32_t max_connections = 2'000'000;
  std::uint32_t port_min = 1024;
  std::uint32_t port_max = 65535;
  std::uint32_t ports_per_host_min = 0;
  std::uint32_t ports_per_host_max = 0;
  bool udp_refresh_each_direction = true;
  // Seconds (the TCP established timeout is gateway.idle_timeout_minutes). 0 for
  // tcp_closing_seconds: the TCP idle timeout.
  std::uint32_t tcp_half_open_seconds = 30;
  std::uint32_t tcp_closing_seconds = 0;
  std::uint32_t udp_idle_seconds = 240;
  std::uint32_t icmp_idle_seconds = 60;
  std::uint32_t holddown_fin_seconds = 65;
  std::uint32_t holddown_rst_seconds = 16;
  std::uint32_t holddown_udp_seconds = 65;
  std::uint32_t holddown_idle_seconds = 65;
  std::uint32_t holddown_icmp_seconds = 1;

  bool operator==(const EngineKnobs&) const = default;
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

// `flow_logs:` (docs/running.md): one JSON line per connection start, end and refused attempt.
struct FlowLogsConfig {
  bool enabled = false;
  std::string path = "-";                          // an absolute file path, or "-": standard output
  std::uint64_t max_bytes = 100ull * 1024 * 1024;  // rotate before the file passes this size
  std::uint32_t keep = 5;                          // rotated files kept (path.1 .. path.keep)
  std::uint32_t rate_per_second = 1000;            // records per second at most; the rest counted

  bool operator==(const FlowLogsConfig&) const = default;
};

// `datapath:` how many worker threads run the datapath, on which CPUs, and how the inside's
// packets are shared between them (src/control/README.md, datapath/shard.hpp).
inline constexpr std::uint32_t kMaxWorkers = 16;
inline constexpr std::uint32_t kMaxCpu = 1023;
struct DatapathConfig {
  std::uint32_t workers = 1;        // 1..kMaxWorkers
  std::vector<std::uint32_t> cpus;  // empty, or one CPU per worker (pinned in this order)
  Steering steering = Steering::automatic;
  bool operator==(const DatapathConfig&) const = default;
};

struct Config {
  Profile profile = Profile::azure;
  GatewayConfig gateway;
  InterfacesConfig interfaces;
  ApiConfig api;
  FlowLogsConfig flow_logs;
  DatapathConfig datapath;
  // The network around the gateway (docs/network.md). Absent: nothing of it is modelled or
  // enforced (no routes, no security rules), as before the section existed.
  std::optional<vnet::NetworkConfig> network;
  // The `engine:` section; only with profile custom (absent there: azure's behaviour).
  std::optional<EngineKnobs> knobs;

  // The engine's configuration: the profile's timers and limits, the TCP idle timeout, every
  // public address (public_addresses()) and the subnets. Meant for a validated Config; the engine
  // rejects (throws on) one it cannot run.
  [[nodiscard]] nat::EngineConfig engine() const;
  // How the inside is steered between workers: datapath.steering with automatic resolved
  // (flow, or host when host_bound_reason(engine().behaviour) says why).
  [[nodiscard]] Steering inside_steering() const;
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
