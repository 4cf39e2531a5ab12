#include "lab/echo_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "net/types.hpp"

namespace natgw::lab {

std::string echo_line(std::uint32_t addr, std::uint16_t port) {
  std::string s(net::Ipv4{addr}.text().view());
  s += ':';
  s += std::to_string(port);
  s += '\n';
  return s;
}

namespace {

std::string line_for(const sockaddr_in& peer) {
  return echo_line(ntohl(peer.sin_addr.s_addr), ntohs(peer.sin_port));
}

bool parse_listen(const std::string& text, sockaddr_in& sa) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  const auto addr = net::Ipv4::parse(std::string_view(text).substr(0, colon));
  unsigned port = 0;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [p, ec] = std::from_chars(first, last, port);
  if (!addr || ec != std::errc{} || p != last || first == last || port > 65535) return false;
  sa = sockaddr_in{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(addr->value());
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  return true;
}

// As many descriptors as the hard limit allows: every held connection costs one.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int bound_socket(int type, const sockaddr_in& sa, std::ostream& log) {
  const int fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log << "echo-server: socket: " << std::strerror(errno) << "\n";
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    log << "echo-server: bind: " << std::strerror(errno) << "\n";
    ::close(fd);
    return -1;
  }
  if (type == SOCK_DGRAM) ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  if (type == SOCK_STREAM && ::listen(fd, 4096) != 0) {
    log << "echo-server: listen: " << std::strerror(errno) << "\n";
    ::close(fd);
    return -1;
  }
  return fd;
}

class EchoServer {
 public:
  EchoServer(int tcp, int udp, int sig, int epoll) : tcp_(tcp), udp_(udp), sig_(sig), ep_(epoll) {}

  void run() {
    std::array<epoll_event, 256> events{};
    for (;;) {
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == sig_) return;
        if (fd == tcp_) {
          accept_all();
        } else if (fd == udp_) {
          answer_datagrams();
        } else {
          drain(fd);
        }
      }
    }
  }

 private:
  void accept_all() {
    for (;;) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      const int fd =
          ::accept4(tcp_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          shed_one();
          continue;
        }
        return;  // EAGAIN: all accepted
      }
      const std::string line = line_for(peer);
      // A fresh socket's send buffer is empty, so the short line goes out whole or not at all.
      const ssize_t sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      if (sent != static_cast<ssize_t>(line.size()) || ::shutdown(fd, SHUT_WR) != 0 ||
          ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
      }
    }
  }

  // Out of descriptors: accept the pending connection into the reserve descriptor's place and
  // close it at once, so the listening socket does not stay readable forever.
  void shed_one() {
    ::close(reserve_);
    const int fd = ::accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ::close(fd);
    reserve_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  // Each answer leaves from the address the datagram was sent to (IP_PKTINFO): the server
  // listens on 0.0.0.0 in a namespace with several addresses, and a client's connected UDP
  // socket accepts answers only from the address it sent to.
  void answer_datagrams() {
    std::array<char, 2048> buf{};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> control{};
    for (;;) {
      sockaddr_in peer{};
      iovec iov{buf.data(), buf.size()};
      msghdr msg{};
      msg.msg_name = &peer;
      msg.msg_namelen = sizeof peer;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      const ssize_t got = ::recvmsg(udp_, &msg, 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN: all answered
      }
      std::string line = line_for(peer);
      iovec out_iov{line.data(), line.size()};
      msghdr out{};
      out.msg_name = &peer;
      out.msg_namelen = sizeof peer;
      out.msg_iov = &out_iov;
      out.msg_iovlen = 1;
      alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> out_control{};
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO) continue;
        in_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        in_pktinfo reply{};
        reply.ipi_spec_dst = info.ipi_addr;  // source of the answer: where the datagram went
        out.msg_control = out_control.data();
        out.msg_controllen = out_control.size();
        cmsghdr* oc = CMSG_FIRSTHDR(&out);
        oc->cmsg_level = IPPROTO_IP;
        oc->cmsg_type = IP_PKTINFO;
        oc->cmsg_len = CMSG_LEN(sizeof reply);
        std::memcpy(CMSG_DATA(oc), &reply, sizeof reply);
      }
      ::sendmsg(udp_, &out, MSG_DONTWAIT);
    }
  }

  // Discards what a client sends; closes on its EOF or an error.
  void drain(int fd) {
    std::array<char, 4096> buf{};
    for (;;) {
      const ssize_t got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (got > 0) continue;
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
      ::close(fd);
      return;
    }
  }

  int tcp_;
  int udp_;
  int sig_;
  int ep_;
  int reserve_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
};

}  // namespace

int run_echo_server(const std::string& listen, std::ostream& log) {
  sockaddr_in sa{};
  if (!parse_listen(listen, sa)) {
    log << "echo-server: --listen '" << listen << "': expected IPV4:PORT, e.g. 0.0.0.0:7\n";
    return 1;
  }
  raise_fd_limit();
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  ::sigprocmask(SIG_BLOCK, &stop, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);  // a reload signal meant for the gateway must not stop a server
  const int sig = ::signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
  const int tcp = bound_socket(SOCK_STREAM, sa, log);
  const int udp = bound_socket(SOCK_DGRAM, sa, log);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (sig < 0 || tcp < 0 || udp < 0 || ep < 0) return 1;
  for (int fd : {sig, tcp, udp}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      log << "echo-server: epoll_ctl: " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  log << "echo-server: answering on tcp and udp " << listen << "\n" << std::flush;
  EchoServer(tcp, udp, sig, ep).run();
  log << "echo-server: stopped\n" << std::flush;
  return 0;
}

}  // namespace natgw::lab
