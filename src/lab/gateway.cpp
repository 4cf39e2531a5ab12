#include "lab/gateway.hpp"

#include <sstream>

namespace natgw::lab {

std::string render_natgw_config(const LabSpec& spec) {
  std::ostringstream c;
  c << "# natgw configuration of lab " << spec.name << " (written by `natgw lab up`)\n"
    << "profile: " << spec.profile << "\n"
    << "gateway:\n"
    << "  name: " << spec.name << "\n";
  // The other profiles fix their TCP idle timeout (src/nat/README.md "Profiles").
  if (spec.profile == "azure" || spec.profile == "custom") c << "  idle_timeout_minutes: 4\n";
  c << "  public_ips: [";
  const auto ips = public_ip_list(spec.public_ips);
  for (std::size_t i = 0; i < ips.size(); ++i) c << (i ? ", " : "") << ips[i];
  c << "]\n"
    << "  public_ip_prefixes: []\n"
    << "  subnets: [" << kPrivateSubnet << "]\n"
    << "interfaces:\n"
    << "  inside:  { name: " << kGwIn << ", backend: " << spec.backend << " }\n"
    << "  outside: { name: " << kGwOut << ", backend: " << spec.backend
    << ", next_hop: " << kInternetRouter << " }\n"
    << "api:\n"
    << "  listen: " << kApiListen << "\n";
  if (!spec.flow_log.empty()) {
    c << "flow_logs:\n"
      << "  enabled: true\n"
      << "  path: " << (spec.flow_log == "-" ? "'-'" : spec.flow_log) << "\n";
  }
  if (spec.workers > 1) c << "datapath:\n  workers: " << spec.workers << "\n";
  return c.str();
}

std::string render_nft_ruleset(const LabSpec& spec) {
  const auto ips = public_ip_list(spec.public_ips);
  const std::string to = ips.size() == 1 ? ips.front() : ips.front() + "-" + ips.back();
  std::ostringstream c;
  c << "# natgw lab " << spec.name << ": the kernel baseline (written by `natgw lab up`)\n"
    << "table ip natgw_lab {\n"
    << "  chain postrouting {\n"
    << "    type nat hook postrouting priority srcnat; policy accept;\n"
    << "    oifname \"" << kGwOut << "\" ip saddr " << kPrivateSubnet << " snat to " << to << "\n"
    << "  }\n"
    << "}\n";
  return c.str();
}

std::vector<std::string> gateway_sysctls(GatewayMode mode) {
  const std::string fwd = mode == GatewayMode::kernel ? "1" : "0";
  std::vector<std::string> s{"net.ipv4.ip_forward=" + fwd};
  for (const std::string dev : {"all", "default", kGwIn, kGwOut}) {
    s.push_back("net.ipv4.conf." + dev + ".forwarding=" + fwd);
    s.push_back("net.ipv4.conf." + dev + ".rp_filter=0");
  }
  return s;
}

}  // namespace natgw::lab
