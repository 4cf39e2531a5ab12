#include "control/config_text.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>

namespace natgw::control::detail {
namespace {

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

struct SpecialBlock {
  net::Prefix prefix;
  std::string_view description;
};

constexpr std::array<SpecialBlock, 5> kSpecialBlocks = {{
    {net::Prefix{net::Ipv4{0, 0, 0, 0}, 8}, "\"this network\" 0.0.0.0/8"},
    {net::Prefix{net::Ipv4{127, 0, 0, 0}, 8}, "loopback 127.0.0.0/8"},
    {net::Prefix{net::Ipv4{169, 254, 0, 0}, 16}, "link-local 169.254.0.0/16"},
    {net::Prefix{net::Ipv4{224, 0, 0, 0}, 4}, "multicast 224.0.0.0/4"},
    {net::Prefix{net::Ipv4{240, 0, 0, 0}, 4}, "reserved 240.0.0.0/4 (broadcast included)"},
}};

}  // namespace

std::optional<net::Ipv4> parse_ipv4(std::string_view s, std::string& problem) {
  const auto a = net::Ipv4::parse(s);
  if (!a) {
    problem = "is not an IPv4 address";
    return std::nullopt;
  }
  // Parsed, so exactly four groups of digits.
  std::size_t start = 0;
  while (start < s.size()) {
    const auto dot = s.find('.', start);
    const auto octet = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (octet.size() > 1 && octet.front() == '0') {
      problem =
          "is not an IPv4 address (leading zeros are ambiguous: some tools read them as octal)";
      return std::nullopt;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return a;
}

std::optional<net::Prefix> parse_prefix(std::string_view s, std::string& problem) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) {
    problem = "is not a prefix (no /length)";
    return std::nullopt;
  }
  std::string address_problem;
  const auto addr = parse_ipv4(s.substr(0, slash), address_problem);
  if (!addr) {
    problem = fmt::format("is not a prefix ({} {})", shown(s.substr(0, slash)), address_problem);
    return std::nullopt;
  }
  const auto digits = s.substr(slash + 1);
  unsigned len = 33;
  if (all_digits(digits) && digits.size() <= 2) {
    len = 0;
    for (char c : digits) len = len * 10 + static_cast<unsigned>(c - '0');
  }
  if (len > 32) {
    problem = "is not a prefix (the length must be 0..32)";
    return std::nullopt;
  }
  const net::Prefix p{*addr, static_cast<std::uint8_t>(len)};
  if (p.address() != *addr) {
    problem = fmt::format("has host bits set (did you mean {}?)", text(p));
    return std::nullopt;
  }
  return p;
}

std::optional<net::Endpoint> parse_endpoint(std::string_view s, std::string& problem) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    problem = "has no port";
    return std::nullopt;
  }
  const auto host = s.substr(0, colon);
  std::string host_problem;
  const auto addr = parse_ipv4(host, host_problem);
  if (!addr) {
    problem = fmt::format("has no IPv4 host ({} {})", shown(host), host_problem);
    return std::nullopt;
  }
  const auto digits = s.substr(colon + 1);
  if (!all_digits(digits)) {
    problem = fmt::format("has no valid port ({} is not a number)", shown(digits));
    return std::nullopt;
  }
  std::uint32_t port = 0;
  for (char c : digits) {
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
    if (port > 65535) {
      problem = fmt::format("has port {}, out of range", digits);
      return std::nullopt;
    }
  }
  return net::Endpoint{*addr, static_cast<std::uint16_t>(port)};
}

std::optional<bool> parse_bool(std::string_view s, std::string& problem) {
  if (s == "true") return true;
  if (s == "false") return false;
  problem = "is not true or false";
  return std::nullopt;
}

std::optional<vnet::NextHopType> parse_next_hop_type(std::string_view s, std::string& problem) {
  for (std::size_t i = 0; i < vnet::kNextHopTypeCount; ++i) {
    const auto t = static_cast<vnet::NextHopType>(i);
    if (t != vnet::NextHopType::service_endpoint && s == vnet::name(t)) return t;
  }
  problem = "is not a next hop type";
  return std::nullopt;
}

std::optional<vnet::RuleDirection> parse_direction(std::string_view s, std::string& problem) {
  if (s == "inbound") return vnet::RuleDirection::inbound;
  if (s == "outbound") return vnet::RuleDirection::outbound;
  problem = "is not a direction";
  return std::nullopt;
}

std::optional<vnet::Access> parse_access(std::string_view s, std::string& problem) {
  if (s == "allow") return vnet::Access::allow;
  if (s == "deny") return vnet::Access::deny;
  problem = "is not an access";
  return std::nullopt;
}

std::optional<vnet::Protocol> parse_protocol(std::string_view s, std::string& problem) {
  for (auto p : {vnet::Protocol::any, vnet::Protocol::tcp, vnet::Protocol::udp, vnet::Protocol::icmp}) {
    if (s == vnet::name(p)) return p;
  }
  problem = "is not a protocol";
  return std::nullopt;
}

std::optional<net::Prefix> parse_address_or_prefix(std::string_view s, std::string& problem) {
  if (s.find('/') != std::string_view::npos) return parse_prefix(s, problem);
  if (const auto a = parse_ipv4(s, problem)) return net::Prefix{*a, 32};
  problem = "is not an address or a prefix";
  return std::nullopt;
}

std::optional<vnet::AddressMatch> parse_address_match(std::string_view s, std::string& problem) {
  using K = vnet::AddressMatch::Kind;
  if (s == "any") return vnet::AddressMatch{K::any, {}};
  if (s == "virtual_network") return vnet::AddressMatch{K::virtual_network, {}};
  if (s == "internet") return vnet::AddressMatch{K::internet, {}};
  if (s == "azure_load_balancer") return vnet::AddressMatch{K::azure_load_balancer, {}};
  std::string inner;
  if (const auto p = parse_address_or_prefix(s, inner)) return vnet::AddressMatch{K::prefix, *p};
  problem = s.find('/') != std::string_view::npos ? inner
                                                   : "is not an address, a prefix or a service tag";
  return std::nullopt;
}

std::optional<vnet::PortRange> parse_port_range(std::string_view s, std::string& problem) {
  if (s == "any") return vnet::PortRange{};
  const auto dash = s.find('-');
  const auto one = [](std::string_view d) -> std::optional<std::uint16_t> {
    if (!all_digits(d) || d.size() > 5) return std::nullopt;
    std::uint32_t v = 0;
    for (char c : d) v = v * 10 + static_cast<std::uint32_t>(c - '0');
    if (v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
  };
  const auto first = one(s.substr(0, dash));
  const auto last = dash == std::string_view::npos ? first : one(s.substr(dash + 1));
  if (!first || !last) {
    problem = "is not a port or a port range";
    return std::nullopt;
  }
  if (*first > *last) {
    problem = "is a range that ends before it starts";
    return std::nullopt;
  }
  return vnet::PortRange{*first, *last};
}

std::string text(net::Ipv4 a) {
  return std::string{a.text().view()};
}

std::string text(const net::Prefix& p) {
  return fmt::format("{}/{}", text(p.address()), p.length());
}

std::string text(const net::Endpoint& e) {
  return fmt::format("{}:{}", text(e.addr), e.port);
}

std::string in_quotes(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string shown(std::string_view s) {
  if (s.empty()) return in_quotes(s);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == '\\') return in_quotes(s);
  }
  return std::string{s};
}

std::optional<std::string_view> special_use(const net::Prefix& p) {
  for (const auto& b : kSpecialBlocks) {
    if (b.prefix.overlaps(p)) return b.description;
  }
  return std::nullopt;
}

namespace allowed {

std::string profile() {
  return "azure, aws, gcp, rfc or custom";
}

std::string gateway_name() {
  return "1..64 characters: letters, digits, '-', '_' or '.', starting with a letter or digit";
}

std::string idle_timeout(const ProfileRules& r, Profile p) {
  if (!r.idle_configurable) {
    return fmt::format("no idle_timeout_minutes with profile {} (it fixes the TCP idle timeout)",
                       name(p));
  }
  return fmt::format("{}..{} (profile {})", r.idle_min_minutes, r.idle_max_minutes, name(p));
}

std::string public_ip() {
  return "a unicast IPv4 address such as 203.0.113.10, outside every attached subnet";
}

std::string public_ip_prefix(const ProfileRules& r, Profile p) {
  std::string lengths;
  for (unsigned len = r.prefix_min_length; len <= r.prefix_max_length; ++len) {
    if (!lengths.empty()) lengths += len == r.prefix_max_length ? " or " : ", ";
    lengths += fmt::format("/{}", len);
  }
  return fmt::format("{} (profile {})", lengths, name(p));
}

std::string public_ip_count(const ProfileRules& r, Profile p) {
  return fmt::format(
      "1..{} public addresses in public_ips and public_ip_prefixes together (profile {})",
      r.max_public_ips, name(p));
}

std::string subnet() {
  return "a private prefix a.b.c.d/len inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or "
         "100.64.0.0/10";
}

std::string interface_name() {
  return "1..15 characters: letters, digits, '-', '_' or '.'";
}

std::string backend() {
  return "af_packet, af_xdp";
}

std::string ip_selection() {
  return "per_connection (a random public IP for each connection), per_host (one public IP for "
         "each inside host)";
}

std::string steering() {
  return "auto (flow, unless the engine needs all of a host's packets on one worker), flow (by "
         "source address and port), host (by source address)";
}

std::string next_hop() {
  return "the IPv4 address of the next router, such as 198.51.100.2";
}

std::string api_listen() {
  return "IPV4:PORT with a port in 1..65535, such as 127.0.0.1:9490";
}

std::string flow_logs_enabled() {
  return "true, false";
}

std::string flow_logs_path() {
  return "an absolute file path, such as /var/log/natgw/flows.jsonl, or - for standard output";
}

std::string flow_logs_max_bytes() {
  return fmt::format("{}..{} (4 KiB .. 64 GiB)", kFlowLogMaxBytesMin, kFlowLogMaxBytesMax);
}

std::string flow_logs_keep() {
  return fmt::format("0..{} (rotated files kept besides the current one)", kFlowLogKeepMax);
}

std::string flow_logs_rate() {
  return fmt::format("1..{} (records per second)", kFlowLogRateMax);
}

std::string workers() {
  return fmt::format(
      "an integer in 1..{}: datapath threads, each with its own slice of the SNAT ports",
      kMaxWorkers);
}

std::string cpu() {
  return fmt::format("a CPU number in 0..{}, one per worker, each CPU once", kMaxCpu);
}

std::string network_section() {
  return "a map with keys address_space, default_outbound_access, route_tables, security_groups, "
         "private_endpoints, service_endpoints, instance_public_ips, load_balancer_outbound_rules";
}

std::string resource_name() {
  return "1..64 characters: letters, digits, '-', '_' or '.', starting with a letter or digit";
}

std::string address_space() {
  return "a prefix a.b.c.d/len such as 10.0.0.0/16, outside 0.0.0.0/8, 127.0.0.0/8, "
         "169.254.0.0/16, 224.0.0.0/4 and 240.0.0.0/4";
}

std::string network_subnet() {
  return "a prefix a.b.c.d/len inside the virtual network's address space (network.address_space, "
         "else the attached subnets)";
}

std::string default_outbound_access() {
  return "true, false";
}

std::string route_prefix() {
  return "a prefix a.b.c.d/len such as 0.0.0.0/0 or 198.51.100.0/24";
}

std::string next_hop_type() {
  return "internet, virtual_appliance, virtual_network, virtual_network_gateway, none";
}

std::string next_hop_address() {
  return "an IPv4 address inside the virtual network's address space, such as 10.0.0.4, with "
         "next_hop_type virtual_appliance or virtual_network_gateway only";
}

std::string priority() {
  return "100..4096, each priority once per direction in a security group";
}

std::string direction() {
  return "inbound, outbound";
}

std::string access() {
  return "allow, deny";
}

std::string protocol() {
  return "any, tcp, udp, icmp";
}

std::string lb_protocol() {
  return "any, tcp, udp";
}

std::string address_match() {
  return "any, virtual_network, internet, azure_load_balancer, an address such as 203.0.113.80 "
         "or a prefix such as 203.0.113.0/24; one or a list";
}

std::string port_range() {
  return "any, a port such as 443 or a range such as 8000-8999 (0..65535); one or a list";
}

std::string endpoint_address() {
  return "an IPv4 address inside the virtual network's address space, such as 10.0.2.5";
}

std::string service_prefix() {
  return "a prefix a.b.c.d/len outside the virtual network's address space, such as "
         "192.0.2.0/24";
}

std::string host_address() {
  return "the IPv4 address of a host inside the virtual network's address space, such as 10.0.1.4";
}

std::string method_public_ip() {
  return "a unicast IPv4 address outside the virtual network's address space and not one of the "
         "gateway's public IPs, such as 198.51.100.50";
}

std::string backend_prefix() {
  return "an address or prefix inside the virtual network's address space, such as 10.0.1.0/24";
}

}  // namespace allowed
}  // namespace natgw::control::detail
