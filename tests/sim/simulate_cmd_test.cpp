// End to end: the real `natgw simulate` binary on workload files in a temporary directory.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace natgw::sim::test {
namespace {

namespace fs = std::filesystem;

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// 1,000 FIN-closed connections/s to one destination: one public IP runs out of ports at
// 64.5125 s (tests/sim/closed_form_test.cpp), two do not.
std::string fin_workload(const std::string& name, int ips, const std::string& duration) {
  return "name: " + name + "\nduration: " + duration +
         "\ngateway: { public_ips: " + std::to_string(ips) +
         " }\n"
         "clients: [{ name: app, count: 100, subnet: 10.0.0.0/24 }]\n"
         "destinations: [{ name: api, address: 198.51.100.10, port: 443, rtt: 0s }]\n"
         "traffic: [{ from: app, to: api, rate: 1000, arrivals: even, duration: 0s }]\n";
}

class SimulateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "natgw-simulate-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path write(const std::string& name, const std::string& text) const {
    const auto p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }

  Output natgw(const std::string& args) const {
    const auto out = dir_ / "stdout";
    const auto err = dir_ / "stderr";
    const std::string cmd =
        "'" NATGW_BIN "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    Output r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  fs::path dir_;
};

TEST_F(SimulateCommand, TableWithMinutesFirstFailureAndTheAnswer) {
  const auto f = write("fin.yaml", fin_workload("fin2", 2, "70s"));
  const auto r = natgw("simulate '" + f.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("natgw simulate: fin2 (" + f.string() + ")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("min  attempted  failed  established  closed  timed_out  active  dropped  "
                       "req.failed  203.0.113.10 live+held  203.0.113.11 live+held  busiest dst "
                       "(of 50,000)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n  0     60,000       0       60,000  60,000"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("first failure      none\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  public IPs needed for no failed SNAT connection: 2\n"
                       "    (1 IP: fails at 0:01:04.512 (snat_exhausted); 2 IPs: no failure in "
                       "1.2 min)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  speed            1.2 min simulated in "), std::string::npos) << r.out;
}

TEST_F(SimulateCommand, QuietLeavesOutTheTable) {
  const auto f = write("fin.yaml", fin_workload("fin1", 1, "65s"));
  const auto r = natgw("simulate --quiet --no-search '" + f.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("attempted  failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first failure      0:01:04.512  snat_exhausted (10.0.0."),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("public IPs needed"), std::string::npos) << r.out;
}

TEST_F(SimulateCommand, JsonForPrograms) {
  const auto f = write("fin.yaml", fin_workload("fin2", 2, "70s"));
  const auto r = natgw("simulate --json '" + f.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["workload"]["name"], "fin2");
  EXPECT_EQ(j["workload"]["public_ips"], (nlohmann::json{"203.0.113.10", "203.0.113.11"}));
  ASSERT_EQ(j["minutes"].size(), 2u);
  EXPECT_EQ(j["minutes"][0]["snat_connections"]["attempted"], 60000);
  EXPECT_EQ(j["minutes"][1]["snat_connections"]["attempted"], 10000);
  EXPECT_EQ(j["minutes"][0]["public_ips"].size(), 2u);
  EXPECT_TRUE(j["first_failure"].is_null());
  EXPECT_EQ(j["summary"]["public_ips_needed"], 2);
  EXPECT_EQ(j["summary"]["search"][0]["public_ips"], 1);
  EXPECT_EQ(j["summary"]["search"][0]["reason"], "snat_exhausted");
  EXPECT_DOUBLE_EQ(j["summary"]["search"][0]["first_failure_seconds"].get<double>(), 64.5125);
  EXPECT_EQ(j["totals"]["requests"]["started"], 70000);
  EXPECT_EQ(j["totals"]["dropped_packets"]["snat_exhausted"], 0);
  EXPECT_GT(j["run"]["packets"].get<long>(), 0);
}

TEST_F(SimulateCommand, ChartIsAnSvgWithTheLimitsAndTheFirstFailure) {
  const auto f = write("fin.yaml", fin_workload("fin1", 1, "65s"));
  const auto svg = dir_ / "chart.svg";
  const auto r =
      natgw("simulate --no-search -q --chart '" + svg.string() + "' '" + f.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("chart: " + svg.string()), std::string::npos);
  const std::string s = slurp(svg);
  EXPECT_EQ(s.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u) << s.substr(0, 100);
  EXPECT_NE(s.find("50,000 connections per IP per destination"), std::string::npos);
  EXPECT_NE(s.find("64,512 ports per IP per destination"), std::string::npos);
  EXPECT_NE(s.find("first failure 0:01:04.512 snat_exhausted"), std::string::npos);
  EXPECT_NE(s.find("ports taken on 203.0.113.10"), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 7), "</svg>\n");
}

TEST_F(SimulateCommand, CompareSideBySide) {
  const auto a = write("a.yaml", fin_workload("one-ip", 1, "65s"));
  const auto b = write("b.yaml", fin_workload("two-ips", 2, "65s"));
  const auto r = natgw("simulate --no-search --compare '" + a.string() + "' '" + b.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("A: one-ip"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("B: two-ips"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first failure               0:01:04.512 snat_exhausted          none\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("min  A attempted  B attempted  A failed  B failed"), std::string::npos)
      << r.out;
  const auto j =
      natgw("simulate --no-search --json --compare '" + a.string() + "' '" + b.string() + "'");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto parsed = nlohmann::json::parse(j.out);
  EXPECT_EQ(parsed["a"]["workload"]["name"], "one-ip");
  EXPECT_EQ(parsed["b"]["workload"]["name"], "two-ips");
}

TEST_F(SimulateCommand, BadWorkloadExitsOneWithEveryError) {
  const auto f = write("bad.yaml",
                       "clients: [{ name: web, count: 10, subnet: 10.0.0.0/24 }]\n"
                       "destinations: [{ name: api, address: 198.51.100.10, protocl: tcp }]\n"
                       "traffic: [{ from: web, to: api, rate: fast }]\n");
  const auto r = natgw("simulate '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            f.string() +
                ": destinations[0].protocl: protocl is not a key of destinations[0]; allowed: "
                "name, address, count, port, protocol, rtt (did you mean protocol?)\n" +
                f.string() +
                ": traffic[0].rate: fast is not a number; allowed: requests per second, "
                "0..10000000\n");
  const auto missing = natgw("simulate '" + (dir_ / "none.yaml").string() + "'");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err,
            (dir_ / "none.yaml").string() + ": cannot read the file: No such file or directory\n");
}

TEST_F(SimulateCommand, UsageErrors) {
  const auto r = natgw("simulate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "natgw simulate: a WORKLOAD file (or --compare A B) is required\n");
}

}  // namespace
}  // namespace natgw::sim::test
