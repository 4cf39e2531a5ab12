// A `natgw lab` for end-to-end tests: brought up with a unique name, torn down by the destructor
// (even when a test fails), with the calls the tests make on it: run a command in one of its
// namespaces, read the gateway's metrics, change its config and reload, stop and start the
// gateway. Every wait is bounded. Traffic stays inside the lab's namespaces.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "support/shell.hpp"

namespace natgw::test {

class LabUnderTest {
 public:
  // `tag` makes the name unique per test program; the pid makes it unique per run.
  // `options`: more options of `natgw lab up` (e.g. "--profile rfc").
  LabUnderTest(const std::string& bin, const std::string& tag, int vms, int public_ips,
               const std::string& options = "")
      : bin_(bin), name_(tag + std::to_string(::getpid() % 100000)) {
    const Ran up = sh(bin_ + " lab up --name " + name_ + " --vms " + std::to_string(vms) +
                      " --public-ips " + std::to_string(public_ips) + " " + options);
    ok_ = up.rc == 0;
    log_ = up.out;
    if (ok_) original_ = read_config();
  }
  ~LabUnderTest() { sh(bin_ + " lab down --name " + name_); }
  LabUnderTest(const LabUnderTest&) = delete;
  LabUnderTest& operator=(const LabUnderTest&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& log() const { return log_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::string dir() const { return "/run/natgw/labs/" + name_; }
  [[nodiscard]] std::string config_path() const { return dir() + "/natgw.yaml"; }
  // The config `natgw lab up` wrote.
  [[nodiscard]] const std::string& original_config() const { return original_; }

  Ran exec(const std::string& where, const std::string& cmd) const {
    return sh(bin_ + " lab exec --name " + name_ + " " + where + " -- " + cmd);
  }
  // natgw's own subcommands, run in the gateway's namespace against the running gateway.
  Ran natgw(const std::string& args) const { return exec("gw", bin_ + " " + args); }
  std::map<std::string, double> metrics() const {
    const Ran r = natgw("metrics --prometheus");
    EXPECT_EQ(r.rc, 0) << r.out;
    return parse_prometheus(r.out);
  }

  std::string read_config() const {
    std::ifstream in(config_path());
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
  }
  void write_config(const std::string& text) const { std::ofstream(config_path()) << text; }

  // Writes `text` as the config and reloads the gateway; fails when the gateway refused it or
  // did not answer within 5 s.
  ::testing::AssertionResult reload_with(const std::string& text) const {
    write_config(text);
    return reload();
  }
  // The lab's own config with `extra` appended (a `network:` section, say), validated first.
  ::testing::AssertionResult apply(const std::string& extra) const {
    write_config(original_ + extra);
    const Ran valid = sh(bin_ + " validate --config " + config_path());
    if (valid.rc != 0) return ::testing::AssertionFailure() << valid.out;
    return reload();
  }
  ::testing::AssertionResult restore() const { return reload_with(original_); }

  // Sends SIGHUP and waits for the gateway's log to say "reloaded" or "reload refused".
  // `expect_refused` turns a refusal into the success.
  ::testing::AssertionResult reload(bool expect_refused = false) const {
    const std::string log = dir() + "/natgw.log";
    const auto count = [&] { return sh("grep -c 'reloaded \\|reload refused' " + log).out; };
    const std::string before = count();
    if (signal_gateway("HUP").rc != 0)
      return ::testing::AssertionFailure() << "no gateway to signal";
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (count() == before) continue;
      const Ran last = sh("grep 'reloaded \\|reload refused' " + log + " | tail -n 1");
      const bool refused = last.out.find("reload refused") != std::string::npos;
      if (refused != expect_refused) return ::testing::AssertionFailure() << last.out;
      return ::testing::AssertionSuccess() << last.out;
    }
    return ::testing::AssertionFailure() << "the gateway did not reload within 5 s";
  }

  // Signals this lab's gateway daemon only (other processes are named natgw too).
  Ran signal_gateway(const std::string& sig) const {
    return sh("for p in $(ip netns pids " + name_ +
              "-gw); do [ \"$(cat /proc/$p/comm)\" = natgw ] && kill -" + sig +
              " $p && echo signalled $p; done | grep -q signalled");
  }
  // Stops the gateway (SIGTERM: it saves its flows) and waits until it has exited.
  bool stop_gateway() const {
    if (signal_gateway("TERM").rc != 0) return false;
    for (int i = 0; i < 100; ++i) {
      if (sh("for p in $(ip netns pids " + name_ +
             "-gw); do cat /proc/$p/comm; done | grep -qx natgw")
              .rc != 0)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // Starts a gateway the way the lab does, and waits until its API answers.
  bool start_gateway() const {
    sh("setsid ip netns exec " + name_ + "-gw " + bin_ + " run --config " + config_path() +
       " --state-file " + dir() + "/flows.state >>" + dir() + "/natgw.log 2>&1 < /dev/null &");
    for (int i = 0; i < 100; ++i) {
      if (natgw("status --json").rc == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  bool restart_gateway() const { return stop_gateway() && start_gateway(); }
  [[nodiscard]] std::string gateway_log() const { return sh("cat " + dir() + "/natgw.log").out; }

 private:
  std::string bin_;
  std::string name_;
  bool ok_ = false;
  std::string log_;
  std::string original_;
};

}  // namespace natgw::test
