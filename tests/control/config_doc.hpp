// A valid config as text, with every part replaceable: a test changes one thing and checks the
// one error it causes. Doc{}.text() is valid.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "control/config.hpp"

namespace natgw::control::test {

class Doc {
 public:
  // Replace one part: Doc{}.idle("200").subnets("[]").text().
  Doc& profile(std::string v) { return set(profile_, std::move(v)); }
  Doc& name(std::string v) { return set(name_, std::move(v)); }
  Doc& idle(std::string v) { return set(idle_, std::move(v)); }
  Doc& public_ips(std::string v) { return set(public_ips_, std::move(v)); }
  Doc& prefixes(std::string v) { return set(prefixes_, std::move(v)); }
  Doc& subnets(std::string v) { return set(subnets_, std::move(v)); }
  Doc& inside(std::string v) { return set(inside_, std::move(v)); }
  Doc& outside(std::string v) { return set(outside_, std::move(v)); }
  Doc& api(std::string v) { return set(api_, std::move(v)); }
  // Lines added at the end of the gateway map (indented by the caller).
  Doc& gateway_extra(std::string v) { return set(gateway_extra_, std::move(v)); }

  // Line numbers: profile 1, gateway 2, name 3, idle 4, public_ips 5, prefixes 6, subnets 7,
  // then the gateway_extra lines, interfaces, inside, outside, api.
  [[nodiscard]] std::string text() const {
    return "profile: " + profile_ + "\ngateway:\n  name: " + name_ +
           "\n  idle_timeout_minutes: " + idle_ + "\n  public_ips: " + public_ips_ +
           "\n  public_ip_prefixes: " + prefixes_ + "\n  subnets: " + subnets_ + "\n" +
           gateway_extra_ + "interfaces:\n  inside: " + inside_ + "\n  outside: " + outside_ +
           "\napi: " + api_ + "\n";
  }

 private:
  Doc& set(std::string& field, std::string v) {
    field = std::move(v);
    return *this;
  }

  std::string profile_ = "azure";
  std::string name_ = "natgw-demo";
  std::string idle_ = "4";
  std::string public_ips_ = "[203.0.113.10]";
  std::string prefixes_ = "[]";
  std::string subnets_ = "[10.0.0.0/24]";
  std::string inside_ = "{ name: gw-in, backend: af_packet }";
  std::string outside_ = "{ name: gw-out, backend: af_packet, next_hop: 192.0.2.1 }";
  std::string api_ = "{ listen: 127.0.0.1:9490 }";
  std::string gateway_extra_;
};

inline std::string dump(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    out += to_string(e) + " [value=" + e.value + " line=" + std::to_string(e.line) + "]\n";
  }
  return out;
}

// The errors of a config that must not parse.
inline std::vector<ConfigError> errors_of(const std::string& yaml) {
  const auto r = parse_config(yaml);
  EXPECT_FALSE(r.ok()) << yaml;
  return r.errors();
}

// The one error of a config that must not parse (an empty error when there is not exactly one).
inline ConfigError only_error(const std::string& yaml) {
  const auto errors = errors_of(yaml);
  EXPECT_EQ(errors.size(), 1u) << yaml << "\n" << dump(errors);
  return errors.size() == 1 ? errors.front() : ConfigError{};
}

// An error's key, value and printed form, checked at once.
#define EXPECT_CONFIG_ERROR(error, key_, value_, printed)                                     \
  do {                                                                                        \
    const ::natgw::control::ConfigError& e_ = (error);                                        \
    EXPECT_EQ(e_.key, key_);                                                                  \
    EXPECT_EQ(e_.value, value_);                                                              \
    EXPECT_EQ(::natgw::control::to_string(e_), printed);                                      \
    EXPECT_NE(e_.message.find(e_.value), std::string::npos) << "the message names the value"; \
  } while (false)

}  // namespace natgw::control::test
