#include "lab/netns.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <thread>

namespace natgw::lab {

std::vector<std::string> list_netns() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kNetnsDir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool netns_exists(const std::string& ns) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(kNetnsDir) / ns, ec);
}

Argv in_netns(const std::string& ns, Argv argv) {
  if (!argv.empty() && argv[0].find('/') == std::string::npos) {
    if (auto p = find_program(argv[0])) argv[0] = *p;
  }
  Argv full{"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

std::vector<pid_t> netns_pids(const std::string& ns) {
  const CommandResult r = run({"ip", "netns", "pids", ns}, std::chrono::seconds{5});
  std::vector<pid_t> pids;
  if (!r.ok()) return pids;
  std::istringstream in(r.out);
  long pid = 0;
  while (in >> pid) {
    if (pid > 1 && pid != ::getpid()) pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

namespace {

bool connect_here(const std::string& addr, std::uint16_t port, std::chrono::milliseconds timeout) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) return false;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace

bool tcp_connects(const std::string& ns, const std::string& addr, std::uint16_t port,
                  std::chrono::milliseconds timeout) {
  bool ok = false;
  std::thread probe([&] {
    const std::string path = std::string(kNetnsDir) + "/" + ns;
    const int nsfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return;
    const bool joined = ::setns(nsfd, CLONE_NEWNET) == 0;
    ::close(nsfd);
    if (joined) ok = connect_here(addr, port, timeout);
  });
  probe.join();
  return ok;
}

}  // namespace natgw::lab
