// End to end: the real `natgw validate` binary on files in a temporary directory.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config_doc.hpp"

namespace natgw::control::test {
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

class ValidateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "natgw-validate-XXXXXX").string();
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

  // Runs natgw with `args` (already quoted as needed) and collects its output.
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

TEST_F(ValidateCommand, ValidFileExitsZeroWithASummary) {
  const auto f = write("ok.yaml", Doc{}.prefixes("[198.51.100.16/30]").text());
  const auto r = natgw("validate --config '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "config " + f.string() + " is valid: gateway natgw-demo, 5 public IPs, 1 subnet\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(ValidateCommand, InvalidFileExitsOneWithEveryErrorOnStderr) {
  const auto f = write(
      "bad.yaml",
      Doc{}.idle("200").subnets("[10.0.0.0/24, 8.8.8.0/24]").outside("{ name: gw-out }").text());
  const auto r = natgw("validate --config '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  const auto file = f.string();
  EXPECT_EQ(r.err,
            file +
                ": gateway.idle_timeout_minutes: 200 is out of range; allowed: 4..120 (profile "
                "azure)\n" +
                file +
                ": gateway.subnets[1]: 8.8.8.0/24 is not private; allowed: a private "
                "prefix a.b.c.d/len inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or "
                "100.64.0.0/10\n" +
                file +
                ": interfaces.outside.next_hop: missing (required on the outside "
                "interface); allowed: the IPv4 address of the next router, such as "
                "198.51.100.2\n");
}

TEST_F(ValidateCommand, BadEngineKnobsOfProfileCustomAreErrors) {
  const auto f = write("custom.yaml", Doc{}.profile("custom").text() +
                                          "engine:\n  udp_idle_seconds: 0\n  late_rst: "
                                          "never\n");
  const auto r = natgw("validate --config '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  const auto file = f.string();
  EXPECT_EQ(r.err, file +
                       ": engine.udp_idle_seconds: 0 is out of range; allowed: 1..7200 "
                       "(seconds)\n" +
                       file +
                       ": engine.late_rst: never is not a value of late_rst; allowed: sender, "
                       "inside_only or none\n");
}

TEST_F(ValidateCommand, SyntaxErrorNamesTheFileAndPosition) {
  const auto f = write("syntax.yaml", "gateway: [\n");
  const auto r = natgw("validate --config '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind(f.string() + ": YAML syntax error at line ", 0), 0u) << r.err;
}

TEST_F(ValidateCommand, MissingFileNamesTheFile) {
  const auto f = dir_ / "missing.yaml";
  const auto r = natgw("validate -c '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, f.string() + ": cannot read the file: No such file or directory\n");
}

TEST_F(ValidateCommand, ConfigOptionIsRequired) {
  const auto r = natgw("validate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 1);  // a usage error, not an invalid config
  EXPECT_NE((r.out + r.err).find("--config"), std::string::npos) << r.out << r.err;
}

TEST_F(ValidateCommand, ShippedExampleIsValid) {
  const auto r = natgw("validate --config '" NATGW_EXAMPLE_CONFIG "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "config " NATGW_EXAMPLE_CONFIG
                   " is valid: gateway natgw-demo, 1 public IP, 1 subnet\n");
}

TEST_F(ValidateCommand, ShippedNetworkExampleIsValid) {
  const auto r = natgw("validate --config '" NATGW_NETWORK_EXAMPLE "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "config " NATGW_NETWORK_EXAMPLE
                   " is valid: gateway natgw-demo, 2 public IPs, 2 subnets, network: 2 route "
                   "tables, 2 security groups\n");
}

TEST_F(ValidateCommand, NetworkErrorsNameTheKeyPath) {
  const auto f = write("net.yaml", Doc{}.text() +
                                       "network:\n  route_tables:\n    - name: rt\n      routes:\n"
                                       "        - { name: fw, address_prefix: 0.0.0.0/0, next_hop_type: "
                                       "virtual_appliance }\n");
  const auto r = natgw("validate --config '" + f.string() + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, f.string() +
                       ": network.route_tables[0].routes[0].next_hop_address: missing (required with "
                       "next_hop_type virtual_appliance); allowed: an IPv4 address inside the virtual "
                       "network's address space, such as 10.0.0.4, with next_hop_type virtual_appliance "
                       "or virtual_network_gateway only\n");
}

}  // namespace
}  // namespace natgw::control::test
