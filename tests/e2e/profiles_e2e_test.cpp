// End to end: what tells the profiles apart, on the real binary in a lab (src/lab) built with
// `natgw lab up --profile P`, one lab per profile:
//   gcp:   endpoint-independent mapping: one UDP socket of a VM is seen by the echo services on
//          192.0.2.10 and 192.0.2.11 at the same public address:port;
//   aws:   a ping from a VM to 192.0.2.10 is answered (ICMP echo translated);
//   azure: the same ping is not, and natgw counts the drop (unsupported_protocol);
//   rfc:   hairpinning: vm1 reaches vm2 at vm2's public address:port, through the datapath's
//          loop back to the inside, and vm2 sees vm1's public address:port;
//          active FTP: curl --ftp-port downloads through the FTP ALG (EPRT and PORT), with the
//          server's own checks on (vsftpd: the address must be the control connection's peer).
//          (azure refuses it: tests/e2e/doctor_e2e_test.cpp.)
// Needs root; skipped otherwise. Every wait is bounded; labs are removed even when a test fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/shell.hpp"

namespace natgw::test {
namespace {

const std::string kBin = NATGW_BIN;

class ProfileLab {
 public:
  ProfileLab(const std::string& tag, const std::string& profile, int vms = 1)
      : name_(tag + std::to_string(::getpid() % 100000)) {
    const Ran up = sh("timeout 120 " + kBin + " lab up --name " + name_ + " --vms " +
                      std::to_string(vms) + " --profile " + profile);
    ok_ = up.rc == 0;
    log_ = up.out;
  }
  ~ProfileLab() { sh("timeout 120 " + kBin + " lab down --name " + name_); }
  ProfileLab(const ProfileLab&) = delete;
  ProfileLab& operator=(const ProfileLab&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& log() const { return log_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  Ran exec(const std::string& where, const std::string& cmd) const {
    return sh("timeout 60 " + kBin + " lab exec --name " + name_ + " " + where + " -- " + cmd);
  }
  [[nodiscard]] double metric(const std::string& key) const {
    const Ran r = exec("gw", kBin + " metrics --prometheus");
    const auto m = parse_prometheus(r.out);
    const auto it = m.find(key);
    return it == m.end() ? -1 : it->second;
  }
  // One ICMP echo request from vm1 to `dst` (hping3: the lab has no ping); true if answered.
  [[nodiscard]] bool ping(const std::string& dst) const {
    const Ran r = exec("vm1", "hping3 -1 -c 1 " + dst + " 2>&1");
    return r.out.find("1 packets received") != std::string::npos;
  }

 private:
  std::string name_;
  bool ok_ = false;
  std::string log_;
};

bool can_run() {
  return is_root() && have("ip") && have("hping3") && have("/usr/bin/python3");
}

#define NATGW_NEEDS_LAB(lab)                                               \
  if (!can_run()) GTEST_SKIP() << "needs root, iproute2, hping3, python3"; \
  ASSERT_TRUE((lab).ok()) << (lab).log()

// One UDP socket, bound to one port, asks both echo services who it is.
const std::string kTwoEchoes =
    "/usr/bin/python3 -c \""
    "import socket\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.bind(('', 40007))\n"
    "s.settimeout(3)\n"
    "for dst in ('192.0.2.10', '192.0.2.11'):\n"
    "    for attempt in range(3):\n"
    "        s.sendto(b'who am i', (dst, 7))\n"
    "        try:\n"
    "            print(dst, s.recvfrom(200)[0].decode().strip())\n"
    "            break\n"
    "        except socket.timeout:\n"
    "            pass\n"
    "\"";

TEST(ProfilesE2e, GcpShowsOnePublicPortToEveryDestination) {
  ProfileLab lab("e2g", "gcp");
  NATGW_NEEDS_LAB(lab);
  const Ran r = lab.exec("vm1", kTwoEchoes);
  ASSERT_EQ(r.rc, 0) << r.out;
  // "192.0.2.10 203.0.113.10:PORT" and "192.0.2.11 203.0.113.10:PORT", the same PORT.
  const auto seen = [&](const std::string& dst) {
    const auto at = r.out.find(dst + " ");
    if (at == std::string::npos) return std::string{};
    const auto from = at + dst.size() + 1;
    return r.out.substr(from, r.out.find('\n', from) - from);
  };
  const std::string a = seen("192.0.2.10");
  const std::string b = seen("192.0.2.11");
  ASSERT_FALSE(a.empty()) << r.out;
  EXPECT_EQ(a.rfind("203.0.113.10:", 0), 0u) << a;
  EXPECT_EQ(a, b) << "endpoint-independent mapping: " << r.out;
}

TEST(ProfilesE2e, AwsAnswersPing) {
  ProfileLab lab("e2w", "aws");
  NATGW_NEEDS_LAB(lab);
  EXPECT_TRUE(lab.ping("192.0.2.10"));
  EXPECT_GE(lab.metric("natgw_packets_total{protocol=\"icmp\",direction=\"in\"}"), 1);
}

TEST(ProfilesE2e, AzureDropsPingAndCountsIt) {
  ProfileLab lab("e2z", "azure");
  NATGW_NEEDS_LAB(lab);
  EXPECT_FALSE(lab.ping("192.0.2.10"));
  EXPECT_GE(lab.metric("natgw_dropped_packets_total{reason=\"unsupported_protocol\"}"), 1);
}

TEST(ProfilesE2e, RfcHairpinsBetweenTwoVms) {
  ProfileLab lab("e2r", "rfc", 2);
  NATGW_NEEDS_LAB(lab);
  // vm2 learns its public endpoint from the echo service, then waits for one datagram and
  // answers it; vm1 sends to that public endpoint.
  const std::string out = "/tmp/natgw-hairpin-" + std::to_string(::getpid()) + ".txt";
  sh("rm -f " + out);
  sh("(timeout 30 " + kBin + " lab exec --name " + lab.name() +
     " vm2 -- /usr/bin/python3 -c \""
     "import socket\n"
     "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
     "s.bind(('', 5000))\n"
     "s.settimeout(10)\n"
     "s.sendto(b'x', ('192.0.2.10', 7))\n"
     "print('public', s.recvfrom(200)[0].decode().strip(), flush=True)\n"
     "d, a = s.recvfrom(200)\n"
     "print('from', a[0] + ':' + str(a[1]), flush=True)\n"
     "s.sendto(b'pong', a)\n"
     "\" > " +
     out + " 2>&1 &)");
  std::string pub;
  for (int i = 0; i < 100 && pub.empty(); ++i) {  // at most 10 s
    pub = sh("awk '/^public/{print $2}' " + out).out;
    if (!pub.empty() && pub.back() == '\n') pub.pop_back();
    if (pub.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(pub.empty()) << sh("cat " + out).out;
  const auto colon = pub.find(':');
  const Ran a = lab.exec("vm1",
                         "/usr/bin/python3 -c \""
                         "import socket\n"
                         "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                         "s.bind(('', 6000))\n"
                         "s.settimeout(5)\n"
                         "s.sendto(b'ping', ('" +
                             pub.substr(0, colon) + "', " + pub.substr(colon + 1) +
                             "))\n"
                             "d, a = s.recvfrom(200)\n"
                             "print(d.decode(), a[0] + ':' + str(a[1]))\n"
                             "\"");
  EXPECT_EQ(a.rc, 0) << a.out;
  EXPECT_NE(a.out.find("pong " + pub), std::string::npos) << a.out;
  std::string from;
  for (int i = 0; i < 50 && from.empty(); ++i) {  // at most 5 s
    from = sh("awk '/^from/{print $2}' " + out).out;
    if (from.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(from.rfind("203.0.113.10:", 0), 0u) << "vm2 sees vm1's public endpoint: " << from;
  sh("rm -f " + out);
}

TEST(ProfilesE2e, RfcCarriesActiveFtpThroughTheAlg) {
  ProfileLab lab("e2f", "rfc");
  NATGW_NEEDS_LAB(lab);
  if (!have("curl") || !have("vsftpd")) GTEST_SKIP() << "needs curl and vsftpd";
  // curl sends EPRT first; --disable-eprt makes it PORT. The server connects back to the public
  // IP:port the ALG wrote, and the ALG lets that connection in to vm1.
  for (const std::string extra : {"", "--disable-eprt "}) {
    const Ran r = lab.exec(
        "vm1", "curl -sS --max-time 15 --ftp-port - " + extra + "ftp://192.0.2.10/test.txt");
    EXPECT_EQ(r.rc, 0) << extra << r.out;
    EXPECT_NE(r.out.find("natgw lab: passive FTP works"), std::string::npos) << extra << r.out;
  }
  // What the ALG did, in /metrics: both commands rewritten, both data connections let in.
  EXPECT_GE(lab.metric("natgw_ftp_alg_commands_total{result=\"rewritten\"}"), 2);
  EXPECT_GE(lab.metric("natgw_ftp_alg_data_connections_total"), 2);
}

}  // namespace
}  // namespace natgw::test
