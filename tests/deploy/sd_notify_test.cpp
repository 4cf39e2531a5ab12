// src/daemon/sd_notify: the datagrams it sends to a socket the test binds, as a path and in the
// abstract namespace, and that it is a no-op or a clean error when it has nowhere to send.
#include "daemon/sd_notify.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

namespace natgw::daemon {
namespace {

namespace fs = std::filesystem;

// A datagram socket bound like systemd's notification socket; NOTIFY_SOCKET names it while the
// test runs.
class NotifySocket {
 public:
  // name: "/path" or "@abstract".
  explicit NotifySocket(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t len;
    if (name[0] == '@') {
      std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    } else {
      std::memcpy(addr.sun_path, name.c_str(), name.size() + 1);
      len = static_cast<socklen_t>(sizeof addr);
    }
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
      throw std::runtime_error("bind " + name + ": " + std::strerror(errno));
    }
    const timeval timeout{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // The next datagram, or nullopt after 2 s.
  std::optional<std::string> receive() const {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }
  // True when no datagram is waiting.
  bool empty() const {
    char c;
    return ::recv(fd_, &c, 1, MSG_DONTWAIT) < 0;
  }

 private:
  int fd_ = -1;
};

class SdNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("NOTIFY_SOCKET");
    std::string tmpl = (fs::temp_directory_path() / "natgw-sdnotify-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string abstract_name() const {
    return "@natgw-sdnotify-test-" + std::to_string(::getpid()) + "-" + dir_.filename().string();
  }
  fs::path dir_;
};

TEST_F(SdNotify, NoOpWithoutNotifySocket) {
  EXPECT_EQ(notify_ready(), 0);
  EXPECT_EQ(notify_reloading(), 0);
  EXPECT_EQ(notify_stopping(), 0);
  EXPECT_EQ(notify_status("anything"), 0);
  ::setenv("NOTIFY_SOCKET", "", 1);
  EXPECT_EQ(notify_ready(), 0);
}

TEST_F(SdNotify, PathSocketGetsEachMessage) {
  const NotifySocket sock((dir_ / "notify").string());
  EXPECT_EQ(notify_ready(), 1);
  EXPECT_EQ(sock.receive(), "READY=1");
  EXPECT_EQ(notify_stopping(), 1);
  EXPECT_EQ(sock.receive(), "STOPPING=1");
  EXPECT_EQ(notify_status("running: gateway natgw-demo, 1 public IP"), 1);
  EXPECT_EQ(sock.receive(), "STATUS=running: gateway natgw-demo, 1 public IP");
  EXPECT_EQ(notify("READY=1\nSTATUS=two fields"), 1);
  EXPECT_EQ(sock.receive(), "READY=1\nSTATUS=two fields");
  EXPECT_TRUE(sock.empty());
}

TEST_F(SdNotify, AbstractSocketGetsEachMessage) {
  const NotifySocket sock(abstract_name());
  EXPECT_EQ(notify_ready(), 1);
  EXPECT_EQ(sock.receive(), "READY=1");
  EXPECT_EQ(notify_stopping(), 1);
  EXPECT_EQ(sock.receive(), "STOPPING=1");
}

TEST_F(SdNotify, ReloadingCarriesTheMonotonicClock) {
  const NotifySocket sock((dir_ / "notify").string());
  timespec before{}, after{};
  ::clock_gettime(CLOCK_MONOTONIC, &before);
  EXPECT_EQ(notify_reloading(), 1);
  ::clock_gettime(CLOCK_MONOTONIC, &after);
  const auto msg = sock.receive();
  ASSERT_TRUE(msg.has_value());
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  ASSERT_EQ(msg->rfind(prefix, 0), 0u) << *msg;
  const auto usec = std::stoull(msg->substr(prefix.size()));
  const auto to_usec = [](const timespec& t) {
    return static_cast<unsigned long long>(t.tv_sec) * 1000000ULL + static_cast<unsigned long long>(t.tv_nsec) / 1000ULL;
  };
  EXPECT_GE(usec, to_usec(before));
  EXPECT_LE(usec, to_usec(after));
  // A reload ends with READY=1 again, as systemd expects.
  EXPECT_EQ(notify_ready(), 1);
  EXPECT_EQ(sock.receive(), "READY=1");
}

TEST_F(SdNotify, StatusIsOneLine) {
  const NotifySocket sock((dir_ / "notify").string());
  EXPECT_EQ(notify_status("line one\nline two\r\n"), 1);
  EXPECT_EQ(sock.receive(), "STATUS=line one line two  ");
}

TEST_F(SdNotify, ErrorsAreReportedNotThrown) {
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_EQ(notify_ready(), -EINVAL);
  ::setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
  EXPECT_EQ(notify_ready(), -EINVAL);
  ::setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
  EXPECT_EQ(notify_ready(), -EINVAL);
  ::setenv("NOTIFY_SOCKET", ("@" + std::string(200, 'x')).c_str(), 1);
  EXPECT_EQ(notify_ready(), -EINVAL);
  // Nobody listens there.
  ::setenv("NOTIFY_SOCKET", (dir_ / "missing").c_str(), 1);
  EXPECT_EQ(notify_ready(), -ENOENT);
  ::setenv("NOTIFY_SOCKET", (abstract_name() + "-missing").c_str(), 1);
  EXPECT_EQ(notify_ready(), -ECONNREFUSED);
}

TEST_F(SdNotify, LongestPathFits) {
  // sun_path holds 108 bytes: a 107-character path and its NUL.
  const std::string base = (dir_ / "").string();
  ASSERT_LT(base.size(), 100u);
  const std::string path = base + std::string(107 - base.size(), 's');
  ASSERT_EQ(path.size(), 107u);
  const NotifySocket sock(path);
  EXPECT_EQ(notify_ready(), 1);
  EXPECT_EQ(sock.receive(), "READY=1");
}

}  // namespace
}  // namespace natgw::daemon
