#include "daemon/host.hpp"

#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

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
         "(reason oversize). Turn it off with `ethtool -K " +
         ifname + " gro off`";
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

std::string ingress_discard_ruleset(const std::string& inside, const std::string& outside,
                                    const std::vector<net::Ipv4>& inside_addresses,
                                    const std::vector<net::Ipv4>& public_ips) {
  const auto set = [](const std::vector<net::Ipv4>& v) {
    std::string s = "{ ";
    for (std::size_t i = 0; i < v.size(); ++i)
      s += (i ? ", " : "") + std::string(v[i].text().view());
    return s + " }";
  };
  std::string r = "table netdev natgw\ndelete table netdev natgw\ntable netdev natgw {\n";
  r += "  chain inside {\n    type filter hook ingress device \"" + inside +
       "\" priority -500; policy accept;\n    meta protocol ip meta pkttype host ";
  r += inside_addresses.empty() ? "drop\n" : "ip daddr != " + set(inside_addresses) + " drop\n";
  r += "  }\n";
  if (!public_ips.empty()) {
    r += "  chain outside {\n    type filter hook ingress device \"" + outside +
         "\" priority -500; policy accept;\n    meta protocol ip ip daddr " + set(public_ips) +
         " drop\n  }\n";
  }
  return r + "}\n";
}

std::string run_nft(const std::string& ruleset) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) posix_spawn_file_actions_adddup2(&fa, devnull, 1);
  char arg0[] = "nft", arg1[] = "-f", arg2[] = "-";
  char* argv[] = {arg0, arg1, arg2, nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "nft", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  if (devnull >= 0) ::close(devnull);
  if (rc != 0) {
    ::close(in[1]);
    return std::string("cannot run nft (package nftables): ") + std::strerror(rc);
  }
  const ssize_t w = ::write(in[1], ruleset.data(), ruleset.size());
  ::close(in[1]);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {  // 10 s at most
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (w != static_cast<ssize_t>(ruleset.size())) return "nft: could not pass the rules";
      return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : "nft refused the rules";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return "nft did not finish within 10 s";
}

}  // namespace natgw::daemon
