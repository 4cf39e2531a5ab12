// End to end: several datapath workers (`natgw lab up --workers 2`; docs/running.md "Several
// datapath workers"), on the real binary:
//   azure (the inside steered by flow): one VM's connections spread over both workers (their
//          public ports fall in both workers' port slices) and every one of them is answered;
//   aws (steered by host, as it forwards UDP fragments): a ping from each of three VMs is
//          answered, whichever worker translated it (echo replies are steered by identifier);
//   custom: a reload that would change the steering (udp_fragments on) is refused, and the
//          gateway goes on with what it had;
//   a restart with another steering does not restore flows to a worker their packets no longer
//   reach (it says how many it left out), and the VM's traffic goes on.
// Needs root; skipped otherwise. Every wait is bounded; labs are removed even when a test fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/lab.hpp"
#include "support/shell.hpp"

namespace natgw::test {
namespace {

const std::string kBin = NATGW_BIN;
// With 2 workers, worker 1's SNAT ports start here: 1024 + ceil(64,512 / 2).
constexpr int kSecondSlice = 1024 + 32256;

bool can_run() {
  return is_root() && have("ip") && have("hping3") && have("/usr/bin/python3");
}

#define NATGW_NEEDS_LAB(lab)                                               \
  if (!can_run()) GTEST_SKIP() << "needs root, iproute2, hping3, python3"; \
  ASSERT_TRUE((lab).ok()) << (lab).log()

// 24 UDP sockets of one VM (24 source ports) each ask the echo service who they are; prints
// one "203.0.113.10:PORT" line per answer.
const std::string kManySockets =
    "/usr/bin/python3 -c \""
    "import socket\n"
    "for i in range(24):\n"
    "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "    s.bind(('', 41000 + i))\n"
    "    s.settimeout(2)\n"
    "    for attempt in range(3):\n"
    "        s.sendto(b'who am i', ('192.0.2.10', 7))\n"
    "        try:\n"
    "            print(s.recvfrom(200)[0].decode().strip())\n"
    "            break\n"
    "        except socket.timeout:\n"
    "            pass\n"
    "\"";

TEST(WorkersE2e, OneHostsConnectionsSpreadOverTheWorkersAndAllAreAnswered) {
  LabUnderTest lab(kBin, "e2s", 1, 1, "--workers 2");
  NATGW_NEEDS_LAB(lab);
  const Ran r = lab.exec("vm1", "timeout 60 " + kManySockets);
  ASSERT_EQ(r.rc, 0) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  std::set<int> ports;
  while (std::getline(lines, line)) {
    if (line.rfind("203.0.113.10:", 0) == 0) ports.insert(std::stoi(line.substr(13)));
  }
  EXPECT_EQ(ports.size(), 24u) << "every socket answered, each on a port of its own:\n" << r.out;
  int first = 0, second = 0;
  for (const int p : ports) (p < kSecondSlice ? first : second) += 1;
  EXPECT_GT(first, 0) << "worker 0 made some of them";
  EXPECT_GT(second, 0) << "worker 1 made some of them";
  // TCP too: a download through whichever worker its source port hashes to.
  const Ran get = lab.exec("vm1",
                           "curl -s -o /dev/null -w '%{http_code}' --max-time 10 "
                           "http://192.0.2.10/");
  EXPECT_EQ(get.out, "200") << get.out;
  EXPECT_NE(lab.gateway_log().find("2 datapath workers, the inside steered by flow"),
            std::string::npos)
      << lab.gateway_log();
}

TEST(WorkersE2e, EveryVmsPingIsAnsweredWhicheverWorkerTranslatedIt) {
  LabUnderTest lab(kBin, "e2p", 3, 1, "--workers 2 --profile aws");
  NATGW_NEEDS_LAB(lab);
  for (const std::string vm : {"vm1", "vm2", "vm3"}) {
    const Ran r = lab.exec(vm, "timeout 20 hping3 -1 -c 2 192.0.2.10 2>&1");
    EXPECT_NE(r.out.find("2 packets received"), std::string::npos) << vm << ": " << r.out;
  }
  // Both workers translated some: the public identifiers lie in both slices.
  const Ran flows = lab.natgw("flows --json --limit 1000");
  const auto listing = nlohmann::json::parse(flows.out, nullptr, false);
  ASSERT_TRUE(listing.is_object()) << flows.out;
  std::set<bool> slices;
  for (const auto& x : listing["flows"]) {
    if (x.value("protocol", "") != "icmp") continue;
    const std::string pub = x.value("public", "");
    slices.insert(std::stoi(pub.substr(pub.find(':') + 1)) >= kSecondSlice);
  }
  EXPECT_EQ(slices.size(), 2u) << listing.dump(2);
  EXPECT_NE(lab.gateway_log().find("the inside steered by host"), std::string::npos)
      << lab.gateway_log();
}

TEST(WorkersE2e, AReloadThatWouldChangeTheSteeringIsRefused) {
  LabUnderTest lab(kBin, "e2c", 1, 1, "--workers 2 --profile custom");
  NATGW_NEEDS_LAB(lab);
  EXPECT_NE(lab.gateway_log().find("the inside steered by flow"), std::string::npos);
  lab.write_config(lab.original_config() + "engine:\n  udp_fragments: true\n");
  ASSERT_EQ(sh(kBin + " validate --config " + lab.config_path()).rc, 0) << "a valid file";
  EXPECT_TRUE(lab.reload(/*expect_refused=*/true));
  EXPECT_NE(lab.gateway_log().find("steered by host instead of flow"), std::string::npos)
      << lab.gateway_log();
  const Ran get = lab.exec("vm1",
                           "curl -s -o /dev/null -w '%{http_code}' --max-time 10 "
                           "http://192.0.2.10/");
  EXPECT_EQ(get.out, "200") << "the gateway goes on: " << get.out;
}

TEST(WorkersE2e, ARestartWithAnotherSteeringLeavesOutTheFlowsItWouldMisplace) {
  LabUnderTest lab(kBin, "e2r", 1, 1, "--workers 2");
  NATGW_NEEDS_LAB(lab);
  const auto answered = [&] {
    const Ran r = lab.exec("vm1", "timeout 60 " + kManySockets);
    std::size_t n = 0;
    for (std::size_t at = r.out.find("203.0.113.10:"); at != std::string::npos;
         at = r.out.find("203.0.113.10:", at + 1)) {
      ++n;
    }
    return n;
  };
  ASSERT_EQ(answered(), 24u);
  ASSERT_TRUE(lab.stop_gateway());
  std::string text = lab.original_config();
  const std::string workers = "datapath:\n  workers: 2\n";
  const auto at = text.find(workers);
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, workers.size(), workers + "  steering: host\n");
  lab.write_config(text);
  ASSERT_TRUE(lab.start_gateway()) << lab.gateway_log();
  const std::string log = lab.gateway_log();
  EXPECT_NE(log.find("the inside steered by host"), std::string::npos) << log;
  EXPECT_NE(log.find("because its packets now reach another datapath worker"), std::string::npos)
      << log;
  EXPECT_EQ(answered(), 24u) << "the VM's traffic goes on";
}

}  // namespace
}  // namespace natgw::test
