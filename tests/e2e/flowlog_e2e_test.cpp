// End to end: flow logs of the real natgw binary in a lab (`natgw lab up --flow-log PATH`). Known
// sessions from a VM (the address-echo service, an nginx page, a blocked SMTP attempt), then the
// flow-log lines are checked: both 5-tuples, the public IP:port the server saw, byte and packet
// counts each way, and how each connection ended. Needs root; skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/shell.hpp"

namespace natgw::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kBin = NATGW_BIN;

bool can_run() {
  return is_root() && have("ip") && have("nginx") && have("curl") && have("bash");
}

class FlowLogLab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!can_run()) return;
    name_ = "efl" + std::to_string(::getpid() % 100000);
    log_path_ = "/tmp/natgw-e2e-" + name_ + "-flows.jsonl";
    sh("rm -f " + log_path_ + "*");
    const Ran up =
        sh(kBin + " lab up --name " + name_ + " --vms 1 --public-ips 1 --flow-log " + log_path_);
    up_ok_ = up.rc == 0;
    up_log_ = up.out;
  }
  static void TearDownTestSuite() {
    if (name_.empty()) return;
    sh(kBin + " lab down --name " + name_);
    sh("rm -f " + log_path_ + "*");
  }
  void SetUp() override {
    if (!can_run()) GTEST_SKIP() << "needs root, iproute2, nginx, curl, bash";
    ASSERT_TRUE(up_ok_) << up_log_;
  }

  static Ran exec(const std::string& where, const std::string& cmd) {
    return sh(kBin + " lab exec --name " + name_ + " " + where + " -- " + cmd);
  }

  // The flow-log records, parsed; a line that is not JSON fails the test.
  static std::vector<json> records(const std::string& path = log_path_) {
    std::ifstream in(path);
    std::vector<json> out;
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }

  // Waits (at most 10 s) for a record that `match` accepts.
  static std::optional<json> wait_for(const std::function<bool(const json&)>& match,
                                      const std::string& path = log_path_) {
    for (int i = 0; i < 100; ++i) {
      for (const auto& r : records(path)) {
        if (match(r)) return r;
      }
      std::this_thread::sleep_for(100ms);
    }
    return std::nullopt;
  }

  static std::string dump_all() {
    std::string s;
    for (const auto& r : records()) s += r.dump() + "\n";
    return s;
  }

  // Bytes per packet of TCP/IPv4: at least the two headers (40), at most an Ethernet MTU.
  static void expect_plausible(const json& r, const char* dir) {
    const auto bytes = r.at(std::string("bytes_") + dir).get<std::uint64_t>();
    const auto packets = r.at(std::string("packets_") + dir).get<std::uint64_t>();
    EXPECT_GE(bytes, 40 * packets) << dir << " " << r.dump();
    EXPECT_LE(bytes, 1500 * packets) << dir << " " << r.dump();
  }

  // Restarts the lab's gateway the way the lab starts it (with its state file): SIGTERM to the
  // natgw process in <lab>-gw (the echo server is a natgw too, in another namespace), bounded
  // waits for it to exit and for the new one's API.
  static std::string gateway_pids() {
    return "for p in $(ip netns pids " + name_ +
           "-gw); do [ \"$(cat /proc/$p/comm)\" = natgw ] && echo $p; done";
  }
  static bool signal_gateway(const std::string& sig) {
    return sh("kill -" + sig + " $(" + gateway_pids() + ")").rc == 0;
  }
  static bool restart_gateway() {
    const std::string ns = name_ + "-gw";
    const std::string dir = "/run/natgw/labs/" + name_;
    const std::string gw_pids = gateway_pids();
    if (!signal_gateway("TERM")) return false;
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = sh(gw_pids).out.empty();
      if (!gone) std::this_thread::sleep_for(100ms);
    }
    if (!gone) return false;
    sh("setsid ip netns exec " + ns + " " + kBin + " run --config " + dir +
       "/natgw.yaml --state-file " + dir + "/flows.state >>" + dir +
       "/natgw.log 2>&1 < /dev/null &");
    for (int i = 0; i < 100; ++i) {
      if (exec("gw", kBin + " status --json").rc == 0) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  static std::string name_;
  static std::string log_path_;
  static bool up_ok_;
  static std::string up_log_;
};
std::string FlowLogLab::name_;
std::string FlowLogLab::log_path_;
bool FlowLogLab::up_ok_ = false;
std::string FlowLogLab::up_log_;

TEST_F(FlowLogLab, EchoSessionIsLoggedOpenedAndClosedWithThePublicEndpointTheServerSaw) {
  // The echo service answers with the source it sees (the public IP:port), then half-closes;
  // bash closes its side when it exits: FIN both ways. The record is found by that public IP:port.
  const Ran echo = exec("vm1", "bash -c 'exec 3<>/dev/tcp/192.0.2.10/7; head -n1 <&3'");
  ASSERT_EQ(echo.rc, 0) << echo.out;
  const std::string seen = echo.out.substr(0, echo.out.find('\n'));  // "203.0.113.10:PORT"
  ASSERT_EQ(seen.rfind("203.0.113.10:", 0), 0u) << echo.out;
  const auto ended =
      wait_for([&](const json& r) { return r["event"] == "ended" && r["public"] == seen; });
  ASSERT_TRUE(ended) << "no ended record for " << seen << ":\n" << dump_all();
  const json& e = *ended;
  EXPECT_EQ(e["protocol"], "tcp");
  EXPECT_EQ(e["end"], "closed");
  EXPECT_EQ(e["inside"]["dst"], "192.0.2.10:7");
  EXPECT_EQ(e["outside"]["src"], seen);
  EXPECT_EQ(e["outside"]["dst"], "192.0.2.10:7");
  const std::string inside_src = e["inside"]["src"];
  EXPECT_EQ(inside_src.rfind("10.0.0.11:", 0), 0u) << inside_src;
  // SYN, ACK, ACK of the line, FIN (and its ACK) from the VM; SYN+ACK, the line, FIN, ... back.
  EXPECT_GE(e["packets_out"].get<int>(), 3);
  EXPECT_GE(e["packets_in"].get<int>(), 3);
  expect_plausible(e, "out");
  expect_plausible(e, "in");
  // The line the server sent ("203.0.113.10:PORT\n") is in the bytes from the outside.
  EXPECT_GE(e["bytes_in"].get<std::uint64_t>(),
            40 * e["packets_in"].get<std::uint64_t>() + seen.size() + 1);
  EXPECT_GE(e["duration_ms"].get<std::int64_t>(), 0);
  EXPECT_LT(e["duration_ms"].get<std::int64_t>(), 10'000);
  EXPECT_FALSE(e.contains("restored"));
  // Its start was logged too, with the same tuples.
  const auto opened =
      wait_for([&](const json& r) { return r["event"] == "opened" && r["public"] == seen; });
  ASSERT_TRUE(opened) << dump_all();
  EXPECT_EQ((*opened)["inside"], e["inside"]);
  EXPECT_EQ((*opened)["outside"], e["outside"]);
  EXPECT_EQ((*opened)["time"], e["start"]);
}

TEST_F(FlowLogLab, HttpDownloadCountsTheResponseInBytesIn) {
  const Ran page = exec("vm1",
                        "curl -sS -o /dev/null --max-time 10 -w '%{local_port} %{size_download}' "
                        "http://192.0.2.10/10M.bin");
  ASSERT_EQ(page.rc, 0) << page.out;
  std::istringstream words(page.out);
  std::uint64_t local_port = 0, size = 0;
  words >> local_port >> size;
  ASSERT_EQ(size, 10u * 1024 * 1024) << page.out;
  const std::string inside = "10.0.0.11:" + std::to_string(local_port);
  const auto ended = wait_for(
      [&](const json& r) { return r["event"] == "ended" && r["inside"]["src"] == inside; });
  ASSERT_TRUE(ended) << "no ended record for " << inside << ":\n" << dump_all();
  const json& e = *ended;
  EXPECT_EQ(e["end"], "closed");
  EXPECT_EQ(e["inside"]["dst"], "192.0.2.10:80");
  EXPECT_EQ(e["public"].get<std::string>().rfind("203.0.113.10:", 0), 0u);
  // 10 MiB came in, with its headers and whatever TCP sent again (a retransmission crosses the
  // gateway too: 12.5 % more was seen once on a busy host); the request and the ACKs went out.
  // Counting a super-frame's bytes twice would double bytes_in; counting it as one packet would
  // put tens of kilobytes in a packet.
  const auto bytes_in = e["bytes_in"].get<std::uint64_t>();
  const auto packets_in = e["packets_in"].get<std::uint64_t>();
  EXPECT_GT(bytes_in, size);
  EXPECT_LT(bytes_in, size + size / 2);
  EXPECT_LT(e["bytes_out"].get<std::uint64_t>(), bytes_in / 10);
  EXPECT_GT(packets_in, size / 1500);
  EXPECT_LE(bytes_in / packets_in, 1514u) << "bytes per packet on the wire";
  EXPECT_GT(e["packets_out"].get<std::uint64_t>(), 2u);
  expect_plausible(e, "out");
  expect_plausible(e, "in");
}

TEST_F(FlowLogLab, AConnectionCarriedAcrossARestartIsLoggedAsRestored) {
  // Two requests on one connection, 4 s apart; the gateway restarts (state file) in between.
  std::string local_port;
  std::thread client([&] {
    const Ran r =
        exec("vm1",
             "curl -sS --max-time 20 --rate 15/m -o /dev/null -o /dev/null "
             "-w '%{local_port} %{num_connects}\\n' http://192.0.2.10/ http://192.0.2.10/");
    EXPECT_EQ(r.rc, 0) << r.out;
    local_port = r.out.substr(0, r.out.find(' '));
    EXPECT_NE(r.out.find(" 0\n"), std::string::npos)
        << "the second request reused the connection: " << r.out;
  });
  std::this_thread::sleep_for(1500ms);
  const bool restarted = restart_gateway();
  client.join();
  ASSERT_TRUE(restarted) << sh("cat /run/natgw/labs/" + name_ + "/natgw.log").out;
  const std::string inside = "10.0.0.11:" + local_port;
  const auto match = [&](const char* event, bool restored) {
    return wait_for([&](const json& r) {
      return r["event"] == event && r["inside"]["src"] == inside &&
             r.contains("restored") == restored;
    });
  };
  const auto first = match("opened", false);
  const auto again = match("opened", true);
  const auto ended = match("ended", true);
  ASSERT_TRUE(first && again && ended) << inside << ":\n" << dump_all();
  EXPECT_EQ((*again)["public"], (*first)["public"]) << "the restored flow keeps its public IP:port";
  EXPECT_EQ((*ended)["end"], "closed");
  EXPECT_EQ((*ended)["start"], (*again)["time"]) << "counted from the restore";
  // The second request and the close went through the new process.
  EXPECT_GE((*ended)["packets_out"].get<int>(), 2);
  EXPECT_GE((*ended)["packets_in"].get<int>(), 2);
  expect_plausible(*ended, "out");
  expect_plausible(*ended, "in");
}

TEST_F(FlowLogLab, BlockedSmtpAttemptIsAFailedRecordAndMetricsCountTheLog) {
  EXPECT_NE(exec("vm1", "curl -sS --max-time 2 telnet://192.0.2.10:25").rc, 0);
  const auto failed = wait_for([](const json& r) {
    return r["event"] == "failed" && r["inside"]["dst"] == "192.0.2.10:25";
  });
  ASSERT_TRUE(failed) << dump_all();
  EXPECT_EQ((*failed)["reason"], "smtp_blocked");
  EXPECT_TRUE((*failed)["public"].is_null());
  const Ran m = exec("gw", kBin + " metrics --prometheus");
  ASSERT_EQ(m.rc, 0) << m.out;
  const auto metrics = parse_prometheus(m.out);
  EXPECT_GE(metrics.at("natgw_flow_log_written_total"),
            1);  // since the restart above, at least this one
  EXPECT_GE(metrics.at("natgw_flow_log_records_total"), metrics.at("natgw_flow_log_written_total"));
  EXPECT_EQ(metrics.at("natgw_flow_log_dropped_total{reason=\"ring_full\"}"), 0);
  EXPECT_EQ(metrics.at("natgw_flow_log_dropped_total{reason=\"write_error\"}"), 0);
}

TEST_F(FlowLogLab, AReloadMovesTheLogToANewPath) {
  const std::string config_path = "/run/natgw/labs/" + name_ + "/natgw.yaml";
  std::stringstream buf;
  buf << std::ifstream(config_path).rdbuf();
  const std::string original = buf.str();
  const std::string moved = log_path_ + ".moved";
  std::string cfg = original;
  const auto at = cfg.find("path: " + log_path_);
  ASSERT_NE(at, std::string::npos) << cfg;
  cfg.replace(at, 6 + log_path_.size(), "path: " + moved);
  std::ofstream(config_path) << cfg;
  ASSERT_TRUE(signal_gateway("HUP"));
  // The reload is applied on the daemon's signal thread: give it a bounded moment, then a
  // connection whose records must land in the new file.
  bool written = false;
  std::string seen;
  for (int i = 0; i < 5 && !written; ++i) {  // each try waits 10 s at most
    const Ran echo = exec("vm1", "bash -c 'exec 3<>/dev/tcp/192.0.2.10/7; head -n1 <&3'");
    seen = echo.out.substr(0, echo.out.find('\n'));
    written =
        wait_for([&](const json& r) { return r["event"] == "ended" && r["public"] == seen; }, moved)
            .has_value();
  }
  std::ofstream(config_path) << original;
  EXPECT_TRUE(signal_gateway("HUP"));
  EXPECT_TRUE(written) << "no record in " << moved << ":\n" << sh("cat " + moved).out;
}

}  // namespace
}  // namespace natgw::test
