// The value rules of the config (src/control/config_rules.cpp): one test per kind of error, each
// checking the key, the value and the whole message (value and what is allowed).
#include <gtest/gtest.h>

#include "config_doc.hpp"
#include "control/config.hpp"

namespace natgw::control::test {
namespace {

constexpr const char* kNameAllowed =
    "allowed: 1..64 characters: letters, digits, '-', '_' or '.', starting with a letter or digit";
constexpr const char* kIfNameAllowed =
    "allowed: 1..15 characters: letters, digits, '-', '_' or '.'";
constexpr const char* kPublicIpAllowed =
    "allowed: a unicast IPv4 address such as 203.0.113.10, outside every attached subnet";
constexpr const char* kPrefixAllowed = "allowed: /28, /29, /30 or /31 (profile azure)";
constexpr const char* kSubnetAllowed =
    "allowed: a private prefix a.b.c.d/len inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or "
    "100.64.0.0/10";
constexpr const char* kListenAllowed =
    "allowed: IPV4:PORT with a port in 1..65535, such as 127.0.0.1:9490";

std::string msg(const std::string& head, const char* allowed) {
  return head + "; " + allowed;
}

TEST(ConfigRules, EveryProfileIsSupported) {
  // The profiles that fix the TCP idle timeout take no idle_timeout_minutes (profiles_test.cpp).
  for (const char* p : {"azure", "custom"}) {
    EXPECT_TRUE(parse_config(Doc{}.profile(p).text()).ok()) << p;
  }
  EXPECT_CONFIG_ERROR(only_error(Doc{}.profile("aws").text()), "gateway.idle_timeout_minutes", "4",
                      "gateway.idle_timeout_minutes: 4 cannot be set with profile aws; allowed: "
                      "no idle_timeout_minutes with profile aws (it fixes the TCP idle timeout)");
}

TEST(ConfigRules, UnknownProfile) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.profile("Azure").text()), "profile", "Azure",
                      "profile: Azure is not a profile; allowed: azure, aws, gcp, rfc or custom");
}

TEST(ConfigRules, GatewayNameEmpty) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.name("\"\"").text()), "gateway.name", "\"\"",
                      msg("gateway.name: \"\" is empty", kNameAllowed));
}

TEST(ConfigRules, GatewayNameTooLong) {
  const std::string name(65, 'a');
  EXPECT_CONFIG_ERROR(only_error(Doc{}.name(name).text()), "gateway.name", name,
                      msg("gateway.name: " + name + " is 65 characters long", kNameAllowed));
  EXPECT_TRUE(parse_config(Doc{}.name(std::string(64, 'a')).text()).ok());
}

TEST(ConfigRules, GatewayNameCharacters) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.name("my gw").text()), "gateway.name", "\"my gw\"",
      msg("gateway.name: \"my gw\" has a character that is not allowed (a space at position 3)",
          kNameAllowed));
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.name("gw/1").text()), "gateway.name", "gw/1",
      msg("gateway.name: gw/1 has a character that is not allowed ('/' at position 3)",
          kNameAllowed));
  EXPECT_CONFIG_ERROR(only_error(Doc{}.name("-gw").text()), "gateway.name", "-gw",
                      msg("gateway.name: -gw starts with '-'", kNameAllowed));
  EXPECT_TRUE(parse_config(Doc{}.name("gw_1.prod-eu").text()).ok());
}

TEST(ConfigRules, IdleTimeoutOutOfRange) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.idle("200").text()), "gateway.idle_timeout_minutes", "200",
                      "gateway.idle_timeout_minutes: 200 is out of range; allowed: 4..120 "
                      "(profile azure)");
  EXPECT_EQ(only_error(Doc{}.idle("3").text()).value, "3");
  EXPECT_EQ(only_error(Doc{}.idle("121").text()).value, "121");
  EXPECT_EQ(only_error(Doc{}.idle("99999999999999999999999").text()).value,
            "99999999999999999999999");
  EXPECT_TRUE(parse_config(Doc{}.idle("4").text()).ok());
  EXPECT_TRUE(parse_config(Doc{}.idle("120").text()).ok());
}

TEST(ConfigRules, PublicIpNotAnAddress) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.public_ips("[203.0.113.10, 203.0.113.300]").text()), "gateway.public_ips[1]",
      "203.0.113.300",
      msg("gateway.public_ips[1]: 203.0.113.300 is not an IPv4 address", kPublicIpAllowed));
  EXPECT_CONFIG_ERROR(only_error(Doc{}.public_ips("[203.0.113.010]").text()),
                      "gateway.public_ips[0]", "203.0.113.010",
                      msg("gateway.public_ips[0]: 203.0.113.010 is not an IPv4 address (leading "
                          "zeros are ambiguous: some tools read them as octal)",
                          kPublicIpAllowed));
}

TEST(ConfigRules, PublicIpSpecialUse) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.public_ips("[203.0.113.10, 127.0.0.1]").text()), "gateway.public_ips[1]",
      "127.0.0.1",
      msg("gateway.public_ips[1]: 127.0.0.1 is in loopback 127.0.0.0/8", kPublicIpAllowed));
  EXPECT_EQ(only_error(Doc{}.public_ips("[255.255.255.255, 203.0.113.10]").text()).key,
            "gateway.public_ips[0]");
}

TEST(ConfigRules, PublicIpDuplicate) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.public_ips("[203.0.113.10, 203.0.113.11, 203.0.113.10]").text()),
      "gateway.public_ips[2]", "203.0.113.10",
      "gateway.public_ips[2]: 203.0.113.10 appears twice (also gateway.public_ips[0]); allowed: "
      "each public address once");
}

TEST(ConfigRules, PublicIpAlsoInAPrefix) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.public_ips("[203.0.113.18]").prefixes("[203.0.113.16/30]").text()),
      "gateway.public_ips[0]", "203.0.113.18",
      "gateway.public_ips[0]: 203.0.113.18 is also in gateway.public_ip_prefixes[0] "
      "(203.0.113.16/30); allowed: each public address once");
}

TEST(ConfigRules, PublicIpInsideAnAttachedSubnet) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}
                     .public_ips("[203.0.113.10, 10.0.1.5]")
                     .subnets("[10.0.0.0/24, 10.0.1.0/24]")
                     .text()),
      "gateway.public_ips[1]", "10.0.1.5",
      msg("gateway.public_ips[1]: 10.0.1.5 is inside attached subnet gateway.subnets[1] "
          "(10.0.1.0/24)",
          kPublicIpAllowed));
}

TEST(ConfigRules, NoPublicAddressIsNotOperational) {
  const std::string expected =
      "gateway.public_ips: [] and no public_ip_prefixes give no public IP: a gateway with no "
      "public IP is not operational: it forwards nothing; allowed: 1..16 public addresses in "
      "public_ips and public_ip_prefixes together (profile azure)";
  EXPECT_CONFIG_ERROR(only_error(Doc{}.public_ips("[]").text()), "gateway.public_ips", "[]",
                      expected);
  // Left out altogether: the same.
  EXPECT_CONFIG_ERROR(only_error("gateway: { name: gw, subnets: [10.0.0.0/24] }\n"
                                 "interfaces:\n"
                                 "  inside: { name: in }\n"
                                 "  outside: { name: out, next_hop: 198.51.100.2 }\n"),
                      "gateway.public_ips", "[]", expected);
  // A prefix alone is enough.
  EXPECT_TRUE(parse_config(Doc{}.public_ips("[]").prefixes("[203.0.113.16/31]").text()).ok());
}

TEST(ConfigRules, MoreThanSixteenAddressesNamesTheCount) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}
                     .public_ips("[203.0.113.10, 203.0.113.11]")
                     .prefixes("[198.51.100.0/28, 198.51.100.16/31]")
                     .text()),
      "gateway.public_ip_prefixes", "20",
      "gateway.public_ip_prefixes: 20 public addresses in total (2 in public_ips, 18 in "
      "public_ip_prefixes) are too many; allowed: 1..16 public addresses in public_ips and "
      "public_ip_prefixes together (profile azure)");
  std::string ips = "[";
  for (int i = 1; i <= 17; ++i) ips += (i > 1 ? ", 203.0.113." : "203.0.113.") + std::to_string(i);
  const auto e = only_error(Doc{}.public_ips(ips + "]").text());
  EXPECT_EQ(e.key, "gateway.public_ips");
  EXPECT_EQ(e.value, "17");
  // Exactly 16: a /28 alone.
  EXPECT_TRUE(parse_config(Doc{}.public_ips("[]").prefixes("[198.51.100.0/28]").text()).ok());
}

TEST(ConfigRules, PrefixLengthTheProfileDoesNotAllow) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.prefixes("[198.51.100.0/24]").text()),
                      "gateway.public_ip_prefixes[0]", "198.51.100.0/24",
                      msg("gateway.public_ip_prefixes[0]: 198.51.100.0/24 is a /24 (256 addresses)",
                          kPrefixAllowed));
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.prefixes("[198.51.100.1/32]").text()), "gateway.public_ip_prefixes[0]",
      "198.51.100.1/32",
      msg("gateway.public_ip_prefixes[0]: 198.51.100.1/32 is a /32 (1 address)", kPrefixAllowed));
}

TEST(ConfigRules, PrefixWithHostBitsSet) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.prefixes("[198.51.100.17/28]").text()), "gateway.public_ip_prefixes[0]",
      "198.51.100.17/28",
      msg("gateway.public_ip_prefixes[0]: 198.51.100.17/28 has host bits set (did you mean "
          "198.51.100.16/28?)",
          kPrefixAllowed));
}

TEST(ConfigRules, PrefixWithoutLength) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.prefixes("[198.51.100.16]").text()), "gateway.public_ip_prefixes[0]",
      "198.51.100.16",
      msg("gateway.public_ip_prefixes[0]: 198.51.100.16 is not a prefix (no /length)",
          kPrefixAllowed));
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.prefixes("[198.51.100.16/33]").text()), "gateway.public_ip_prefixes[0]",
      "198.51.100.16/33",
      msg("gateway.public_ip_prefixes[0]: 198.51.100.16/33 is not a prefix (the length must be "
          "0..32)",
          kPrefixAllowed));
}

TEST(ConfigRules, PrefixesOverlap) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.prefixes("[198.51.100.16/29, 198.51.100.20/30]").text()),
      "gateway.public_ip_prefixes[1]", "198.51.100.20/30",
      "gateway.public_ip_prefixes[1]: 198.51.100.20/30 overlaps gateway.public_ip_prefixes[0] "
      "(198.51.100.16/29); allowed: each public address once");
}

TEST(ConfigRules, PrefixOverlapsAnAttachedSubnet) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.prefixes("[10.0.0.16/30]").text()), "gateway.public_ip_prefixes[0]",
      "10.0.0.16/30",
      "gateway.public_ip_prefixes[0]: 10.0.0.16/30 overlaps attached subnet gateway.subnets[0] "
      "(10.0.0.0/24); allowed: public addresses outside every attached subnet");
}

TEST(ConfigRules, SubnetNotAPrefix) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.subnets("[10.0.0/24]").text()), "gateway.subnets[0]", "10.0.0/24",
      msg("gateway.subnets[0]: 10.0.0/24 is not a prefix (10.0.0 is not an IPv4 address)",
          kSubnetAllowed));
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.subnets("[10.0.0.1/24]").text()), "gateway.subnets[0]", "10.0.0.1/24",
      msg("gateway.subnets[0]: 10.0.0.1/24 has host bits set (did you mean 10.0.0.0/24?)",
          kSubnetAllowed));
}

TEST(ConfigRules, SubnetNotPrivate) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.subnets("[10.0.0.0/24, 8.8.8.0/24]").text()),
                      "gateway.subnets[1]", "8.8.8.0/24",
                      msg("gateway.subnets[1]: 8.8.8.0/24 is not private", kSubnetAllowed));
  // Wider than a private range: not private either.
  EXPECT_EQ(only_error(Doc{}.subnets("[10.0.0.0/7]").text()).value, "10.0.0.0/7");
  // RFC 6598 shared space is.
  EXPECT_TRUE(
      parse_config(Doc{}.subnets("[100.64.0.0/10, 172.16.0.0/12, 192.168.1.0/24]").text()).ok());
}

TEST(ConfigRules, SubnetsOverlapNamesBoth) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.subnets("[10.0.0.0/24, 10.0.0.128/25]").text()), "gateway.subnets[1]",
      "10.0.0.128/25",
      "gateway.subnets[1]: 10.0.0.128/25 overlaps gateway.subnets[0] (10.0.0.0/24); allowed: "
      "subnets that do not overlap");
  EXPECT_EQ(only_error(Doc{}.subnets("[10.0.0.0/24, 10.0.0.0/24]").text()).key,
            "gateway.subnets[1]");
}

TEST(ConfigRules, NoSubnetIsNotOperational) {
  const std::string expected =
      "gateway.subnets: [] attaches no subnet: a gateway with no subnet is not operational: it "
      "forwards nothing; allowed: 1 or more subnets, each a private prefix a.b.c.d/len inside "
      "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10";
  EXPECT_CONFIG_ERROR(only_error(Doc{}.subnets("[]").text()), "gateway.subnets", "[]", expected);
  EXPECT_CONFIG_ERROR(only_error(Doc{}.subnets("").text()), "gateway.subnets", "[]", expected);
}

TEST(ConfigRules, InterfaceNameLength) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.inside("{ name: a-very-long-ifname }").text()), "interfaces.inside.name",
      "a-very-long-ifname",
      msg("interfaces.inside.name: a-very-long-ifname is 18 characters long", kIfNameAllowed));
  EXPECT_CONFIG_ERROR(only_error(Doc{}.inside("{ name: '' }").text()), "interfaces.inside.name",
                      "\"\"", msg("interfaces.inside.name: \"\" is empty", kIfNameAllowed));
  EXPECT_TRUE(parse_config(Doc{}.inside("{ name: abcdefghijklmno }").text()).ok());  // 15
}

TEST(ConfigRules, InterfaceNameCharacters) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.inside("{ name: 'eth0:1' }").text()), "interfaces.inside.name", "eth0:1",
      msg("interfaces.inside.name: eth0:1 has a character that is not allowed (':' at position 5)",
          kIfNameAllowed));
  EXPECT_CONFIG_ERROR(only_error(Doc{}.inside("{ name: .. }").text()), "interfaces.inside.name",
                      "..", msg("interfaces.inside.name: .. is not a name", kIfNameAllowed));
}

TEST(ConfigRules, InsideAndOutsideMustDiffer) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.inside("{ name: gw-out }").text()),
                      "interfaces.outside.name", "gw-out",
                      "interfaces.outside.name: gw-out is also the inside interface "
                      "(interfaces.inside.name); allowed: an interface other than the inside one");
}

TEST(ConfigRules, Backend) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.inside("{ name: gw-in, backend: dpdk }").text()),
                      "interfaces.inside.backend", "dpdk",
                      "interfaces.inside.backend: dpdk is not a backend; allowed: af_packet, "
                      "af_xdp");
}

TEST(ConfigRules, NextHopRequiredOnOutside) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.outside("{ name: gw-out }").text()),
                      "interfaces.outside.next_hop", "",
                      "interfaces.outside.next_hop: missing (required on the outside interface); "
                      "allowed: the IPv4 address of the next router, such as 198.51.100.2");
}

TEST(ConfigRules, NextHopMustBeAnAddress) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.outside("{ name: gw-out, next_hop: router1 }").text()),
      "interfaces.outside.next_hop", "router1",
      "interfaces.outside.next_hop: router1 is not an IPv4 address; allowed: the IPv4 address "
      "of the next router, such as 198.51.100.2");
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.inside("{ name: gw-in, next_hop: 0.0.0.0 }").text()),
      "interfaces.inside.next_hop", "0.0.0.0",
      "interfaces.inside.next_hop: 0.0.0.0 is in \"this network\" 0.0.0.0/8; allowed: the IPv4 "
      "address of the next router, such as 198.51.100.2");
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.outside("{ name: gw-out, next_hop: 203.0.113.10 }").text()),
      "interfaces.outside.next_hop", "203.0.113.10",
      "interfaces.outside.next_hop: 203.0.113.10 is one of the gateway's public IPs; allowed: "
      "the IPv4 address of the next router, such as 198.51.100.2");
}

TEST(ConfigRules, ApiListen) {
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.api("{ listen: localhost:9490 }").text()), "api.listen", "localhost:9490",
      msg("api.listen: localhost:9490 has no IPv4 host (localhost is not an IPv4 address)",
          kListenAllowed));
  EXPECT_CONFIG_ERROR(only_error(Doc{}.api("{ listen: 127.0.0.1 }").text()), "api.listen",
                      "127.0.0.1", msg("api.listen: 127.0.0.1 has no port", kListenAllowed));
  EXPECT_CONFIG_ERROR(only_error(Doc{}.api("{ listen: '127.0.0.1:0' }").text()), "api.listen",
                      "127.0.0.1:0",
                      msg("api.listen: 127.0.0.1:0 has port 0, out of range", kListenAllowed));
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.api("{ listen: '127.0.0.1:65536' }").text()), "api.listen",
      "127.0.0.1:65536",
      msg("api.listen: 127.0.0.1:65536 has port 65536, out of range", kListenAllowed));
  EXPECT_CONFIG_ERROR(
      only_error(Doc{}.api("{ listen: '127.0.0.1:http' }").text()), "api.listen", "127.0.0.1:http",
      msg("api.listen: 127.0.0.1:http has no valid port (http is not a number)", kListenAllowed));
  const auto r = parse_config(Doc{}.api("{ listen: 0.0.0.0:65535 }").text());
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  EXPECT_EQ(r.config().api.listen, (net::Endpoint{net::Ipv4{0, 0, 0, 0}, 65535}));
}

}  // namespace
}  // namespace natgw::control::test
