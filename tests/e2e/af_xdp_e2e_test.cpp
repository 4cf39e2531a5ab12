// End to end: the gateway with `backend: af_xdp` on both interfaces (`natgw lab up --backend
// af_xdp`) translates a VM's connections, and detaches its XDP programs when it stops. The lab's
// veths have their offloads off: AF_XDP frames carry no checksum state, so a sender's partial
// checksums would go out unfinished (docs/running.md "Backends"). Needs root; skipped when this
// natgw has no AF_XDP or the kernel refuses XDP (the gateway's log says which).
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "support/lab.hpp"

namespace natgw::test {
namespace {

const std::string kBin = NATGW_BIN;

bool can_run() {
  return is_root() && have("ip") && have("nginx") && have("curl") && have("bash");
}

class AfXdpLab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (can_run()) lab_ = new LabUnderTest(kBin, "e2x", 1, 1, "--backend af_xdp --offloads off");
  }
  static void TearDownTestSuite() {
    delete lab_;
    lab_ = nullptr;
  }
  void SetUp() override {
    if (!can_run()) GTEST_SKIP() << "needs root, iproute2, nginx, curl, bash";
    ASSERT_TRUE(lab_->ok()) << lab_->log();
    const std::string log = lab_->gateway_log();
    if (log.find("backend af_xdp on gw-in:") != std::string::npos) {
      const auto at = log.find("backend af_xdp on gw-in:");
      GTEST_SKIP() << "the gateway fell back to af_packet: "
                   << log.substr(at, log.find('\n', at) - at);
    }
  }
  static LabUnderTest* lab_;
};
LabUnderTest* AfXdpLab::lab_ = nullptr;

TEST_F(AfXdpLab, TranslatesThroughAfXdpPorts) {
  const std::string log = lab_->gateway_log();
  EXPECT_NE(log.find("gw-in: backend af_xdp"), std::string::npos) << log;
  EXPECT_NE(log.find("gw-out: backend af_xdp"), std::string::npos) << log;
  EXPECT_NE(lab_->exec("gw", "ip link show gw-in").out.find(" xdp"), std::string::npos);
  // The echo service sees the public IP; an HTTP page comes back whole.
  const Ran echo =
      lab_->exec("vm1", "timeout 10 bash -c 'exec 3<>/dev/tcp/192.0.2.10/7; head -n1 <&3'");
  EXPECT_EQ(echo.out.rfind("203.0.113.10:", 0), 0u) << echo.out;
  const Ran page = lab_->exec(
      "vm1", "curl -s -m 10 -o /dev/null -w '%{http_code} %{size_download}' http://192.0.2.10/");
  EXPECT_EQ(page.out.rfind("200 ", 0), 0u) << page.out;
  const auto m = lab_->metrics();
  const auto rx =
      m.find("natgw_interface_frames_total{interface=\"gw-in\",role=\"inside\",direction=\"rx\"}");
  ASSERT_NE(rx, m.end());
  EXPECT_GT(rx->second, 0.0);
}

TEST_F(AfXdpLab, StoppingTheGatewayDetachesTheProgramsAndAfPacketTakesOver) {
  ASSERT_TRUE(lab_->stop_gateway());
  EXPECT_EQ(lab_->exec("gw", "ip link show gw-in").out.find(" xdp"), std::string::npos);
  EXPECT_EQ(lab_->exec("gw", "ip link show gw-out").out.find(" xdp"), std::string::npos);
  std::string cfg = lab_->read_config();
  for (auto at = cfg.find("af_xdp"); at != std::string::npos; at = cfg.find("af_xdp"))
    cfg.replace(at, 6, "af_packet");
  lab_->write_config(cfg);
  ASSERT_TRUE(lab_->start_gateway()) << lab_->gateway_log();
  const Ran echo =
      lab_->exec("vm1", "timeout 10 bash -c 'exec 3<>/dev/tcp/192.0.2.10/7; head -n1 <&3'");
  EXPECT_EQ(echo.out.rfind("203.0.113.10:", 0), 0u) << echo.out;
}

}  // namespace
}  // namespace natgw::test
