// The lab's pure parts (names, addresses, rendered configs, the state record) and its process
// helpers. No root, no namespaces: these run everywhere.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "lab/echo_server.hpp"
#include "lab/gateway.hpp"
#include "lab/process.hpp"
#include "lab/servers.hpp"
#include "lab/state.hpp"
#include "lab/topology.hpp"

namespace natgw::lab {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(LabTopology, NamesCarryTheLabName) {
  const LabSpec spec{"demo", 3, 1, GatewayMode::kernel};
  EXPECT_EQ(all_namespaces(spec), (std::vector<std::string>{"demo-vm1", "demo-vm2", "demo-vm3",
                                                            "demo-sw", "demo-gw", "demo-inet"}));
  EXPECT_EQ(vm_address(1), "10.0.0.11");
  EXPECT_EQ(vm_address(3), "10.0.0.13");
  EXPECT_EQ(public_ip_list(3),
            (std::vector<std::string>{"203.0.113.10", "203.0.113.11", "203.0.113.12"}));
  EXPECT_EQ(iperf_port(1), 5201);
  EXPECT_EQ(iperf_servers(LabSpec{"x", 20, 1, GatewayMode::none}), kMaxIperfServers);
}

TEST(LabTopology, NamespaceOwnershipIsExact) {
  EXPECT_EQ(lab_of_namespace("demo-vm12"), "demo");
  EXPECT_EQ(lab_of_namespace("a-b-gw"), "a-b");
  EXPECT_EQ(lab_of_namespace("demo-inet"), "demo");
  EXPECT_FALSE(lab_of_namespace("demo-vm"));
  EXPECT_FALSE(lab_of_namespace("demo-vm01"));
  EXPECT_FALSE(lab_of_namespace("demo-router"));
  EXPECT_FALSE(lab_of_namespace("-gw"));
  EXPECT_TRUE(is_namespace_of("demo-vm2", "demo"));
  EXPECT_TRUE(is_namespace_of("demo-sw", "demo"));
  // Another lab whose name starts like this one's is not this one's.
  EXPECT_FALSE(is_namespace_of("demo-x-gw", "demo"));
  EXPECT_FALSE(is_namespace_of("demox-gw", "demo"));
  EXPECT_FALSE(is_namespace_of("demo", "demo"));
}

TEST(LabTopology, ValidationNamesOptionValueAndRange) {
  EXPECT_TRUE(validate(LabSpec{"lab1a2b", 2, 1, GatewayMode::natgw}).empty());
  const auto errors = validate(LabSpec{"Bad_Name", 0, 17, GatewayMode::natgw});
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_TRUE(contains(errors[0], "--name 'Bad_Name'"));
  EXPECT_TRUE(contains(errors[1], "--vms 0: must be 1..200"));
  EXPECT_TRUE(contains(errors[2], "--public-ips 17: must be 1..16"));
  EXPECT_FALSE(validate(LabSpec{"-x", 1, 1, GatewayMode::none}).empty());
  EXPECT_FALSE(validate(LabSpec{"a-very-long-lab-name", 1, 1, GatewayMode::none}).empty());
}

TEST(LabTopology, RandomNamesAreValid) {
  for (int i = 0; i < 20; ++i) {
    const std::string n = random_lab_name();
    EXPECT_EQ(n.size(), 7u);
    EXPECT_EQ(n.substr(0, 3), "lab");
    EXPECT_TRUE(validate(LabSpec{n, 1, 1, GatewayMode::none}).empty()) << n;
  }
}

TEST(LabTopology, GatewayModesRoundTrip) {
  for (auto m : {GatewayMode::natgw, GatewayMode::kernel, GatewayMode::none}) {
    EXPECT_EQ(parse_gateway_mode(to_string(m)), m);
  }
  EXPECT_FALSE(parse_gateway_mode("nat"));
}

TEST(LabGateway, NatgwConfigFollowsTheSpecSchema) {
  const std::string c = render_natgw_config(LabSpec{"demo", 2, 2, GatewayMode::natgw});
  EXPECT_TRUE(contains(c, "profile: azure\n"));
  EXPECT_TRUE(contains(c, "  name: demo\n"));
  EXPECT_TRUE(contains(c, "  public_ips: [203.0.113.10, 203.0.113.11]\n"));
  EXPECT_TRUE(contains(c, "  subnets: [10.0.0.0/24]\n"));
  EXPECT_TRUE(contains(c, "inside:  { name: gw-in, backend: af_packet }"));
  EXPECT_TRUE(contains(c, "outside: { name: gw-out, backend: af_packet, next_hop: 198.51.100.2 }"));
  EXPECT_TRUE(contains(c, "api:\n  listen: 127.0.0.1:9490\n"));
  EXPECT_FALSE(contains(c, "flow_logs"));
}

TEST(LabGateway, BackendOptionSetsBothInterfaces) {
  LabSpec spec{"demo", 1, 1, GatewayMode::natgw};
  spec.backend = "af_xdp";
  EXPECT_TRUE(validate(spec).empty());
  const std::string c = render_natgw_config(spec);
  EXPECT_TRUE(contains(c, "inside:  { name: gw-in, backend: af_xdp }"));
  EXPECT_TRUE(contains(c, "outside: { name: gw-out, backend: af_xdp, next_hop: 198.51.100.2 }"));
  spec.backend = "dpdk";
  EXPECT_FALSE(validate(spec).empty());
}

TEST(LabGateway, FlowLogOptionTurnsFlowLogsOn) {
  LabSpec spec{"demo", 1, 1, GatewayMode::natgw};
  spec.flow_log = "/tmp/demo-flows.jsonl";
  EXPECT_TRUE(validate(spec).empty());
  EXPECT_TRUE(contains(render_natgw_config(spec),
                       "flow_logs:\n  enabled: true\n  path: /tmp/demo-flows.jsonl\n"));
  spec.flow_log = "-";
  EXPECT_TRUE(contains(render_natgw_config(spec), "  path: '-'\n"));
  spec.flow_log = "flows.jsonl";
  ASSERT_EQ(validate(spec).size(), 1u);
  EXPECT_EQ(
      validate(spec)[0],
      "--flow-log 'flows.jsonl': an absolute file path, or - for the gateway's standard output");
  spec.flow_log = "/tmp/x";
  spec.gateway = GatewayMode::kernel;
  EXPECT_EQ(validate(spec).at(0), "--flow-log '/tmp/x': only with --gateway natgw");
}

TEST(LabGateway, KernelBaselineSnatsToThePublicIps) {
  EXPECT_TRUE(contains(render_nft_ruleset(LabSpec{"d", 1, 1, GatewayMode::kernel}),
                       "oifname \"gw-out\" ip saddr 10.0.0.0/24 snat to 203.0.113.10\n"));
  EXPECT_TRUE(contains(render_nft_ruleset(LabSpec{"d", 1, 3, GatewayMode::kernel}),
                       "snat to 203.0.113.10-203.0.113.12\n"));
}

TEST(LabGateway, OnlyTheKernelGatewayForwards) {
  const auto natgw = gateway_sysctls(GatewayMode::natgw);
  const auto kernel = gateway_sysctls(GatewayMode::kernel);
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  EXPECT_TRUE(has(natgw, "net.ipv4.ip_forward=0"));
  EXPECT_TRUE(has(natgw, "net.ipv4.conf.all.forwarding=0"));
  EXPECT_TRUE(has(natgw, "net.ipv4.conf.gw-in.forwarding=0"));
  EXPECT_TRUE(has(natgw, "net.ipv4.conf.gw-out.rp_filter=0"));
  EXPECT_TRUE(has(gateway_sysctls(GatewayMode::none), "net.ipv4.ip_forward=0"));
  EXPECT_TRUE(has(kernel, "net.ipv4.ip_forward=1"));
  EXPECT_TRUE(has(kernel, "net.ipv4.conf.all.rp_filter=0"));
}

TEST(LabServers, ConfigsStayInTheStateDir) {
  const std::string nginx = render_nginx_conf("/run/natgw/labs/x");
  EXPECT_TRUE(contains(nginx, "daemon off;"));
  EXPECT_TRUE(contains(nginx, "root /run/natgw/labs/x/www;"));
  EXPECT_TRUE(contains(nginx, "pid /run/natgw/labs/x/nginx.pid;"));
  const std::string ftp = render_vsftpd_conf("/run/natgw/labs/x");
  EXPECT_TRUE(contains(ftp, "background=NO\n"));
  EXPECT_TRUE(contains(ftp, "anon_root=/run/natgw/labs/x/ftp\n"));
  EXPECT_TRUE(contains(ftp, "pasv_min_port=30000\npasv_max_port=30099\n"));
  EXPECT_TRUE(contains(ftp, "write_enable=NO\n"));
  const auto specs = server_specs(LabSpec{"x", 2, 1, GatewayMode::none}, "/d", "/bin/natgw");
  ASSERT_EQ(specs.size(), 5u);
  EXPECT_EQ(specs[2].argv, (Argv{"/bin/natgw", "lab", "echo-server", "--listen", "0.0.0.0:7"}));
  EXPECT_EQ(specs[4].role, "iperf3-5202");
}

TEST(LabState, RoundTrips) {
  LabState s;
  s.spec = LabSpec{"demo", 3, 2, GatewayMode::kernel};
  s.created = "2024-01-02T03:04:05Z";
  s.phase = "up";
  s.processes.push_back({"nginx", "demo-inet", ProcessId{1234, 5678}, "/run/x/nginx.log"});
  s.processes.push_back({"echo", "demo-inet", ProcessId{99, 1}, "/run/x/echo.log"});
  std::string error;
  const auto back = parse_state(render_state(s), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->spec.name, "demo");
  EXPECT_EQ(back->spec.vms, 3);
  EXPECT_EQ(back->spec.public_ips, 2);
  EXPECT_EQ(back->spec.gateway, GatewayMode::kernel);
  EXPECT_EQ(back->created, s.created);
  EXPECT_EQ(back->phase, "up");
  ASSERT_EQ(back->processes.size(), 2u);
  EXPECT_EQ(back->processes[0].id, (ProcessId{1234, 5678}));
  EXPECT_EQ(back->processes[0].log, "/run/x/nginx.log");
  EXPECT_EQ(back->processes[1].role, "echo");
}

TEST(LabState, RejectsDamagedRecords) {
  std::string error;
  EXPECT_FALSE(parse_state("name x\nvms 2\n", &error));
  EXPECT_TRUE(contains(error, "required"));
  EXPECT_FALSE(parse_state("name x\nvms two\npublic_ips 1\ngateway none\n", &error));
  EXPECT_TRUE(contains(error, "line 2"));
  EXPECT_FALSE(parse_state("name x\nvms 1\npublic_ips 1\ngateway none\nprocess a b c\n", &error));
  // Unknown keys are a newer version's, not damage.
  EXPECT_TRUE(parse_state("name x\nvms 1\npublic_ips 1\ngateway none\nfuture 1\n", &error));
}

TEST(LabEcho, LineIsAddressColonPort) {
  EXPECT_EQ(echo_line(0xCB00710A, 40000), "203.0.113.10:40000\n");
  EXPECT_EQ(echo_line(0, 0), "0.0.0.0:0\n");
}

TEST(LabProcess, RunCapturesOutputAndStatus) {
  const auto r = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(run({"true"}).ok());
}

TEST(LabProcess, RunIsBounded) {
  const auto start = std::chrono::steady_clock::now();
  const auto r = run({"sleep", "10"}, 200ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(LabProcess, CheckNamesTheCommandAndItsStderr) {
  try {
    check({"sh", "-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2", "x y"});
    FAIL() << "check() did not throw";
  } catch (const LabError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "`sh -c 'echo"));
    EXPECT_TRUE(contains(msg, "exited with 2: RTNETLINK answers: File exists")) << msg;
  }
  EXPECT_THROW(check({"no-such-program-natgw"}), LabError);
}

TEST(LabProcess, FormatArgvQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(format_argv({"ip", "-n", "x-gw", "addr"}), "ip -n x-gw addr");
  EXPECT_EQ(format_argv({"sh", "-c", "a b", "it's", ""}), "sh -c 'a b' 'it'\\''s' ''");
}

TEST(LabProcess, BackgroundProcessesAreIdentifiedAndStopped) {
  const std::string log = testing::TempDir() + "lab_unit_bg.log";
  const ProcessId p = spawn_background({"sh", "-c", "echo started; exec sleep 30"}, log);
  for (int i = 0; i < 100 && !contains(tail_file(log), "started"); ++i) ::usleep(10'000);
  EXPECT_TRUE(alive(p));
  EXPECT_EQ(identify(p.pid), p);
  // Same pid, other start time: a recycled pid is not our process.
  EXPECT_FALSE(alive(ProcessId{p.pid, p.start_time + 1}));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(stop_all({p}).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_FALSE(alive(p));
  EXPECT_TRUE(contains(tail_file(log), "  | started"));
  ::unlink(log.c_str());
}

TEST(LabProcess, StopAllEscalatesToSigkill) {
  const std::string log = testing::TempDir() + "lab_unit_kill.log";
  // Ignores SIGTERM; the trap is set before "ready" is written, so the test waits for it.
  const ProcessId p =
      spawn_background({"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, log);
  for (int i = 0; i < 100 && !contains(tail_file(log), "ready"); ++i) {
    ::usleep(10'000);
  }
  EXPECT_TRUE(stop_all({p}, 200ms).empty());
  EXPECT_FALSE(alive(p));
  ::unlink(log.c_str());
}

}  // namespace
}  // namespace natgw::lab
