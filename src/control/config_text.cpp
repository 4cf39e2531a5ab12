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
  return "azure (profiles aws, gcp and custom come in a later version)";
}

std::string gateway_name() {
  return "1..64 characters: letters, digits, '-', '_' or '.', starting with a letter or digit";
}

std::string idle_timeout(const ProfileRules& r, Profile p) {
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

std::string next_hop() {
  return "the IPv4 address of the next router, such as 198.51.100.2";
}

std::string api_listen() {
  return "IPV4:PORT with a port in 1..65535, such as 127.0.0.1:9490";
}

}  // namespace allowed
}  // namespace natgw::control::detail
