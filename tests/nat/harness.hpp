// A virtual-clock harness around one nat::Engine, for behaviour tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>

#include "nat/engine.hpp"
#include "support/packets.hpp"

namespace natgw::test {

using namespace std::chrono_literals;
using nat::Action;
using nat::ConnState;
using nat::Direction;
using nat::DropReason;
using nat::L4;
using net::Ipv4;

inline const Ipv4 kPub1{203, 0, 113, 10};
inline const Ipv4 kPub2{203, 0, 113, 11};
inline const Ipv4 kHostA{10, 0, 0, 4};
inline const Ipv4 kHostB{10, 0, 0, 5};
inline const Ipv4 kServer{198, 51, 100, 80};
inline const Ipv4 kServer2{198, 51, 100, 81};

inline nat::EngineConfig small_config(std::vector<Ipv4> pubs = {kPub1}) {
  nat::EngineConfig c = nat::azure_profile();
  c.public_ips = std::move(pubs);
  c.subnets = {*net::Prefix::parse("10.0.0.0/24")};
  c.limits.max_connections = 200'000;
  c.seed = 42;
  return c;
}

struct Result {
  nat::Verdict verdict;
  Bytes packet;  // as it left (or would have left) the engine
  [[nodiscard]] bool forwarded() const { return verdict.action == Action::forward; }
  [[nodiscard]] Ipv4 src() const { return Ipv4{rd32(&packet[12])}; }
  [[nodiscard]] Ipv4 dst() const { return Ipv4{rd32(&packet[16])}; }
  [[nodiscard]] std::size_t ihl() const { return std::size_t(packet[0] & 0x0F) * 4; }
  [[nodiscard]] std::uint16_t sport() const { return rd16(&packet[ihl()]); }
  [[nodiscard]] std::uint16_t dport() const { return rd16(&packet[ihl() + 2]); }
  [[nodiscard]] std::uint8_t tcp_flags() const { return packet[ihl() + 13]; }
  [[nodiscard]] net::Endpoint source() const { return {src(), sport()}; }
};

class Harness {
 public:
  explicit Harness(nat::EngineConfig c = small_config()) : engine(std::move(c)) {}

  Result send(Bytes p, Direction d) {
    Result r;
    r.verdict = engine.translate(p.data(), p.size(), d, now);
    p.resize(r.verdict.action == Action::drop ? p.size() : r.verdict.len);
    r.packet = std::move(p);
    return r;
  }
  Result out(const Bytes& p) { return send(p, Direction::out); }
  Result in(const Bytes& p) { return send(p, Direction::in); }

  // Packets of a TCP connection from `from` to `to`, as the inside host sends them.
  Result tcp_out(net::Endpoint from, net::Endpoint to, std::uint8_t flags,
                 std::uint32_t seq = 1000, std::uint32_t ack = 0) {
    return out(PacketBuilder().ipv4(from.addr, to.addr).tcp(from.port, to.port, flags, seq, ack).build());
  }
  // A packet from the server `from` to the public endpoint `pub`.
  Result tcp_in(net::Endpoint from, net::Endpoint pub, std::uint8_t flags,
                std::uint32_t seq = 5000, std::uint32_t ack = 0) {
    return in(PacketBuilder().ipv4(from.addr, pub.addr).tcp(from.port, pub.port, flags, seq, ack).build());
  }
  Result udp_out(net::Endpoint from, net::Endpoint to) {
    return out(PacketBuilder().ipv4(from.addr, to.addr).udp(from.port, to.port).payload("ping").build());
  }
  Result udp_in(net::Endpoint from, net::Endpoint pub) {
    return in(PacketBuilder().ipv4(from.addr, pub.addr).udp(from.port, pub.port).payload("pong").build());
  }

  // SYN, SYN+ACK, ACK: returns the public endpoint the connection got.
  net::Endpoint establish(net::Endpoint from, net::Endpoint to) {
    const Result syn = tcp_out(from, to, kSyn);
    EXPECT_TRUE(syn.forwarded()) << nat::name(syn.verdict.reason);
    const net::Endpoint pub = syn.source();
    EXPECT_TRUE(tcp_in(to, pub, kSyn | kAck, 5000, 1001).forwarded());
    EXPECT_TRUE(tcp_out(from, to, kAck, 1001, 5001).forwarded());
    return pub;
  }

  void advance(nat::Duration d) {
    now += d;
    engine.advance(now);
  }

  [[nodiscard]] const nat::Counters& counters() const { return engine.counters(); }
  [[nodiscard]] std::uint64_t drops(DropReason r) const { return counters().drop(r); }
  [[nodiscard]] std::uint64_t conns(L4 p, ConnState s) const { return counters().conn(p, s); }
  [[nodiscard]] std::uint64_t active(L4 p) const {
    return counters().active[static_cast<std::size_t>(p)];
  }
  [[nodiscard]] std::uint64_t holddown(L4 p) const {
    return counters().holddown[static_cast<std::size_t>(p)];
  }

  nat::Engine engine;
  nat::Time now = std::chrono::hours(1);
};

// A config whose SNAT port range is the single port 1024: makes port reuse observable.
inline nat::EngineConfig one_port_config(std::vector<Ipv4> pubs = {kPub1}) {
  auto c = small_config(std::move(pubs));
  c.limits.port_min = c.limits.port_max = 1024;
  return c;
}

}  // namespace natgw::test
