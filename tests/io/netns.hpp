// Test support: a pair of network namespaces joined by a veth, created per test and removed in
// TearDown (which GoogleTest runs even when the test fails). Names carry the pid and a random
// suffix so concurrent runs do not collide: natgw-t-<pid>-<hex>-a / -b. Interfaces are created
// directly inside the namespaces (nt0 in a, nt1 in b), so they never appear in the host's
// namespace. Traffic stays on that veth: 10.77.0.1/24 (a) and 10.77.0.2/24 (b).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/ethernet.hpp"

extern char** environ;

namespace natgw::test {

// Runs a program (PATH lookup, no shell) with its output discarded; returns its exit status,
// or -1 when it could not be started.
inline int run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Puts the calling thread into a network namespace (by `ip netns` name) until destruction.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& name) {
    self_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (self_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
      if (target >= 0) ::close(target);
      throw std::runtime_error("cannot enter network namespace " + name);
    }
    ::close(target);
  }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  ~NetnsGuard() {
    if (self_ >= 0) {
      if (::setns(self_, CLONE_NEWNET) != 0) std::perror("setns back");
      ::close(self_);
    }
  }

 private:
  int self_ = -1;
};

inline bool write_proc(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  f << value;
  return static_cast<bool>(f.flush());
}

// Sends one UDP datagram to port 9 of `to` (host byte order, such as 0x0A4D0002 for 10.77.0.2)
// from the stack of namespace `ns`; returns what sendto returned (-1 when no socket opened).
inline ssize_t send_udp_to_9(const std::string& ns, std::uint32_t to, const void* data,
                             std::size_t len) {
  NetnsGuard in(ns);
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(9);
  dst.sin_addr.s_addr = htonl(to);
  const ssize_t n = ::sendto(s, data, len, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  ::close(s);
  return n;
}

// Waits until `fd` is readable or `timeout` passed. Every wait in these tests is bounded.
inline bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

class VethPairTest : public ::testing::Test {
 public:
  static constexpr const char* kIfA = "nt0";
  static constexpr const char* kIfB = "nt1";
  static inline const net::MacAddress kMacA{0x02, 0x4e, 0x47, 0x00, 0x00, 0x0a};
  static inline const net::MacAddress kMacB{0x02, 0x4e, 0x47, 0x00, 0x00, 0x0b};

 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, packet sockets)";
    if (run({"ip", "-V"}) != 0) GTEST_SKIP() << "needs the `ip` command (iproute2)";
    std::random_device rd;
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%06x", rd() & 0xFFFFFF);
    const std::string base = "natgw-t-" + std::to_string(::getpid()) + "-" + suffix;
    ns_a_ = base + "-a";
    ns_b_ = base + "-b";
    ASSERT_EQ(run({"ip", "netns", "add", ns_a_}), 0);
    created_a_ = true;
    ASSERT_EQ(run({"ip", "netns", "add", ns_b_}), 0);
    created_b_ = true;
    // No IPv6 (router solicitations, MLD) on the test link: only the tests' own traffic.
    for (const auto& ns : {ns_a_, ns_b_}) {
      NetnsGuard in(ns);
      write_proc("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
      write_proc("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    }
    ASSERT_EQ(run({"ip", "link", "add", kIfA, "netns", ns_a_, "type", "veth", "peer", "name", kIfB,
                   "netns", ns_b_}),
              0);
    ASSERT_EQ(run({"ip", "-n", ns_a_, "link", "set", kIfA, "address", text(kMacA)}), 0);
    ASSERT_EQ(run({"ip", "-n", ns_b_, "link", "set", kIfB, "address", text(kMacB)}), 0);
    ASSERT_EQ(run({"ip", "-n", ns_a_, "addr", "add", "10.77.0.1/24", "dev", kIfA}), 0);
    ASSERT_EQ(run({"ip", "-n", ns_b_, "addr", "add", "10.77.0.2/24", "dev", kIfB}), 0);
    ASSERT_EQ(run({"ip", "-n", ns_a_, "link", "set", kIfA, "up"}), 0);
    ASSERT_EQ(run({"ip", "-n", ns_b_, "link", "set", kIfB, "up"}), 0);
  }

  void TearDown() override {
    // Deleting a namespace deletes the veth with it.
    if (created_a_) run({"ip", "netns", "del", ns_a_});
    if (created_b_) run({"ip", "netns", "del", ns_b_});
  }

  static std::string text(const net::MacAddress& m) { return std::string(m.text().view()); }

  std::string ns_a_, ns_b_;

 private:
  bool created_a_ = false;
  bool created_b_ = false;
};

}  // namespace natgw::test
