// A workload for `natgw simulate`: who connects where, how often, how connections are used and
// ended, how failures are retried, and the gateway they all go through. src/sim/README.md
// documents every key of the YAML form and the model behind it.
//
// Error policy: as for gateway configs (control/), reading never throws for a bad file; it
// returns the workload or every error found, each naming the key, the value and what is allowed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nat/config.hpp"
#include "net/types.hpp"

namespace natgw::sim {

using Duration = std::chrono::nanoseconds;
using Time = std::chrono::nanoseconds;  // virtual time since the start of the run

enum class Protocol : std::uint8_t { tcp, udp };
enum class Arrivals : std::uint8_t { poisson, even };
enum class Reuse : std::uint8_t { none, pool };
enum class Close : std::uint8_t { fin, rst, idle };
enum class RetryPolicy : std::uint8_t { none, immediate, backoff };
enum class Jitter : std::uint8_t { full, equal, none };
enum class KeepaliveFrom : std::uint8_t { client, both };

// How long a request keeps its connection busy (server time, not counting the round trip).
struct Distribution {
  enum class Kind : std::uint8_t { fixed, uniform, exponential };
  Kind kind = Kind::fixed;
  Duration a{0};  // fixed: the value; uniform: the minimum; exponential: the mean
  Duration b{0};  // uniform: the maximum
};

// One term of the request rate; the rate at time t is the sum of every phase's rate at t.
struct RatePhase {
  double from_per_second = 0;  // rate at `start` (steady and burst: the rate throughout)
  double to_per_second = 0;    // rate just before `end` (ramp); equal to from for the others
  Duration start{0};
  Duration end{0};
};

struct ClientPopulation {
  std::string name;
  std::uint32_t count = 1;
  net::Prefix subnet;
  // Client i has address subnet + 1 + i.
  [[nodiscard]] net::Ipv4 address(std::uint32_t i) const noexcept {
    return net::Ipv4{subnet.address().value() + 1 + i};
  }
};

struct DestinationGroup {
  std::string name;
  net::Ipv4 address;  // the first; destination j is address + j
  std::uint32_t count = 1;
  std::uint16_t port = 443;
  Protocol protocol = Protocol::tcp;
  Duration rtt = std::chrono::milliseconds(20);  // gateway to destination and back
  [[nodiscard]] net::Ipv4 at(std::uint32_t j) const noexcept {
    return net::Ipv4{address.value() + j};
  }
};

struct ConnectionBehaviour {
  Reuse reuse = Reuse::none;
  std::uint32_t pool_size = 1;         // pool: connections per client per destination
  Close close = Close::fin;            // how a connection is ended
  std::optional<Duration> idle_close;  // pool: close a connection idle this long (none: never)
  std::optional<Duration> keepalive;   // keepalive after this much silence (none: off)
  KeepaliveFrom keepalive_from = KeepaliveFrom::both;  // UDP: who sends keepalives
};

struct RetryBehaviour {
  RetryPolicy policy = RetryPolicy::none;
  std::uint32_t attempts = 1;               // attempts per request in all, the first included
  Duration delay{0};                        // immediate: between attempts
  Duration base = std::chrono::seconds(1);  // backoff: before the second attempt
  Duration max = std::chrono::seconds(30);  // backoff: longest wait
  double multiplier = 2;
  Jitter jitter = Jitter::full;
};

struct Traffic {
  std::string name;
  std::size_t from = 0;  // index into Workload::clients
  std::size_t to = 0;    // index into Workload::destinations
  std::vector<RatePhase> rate;
  Arrivals arrivals = Arrivals::poisson;
  Distribution duration;
  ConnectionBehaviour connections;
  RetryBehaviour retry;
};

struct GatewaySpec {
  std::vector<net::Ipv4> public_ips;  // from a count: 203.0.113.10, .11, ...
  std::uint32_t idle_timeout_minutes = 4;
};

struct Workload {
  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  Duration duration = std::chrono::minutes(60);
  GatewaySpec gateway;
  std::vector<ClientPopulation> clients;
  std::vector<DestinationGroup> destinations;
  std::vector<Traffic> traffic;

  // The engine configuration: profile azure, the gateway's idle timeout, the clients' subnets,
  // and `public_ips` addresses (the workload's own, extended with 203.0.113.10.. when more are
  // asked for, as the capacity search does).
  [[nodiscard]] nat::EngineConfig engine_config(std::size_t public_ips) const;
};

// The first `n` addresses of the generated sequence 203.0.113.10, .11, ... (n <= 16).
[[nodiscard]] std::vector<net::Ipv4> generated_public_ips(std::size_t n);

struct WorkloadError {
  std::string key;      // e.g. "traffic[0].retry.policy"; empty for the file as a whole
  std::string value;    // the offending value as the message shows it
  std::string message;  // what is wrong and what is allowed
  int line = 0;         // 1-based; 0 when unknown
  int column = 0;
};

// "key: message", or the message alone for the file as a whole.
[[nodiscard]] std::string to_string(const WorkloadError& e);

struct WorkloadResult {
  std::optional<Workload> workload;
  std::vector<WorkloadError> errors;  // in the order of the file; empty when workload is set
  explicit operator bool() const noexcept { return workload.has_value(); }
};

// Reads a workload from YAML text. `default_name` names a workload without `name`.
[[nodiscard]] WorkloadResult parse_workload(std::string_view text, std::string default_name);
// Reads a file (at most 1 MiB); the default name is the file's stem.
[[nodiscard]] WorkloadResult load_workload(const std::filesystem::path& path);

[[nodiscard]] std::string_view name(Protocol p) noexcept;
[[nodiscard]] std::string format_duration(Duration d);

}  // namespace natgw::sim
