// sd_notify protocol, written from the protocol description in sd_notify(3) and
// systemd.service(5); see sd_notify.hpp.
#include "daemon/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace natgw::daemon {
namespace {

// Closes the descriptor on every path out of notify().
class Socket {
 public:
  Socket() : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

int notify(std::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || env[0] == '\0') return 0;
  const std::string_view name(env);

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t len = 0;
  if (name.front() == '/') {
    // A path: it must fit with its terminating NUL.
    if (name.size() >= sizeof addr.sun_path) return -EINVAL;
    std::memcpy(addr.sun_path, name.data(), name.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
  } else if (name.front() == '@') {
    // Abstract namespace: a leading NUL instead of '@', and the address length (not a NUL) ends
    // the name.
    if (name.size() > sizeof addr.sun_path) return -EINVAL;
    addr.sun_path[0] = '\0';
    std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  } else {
    return -EINVAL;  // e.g. vsock:CID:PORT (systemd >= 254): not supported
  }

  const Socket sock;
  if (sock.get() < 0) return -errno;
  const ssize_t sent = ::sendto(sock.get(), state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&addr), len);
  if (sent < 0) return -errno;
  if (static_cast<std::size_t>(sent) != state.size()) return -EMSGSIZE;
  return 1;
}

int notify_ready() { return notify("READY=1"); }

int notify_reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

int notify_stopping() { return notify("STOPPING=1"); }

int notify_status(std::string_view text) {
  std::string msg = "STATUS=";
  msg.reserve(msg.size() + text.size());
  for (const char c : text) msg += (c == '\n' || c == '\r') ? ' ' : c;
  return notify(msg);
}

}  // namespace natgw::daemon
