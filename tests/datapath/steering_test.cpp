// The fanout steering programs on a real veth: each frame reaches the worker that owns it, as
// owner_of_port / owner_of_inside compute it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <system_error>
#include <thread>

#include "datapath/shard.hpp"
#include "io/af_packet.hpp"
#include "io/netns.hpp"
#include "net/checksum.hpp"
#include "support/packets.hpp"

namespace natgw::test {
namespace {

using namespace std::chrono_literals;

class SteeringTest : public VethPairTest {
 protected:
  // Sends an Ethernet frame from ns b to a (raw socket on the b end).
  void send_from_b(const Bytes& frame) {
    NetnsGuard in(ns_b_);
    const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    ASSERT_GE(fd, 0);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = static_cast<int>(if_nametoindex(kIfB));
    sll.sll_halen = 6;
    ASSERT_EQ(
        ::sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll),
        static_cast<ssize_t>(frame.size()));
    ::close(fd);
  }
  static Bytes eth(const Bytes& ip) {
    Bytes f(14 + ip.size());
    kMacA.write(f.data());
    kMacB.write(f.data() + 6);
    wr16(f.data() + 12, 0x0800);
    std::copy(ip.begin(), ip.end(), f.begin() + 14);
    return f;
  }
  // Which port of the group each marked frame (UDP source port `mark`) arrived on.
  static std::map<std::uint16_t, std::size_t> collect(std::vector<std::unique_ptr<io::Port>>& ports,
                                                      std::size_t expected) {
    std::map<std::uint16_t, std::size_t> got;
    std::array<io::Frame, 16> frames{};
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (got.size() < expected && std::chrono::steady_clock::now() < deadline) {
      for (std::size_t i = 0; i < ports.size(); ++i) {
        const std::size_t n = ports[i]->rx_burst(frames);
        for (std::size_t k = 0; k < n; ++k) {
          const std::uint8_t* p = frames[k].data;
          if (frames[k].len < 14 + 28 || rd16(p + 12) != 0x0800) continue;
          const std::uint8_t proto = p[23];
          if (proto == 17 || proto == 6) got[rd16(p + 34)] = i;
          if (proto == 1 && p[34] == 0) got[rd16(p + 40)] = i;  // echo reply: the sequence
          if (proto == 1 && p[34] != 0 && p[14 + 20 + 8 + 9] == 1) {  // error about an echo
            got[rd16(p + 14 + 20 + 8 + 20 + 6)] = i;                  // its sequence
            continue;
          }
          if (proto == 1 && p[34] != 0) got[rd16(p + 14 + 20 + 8 + 20)] = i;  // quoted sport
        }
        ports[i]->rx_done();
      }
      std::this_thread::sleep_for(5ms);
    }
    return got;
  }
};

TEST_F(SteeringTest, OutsideFramesReachTheOwnerOfTheirPublicPort) {
  constexpr std::size_t kWorkers = 3;
  std::vector<std::unique_ptr<io::Port>> ports;
  {
    NetnsGuard in(ns_a_);
    ports = io::open_af_packet_group(kIfA, {}, kWorkers,
                                     datapath::outside_steering_program(1024, 65535, kWorkers));
  }
  const net::Ipv4 server{10, 77, 0, 2}, pub{10, 77, 0, 1};
  // UDP to public ports across the slices; the source port marks the frame.
  const std::array<std::uint16_t, 6> dports = {1024, 5000, 22527, 22528, 45055, 65535};
  std::uint16_t mark = 100;
  std::map<std::uint16_t, std::size_t> want;
  for (const auto d : dports) {
    send_from_b(eth(PacketBuilder().ipv4(server, pub).udp(mark, d).payload("x").build()));
    want[mark++] = datapath::owner_of_port(d, 1024, 65535, kWorkers);
  }
  // An ICMP error quoting a packet from public port 45055: steered by the quoted source port.
  const Bytes quoted = PacketBuilder().ipv4(pub, server).udp(45055, 53).payload("q").build();
  send_from_b(eth(icmp_error(server, pub, 3, 3, quoted)));
  want[45055] = datapath::owner_of_port(45055, 1024, 65535, kWorkers);
  // ICMP echo replies to identifiers across the slices: steered by the identifier, which the
  // owner allocated as it allocates ports. The sequence number marks the frame.
  for (const std::uint16_t id : {std::uint16_t{1500}, std::uint16_t{30000}, std::uint16_t{60000}}) {
    send_from_b(eth(
        PacketBuilder().ipv4(server, pub).icmp(0, 0, (std::uint32_t{id} << 16) | mark).build()));
    want[mark++] = datapath::owner_of_port(id, 1024, 65535, kWorkers);
  }
  // A router's error about an echo request from identifier 60000: steered by that identifier
  // (the quoted request's sequence marks it).
  const Bytes request = PacketBuilder().ipv4(pub, server).icmp(8, 0, (60000u << 16) | mark).build();
  send_from_b(eth(icmp_error(server, pub, 11, 0, request)));
  want[mark++] = datapath::owner_of_port(60000, 1024, 65535, kWorkers);
  const auto got = collect(ports, want.size());
  EXPECT_EQ(got, want);
  EXPECT_EQ(want[100], 0u);
  EXPECT_EQ(want[109], kWorkers - 1);
  EXPECT_EQ(want[105], kWorkers - 1);
  EXPECT_EQ(want[106], 0u);
  EXPECT_EQ(want[108], kWorkers - 1);
}

TEST_F(SteeringTest, InsideFramesReachTheOwnerOfTheirSourceAddress) {
  constexpr std::size_t kWorkers = 2;
  std::vector<std::unique_ptr<io::Port>> ports;
  {
    NetnsGuard in(ns_a_);
    ports = io::open_af_packet_group(
        kIfA, {}, kWorkers, datapath::inside_steering_program(datapath::InsideSteering::host));
  }
  std::map<std::uint16_t, std::size_t> want;
  std::set<std::size_t> owners;
  for (std::uint16_t i = 0; i < 8; ++i) {
    const net::Ipv4 src{10, 0, 0, static_cast<std::uint8_t>(11 + i)};
    send_from_b(eth(PacketBuilder()
                        .ipv4(src, net::Ipv4{192, 0, 2, 10})
                        .udp(static_cast<std::uint16_t>(200 + i), 7)
                        .build()));
    want[static_cast<std::uint16_t>(200 + i)] = datapath::owner_of_inside(src, 0, kWorkers);
    owners.insert(want[static_cast<std::uint16_t>(200 + i)]);
  }
  EXPECT_EQ(owners.size(), kWorkers) << "the hash spreads these hosts";
  EXPECT_EQ(collect(ports, want.size()), want);
}

// Steered by flow, one host's TCP and UDP packets are spread by source port, and its ICMP errors
// about them follow the flow they quote; its fragments and other ICMP go where port 0 says.
TEST_F(SteeringTest, InsideFramesReachTheOwnerOfTheirSourceAddressAndPort) {
  constexpr std::size_t kWorkers = 3;
  std::vector<std::unique_ptr<io::Port>> ports;
  {
    NetnsGuard in(ns_a_);
    ports = io::open_af_packet_group(
        kIfA, {}, kWorkers, datapath::inside_steering_program(datapath::InsideSteering::flow));
  }
  const net::Ipv4 host{10, 0, 0, 11}, server{192, 0, 2, 10};
  std::map<std::uint16_t, std::size_t> want;
  std::set<std::size_t> owners;
  for (std::uint16_t sport = 40000; sport < 40012; ++sport) {
    const bool udp = sport % 2 == 0;
    PacketBuilder b;
    b.ipv4(host, server);
    if (udp) {
      b.udp(sport, 7);
    } else {
      b.tcp(sport, 80, kSyn, 1, 0);
    }
    send_from_b(eth(b.build()));
    want[sport] = datapath::owner_of_inside(host, sport, kWorkers);
    owners.insert(want[sport]);
  }
  EXPECT_EQ(owners.size(), kWorkers) << "one host's connections spread over every worker";
  // A first UDP fragment (more fragments, offset 0) has its ports, but the later ones do not:
  // every fragment goes where port 0 says.
  send_from_b(eth(PacketBuilder()
                      .ipv4(host, server)
                      .fragment(true, 0)
                      .udp(41000, 7)
                      .payload("fragment")
                      .build()));
  want[41000] = datapath::owner_of_inside(host, 0, kWorkers);
  // The host's port unreachable about a datagram to its port 40002 (marked by the quoted
  // source port, the server's): steered as the host's packets from port 40002 are.
  const Bytes quoted = PacketBuilder().ipv4(server, host).udp(42000, 40002).payload("q").build();
  send_from_b(eth(icmp_error(host, server, 3, 3, quoted)));
  want[42000] = datapath::owner_of_inside(host, 40002, kWorkers);
  ASSERT_NE(want[42000], want[41000]) << "port 0 would send it elsewhere";
  EXPECT_EQ(collect(ports, want.size()), want);
}

}  // namespace
}  // namespace natgw::test
