// Profiles in the config: each preset reaches the engine, rules_of() bounds, and the `engine:`
// section of profile custom with its exact messages.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config_doc.hpp"
#include "control/config.hpp"
#include "nat/engine.hpp"

namespace natgw::control::test {
namespace {

using namespace std::chrono_literals;

// A valid file of `profile` without idle_timeout_minutes, with `extra` appended.
std::string doc(const std::string& profile, const std::string& extra = "",
                const std::string& public_ips = "[203.0.113.10]") {
  return "profile: " + profile + "\ngateway:\n  name: natgw-demo\n  public_ips: " + public_ips +
         "\n  subnets: [10.0.0.0/24]\ninterfaces:\n  inside: { name: gw-in }\n  outside: { name: "
         "gw-out, next_hop: 192.0.2.1 }\n" +
         extra;
}

nat::EngineConfig engine_of(const std::string& yaml) {
  const auto r = parse_config(yaml);
  EXPECT_TRUE(r.ok()) << dump(r.errors());
  return r.ok() ? r.config().engine() : nat::EngineConfig{};
}

TEST(ConfigProfiles, EachPresetReachesTheEngine) {
  const auto aws = engine_of(doc("aws"));
  EXPECT_EQ(aws.limits.per_destination, 55'000u);
  EXPECT_EQ(aws.timers.tcp_idle, 350s);
  EXPECT_EQ(aws.timers.udp_idle, 350s);
  EXPECT_TRUE(aws.behaviour.icmp_echo);
  EXPECT_TRUE(aws.behaviour.udp_fragments);
  EXPECT_FALSE(aws.behaviour.hairpinning);
  EXPECT_EQ(aws.behaviour.late_rst, nat::LateRst::inside_only);

  const auto gcp = engine_of(doc("gcp"));
  EXPECT_EQ(gcp.behaviour.mapping, nat::Mapping::endpoint_independent);
  EXPECT_EQ(gcp.behaviour.filtering, nat::Filtering::endpoint_dependent);
  EXPECT_EQ(gcp.behaviour.ports_per_host_min, 32u);
  EXPECT_EQ(gcp.timers.tcp_idle, 1200s);
  EXPECT_EQ(gcp.timers.udp_idle, 30s);
  EXPECT_EQ(gcp.timers.holddown_fin, 120s);

  const auto rfc = engine_of(doc("rfc"));
  EXPECT_EQ(rfc.behaviour.filtering, nat::Filtering::endpoint_independent);
  EXPECT_TRUE(rfc.behaviour.hairpinning);
  EXPECT_EQ(rfc.timers.tcp_idle, 124min);
  EXPECT_EQ(rfc.timers.udp_idle, 5min);
  EXPECT_TRUE(rfc.ftp_alg);
  for (const auto& e : {aws, gcp}) EXPECT_FALSE(e.ftp_alg);

  const auto azure = engine_of(doc("azure"));
  EXPECT_EQ(azure.limits.per_destination, 50'000u);
  EXPECT_FALSE(azure.behaviour.icmp_echo);
  EXPECT_FALSE(azure.ftp_alg);
  for (const auto& c : {aws, gcp, rfc, azure}) EXPECT_NO_THROW(nat::Engine{c});
}

TEST(ConfigProfiles, AwsTakesEightPublicIpsAtMost) {
  const std::string nine =
      "[203.0.113.1, 203.0.113.2, 203.0.113.3, 203.0.113.4, 203.0.113.5, 203.0.113.6, "
      "203.0.113.7, 203.0.113.8, 203.0.113.9]";
  EXPECT_CONFIG_ERROR(only_error(doc("aws", "", nine)), "gateway.public_ips", "9",
                      "gateway.public_ips: 9 public addresses in total (9 in public_ips, 0 in "
                      "public_ip_prefixes) are too many; allowed: 1..8 public addresses in "
                      "public_ips and public_ip_prefixes together (profile aws)");
  EXPECT_TRUE(parse_config(doc("gcp", "", nine)).ok());
}

TEST(ConfigProfiles, CustomTakesEveryKnob) {
  const auto e = engine_of(doc("custom",
                               "engine:\n"
                               "  mapping: endpoint_independent\n"
                               "  filtering: endpoint_independent\n"
                               "  icmp_echo: true\n"
                               "  udp_fragments: true\n"
                               "  fragment_table: 256\n"
                               "  hairpinning: true\n"
                               "  late_rst: none\n"
                               "  block_smtp: false\n"
                               "  ftp_alg: true\n"
                               "  blocked_ports: [445, 1900]\n"
                               "  connections_per_destination: 1000\n"
                               "  max_connections: 5000\n"
                               "  port_min: 20000\n"
                               "  port_max: 29999\n"
                               "  ports_per_host_min: 64\n"
                               "  ports_per_host_max: 1024\n"
                               "  udp_refresh: any_direction\n"
                               "  udp_idle_seconds: 120\n"
                               "  holddown_fin_seconds: 240\n"));
  EXPECT_EQ(e.behaviour.mapping, nat::Mapping::endpoint_independent);
  EXPECT_EQ(e.behaviour.filtering, nat::Filtering::endpoint_independent);
  EXPECT_TRUE(e.behaviour.icmp_echo && e.behaviour.udp_fragments && e.behaviour.hairpinning);
  EXPECT_EQ(e.behaviour.fragment_table, 256u);
  EXPECT_EQ(e.behaviour.late_rst, nat::LateRst::none);
  EXPECT_FALSE(e.block_smtp);
  EXPECT_TRUE(e.ftp_alg);
  EXPECT_EQ(e.behaviour.blocked_ports, (std::vector<std::uint16_t>{445, 1900}));
  EXPECT_EQ(e.limits.per_destination, 1000u);
  EXPECT_EQ(e.limits.max_connections, 5000u);
  EXPECT_EQ(e.limits.port_min, 20000);
  EXPECT_EQ(e.limits.port_max, 29999);
  EXPECT_EQ(e.behaviour.ports_per_host_min, 64u);
  EXPECT_EQ(e.behaviour.ports_per_host_max, 1024u);
  EXPECT_FALSE(e.timers.udp_refresh_each_direction);
  EXPECT_EQ(e.timers.udp_idle, 120s);
  EXPECT_EQ(e.timers.holddown_fin, 240s);
  EXPECT_EQ(e.timers.tcp_idle, 4min);  // gateway.idle_timeout_minutes' default
  EXPECT_NO_THROW(nat::Engine{e});

  // Round trip: validate(Config) finds nothing wrong in what parse_config made.
  const auto r = parse_config(doc("custom", "engine:\n  icmp_echo: true\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(validate(r.config()).empty()) << dump(validate(r.config()));
}

TEST(ConfigProfiles, CustomExampleFileIsValid) {
  const auto r = load_config(NATGW_CUSTOM_EXAMPLE);
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  ASSERT_TRUE(r.config().knobs.has_value());
  const auto e = r.config().engine();
  EXPECT_EQ(e.behaviour.filtering, nat::Filtering::endpoint_independent);
  EXPECT_EQ(e.timers.tcp_idle, 30min);
  EXPECT_NO_THROW(nat::Engine{e});
}

TEST(ConfigProfiles, CustomWithoutEngineSectionIsAzureBehaviour) {
  const auto e = engine_of(doc("custom"));
  EXPECT_EQ(e.limits.per_destination, 50'000u);
  EXPECT_EQ(e.behaviour.mapping, nat::Mapping::endpoint_dependent);
  EXPECT_FALSE(e.behaviour.icmp_echo);
}

TEST(ConfigProfiles, EngineSectionOnlyWithCustom) {
  EXPECT_CONFIG_ERROR(only_error(doc("gcp", "engine:\n  icmp_echo: true\n")), "engine", "engine",
                      "engine: engine is only for profile custom (the other profiles fix every "
                      "engine knob: see src/nat/README.md); allowed: profile: custom with an "
                      "engine section, or no engine section");
}

TEST(ConfigProfiles, KnobErrorsNameKeyValueAndWhatIsAllowed) {
  EXPECT_CONFIG_ERROR(only_error(doc("custom", "engine:\n  udp_idle_seconds: 9000\n")),
                      "engine.udp_idle_seconds", "9000",
                      "engine.udp_idle_seconds: 9000 is out of range; allowed: 1..7200 (seconds)");
  EXPECT_CONFIG_ERROR(only_error(doc("custom", "engine:\n  mapping: full_cone\n")),
                      "engine.mapping", "full_cone",
                      "engine.mapping: full_cone is not a value of mapping; allowed: "
                      "endpoint_dependent or endpoint_independent");
  EXPECT_CONFIG_ERROR(only_error(doc("custom", "engine:\n  icmp_echo: yes\n")), "engine.icmp_echo",
                      "yes",
                      "engine.icmp_echo: yes is not a value of icmp_echo; allowed: false or true");
  EXPECT_CONFIG_ERROR(only_error(doc("custom", "engine:\n  ftp_alg: on\n")), "engine.ftp_alg", "on",
                      "engine.ftp_alg: on is not a value of ftp_alg; allowed: false or true");
  EXPECT_CONFIG_ERROR(only_error(doc("custom", "engine:\n  fragment_table: 1000\n")),
                      "engine.fragment_table", "1000",
                      "engine.fragment_table: 1000 is not a power of two; allowed: 16..1048576 "
                      "(entries, a power of two)");
  EXPECT_CONFIG_ERROR(only_error(doc("custom", "engine:\n  blocked_ports: [0]\n")),
                      "engine.blocked_ports[0]", "0",
                      "engine.blocked_ports[0]: 0 is out of range; allowed: a destination port "
                      "1..65535 (TCP and UDP)");
  EXPECT_CONFIG_ERROR(only_error(doc("custom", "engine:\n  filtering: endpoint_independent\n")),
                      "engine.filtering", "endpoint_independent",
                      "engine.filtering: endpoint_independent needs engine.mapping "
                      "endpoint_independent (a public IP:port must belong to one inside host); "
                      "allowed: endpoint_dependent, or mapping: endpoint_independent");
  EXPECT_CONFIG_ERROR(
      only_error(doc("custom", "engine:\n  port_min: 3000\n  port_max: 2000\n")), "engine.port_max",
      "2000", "engine.port_max: 2000 is below engine.port_min (3000); allowed: 3000..65535");
  EXPECT_CONFIG_ERROR(
      only_error(doc("custom",
                     "engine:\n  mapping: endpoint_independent\n  ports_per_host_min: "
                     "64\n  ports_per_host_max: 32\n")),
      "engine.ports_per_host_max", "32",
      "engine.ports_per_host_max: 32 is below engine.ports_per_host_min (64); allowed: 64..65536");
  EXPECT_CONFIG_ERROR(only_error(doc("custom", "engine:\n  icmp_ping: true\n")), "engine.icmp_ping",
                      "icmp_ping",
                      "engine.icmp_ping: icmp_ping is not a key of engine; allowed: mapping, "
                      "filtering, icmp_echo, udp_fragments, fragment_table, hairpinning, "
                      "late_rst, block_smtp, ftp_alg, max_public_ips, connections_per_destination, "
                      "max_connections, port_min, port_max, ports_per_host_min, "
                      "ports_per_host_max, udp_refresh, tcp_half_open_seconds, "
                      "tcp_closing_seconds, udp_idle_seconds, icmp_idle_seconds, "
                      "holddown_fin_seconds, holddown_rst_seconds, holddown_udp_seconds, "
                      "holddown_idle_seconds, holddown_icmp_seconds, blocked_ports");
}

TEST(ConfigProfiles, CustomMaxPublicIpsLowersTheCount) {
  EXPECT_CONFIG_ERROR(
      only_error(doc("custom", "engine:\n  max_public_ips: 1\n", "[203.0.113.1, 203.0.113.2]")),
      "gateway.public_ips", "2",
      "gateway.public_ips: 2 public addresses in total (2 in public_ips, 0 in public_ip_prefixes) "
      "are too many; allowed: 1..1 public addresses in public_ips and public_ip_prefixes together "
      "(profile custom)");
}

TEST(ConfigProfiles, CustomIdleTimeoutBounds) {
  EXPECT_CONFIG_ERROR(only_error(Doc{}.profile("custom").idle("121").text()),
                      "gateway.idle_timeout_minutes", "121",
                      "gateway.idle_timeout_minutes: 121 is out of range; allowed: 1..120 "
                      "(profile custom)");
  EXPECT_TRUE(parse_config(Doc{}.profile("custom").idle("1").text()).ok());
}

// datapath.steering: auto comes to flow, unless the engine needs all of a host's packets on one
// worker (gcp's per-host allowance, aws's and rfc's forwarded fragments, the same knobs under
// custom, and the FTP ALG and hairpinning);
// flow is refused there, host is always allowed.
TEST(ConfigProfiles, SteeringFollowsWhatTheEngineKeepsPerHost) {
  const auto steering = [](const std::string& yaml) {
    const auto r = parse_config(yaml);
    EXPECT_TRUE(r.ok()) << dump(r.errors());
    return r.ok() ? r.config().inside_steering() : Steering::automatic;
  };
  EXPECT_EQ(steering(doc("azure")), Steering::flow);
  EXPECT_EQ(steering(doc("rfc")), Steering::host);
  EXPECT_EQ(steering(doc("gcp")), Steering::host);
  EXPECT_EQ(steering(doc("aws")), Steering::host);
  EXPECT_EQ(steering(doc("custom", "engine: { udp_fragments: true }\n")), Steering::host);
  EXPECT_EQ(steering(doc("custom",
                         "engine: { mapping: endpoint_independent, ports_per_host_min: 64, "
                         "ports_per_host_max: 64 }\n")),
            Steering::host);
  EXPECT_EQ(steering(doc("custom", "engine: { ftp_alg: true }\n")), Steering::host);
  EXPECT_EQ(steering(doc("custom", "engine: { hairpinning: true }\n")), Steering::host);
  EXPECT_EQ(steering(doc("custom")), Steering::flow);
  EXPECT_EQ(steering(doc("custom", "engine: { mapping: endpoint_independent }\n")), Steering::flow)
      << "an endpoint-independent mapping is per source address and port: one worker has it";
  EXPECT_EQ(steering(doc("azure", "datapath: { workers: 2, steering: host }\n")), Steering::host);
  EXPECT_EQ(steering(doc("gcp", "datapath: { steering: host }\n")), Steering::host);
  const auto r = parse_config(doc("azure", "datapath: { steering: flow }\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config().datapath.steering, Steering::flow);
  EXPECT_TRUE(validate(r.config()).empty()) << "survives the round trip through a draft";

  EXPECT_CONFIG_ERROR(only_error(doc("gcp", "datapath: { workers: 2, steering: flow }\n")),
                      "datapath.steering", "flow",
                      "datapath.steering: flow would split a host's packets between workers, and "
                      "profile gcp keeps a per-host port allowance; allowed: auto (here: host), "
                      "host");
  EXPECT_CONFIG_ERROR(
      only_error(doc("custom", "engine: { udp_fragments: true }\ndatapath: { steering: flow }\n")),
      "datapath.steering", "flow",
      "datapath.steering: flow would split a host's packets between workers, and profile custom "
      "keeps UDP fragments forwarded (later fragments carry no port); allowed: auto (here: host), "
      "host");
  EXPECT_CONFIG_ERROR(
      only_error(doc("custom", "engine: { ftp_alg: true }\ndatapath: { steering: flow }\n")),
      "datapath.steering", "flow",
      "datapath.steering: flow would split a host's packets between workers, and profile custom "
      "keeps the FTP ALG (an active data connection is opened on the worker of its control "
      "connection); allowed: auto (here: host), host");
  EXPECT_CONFIG_ERROR(only_error(doc("azure", "datapath: { steering: round_robin }\n")),
                      "datapath.steering", "round_robin",
                      "datapath.steering: round_robin is not a steering; allowed: auto (flow, "
                      "unless the engine needs all of a host's packets on one worker), flow (by "
                      "source address and port), host (by source address)");
}

}  // namespace
}  // namespace natgw::control::test
