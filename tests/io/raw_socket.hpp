// Test support: a plain packet socket (no ring) on one interface of a test namespace, to send
// and receive single frames from the peer side of a veth (io/netns.hpp).
#pragma once

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "io/netns.hpp"

namespace natgw::test {

class RawSocket {
 public:
  using Bytes = std::vector<std::uint8_t>;

  RawSocket(const std::string& ns, const std::string& ifname) {
    NetnsGuard in(ns);
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "raw socket");
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
      throw std::system_error(errno, std::generic_category(), "bind raw socket");
    }
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  ~RawSocket() { ::close(fd_); }

  void send(const Bytes& f) {
    ASSERT_EQ(::send(fd_, f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
  }
  // The next frame received (not sent) on the interface, or nullopt after `timeout`.
  // `outgoing` also returns frames sent on the interface (by anyone).
  std::optional<Bytes> recv(std::chrono::milliseconds timeout, bool outgoing = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait_readable(fd_, left)) return std::nullopt;
      Bytes b(65536);
      sockaddr_ll from{};
      socklen_t fl = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 0) return std::nullopt;
      if (from.sll_pkttype == PACKET_OUTGOING && !outgoing) continue;
      b.resize(static_cast<std::size_t>(n));
      return b;
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace natgw::test
