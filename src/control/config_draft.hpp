// Internal to control/: a config on its way from YAML text to Config.
//
// The YAML reader (config_reader.cpp) checks shape, types and syntax and fills a Draft with the
// values it could read, each with the key path, text and position it came from. The value rules
// (config_rules.cpp) then check the Draft, so that an error names the key the user wrote even
// when earlier entries of a list were unreadable. validate(Config) runs the same rules on a Draft
// made from a Config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control/config.hpp"
#include "net/types.hpp"

namespace natgw::control::detail {

struct Position {
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
};

// A value as read, with where it came from.
template <class T>
struct Field {
  std::string key;   // "gateway.public_ips[2]"
  std::string text;  // the value as messages show it
  Position at;
  T value{};
};

struct InterfaceDraft {
  bool present = false;  // the section is there (as a map)
  std::string key;       // "interfaces.inside"
  Position at;
  std::optional<Field<std::string>> name;
  Backend backend = Backend::af_packet;
  bool next_hop_given = false;  // the key is there, readable or not
  std::optional<Field<net::Ipv4>> next_hop;
};

// The `network:` section (docs/network.md). Each entry of a list keeps its key path and position;
// optional fields are nullopt when absent or unreadable (the reader reported which).
struct RouteDraft {
  std::string key;  // "network.route_tables[0].routes[1]"
  Position at;
  std::optional<Field<std::string>> name;
  std::optional<Field<net::Prefix>> prefix;
  std::optional<Field<vnet::NextHopType>> next_hop;
  std::optional<Field<net::Ipv4>> next_hop_address;
  bool next_hop_address_given = false;
};

struct RouteTableDraft {
  std::string key;
  Position at;
  std::optional<Field<std::string>> name;
  std::vector<Field<net::Prefix>> subnets;
  std::vector<RouteDraft> routes;
};

struct RuleDraft {
  std::string key;
  Position at;
  std::optional<Field<std::string>> name;
  std::optional<Field<std::int64_t>> priority;
  std::optional<Field<vnet::RuleDirection>> direction;
  std::optional<Field<vnet::Access>> access;
  std::optional<Field<vnet::Protocol>> protocol;  // absent: any
  // Absent lists mean any; an entry that could not be read is left out (and reported).
  std::vector<Field<vnet::AddressMatch>> sources;
  std::vector<Field<vnet::PortRange>> source_ports;
  std::vector<Field<vnet::AddressMatch>> destinations;
  std::vector<Field<vnet::PortRange>> destination_ports;
};

struct SecurityGroupDraft {
  std::string key;
  Position at;
  std::optional<Field<std::string>> name;
  std::vector<Field<net::Prefix>> subnets;
  std::vector<RuleDraft> rules;
};

struct PrivateEndpointDraft {
  std::string key;
  Position at;
  std::optional<Field<std::string>> name;
  std::optional<Field<net::Ipv4>> address;
};

struct ServiceEndpointDraft {
  std::string key;
  Position at;
  std::optional<Field<std::string>> service;
  std::vector<Field<net::Prefix>> subnets;
  std::vector<Field<net::Prefix>> prefixes;
};

struct InstancePublicIpDraft {
  std::string key;
  Position at;
  std::optional<Field<net::Ipv4>> host;
  std::optional<Field<net::Ipv4>> public_ip;
};

struct LoadBalancerRuleDraft {
  std::string key;
  Position at;
  std::optional<Field<std::string>> name;
  std::vector<Field<net::Ipv4>> frontend_ips;
  std::vector<Field<net::Prefix>> backends;
  std::optional<Field<vnet::Protocol>> protocol;
  std::size_t frontend_entries = 0;  // as written, readable or not
  std::size_t backend_entries = 0;
};

struct NetworkDraft {
  bool present = false;
  Position at;
  std::vector<Field<net::Prefix>> address_space;
  std::optional<Field<bool>> default_outbound_access;
  std::vector<RouteTableDraft> route_tables;
  std::vector<SecurityGroupDraft> security_groups;
  std::vector<PrivateEndpointDraft> private_endpoints;
  std::vector<ServiceEndpointDraft> service_endpoints;
  std::vector<InstancePublicIpDraft> instance_public_ips;
  std::vector<LoadBalancerRuleDraft> load_balancer_outbound_rules;
};

// One knob of the `engine:` section (config_engine.cpp has the table). Every knob is read as an
// integer: a choice (booleans included) as the index of its word in `choices`.
struct KnobSpec {
  std::string_view name;
  std::span<const std::string_view> choices;  // empty: an integer in min..max
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::string_view unit;  // for integers: "seconds", "entries", ...
  std::int64_t (*get)(const EngineKnobs&) = nullptr;
  void (*set)(EngineKnobs&, std::int64_t) = nullptr;
};
[[nodiscard]] std::span<const KnobSpec> knob_specs();
[[nodiscard]] const KnobSpec* find_knob(std::string_view name);
// The keys of `engine:`: every knob, and blocked_ports.
[[nodiscard]] std::span<const std::string_view> engine_keys();
// "1..600 (seconds)", "true or false", ...
[[nodiscard]] std::string knob_allowed(const KnobSpec& k);
[[nodiscard]] std::string blocked_port_allowed();

struct EngineDraft {
  bool present = false;
  std::string key = "engine";
  Position at;
  std::vector<Field<std::int64_t>> values;         // key "engine.NAME"
  std::vector<Field<std::int64_t>> blocked_ports;  // key "engine.blocked_ports[i]"
  bool blocked_ports_given = false;
};

struct FlowLogsDraft {
  bool present = false;
  std::optional<Field<bool>> enabled;
  std::optional<Field<std::string>> path;
  std::optional<Field<std::int64_t>> max_bytes;
  std::optional<Field<std::int64_t>> keep;
  std::optional<Field<std::int64_t>> rate_per_second;
};

struct Draft {
  Profile profile = Profile::azure;  // an unknown profile is reported; checks go on as azure

  bool gateway_present = false;  // the section is there (as a map)
  Position gateway_at;
  std::optional<Field<std::string>> name;
  std::optional<Field<std::int64_t>> idle_timeout_minutes;
  nat::IpSelection ip_selection = nat::IpSelection::per_connection;
  std::vector<Field<net::Ipv4>> public_ips;
  std::vector<Field<net::Prefix>> public_ip_prefixes;
  std::vector<Field<net::Prefix>> subnets;
  Position public_ips_at;  // the list keys (gateway_at when absent)
  Position public_ip_prefixes_at;
  Position subnets_at;
  // Entries as written, readable or not: an empty list is "not operational", an unreadable entry
  // is an error of its own.
  std::size_t public_entries = 0;
  std::size_t subnet_entries = 0;

  InterfaceDraft inside;
  InterfaceDraft outside;

  std::optional<Field<net::Endpoint>> api_listen;

  FlowLogsDraft flow_logs;
  std::optional<Field<std::int64_t>> workers;  // datapath.workers
  std::vector<Field<std::int64_t>> cpus;       // datapath.cpus, readable entries
  std::size_t cpu_entries = 0;                 // as written
  Position cpus_at;
  std::optional<Field<Steering>> steering;  // datapath.steering

  NetworkDraft network;
  EngineDraft engine;
};

// Adds an error. `value` is shown as is at the start of the message.
void add_error(std::vector<ConfigError>& errors, std::string key, std::string value,
               std::string message, Position at);

// YAML text to Draft: reports syntax, shape, type and unreadable-value errors.
[[nodiscard]] Draft read_yaml(std::string_view yaml_text, std::vector<ConfigError>& errors);

// The value rules: ranges, formats, duplicates, overlaps, totals.
void check_rules(const Draft& draft, std::vector<ConfigError>& errors);

// Draft <-> Config. to_config expects a Draft without errors.
[[nodiscard]] Config to_config(const Draft& draft);
[[nodiscard]] Draft to_draft(const Config& config);
// The `engine:` knobs as read (unreadable ones left at their defaults).
[[nodiscard]] EngineKnobs knobs_of(const EngineDraft& engine);
// The engine the draft's profile and knobs make (no addresses, subnets or timeout).
[[nodiscard]] nat::EngineConfig draft_engine(const Draft& draft);

}  // namespace natgw::control::detail
