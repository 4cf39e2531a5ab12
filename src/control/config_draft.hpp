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
#include <string>
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

struct Draft {
  Profile profile = Profile::azure;  // an unsupported profile is reported; checks go on as azure

  bool gateway_present = false;  // the section is there (as a map)
  Position gateway_at;
  std::optional<Field<std::string>> name;
  std::optional<Field<std::int64_t>> idle_timeout_minutes;
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

}  // namespace natgw::control::detail
