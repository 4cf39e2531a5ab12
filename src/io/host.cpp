#include "io/host.hpp"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace natgw::io {
namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_;
};

constexpr std::size_t nl_align(std::size_t n) noexcept {
  return (n + NLMSG_ALIGNTO - 1) & ~std::size_t{NLMSG_ALIGNTO - 1};
}
constexpr std::size_t rta_align(std::size_t n) noexcept {
  return (n + RTA_ALIGNTO - 1) & ~std::size_t{RTA_ALIGNTO - 1};
}

constexpr std::uint16_t kUsableStates =
    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

// Parses one RTM_NEWNEIGH message body; returns the MAC when it is the entry asked for.
std::optional<net::MacAddress> match_neighbor(const std::uint8_t* body, std::size_t len,
                                              int ifindex, net::Ipv4 ip) {
  ndmsg nd{};
  if (len < sizeof nd) return std::nullopt;
  std::memcpy(&nd, body, sizeof nd);
  if (nd.ndm_family != AF_INET || nd.ndm_ifindex != ifindex ||
      (nd.ndm_state & kUsableStates) == 0) {
    return std::nullopt;
  }
  std::optional<net::Ipv4> dst;
  std::optional<net::MacAddress> mac;
  std::size_t off = nl_align(sizeof nd);
  while (off + sizeof(rtattr) <= len) {
    rtattr a{};
    std::memcpy(&a, body + off, sizeof a);
    if (a.rta_len < sizeof a || off + a.rta_len > len) break;
    const std::uint8_t* payload = body + off + rta_align(sizeof a);
    const std::size_t plen = a.rta_len - rta_align(sizeof a);
    if (a.rta_type == NDA_DST && plen == 4) {
      dst = net::Ipv4{payload[0], payload[1], payload[2], payload[3]};
    } else if (a.rta_type == NDA_LLADDR && plen == 6) {
      mac = net::MacAddress::from(payload);
    }
    off += rta_align(a.rta_len);
  }
  if (dst != ip || !mac || mac->is_zero()) return std::nullopt;
  return mac;
}

}  // namespace

bool interface_forwarding_enabled(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname == "." || ifname == ".." ||
      ifname.find('/') != std::string::npos) {
    fail(EINVAL, "interface '" + ifname + "': not a valid interface name");
  }
  const std::string path = "/proc/sys/net/ipv4/conf/" + ifname + "/forwarding";
  std::ifstream in(path);
  if (!in) {
    const int err = errno != 0 ? errno : ENOENT;
    if (err == ENOENT)
      fail(err, "interface '" + ifname + "': no such interface in this network namespace");
    fail(err, "cannot read " + path);
  }
  int value = 0;
  if (!(in >> value)) fail(EIO, "cannot parse " + path);
  return value != 0;
}

std::optional<net::MacAddress> kernel_neighbor(int ifindex, net::Ipv4 ip) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (fd.get() < 0) fail(errno, "cannot open an rtnetlink socket");
  const timeval timeout{1, 0};  // every receive is bounded
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  struct {
    nlmsghdr nh;
    ndmsg nd;
  } req{};
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = RTM_GETNEIGH;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = 1;
  req.nd.ndm_family = AF_INET;  // the whole IPv4 table; filtered here (neighbour tables are small)
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &req, sizeof req, 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    fail(errno, "rtnetlink: cannot request the neighbour table");
  }

  std::optional<net::MacAddress> found;
  std::array<std::uint8_t, 32768> buf{};
  for (;;) {
    const ssize_t r = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(errno, "rtnetlink: cannot read the neighbour table");
    }
    const auto n = static_cast<std::size_t>(r);
    std::size_t off = 0;
    while (off + sizeof(nlmsghdr) <= n) {
      nlmsghdr h{};
      std::memcpy(&h, buf.data() + off, sizeof h);
      if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > n) break;
      if (h.nlmsg_type == NLMSG_DONE) {
        int err = 0;  // a dump that failed ends with DONE carrying the negative errno
        if (h.nlmsg_len >= sizeof h + sizeof err)
          std::memcpy(&err, buf.data() + off + sizeof h, sizeof err);
        if (err < 0) fail(-err, "rtnetlink: neighbour dump failed");
        return found;
      }
      if (h.nlmsg_type == NLMSG_ERROR) {
        nlmsgerr e{};
        if (h.nlmsg_len >= sizeof h + sizeof e)
          std::memcpy(&e, buf.data() + off + sizeof h, sizeof e);
        fail(e.error < 0 ? -e.error : EPROTO, "rtnetlink: neighbour dump failed");
      }
      if (h.nlmsg_type == RTM_NEWNEIGH && !found) {
        found = match_neighbor(buf.data() + off + nl_align(sizeof h),
                               h.nlmsg_len - nl_align(sizeof h), ifindex, ip);
      }
      off += nl_align(h.nlmsg_len);
    }
  }
}

}  // namespace natgw::io
