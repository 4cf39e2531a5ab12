#include "daemon/host.hpp"

#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "io/host.hpp"

namespace natgw::daemon {

std::vector<net::Ipv4> interface_addresses(const std::string& ifname) {
  std::vector<net::Ipv4> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET || ifname != a->ifa_name) {
      continue;
    }
    sockaddr_in sin;
    std::memcpy(&sin, a->ifa_addr, sizeof sin);
    out.push_back(net::Ipv4{ntohl(sin.sin_addr.s_addr)});
  }
  ::freeifaddrs(list);
  return out;
}

std::optional<bool> gro_enabled(const std::string& ifname) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  ethtool_value ev{};
  ev.cmd = ETHTOOL_GGRO;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  const int rc = ::ioctl(fd, SIOCETHTOOL, &ifr);
  ::close(fd);
  if (rc != 0) return std::nullopt;
  return ev.data != 0;
}

namespace {

std::optional<bool> interface_up(const std::string& ifname) {
  std::ifstream f("/sys/class/net/" + ifname + "/flags");
  unsigned long flags = 0;
  if (!(f >> std::hex >> flags)) return std::nullopt;
  return (flags & IFF_UP) != 0;
}

}  // namespace

std::optional<std::string> offload_warning(const std::string& ifname, bool port_offloads) {
  // With PACKET_VNET_HDR natgw forwards GRO/GSO super-frames whole: offloads cost nothing.
  if (port_offloads || !gro_enabled(ifname).value_or(false)) return std::nullopt;
  return "this kernel refused PACKET_VNET_HDR on " + ifname +
         " and generic receive offload is on: merged frames larger than the MTU are dropped "
         "(reason oversize). Turn it off with `ethtool -K " + ifname + " gro off`";
}

HostCheck check_host(const std::string& inside, const std::string& outside) {
  HostCheck c;
  if (inside == outside) {
    c.errors.push_back("the inside and outside interface are both " + inside +
                       ": natgw needs two interfaces");
  }
  for (const auto& [role, name] : {std::pair{"inside", inside}, std::pair{"outside", outside}}) {
    const auto up = interface_up(name);
    if (!up) {
      c.errors.push_back(std::string(role) + " interface " + name +
                         " does not exist in this network namespace (see `ip link`)");
      continue;
    }
    if (!*up) {
      c.errors.push_back(std::string(role) + " interface " + name +
                         " is down: bring it up with `ip link set " + name + " up`");
    }
    if (io::interface_forwarding_enabled(name)) {
      c.errors.push_back("IPv4 forwarding is on for " + name +
                         ": the kernel would forward the packets natgw translates. Turn it off "
                         "with `sysctl -w net.ipv4.conf." + name + ".forwarding=0` (or "
                         "net.ipv4.ip_forward=0)");
    }
  }
  return c;
}

}  // namespace natgw::daemon
