#include "lab/topology.hpp"

#include <sys/random.h>

#include <array>
#include <cstdio>

namespace natgw::lab {

std::string_view to_string(GatewayMode m) {
  switch (m) {
    case GatewayMode::natgw:
      return "natgw";
    case GatewayMode::kernel:
      return "kernel";
    case GatewayMode::none:
      return "none";
  }
  return "?";
}

std::optional<GatewayMode> parse_gateway_mode(std::string_view s) {
  if (s == "natgw") return GatewayMode::natgw;
  if (s == "kernel") return GatewayMode::kernel;
  if (s == "none") return GatewayMode::none;
  return std::nullopt;
}

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

std::vector<std::string> validate(const LabSpec& spec) {
  std::vector<std::string> errors;
  bool chars_ok = !spec.name.empty() && spec.name.front() != '-' && spec.name.back() != '-';
  for (char c : spec.name) chars_ok = chars_ok && name_char(c);
  if (!chars_ok || spec.name.size() > kMaxNameLength) {
    errors.push_back("--name '" + spec.name + "': 1 to " + std::to_string(kMaxNameLength) +
                     " characters of a-z, 0-9 and '-', not starting or ending with '-'");
  }
  if (spec.vms < 1 || spec.vms > kMaxVms) {
    errors.push_back("--vms " + std::to_string(spec.vms) + ": must be 1.." +
                     std::to_string(kMaxVms));
  }
  if (spec.public_ips < 1 || spec.public_ips > kMaxPublicIps) {
    errors.push_back("--public-ips " + std::to_string(spec.public_ips) + ": must be 1.." +
                     std::to_string(kMaxPublicIps));
  }
  if (!spec.flow_log.empty()) {
    if (spec.flow_log != "-" && spec.flow_log.front() != '/') {
      errors.push_back("--flow-log '" + spec.flow_log +
                       "': an absolute file path, or - for the gateway's standard output");
    } else if (spec.gateway != GatewayMode::natgw) {
      errors.push_back("--flow-log '" + spec.flow_log + "': only with --gateway natgw");
    }
  }
  if (spec.backend != "af_packet" && spec.backend != "af_xdp") {
    errors.push_back("--backend '" + spec.backend + "': af_packet or af_xdp");
  }
  return errors;
}

std::string random_lab_name() {
  std::array<unsigned char, 2> bytes{};
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    bytes = {0, 0};
  }
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "lab%02x%02x", bytes[0], bytes[1]);
  return buf.data();
}

std::string vm_ns(const std::string& lab, int i) {
  return lab + "-vm" + std::to_string(i);
}
std::string switch_ns(const std::string& lab) {
  return lab + "-sw";
}
std::string gateway_ns(const std::string& lab) {
  return lab + "-gw";
}
std::string internet_ns(const std::string& lab) {
  return lab + "-inet";
}

std::vector<std::string> all_namespaces(const LabSpec& spec) {
  std::vector<std::string> names;
  for (int i = 1; i <= spec.vms; ++i) names.push_back(vm_ns(spec.name, i));
  names.push_back(switch_ns(spec.name));
  names.push_back(gateway_ns(spec.name));
  names.push_back(internet_ns(spec.name));
  return names;
}

namespace {

// "vm<digits>", "sw", "gw" or "inet".
bool is_role(std::string_view role) {
  if (role == "sw" || role == "gw" || role == "inet") return true;
  if (role.size() < 3 || role.substr(0, 2) != "vm") return false;
  if (role[2] == '0') return false;
  for (char c : role.substr(2)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> lab_of_namespace(std::string_view ns) {
  const auto dash = ns.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  if (!is_role(ns.substr(dash + 1))) return std::nullopt;
  return std::string(ns.substr(0, dash));
}

bool is_namespace_of(std::string_view ns, std::string_view lab) {
  return ns.size() > lab.size() + 1 && ns.substr(0, lab.size()) == lab && ns[lab.size()] == '-' &&
         is_role(ns.substr(lab.size() + 1));
}

std::string vm_address(int i) {
  return "10.0.0." + std::to_string(10 + i);
}

std::vector<std::string> public_ip_list(int count) {
  std::vector<std::string> ips;
  for (int i = 0; i < count; ++i) ips.push_back("203.0.113." + std::to_string(10 + i));
  return ips;
}

std::uint16_t iperf_port(int vm) {
  return static_cast<std::uint16_t>(kIperfBasePort + vm);
}

int iperf_servers(const LabSpec& spec) {
  return spec.vms < kMaxIperfServers ? spec.vms : kMaxIperfServers;
}

}  // namespace natgw::lab
