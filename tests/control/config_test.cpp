// Whole configs: a valid one read into Config and EngineConfig, defaults, many errors at once,
// files, and the rules on a Config built in code.
#include "control/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config_doc.hpp"

namespace natgw::control::test {
namespace {

using net::Ipv4;
using net::Prefix;

const std::string kFixtures = NATGW_CONTROL_FIXTURES;

Config full_config() {
  Config c;
  c.profile = Profile::azure;
  c.gateway.name = "edge-1";
  c.gateway.idle_timeout = std::chrono::minutes(30);
  c.gateway.public_ips = {Ipv4{203, 0, 113, 10}, Ipv4{203, 0, 113, 11}};
  c.gateway.public_ip_prefixes = {Prefix{Ipv4{198, 51, 100, 16}, 30}};
  c.gateway.subnets = {Prefix{Ipv4{10, 1, 0, 0}, 16}, Prefix{Ipv4{192, 168, 7, 0}, 24}};
  c.gateway.public_ip_selection = nat::IpSelection::per_host;
  c.interfaces.inside = {"ens5", Backend::af_xdp, Ipv4{10, 1, 0, 1}};
  c.interfaces.outside = {"ens6", Backend::af_packet, Ipv4{198, 51, 100, 1}};
  c.api.listen = {Ipv4{0, 0, 0, 0}, 8080};
  return c;
}

TEST(Config, FullFileReadsIntoConfig) {
  const auto r = load_config(kFixtures + "/full.yaml");
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  EXPECT_EQ(r.config(), full_config());
  EXPECT_TRUE(r.errors().empty());
}

TEST(Config, EngineConfigExpandsPrefixes) {
  const auto r = load_config(kFixtures + "/full.yaml");
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  const nat::EngineConfig e = r.config().engine();
  const std::vector<Ipv4> expected_ips = {Ipv4{203, 0, 113, 10},  Ipv4{203, 0, 113, 11},
                                          Ipv4{198, 51, 100, 16}, Ipv4{198, 51, 100, 17},
                                          Ipv4{198, 51, 100, 18}, Ipv4{198, 51, 100, 19}};
  EXPECT_EQ(e.public_ips, expected_ips);
  EXPECT_EQ(e.subnets, full_config().gateway.subnets);
  EXPECT_EQ(e.timers.tcp_idle, std::chrono::minutes(30));

  // Everything else is the azure profile.
  const nat::EngineConfig azure = nat::azure_profile();
  EXPECT_EQ(e.timers.udp_idle, azure.timers.udp_idle);
  EXPECT_EQ(e.timers.tcp_half_open, azure.timers.tcp_half_open);
  EXPECT_EQ(e.timers.holddown_fin, azure.timers.holddown_fin);
  EXPECT_EQ(e.timers.holddown_rst, azure.timers.holddown_rst);
  EXPECT_EQ(e.timers.holddown_udp, azure.timers.holddown_udp);
  EXPECT_EQ(e.timers.holddown_idle, azure.timers.holddown_idle);
  EXPECT_EQ(e.limits.per_destination, 50'000u);
  EXPECT_EQ(e.limits.max_connections, 2'000'000u);
  EXPECT_EQ(e.limits.port_min, 1024);
  EXPECT_EQ(e.limits.port_max, 65535);
  EXPECT_TRUE(e.block_smtp);
  EXPECT_FALSE(e.ftp_alg);
}

TEST(Config, DefaultsForOptionalKeys) {
  const auto r = parse_config(
      "gateway:\n"
      "  name: gw\n"
      "  public_ips: [203.0.113.10]\n"
      "  subnets: [10.0.0.0/24]\n"
      "interfaces:\n"
      "  inside: { name: in0 }\n"
      "  outside: { name: out0, next_hop: 198.51.100.2 }\n");
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  const Config& c = r.config();
  EXPECT_EQ(c.profile, Profile::azure);
  EXPECT_EQ(c.gateway.idle_timeout, std::chrono::minutes(4));
  EXPECT_TRUE(c.gateway.public_ip_prefixes.empty());
  EXPECT_EQ(c.interfaces.inside.backend, Backend::af_packet);
  EXPECT_FALSE(c.interfaces.inside.next_hop.has_value());
  EXPECT_EQ(c.api.listen, (net::Endpoint{Ipv4{127, 0, 0, 1}, 9490}));
  EXPECT_EQ(c.engine().timers.tcp_idle, std::chrono::minutes(4));
  EXPECT_EQ(c.gateway.public_ip_selection, nat::IpSelection::per_connection);
  EXPECT_EQ(c.engine().ip_selection, nat::IpSelection::per_connection);
}

TEST(Config, ExampleFileIsValid) {
  const auto r = load_config(NATGW_EXAMPLE_CONFIG);
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  EXPECT_EQ(r.config().gateway.name, "natgw-demo");
  EXPECT_EQ(summary(r.config()), "gateway natgw-demo, 1 public IP, 1 subnet");
}

TEST(Config, EveryErrorIsReportedInTheOrderOfTheFile) {
  const auto r = load_config(kFixtures + "/broken.yaml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> printed;
  for (const auto& e : r.errors()) printed.push_back(to_string(e));
  const std::vector<std::string> expected = {
      "profile: google is not a profile; allowed: azure, aws, gcp, rfc or custom",
      "gateway.name: \"edge 1\" has a character that is not allowed (a space at position 5); "
      "allowed: 1..64 characters: letters, digits, '-', '_' or '.', starting with a letter or "
      "digit",
      "gateway.idle_timeout_minutes: 4.5 is not an integer; allowed: 4..120 (profile azure)",
      "gateway.public_ips[1]: 203.0.113.10 appears twice (also gateway.public_ips[0]); allowed: "
      "each public address once",
      "gateway.public_ip_prefixes[0]: 198.51.100.0/27 is a /27 (32 addresses); allowed: /28, "
      "/29, /30 or /31 (profile azure)",
      "gateway.subnets[1]: 10.0.0.0/16 overlaps gateway.subnets[0] (10.0.0.0/24); allowed: "
      "subnets that do not overlap",
      "interfaces.inside.backend: xdp is not a backend; allowed: af_packet, af_xdp",
      "interfaces.outside.next_hop: missing (required on the outside interface); allowed: the "
      "IPv4 address of the next router, such as 198.51.100.2",
      "api.listen: 127.0.0.1:99999 has port 99999, out of range; allowed: IPV4:PORT with a port "
      "in 1..65535, such as 127.0.0.1:9490",
  };
  EXPECT_EQ(printed, expected) << dump(r.errors());
  for (std::size_t i = 1; i < r.errors().size(); ++i) {
    EXPECT_LE(r.errors()[i - 1].line, r.errors()[i].line);
  }
}

TEST(Config, MissingFileIsOneError) {
  const auto r = load_config(kFixtures + "/no-such-file.yaml");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_CONFIG_ERROR(r.errors()[0], "", "", "cannot read the file: No such file or directory");
}

TEST(Config, DirectoryIsOneError) {
  const auto r = load_config(kFixtures);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(to_string(r.errors()[0]), "cannot read the file: it is a directory");
}

TEST(Config, ValidateABuiltConfig) {
  EXPECT_TRUE(validate(full_config()).empty());

  Config c = full_config();
  c.gateway.idle_timeout = std::chrono::minutes(200);
  c.gateway.subnets.push_back(Prefix{Ipv4{10, 1, 2, 0}, 24});
  c.interfaces.outside.next_hop.reset();
  c.api.listen.port = 0;
  const auto errors = validate(c);
  ASSERT_EQ(errors.size(), 4u) << dump(errors);
  EXPECT_CONFIG_ERROR(errors[0], "gateway.idle_timeout_minutes", "200",
                      "gateway.idle_timeout_minutes: 200 is out of range; allowed: 4..120 "
                      "(profile azure)");
  EXPECT_CONFIG_ERROR(errors[1], "gateway.subnets[2]", "10.1.2.0/24",
                      "gateway.subnets[2]: 10.1.2.0/24 overlaps gateway.subnets[0] (10.1.0.0/16); "
                      "allowed: subnets that do not overlap");
  EXPECT_EQ(errors[2].key, "interfaces.outside.next_hop");
  EXPECT_CONFIG_ERROR(errors[3], "api.listen", "0.0.0.0:0",
                      "api.listen: 0.0.0.0:0 has port 0, out of range; allowed: IPV4:PORT with "
                      "a port in 1..65535, such as 127.0.0.1:9490");
}

TEST(Config, ValidateAnEmptyConfigSaysWhatIsMissing) {
  const auto errors = validate(Config{});
  std::vector<std::string> keys;
  for (const auto& e : errors) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"gateway.name", "gateway.subnets", "gateway.public_ips",
                                            "interfaces.inside.name", "interfaces.outside.name",
                                            "interfaces.outside.next_hop"}))
      << dump(errors);
}

TEST(Config, Summary) {
  EXPECT_EQ(summary(full_config()), "gateway edge-1, 6 public IPs, 2 subnets");
}

TEST(Config, ErrorWithoutKeyPrintsTheMessageAlone) {
  EXPECT_EQ(to_string(ConfigError{"", "", "the file is empty", 0, 0}), "the file is empty");
  EXPECT_EQ(to_string(ConfigError{"api.listen", "x", "x has no port", 0, 0}),
            "api.listen: x has no port");
}

}  // namespace
}  // namespace natgw::control::test

namespace natgw::control {
namespace {

TEST(Config, DatapathWorkersAndCpus) {
  const std::string base = test::Doc().text();
  auto r = parse_config(base + "datapath: { workers: 2, cpus: [0, 1] }\n");
  ASSERT_TRUE(r.ok()) << test::dump(r.errors());
  EXPECT_EQ(r.config().datapath.workers, 2u);
  EXPECT_EQ(r.config().datapath.cpus, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_TRUE(validate(r.config()).empty());
  r = parse_config(base);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config().datapath.workers, 1u) << "one worker unless told";
  EXPECT_TRUE(r.config().datapath.cpus.empty());

  r = parse_config(base + "datapath: { workers: 0, cpus: [3, 3, 4096] }\n");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 3u) << test::dump(r.errors());
  EXPECT_CONFIG_ERROR(r.errors()[0], "datapath.workers", "0",
                      "datapath.workers: 0 is out of range; allowed: an integer in 1..16: datapath "
                      "threads, each with its own slice of the SNAT ports");
  EXPECT_CONFIG_ERROR(
      r.errors()[1], "datapath.cpus[1]", "3",
      "datapath.cpus[1]: 3 is also datapath.cpus[0]; allowed: a CPU number in 0..1023, one "
      "per worker, each CPU once");
  EXPECT_CONFIG_ERROR(
      r.errors()[2], "datapath.cpus[2]", "4096",
      "datapath.cpus[2]: 4096 is out of range; allowed: a CPU number in 0..1023, one per "
      "worker, each CPU once");
  r = parse_config(base + "datapath:\n  workers: 2\n  cpus: [1]\n");
  ASSERT_EQ(r.errors().size(), 1u) << test::dump(r.errors());
  EXPECT_CONFIG_ERROR(
      r.errors()[0], "datapath.cpus", "",
      "datapath.cpus: 1 CPU for 2 workers; allowed: none (not pinned), or one CPU per worker");

  r = parse_config(base + "datapath: { workers: two, threads: 2 }\n");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 2u) << test::dump(r.errors());
  EXPECT_EQ(to_string(r.errors()[1]),
            "datapath.threads: threads is not a key of datapath; allowed: workers, cpus, "
            "steering");
  EXPECT_EQ(r.errors()[0].key, "datapath.workers");
  EXPECT_EQ(to_string(r.errors()[0]),
            "datapath.workers: two is not an integer; allowed: an integer in 1..16: datapath "
            "threads, each "
            "with its own slice of the SNAT ports");
}

}  // namespace
}  // namespace natgw::control
