// `natgw lab` end to end: the real binary builds real namespaces, and real clients (curl, bash's
// /dev/tcp, iperf3) talk through the gateway to the lab's servers. Needs root and the lab's
// tools; skipped otherwise. Every test uses its own lab name and removes its lab in TearDown,
// whatever happened.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "lab/netns.hpp"
#include "lab/process.hpp"
#include "lab/state.hpp"
#include "lab/topology.hpp"

#ifndef NATGW_BIN
#error "NATGW_BIN must name the natgw binary"
#endif

namespace natgw::lab {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

CommandResult natgw(Argv args, std::chrono::milliseconds timeout = 60s) {
  args.insert(args.begin(), NATGW_BIN);
  return run(args, timeout);
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") +
         "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

std::vector<std::string> namespaces_of(const std::string& lab) {
  std::vector<std::string> mine;
  for (const auto& ns : list_netns()) {
    if (is_namespace_of(ns, lab)) mine.push_back(ns);
  }
  return mine;
}

class Lab : public testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "natgw lab needs root";
    for (const char* tool : {"ip", "ethtool", "sysctl", "nft", "nginx", "vsftpd", "iperf3", "curl",
                             "bash", "timeout"}) {
      if (!find_program(tool)) GTEST_SKIP() << tool << " is not installed";
    }
    static int counter = 0;
    name_ = "t" + std::to_string(::getpid() % 100000) + "x" + std::to_string(counter++);
  }

  void TearDown() override {
    for (const auto& n : made_) {
      const auto r = natgw({"lab", "down", "--name", n});
      EXPECT_EQ(r.exit_code, 0) << describe(r);
    }
  }

  CommandResult up(const std::string& gateway, const std::string& name, Argv extra = {}) {
    made_.push_back(name);
    Argv args{"lab", "up", "--name", name, "--gateway", gateway};
    args.insert(args.end(), extra.begin(), extra.end());
    return natgw(args);
  }

  CommandResult exec(const std::string& target, Argv cmd, const std::string& lab = "") {
    Argv args{"lab", "exec", "--name", lab.empty() ? name_ : lab, target, "--"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    return natgw(args, 30s);
  }

  std::string name_;
  std::vector<std::string> made_;
};

const Argv kTcpEcho{"bash", "-c", "exec 3<>/dev/tcp/192.0.2.10/7; cat <&3"};

TEST_F(Lab, KernelGatewayCarriesHttpEchoFtpAndIperf) {
  const auto u = up("kernel", name_);
  ASSERT_EQ(u.exit_code, 0) << describe(u);
  EXPECT_TRUE(contains(u.out, "lab " + name_ + " is up")) << u.out;

  const auto page = exec("vm1", {"curl", "-sS", "-m", "5", "http://192.0.2.10/"});
  EXPECT_EQ(page.exit_code, 0) << describe(page);
  EXPECT_TRUE(contains(page.out, "natgw lab"));
  const auto big = exec("vm2", {"curl", "-sS", "-m", "20", "-o", "/dev/null", "-w",
                                "%{size_download}", "http://192.0.2.11/10M.bin"});
  EXPECT_EQ(big.out, "10485760") << describe(big);

  // The echo service sees the NAT's public address, not 10.0.0.11.
  const auto tcp = exec("vm1", kTcpEcho);
  EXPECT_EQ(tcp.exit_code, 0) << describe(tcp);
  EXPECT_EQ(tcp.out.rfind("203.0.113.10:", 0), 0u) << tcp.out;
  const auto udp = exec(
      "vm2", {"bash", "-c", "exec 3<>/dev/udp/192.0.2.11/7; echo hi >&3; timeout 3 head -1 <&3"});
  EXPECT_EQ(udp.exit_code, 0) << describe(udp);
  EXPECT_EQ(udp.out.rfind("203.0.113.10:", 0), 0u) << udp.out;

  const auto ftp = exec("vm1", {"curl", "-sS", "-m", "10", "ftp://192.0.2.10/test.txt"});
  EXPECT_EQ(ftp.exit_code, 0) << describe(ftp);
  EXPECT_EQ(ftp.out, "natgw lab: passive FTP works\n");

  const auto perf = exec("vm1", {"iperf3", "-c", "192.0.2.10", "-p", "5201", "-t", "2"});
  EXPECT_EQ(perf.exit_code, 0) << describe(perf);
  EXPECT_TRUE(contains(perf.out, "receiver")) << perf.out;

  const auto st = natgw({"lab", "status", "--name", name_});
  EXPECT_EQ(st.exit_code, 0) << describe(st);
  EXPECT_TRUE(contains(st.out, "alive"));
  EXPECT_FALSE(contains(st.out, "NOT RUNNING")) << st.out;
  EXPECT_FALSE(contains(st.out, "MISSING")) << st.out;
}

TEST_F(Lab, NoGatewayForwardsNothingAndDownLeavesNothing) {
  const auto u = up("none", name_);
  ASSERT_EQ(u.exit_code, 0) << describe(u);
  EXPECT_EQ(namespaces_of(name_).size(), 5u);
  EXPECT_TRUE(std::filesystem::exists(state_dir(name_)));
  // Forwarding is off in the gateway namespace: without a gateway process nothing gets through.
  const auto blocked = exec("vm1", {"curl", "-sS", "-m", "1", "http://192.0.2.10/"});
  EXPECT_NE(blocked.exit_code, 0) << describe(blocked);

  const auto d = natgw({"lab", "down", "--name", name_});
  EXPECT_EQ(d.exit_code, 0) << describe(d);
  EXPECT_TRUE(namespaces_of(name_).empty());
  EXPECT_FALSE(std::filesystem::exists(state_dir(name_)));
  const auto again = natgw({"lab", "down", "--name", name_});
  EXPECT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_TRUE(contains(again.out, "nothing to remove"));
}

TEST_F(Lab, DownCleansUpAfterACrash) {
  const auto u = up("none", name_, {"--vms", "1"});
  ASSERT_EQ(u.exit_code, 0) << describe(u);
  const auto state = read_state(name_);
  ASSERT_TRUE(state);
  ASSERT_FALSE(state->processes.empty());
  for (const auto& p : state->processes) ::kill(p.id.pid, SIGKILL);
  // Not recorded anywhere: only `ip netns pids` finds it.
  const ProcessId stray =
      spawn_background(in_netns(vm_ns(name_, 1), {"sleep", "300"}), "/dev/null");
  std::this_thread::sleep_for(100ms);
  const auto st = natgw({"lab", "status", "--name", name_});
  EXPECT_TRUE(contains(st.out, "NOT RUNNING")) << st.out;

  const auto d = natgw({"lab", "down", "--name", name_});
  EXPECT_EQ(d.exit_code, 0) << describe(d);
  reap(stray.pid);
  EXPECT_FALSE(alive(stray));
  EXPECT_TRUE(namespaces_of(name_).empty());
  EXPECT_FALSE(std::filesystem::exists(state_dir(name_)));
}

TEST_F(Lab, DownFindsNamespacesWithoutAStateDir) {
  const auto u = up("none", name_, {"--vms", "1"});
  ASSERT_EQ(u.exit_code, 0) << describe(u);
  // The lab's servers may still be writing logs there: retry until the directory is gone.
  for (int i = 0; i < 50 && std::filesystem::exists(state_dir(name_)); ++i) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir(name_), ec);
    if (ec) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(std::filesystem::exists(state_dir(name_)));
  const auto st = natgw({"lab", "status", "--name", name_});
  EXPECT_TRUE(contains(st.out, "lab " + name_ + ": no state dir")) << st.out;
  const auto d = natgw({"lab", "down", "--name", name_});
  EXPECT_EQ(d.exit_code, 0) << describe(d);
  EXPECT_TRUE(namespaces_of(name_).empty());
}

TEST_F(Lab, ExecPassesStdioAndExitStatusThrough) {
  const auto u = up("none", name_, {"--vms", "1"});
  ASSERT_EQ(u.exit_code, 0) << describe(u);
  EXPECT_EQ(exec("vm1", {"sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(exec("vm1", {"true"}).exit_code, 0);
  const auto addr = exec("vm1", {"ip", "-4", "-br", "addr", "show", "dev", "eth0"});
  EXPECT_EQ(addr.exit_code, 0) << describe(addr);
  EXPECT_TRUE(contains(addr.out, "10.0.0.11/24")) << addr.out;
  const auto fwd = exec("gw", {"sysctl", "-n", "net.ipv4.ip_forward"});
  EXPECT_EQ(fwd.out, "0\n");
  const auto missing = exec("vm9", {"true"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "has no namespace " + name_ + "-vm9")) << missing.err;
}

TEST_F(Lab, TwoLabsCoexist) {
  const std::string other = name_ + "b";
  ASSERT_EQ(up("kernel", name_, {"--vms", "1"}).exit_code, 0);
  const auto u = up("kernel", other, {"--vms", "1", "--public-ips", "2"});
  ASSERT_EQ(u.exit_code, 0) << describe(u);
  EXPECT_EQ(exec("vm1", kTcpEcho).out.rfind("203.0.113.10:", 0), 0u);
  EXPECT_EQ(exec("vm1", kTcpEcho, other).out.rfind("203.0.113.1", 0), 0u);
  const auto taken = natgw({"lab", "up", "--name", name_, "--gateway", "none"});
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_TRUE(contains(taken.err, "exists")) << taken.err;
}

TEST_F(Lab, UpRejectsBadOptions) {
  const auto r = natgw({"lab", "up", "--name", name_, "--vms", "0", "--public-ips", "17"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "--vms 0: must be 1..200"));
  EXPECT_TRUE(contains(r.err, "--public-ips 17: must be 1..16"));
  EXPECT_TRUE(namespaces_of(name_).empty());
}

// With the daemon: the whole path through natgw. Without a working `natgw run`: `up` fails,
// says why, and leaves nothing behind.
TEST_F(Lab, NatgwGatewayWorksOrFailsCleanly) {
  const bool have_daemon = contains(natgw({"--help"}, 10s).out, "\n  run ");
  const auto u = up("natgw", name_, {"--vms", "1"});
  if (!have_daemon) {
    EXPECT_EQ(u.exit_code, 1) << describe(u);
    EXPECT_TRUE(contains(u.err, "natgw")) << u.err;
    EXPECT_TRUE(contains(u.err, "removed the partial lab")) << u.err;
    EXPECT_TRUE(namespaces_of(name_).empty());
    EXPECT_FALSE(std::filesystem::exists(state_dir(name_)));
    return;
  }
  ASSERT_EQ(u.exit_code, 0) << describe(u);
  const auto tcp = exec("vm1", kTcpEcho);
  EXPECT_EQ(tcp.exit_code, 0) << describe(tcp);
  EXPECT_EQ(tcp.out.rfind("203.0.113.10:", 0), 0u) << tcp.out;
  const auto page = exec("vm1", {"curl", "-sS", "-m", "5", "http://192.0.2.10/"});
  EXPECT_TRUE(contains(page.out, "natgw lab")) << describe(page);
}

// The address-echo service on loopback: no root, no namespace.
TEST(LabEchoServer, AnswersTcpAndUdpAndStopsOnSigterm) {
  // A free port from the kernel (a tiny race with other programs is acceptable here).
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&sa), &len);
  const std::string port = std::to_string(ntohs(sa.sin_port));
  ::close(probe);

  const std::string log = testing::TempDir() + "lab_echo_server.log";
  const ProcessId srv =
      spawn_background({NATGW_BIN, "lab", "echo-server", "--listen", "127.0.0.1:" + port}, log);
  for (int i = 0; i < 100 && !contains(tail_file(log), "answering"); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  const auto tcp = run({"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + port + "; cat <&3"}, 10s);
  EXPECT_EQ(tcp.out.rfind("127.0.0.1:", 0), 0u) << describe(tcp);
  const auto udp = run(
      {"bash", "-c", "exec 3<>/dev/udp/127.0.0.1/" + port + "; echo x >&3; timeout 3 head -1 <&3"},
      10s);
  EXPECT_EQ(udp.out.rfind("127.0.0.1:", 0), 0u) << describe(udp);

  ::kill(srv.pid, SIGTERM);
  int status = -1;
  for (int i = 0; i < 200 && !reap(srv.pid, &status); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << tail_file(log);
  ::unlink(log.c_str());
}

}  // namespace
}  // namespace natgw::lab
