#include "sim/packets.hpp"

#include <cstring>

#include "net/checksum.hpp"
#include "net/packet.hpp"

namespace natgw::sim {
namespace {

constexpr std::uint8_t kTtl = 64;

void write_ip(std::uint8_t* b, net::Ipv4 src, net::Ipv4 dst, std::uint8_t proto,
              std::uint16_t total) noexcept {
  std::memset(b, 0, net::kIpv4MinHeader);
  b[0] = 0x45;
  net::put_be16(b + 2, total);
  b[8] = kTtl;
  b[9] = proto;
  net::put_be32(b + 12, src.value());
  net::put_be32(b + 16, dst.value());
  net::store16(b + 10, net::checksum(b, net::kIpv4MinHeader));
}

}  // namespace

std::uint16_t write_tcp(std::uint8_t* buf, net::Endpoint src, net::Endpoint dst, std::uint8_t flags,
                        std::uint32_t seq, std::uint32_t ack, std::uint16_t payload) noexcept {
  const auto total = static_cast<std::uint16_t>(net::kIpv4MinHeader + net::kTcpMinHeader + payload);
  write_ip(buf, src.addr, dst.addr, static_cast<std::uint8_t>(net::Proto::tcp), total);
  std::uint8_t* t = buf + net::kIpv4MinHeader;
  std::memset(t, 0, net::kTcpMinHeader + payload);
  net::put_be16(t, src.port);
  net::put_be16(t + 2, dst.port);
  net::put_be32(t + 4, seq);
  net::put_be32(t + 8, ack);
  t[12] = 5 << 4;
  t[13] = flags;
  net::put_be16(t + 14, 65535);
  net::store16(t + 16, net::transport_checksum(buf));
  return total;
}

std::uint16_t write_udp(std::uint8_t* buf, net::Endpoint src, net::Endpoint dst,
                        std::uint16_t payload) noexcept {
  const auto l4 = static_cast<std::uint16_t>(net::kUdpHeader + payload);
  const auto total = static_cast<std::uint16_t>(net::kIpv4MinHeader + l4);
  write_ip(buf, src.addr, dst.addr, static_cast<std::uint8_t>(net::Proto::udp), total);
  std::uint8_t* u = buf + net::kIpv4MinHeader;
  std::memset(u, 0, l4);
  net::put_be16(u, src.port);
  net::put_be16(u + 2, dst.port);
  net::put_be16(u + 4, l4);
  std::uint16_t c = net::transport_checksum(buf);
  if (c == 0) c = 0xFFFF;
  net::store16(u + 6, c);
  return total;
}

net::Endpoint source_of(const std::uint8_t* ip) noexcept {
  const std::size_t ihl = std::size_t{ip[0] & 0x0Fu} * 4;
  return {net::Ipv4{net::get_be32(ip + 12)}, net::get_be16(ip + ihl)};
}

}  // namespace natgw::sim
