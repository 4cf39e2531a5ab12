// The YAML side of the config: syntax, shape, keys and types (src/control/config_reader.cpp).
#include <gtest/gtest.h>

#include "config_doc.hpp"
#include "control/config.hpp"

namespace natgw::control::test {
namespace {

TEST(ConfigYaml, SyntaxErrorGivesLineAndColumn) {
  const auto e = only_error("gateway:\n  name: x\n  public_ips: [203.0.113.10\n  subnets: []\n");
  EXPECT_CONFIG_ERROR(e, "", "",
                      "YAML syntax error at line 4, column 10: end of sequence flow not found");
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.column, 10);
}

TEST(ConfigYaml, TabIndentationIsASyntaxError) {
  const auto e = only_error("gateway:\n\t- name\n");
  EXPECT_CONFIG_ERROR(e, "", "", "YAML syntax error at line 2, column 2: illegal block entry");
}

TEST(ConfigYaml, EmptyFile) {
  for (const char* text : {"", "# only a comment\n", "~\n"}) {
    EXPECT_CONFIG_ERROR(only_error(text), "", "",
                        "the file is empty; allowed: a map with keys profile, gateway, interfaces, "
                        "api, network, flow_logs, datapath");
  }
}

TEST(ConfigYaml, MoreThanOneDocument) {
  const auto errors = errors_of(Doc{}.text() + "---\nprofile: azure\n");
  ASSERT_EQ(errors.size(), 1u) << dump(errors);
  EXPECT_CONFIG_ERROR(errors[0], "", "", "the file holds 2 YAML documents; allowed: one");
}

TEST(ConfigYaml, TopLevelMustBeAMap) {
  EXPECT_CONFIG_ERROR(only_error("- profile: azure\n"), "", "[{profile: azure}]",
                      "[{profile: azure}] is a list, not a map; allowed: a map with keys profile, "
                      "gateway, interfaces, api, network, flow_logs, datapath");
}

TEST(ConfigYaml, UnknownTopLevelKeyListsAllowedKeys) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.text() + "gateways: {}\n"), "gateways", "gateways",
                      "gateways: gateways is not a top-level key; allowed: profile, gateway, "
                      "interfaces, api, network, flow_logs, datapath (did you mean gateway?)");
}

TEST(ConfigYaml, PublicIpSelection) {
  const auto r = parse_config(Doc{}.gateway_extra("  public_ip_selection: per_host\n").text());
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  EXPECT_EQ(r.config().engine().ip_selection, nat::IpSelection::per_host);
  EXPECT_CONFIG_ERROR(only_error(Doc{}.gateway_extra("  public_ip_selection: sticky\n").text()),
                      "gateway.public_ip_selection", "sticky",
                      "gateway.public_ip_selection: sticky is not a public IP selection; allowed: "
                      "per_connection (a random public IP for each connection), per_host (one "
                      "public IP for each inside host)");
}

TEST(ConfigYaml, UnknownKeyInGatewaySuggestsTheClosest) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.gateway_extra("  public_ip: [203.0.113.11]\n").text()),
                      "gateway.public_ip", "public_ip",
                      "gateway.public_ip: public_ip is not a key of gateway; allowed: name, "
                      "idle_timeout_minutes, public_ips, public_ip_prefixes, subnets, public_ip_selection (did you "
                      "mean public_ips?)");
  EXPECT_CONFIG_ERROR(only_error(Doc{}.gateway_extra("  idle_timeout: 4\n").text()),
                      "gateway.idle_timeout", "idle_timeout",
                      "gateway.idle_timeout: idle_timeout is not a key of gateway; allowed: name, "
                      "idle_timeout_minutes, public_ips, public_ip_prefixes, subnets, public_ip_selection (did you "
                      "mean idle_timeout_minutes?)");
}

TEST(ConfigYaml, UnknownKeysAtEveryLevel) {
  const auto errors = errors_of(Doc{}
                                    .inside("{ name: gw-in, mtu: 1500 }")
                                    .api("{ listen: 127.0.0.1:9490, tls: true }")
                                    .text() +
                                "debug: true\n");
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_CONFIG_ERROR(errors[0], "interfaces.inside.mtu", "mtu",
                      "interfaces.inside.mtu: mtu is not a key of interfaces.inside; allowed: "
                      "name, backend, next_hop");
  EXPECT_CONFIG_ERROR(errors[1], "api.tls", "tls",
                      "api.tls: tls is not a key of api; allowed: listen");
  EXPECT_CONFIG_ERROR(errors[2], "debug", "debug",
                      "debug: debug is not a top-level key; allowed: profile, gateway, "
                      "interfaces, api, network, flow_logs, datapath");
}

TEST(ConfigYaml, UnknownKeyInInterfaces) {
  EXPECT_CONFIG_ERROR(
      only_error(
          Doc{}.outside("{ name: gw-out, next_hop: 198.51.100.2 }\n  management: {}").text()),
      "interfaces.management", "management",
      "interfaces.management: management is not a key of interfaces; allowed: inside, outside");
}

TEST(ConfigYaml, RepeatedKeyIsAnError) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.gateway_extra("  name: other\n").text()), "gateway.name",
                      "name",
                      "gateway.name: name appears more than once in gateway (lines 3 and 8); "
                      "allowed: each key once");
}

TEST(ConfigYaml, MissingRequiredSections) {
  const auto errors = errors_of("profile: azure\n");
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_CONFIG_ERROR(errors[0], "gateway", "",
                      "gateway: missing (required); allowed: a map with keys name, "
                      "idle_timeout_minutes, public_ips, public_ip_prefixes, subnets, public_ip_selection");
  EXPECT_CONFIG_ERROR(errors[1], "interfaces", "",
                      "interfaces: missing (required); allowed: a map with keys inside, outside");
}

TEST(ConfigYaml, MissingRequiredKeys) {
  const auto errors = errors_of(
      "gateway: { public_ips: [203.0.113.10], subnets: [10.0.0.0/24] }\n"
      "interfaces:\n"
      "  inside: { backend: af_xdp }\n");
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_CONFIG_ERROR(errors[0], "gateway.name", "",
                      "gateway.name: missing (required); allowed: 1..64 characters: letters, "
                      "digits, '-', '_' or '.', starting with a letter or digit");
  EXPECT_CONFIG_ERROR(errors[1], "interfaces.outside", "",
                      "interfaces.outside: missing (required); allowed: a map with keys name, "
                      "backend, next_hop");
  EXPECT_CONFIG_ERROR(errors[2], "interfaces.inside.name", "",
                      "interfaces.inside.name: missing (required); allowed: 1..15 characters: "
                      "letters, digits, '-', '_' or '.'");
}

TEST(ConfigYaml, KeyWithoutValue) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.name("").text()), "gateway.name", "",
                      "gateway.name: no value; allowed: 1..64 characters: letters, digits, '-', "
                      "'_' or '.', starting with a letter or digit");
}

TEST(ConfigYaml, StringWhereAnIntegerIsWanted) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.idle("\"4\"").text()), "gateway.idle_timeout_minutes",
                      "\"4\"",
                      "gateway.idle_timeout_minutes: \"4\" is a string, not an integer; allowed: "
                      "4..120 (profile azure)");
  EXPECT_CONFIG_ERROR(only_error(Doc{}.idle("four").text()), "gateway.idle_timeout_minutes", "four",
                      "gateway.idle_timeout_minutes: four is not an integer; allowed: 4..120 "
                      "(profile azure)");
}

TEST(ConfigYaml, FloatMinutes) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.idle("4.5").text()), "gateway.idle_timeout_minutes", "4.5",
                      "gateway.idle_timeout_minutes: 4.5 is not an integer; allowed: 4..120 "
                      "(profile azure)");
}

TEST(ConfigYaml, NegativeMinutes) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.idle("-5").text()), "gateway.idle_timeout_minutes", "-5",
                      "gateway.idle_timeout_minutes: -5 is out of range; allowed: 4..120 "
                      "(profile azure)");
}

TEST(ConfigYaml, MapWhereANumberIsWanted) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.idle("{minutes: 4}").text()), "gateway.idle_timeout_minutes",
                      "{minutes: 4}",
                      "gateway.idle_timeout_minutes: {minutes: 4} is a map, not a single value; "
                      "allowed: 4..120 (profile azure)");
}

TEST(ConfigYaml, MapWhereAListIsWanted) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.public_ips("{ip: 203.0.113.10}").text()),
                      "gateway.public_ips", "{ip: 203.0.113.10}",
                      "gateway.public_ips: {ip: 203.0.113.10} is a map, not a list; allowed: a "
                      "list, each entry a unicast IPv4 address such as 203.0.113.10, outside "
                      "every attached subnet");
}

TEST(ConfigYaml, SingleValueWhereAListIsWanted) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.subnets("10.0.0.0/24").text()), "gateway.subnets",
                      "10.0.0.0/24",
                      "gateway.subnets: 10.0.0.0/24 is a single value, not a list; allowed: a "
                      "list such as [10.0.0.0/24], each entry a private prefix a.b.c.d/len inside "
                      "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10");
}

TEST(ConfigYaml, ListEntryMustBeASingleValue) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.subnets("[10.0.0.0/24, [10.1.0.0/24]]").text()),
                      "gateway.subnets[1]", "[10.1.0.0/24]",
                      "gateway.subnets[1]: [10.1.0.0/24] is a list, not a single value; allowed: "
                      "a private prefix a.b.c.d/len inside 10.0.0.0/8, 172.16.0.0/12, "
                      "192.168.0.0/16 or 100.64.0.0/10");
}

TEST(ConfigYaml, ListWhereASingleValueIsWanted) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.name("[a, b]").text()), "gateway.name", "[a, b]",
                      "gateway.name: [a, b] is a list, not a single value; allowed: 1..64 "
                      "characters: letters, digits, '-', '_' or '.', starting with a letter or "
                      "digit");
}

TEST(ConfigYaml, SectionMustBeAMap) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.inside("gw-in").text()), "interfaces.inside", "gw-in",
                      "interfaces.inside: gw-in is a single value, not a map; allowed: a map "
                      "with keys name, backend, next_hop");
}

TEST(ConfigYaml, QuotedAddressesAreStringsAndFine) {
  const auto r = parse_config(Doc{}.public_ips("[\"203.0.113.10\"]").text());
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  EXPECT_EQ(r.config().gateway.public_ips, std::vector<net::Ipv4>{net::Ipv4(203, 0, 113, 10)});
}

TEST(ConfigYaml, EmptyListsAndSectionsMayBeLeftBlank) {
  const auto r = parse_config(Doc{}.prefixes("").api("").text());
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  EXPECT_TRUE(r.config().gateway.public_ip_prefixes.empty());
  EXPECT_EQ(r.config().api, ApiConfig{});
}

}  // namespace
}  // namespace natgw::control::test
