// Host queries (forwarding flag, kernel neighbour table) inside a test namespace.
#include "io/host.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <system_error>
#include <thread>

#include "io/netns.hpp"

namespace natgw::io {
namespace {

using test::NetnsGuard;
using test::VethPairTest;

class HostTest : public VethPairTest {};

TEST_F(HostTest, ReadsThePerInterfaceForwardingFlag) {
  NetnsGuard in(ns_a_);
  ASSERT_TRUE(test::write_proc("/proc/sys/net/ipv4/conf/nt0/forwarding", "1"));
  EXPECT_TRUE(interface_forwarding_enabled(kIfA));
  ASSERT_TRUE(test::write_proc("/proc/sys/net/ipv4/conf/nt0/forwarding", "0"));
  EXPECT_FALSE(interface_forwarding_enabled(kIfA));
}

TEST_F(HostTest, ForwardingFlagOfAMissingInterfaceThrows) {
  NetnsGuard in(ns_a_);
  try {
    (void)interface_forwarding_enabled("natgw-nope0");
    FAIL() << "expected std::system_error";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("'natgw-nope0': no such interface"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)interface_forwarding_enabled("../all"), std::system_error);
  EXPECT_THROW((void)interface_forwarding_enabled(""), std::system_error);
}

TEST_F(HostTest, FindsKernelNeighbours) {
  ASSERT_EQ(test::run({"ip", "-n", ns_a_, "neigh", "replace", "10.77.0.50", "lladdr",
                       "02:00:5e:00:00:50", "dev", kIfA, "nud", "permanent"}),
            0);
  ASSERT_EQ(test::run({"ip", "-n", ns_a_, "neigh", "replace", "10.77.0.51", "dev", kIfA, "nud",
                       "incomplete"}),
            0);
  NetnsGuard in(ns_a_);
  const int ifindex = static_cast<int>(if_nametoindex(kIfA));
  const auto mac = kernel_neighbor(ifindex, net::Ipv4{10, 77, 0, 50});
  ASSERT_TRUE(mac);
  EXPECT_EQ(*mac, (net::MacAddress{0x02, 0x00, 0x5e, 0x00, 0x00, 0x50}));
  EXPECT_FALSE(kernel_neighbor(ifindex, net::Ipv4{10, 77, 0, 51}));        // incomplete: no MAC
  EXPECT_FALSE(kernel_neighbor(ifindex, net::Ipv4{10, 77, 0, 99}));        // absent
  EXPECT_FALSE(kernel_neighbor(ifindex + 100, net::Ipv4{10, 77, 0, 50}));  // other interface
}

TEST_F(HostTest, FindsTheNeighbourThatTheKernelResolved) {
  NetnsGuard in(ns_a_);
  // A datagram from a to b (10.77.0.2) makes a's kernel resolve b with ARP.
  EXPECT_EQ(test::send_udp_to_9(ns_a_, 0x0A4D0002, "x", 1), 1);
  const int ifindex = static_cast<int>(if_nametoindex(kIfA));
  std::optional<net::MacAddress> mac;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!mac && std::chrono::steady_clock::now() < deadline) {
    mac = kernel_neighbor(ifindex, net::Ipv4{10, 77, 0, 2});
    if (!mac) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(mac);
  EXPECT_EQ(*mac, kMacB);
}

}  // namespace
}  // namespace natgw::io
