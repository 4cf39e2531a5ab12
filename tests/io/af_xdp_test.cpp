// AF_XDP backend on a real veth between two network namespaces created by the test: the gateway's
// IPv4 frames reach the port, ARP and the host's own traffic reach the kernel (and ARP the port's
// ARP tap too), frames sent go out, and the XDP program is detached when the port closes.
// Skipped when this build has no AF_XDP or the kernel refuses XDP here.
#include "io/af_xdp.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <system_error>

#include "io/netns.hpp"
#include "io/raw_socket.hpp"
#include "support/packets.hpp"

namespace natgw::io {
namespace {

using namespace std::chrono_literals;
using test::NetnsGuard;
using test::RawSocket;
using Bytes = std::vector<std::uint8_t>;

const net::Ipv4 kHostA{10, 77, 0, 1};
const net::Ipv4 kHostB{10, 77, 0, 2};
const net::Ipv4 kBeyond{192, 0, 2, 7};  // not an address of the host: the gateway's traffic

std::string capture(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    ::pclose(p);
  }
  return out;
}

Bytes eth_ipv4(const MacAddress& dst, const MacAddress& src, net::Ipv4 from, net::Ipv4 to,
               std::uint16_t dport) {
  const Bytes ip =
      test::PacketBuilder().ipv4(from, to).udp(40000, dport).payload("natgw-xdp").build();
  Bytes f(14 + ip.size());
  net::write_eth_header(f.data(), dst, src, 0x0800);
  std::memcpy(&f[14], ip.data(), ip.size());
  return f;
}

class AfXdpTest : public test::VethPairTest {
 protected:
  void SetUp() override {
    if (!af_xdp_built())
      GTEST_SKIP() << "this build has no AF_XDP backend (libxdp-dev, libbpf-dev, clang)";
    VethPairTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    NetnsGuard in(ns_a_);
    AfXdpOptions o;
    o.local_addresses = {kHostA};
    try {
      port_ = open_af_xdp(kIfA, o);
    } catch (const std::system_error& e) {
      // The kernel's refusals skip; anything else (a broken program or build) fails.
      const int err = e.code().value();
      if (err == EPERM || err == EOPNOTSUPP || std::strstr(e.what(), "refused") != nullptr) {
        GTEST_SKIP() << "XDP is not available here: " << e.what();
      }
      FAIL() << e.what();
    }
  }
  void TearDown() override {
    port_.reset();
    VethPairTest::TearDown();
  }

  // Receives from the port for up to `timeout`: IPv4 and ARP frames counted apart.
  struct Seen {
    int ipv4 = 0, arp = 0, other = 0;
    std::vector<Bytes> frames;
  };
  Seen drain(std::chrono::milliseconds timeout, int want_ipv4) {
    Seen s;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<Frame, 64> fr;
    while (std::chrono::steady_clock::now() < deadline && s.ipv4 < want_ipv4) {
      (void)test::wait_readable(port_->fd(), 20ms);
      const std::size_t n = port_->rx_burst(fr);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t t = net::eth_type(fr[i].data);
        (t == 0x0800 ? s.ipv4 : t == 0x0806 ? s.arp : s.other)++;
        EXPECT_EQ(fr[i].offload, Offload{});
        EXPECT_FALSE(fr[i].csum_partial);
        s.frames.emplace_back(fr[i].data, fr[i].data + fr[i].len);
      }
      port_->rx_done();
    }
    return s;
  }

  std::unique_ptr<AfXdpPort> port_;
};

TEST_F(AfXdpTest, GatewayFramesReachThePortBothWays) {
  EXPECT_FALSE(port_->offloads());
  EXPECT_EQ(port_->mac(), kMacA);
  EXPECT_EQ(port_->max_frame(), port_->mtu() + 14);
  std::printf("AF_XDP on veth: %s mode, XDP %s\n", port_->zero_copy() ? "zero-copy" : "copy",
              port_->native() ? "native" : "generic");
  RawSocket peer(ns_b_, kIfB);
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i)
    peer.send(eth_ipv4(kMacA, kMacB, kHostB, kBeyond, static_cast<std::uint16_t>(1000 + i)));
  const Seen s = drain(3s, kCount);
  EXPECT_EQ(s.ipv4, kCount);
  ASSERT_FALSE(s.frames.empty());
  EXPECT_EQ(s.frames[0], eth_ipv4(kMacA, kMacB, kHostB, kBeyond, 1000));
  EXPECT_GE(port_->program_counts().redirected, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(port_->stats().rx_frames, static_cast<std::uint64_t>(s.ipv4 + s.arp + s.other));

  // Transmit: a batch larger than the kernel's copy-mode send batch, all of it arrives.
  std::vector<Bytes> out;
  std::vector<Frame> frames;
  for (int i = 0; i < kCount; ++i)
    out.push_back(eth_ipv4(kMacB, kMacA, kBeyond, kHostB, static_cast<std::uint16_t>(2000 + i)));
  for (auto& b : out) frames.push_back(Frame{b.data(), static_cast<std::uint32_t>(b.size())});
  std::size_t sent = 0;
  for (int round = 0; round < 100 && sent < frames.size(); ++round) {
    sent += port_->tx_burst(std::span<const Frame>(frames).subspan(
        sent, std::min<std::size_t>(64, frames.size() - sent)));
    port_->tx_flush();
  }
  ASSERT_EQ(sent, frames.size());
  int got = 0;
  while (got < kCount) {
    auto f = peer.recv(2s);
    if (!f) break;
    if (net::eth_type(f->data()) == 0x0800 && f->size() >= 14 + 20 && (*f)[14 + 9] == 17) ++got;
  }
  EXPECT_EQ(got, kCount);
  EXPECT_EQ(port_->stats().tx_frames, static_cast<std::uint64_t>(kCount));

  // Invalid frames are counted drops, not sent.
  Bytes tiny(10, 0);
  const Frame bad{tiny.data(), 10};
  EXPECT_EQ(port_->tx_burst({&bad, 1}), 1u);
  EXPECT_EQ(port_->stats().tx_invalid, 1u);
}

TEST_F(AfXdpTest, ArpAndHostTrafficGoToTheKernel) {
  // A UDP datagram from b to a's own address: b resolves a by ARP (the kernel answers; the port's
  // ARP tap sees the request), and a's kernel socket receives the datagram, not the port.
  int rx_fd = -1;
  {
    NetnsGuard in(ns_a_);
    rx_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(5555);
    a.sin_addr.s_addr = htonl(kHostA.value());
    ASSERT_EQ(::bind(rx_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  {
    NetnsGuard in(ns_b_);
    const int tx_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(5555);
    a.sin_addr.s_addr = htonl(kHostA.value());
    for (int i = 0; i < 3; ++i) {
      (void)::sendto(tx_fd, "host", 4, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
      if (test::wait_readable(rx_fd, 1s)) break;
    }
    ::close(tx_fd);
  }
  char buf[16];
  const ssize_t n = ::recv(rx_fd, buf, sizeof buf, MSG_DONTWAIT);
  ::close(rx_fd);
  EXPECT_EQ(n, 4) << "the kernel did not receive the host's own datagram";
  const Seen s = drain(500ms, 1);
  EXPECT_EQ(s.ipv4, 0) << "the host's own traffic went to the port";
  EXPECT_GE(s.arp, 1) << "the ARP tap did not see b's ARP request";
  EXPECT_GE(port_->program_counts().passed, 2u);  // the ARP request and the datagram at least

  // Broadcast IPv4 (not to the interface's MAC) passes too.
  RawSocket peer(ns_b_, kIfB);
  peer.send(eth_ipv4(MacAddress::broadcast(), kMacB, kHostB, kBeyond, 9));
  EXPECT_EQ(drain(300ms, 1).ipv4, 0);
}

TEST_F(AfXdpTest, ClosingThePortDetachesTheProgram) {
  EXPECT_NE(capture("ip -n " + ns_a_ + " link show " + kIfA).find("xdp"), std::string::npos);
  // A second port on the same interface finds the program attached and says so.
  {
    NetnsGuard in(ns_a_);
    try {
      (void)open_af_xdp(kIfA);
      ADD_FAILURE() << "a second XDP program was attached";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EBUSY) << e.what();
    }
  }
  port_.reset();
  EXPECT_EQ(capture("ip -n " + ns_a_ + " link show " + kIfA).find("xdp"), std::string::npos);
}

}  // namespace
}  // namespace natgw::io
