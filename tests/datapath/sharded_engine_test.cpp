// The SPEC rules with two workers: two engines, each with its shard of the configuration
// (shard_config), behind the same steering as the daemon's fanout programs (owner_of_inside for
// frames from the inside, owner_of_port for frames from the outside). What holds for one engine
// must hold for the gateway as a whole.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "datapath/shard.hpp"
#include "nat/engine.hpp"
#include "net/packet.hpp"
#include "support/packets.hpp"

namespace natgw::test {
namespace {

using namespace std::chrono_literals;
using nat::Action;
using nat::Direction;
using nat::DropReason;
using net::Ipv4;

const Ipv4 kPub{203, 0, 113, 10};
const Ipv4 kServer{198, 51, 100, 80};

nat::EngineConfig whole_config() {
  nat::EngineConfig c = nat::azure_profile();
  c.public_ips = {kPub};
  c.subnets = {*net::Prefix::parse("10.0.0.0/16")};
  c.limits.max_connections = 100'000;
  c.seed = 7;
  return c;
}

struct Sent {
  nat::Verdict verdict;
  Bytes packet;
  std::size_t worker = 0;
  [[nodiscard]] bool forwarded() const { return verdict.action == Action::forward; }
  [[nodiscard]] std::uint16_t sport() const { return rd16(&packet[20]); }
  [[nodiscard]] std::uint16_t dport() const { return rd16(&packet[22]); }
};

class Sharded {
 public:
  Sharded(const nat::EngineConfig& whole, std::size_t n,
          datapath::InsideSteering steering = datapath::InsideSteering::flow)
      : whole_(whole), steering_(steering) {
    for (std::size_t i = 0; i < n; ++i)
      engines.push_back(std::make_unique<nat::Engine>(datapath::shard_config(whole, i, n)));
  }

  // The worker the kernel would give this packet to (what the fanout programs compute: tested
  // against them in steering_test.cpp).
  std::size_t owner(const Bytes& p, Direction d) const {
    const std::size_t n = engines.size();
    const bool fragment = (rd16(&p[6]) & 0x3FFF) != 0;
    if (d == Direction::out) {
      if (steering_ == datapath::InsideSteering::host || fragment)
        return datapath::owner_of_inside(Ipv4{rd32(&p[12])}, 0, n);
      std::uint16_t port = 0;
      if (p[9] == 6 || p[9] == 17) port = rd16(&p[20]);
      const bool error = p[9] == 1 && (p[20] == 3 || p[20] == 11 || p[20] == 12);
      if (error && (p[28 + 9] == 6 || p[28 + 9] == 17)) port = rd16(&p[28 + 20 + 2]);
      return datapath::owner_of_inside(Ipv4{rd32(&p[12])}, port, n);
    }
    const auto& lim = whole_.limits;
    if (p[9] == 1 && p[20] == 0)  // echo reply: the identifier
      return datapath::owner_of_port(rd16(&p[24]), lim.port_min, lim.port_max, n);
    if (p[9] == 1 && p[28 + 9] == 1)  // an error about an echo request: its identifier
      return datapath::owner_of_port(rd16(&p[20 + 8 + 20 + 4]), lim.port_min, lim.port_max, n);
    if (p[9] == 1)
      return datapath::owner_of_port(rd16(&p[20 + 8 + 20]), lim.port_min, lim.port_max, n);
    return datapath::owner_of_port(rd16(&p[22]), lim.port_min, lim.port_max, n);
  }
  Sent send(Bytes p, Direction d) {
    Sent s;
    s.worker = owner(p, d);
    s.verdict = engines[s.worker]->translate(p.data(), p.size(), d, now);
    p.resize(s.verdict.action == Action::drop ? p.size() : s.verdict.len);
    s.packet = std::move(p);
    return s;
  }
  Sent tcp_out(Ipv4 host, std::uint16_t sport, std::uint16_t dport, std::uint8_t flags) {
    return send(PacketBuilder().ipv4(host, kServer).tcp(sport, dport, flags, 1000, 0).build(),
                Direction::out);
  }
  Sent tcp_in(std::uint16_t sport, std::uint16_t pub_port, std::uint8_t flags) {
    return send(PacketBuilder().ipv4(kServer, kPub).tcp(sport, pub_port, flags, 5000, 1001).build(),
                Direction::in);
  }
  std::uint64_t drops(DropReason r) const {
    std::uint64_t t = 0;
    for (const auto& e : engines) t += e->counters().drop(r);
    return t;
  }

  nat::EngineConfig whole_;
  datapath::InsideSteering steering_;
  std::vector<std::unique_ptr<nat::Engine>> engines;
  nat::Time now = std::chrono::hours(1);
};

// Hosts that the hash gives to worker 0 and to worker 1.
std::pair<Ipv4, Ipv4> one_host_per_worker() {
  Ipv4 a{}, b{};
  for (std::uint8_t i = 2; i < 250 && (a.value() == 0 || b.value() == 0); ++i) {
    const Ipv4 h{10, 0, 0, i};
    (datapath::owner_of_inside(h, 0, 2) == 0 ? a : b) = h;
  }
  return {a, b};
}

TEST(Shards, SlicesAreDisjointCoverTheRangeAndShareTheLimits) {
  for (std::size_t n : {1u, 2u, 3u, 16u}) {
    const auto whole = whole_config();
    std::uint32_t next = whole.limits.port_min, conns = 0, per_dest = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = datapath::shard_config(whole, i, n);
      EXPECT_EQ(c.limits.port_min, next) << n << " workers, worker " << i;
      for (std::uint32_t p : {std::uint32_t{c.limits.port_min}, std::uint32_t{c.limits.port_max}}) {
        EXPECT_EQ(datapath::owner_of_port(static_cast<std::uint16_t>(p), whole.limits.port_min,
                                          whole.limits.port_max, n),
                  i);
      }
      next = c.limits.port_max + 1u;
      conns += c.limits.max_connections;
      per_dest += c.limits.per_destination;
    }
    EXPECT_EQ(next, 65536u);
    EXPECT_EQ(conns, whole.limits.max_connections);
    EXPECT_EQ(per_dest, whole.limits.per_destination);
  }
  EXPECT_THROW((void)datapath::shard_config(whole_config(), 2, 2), std::invalid_argument);
}

TEST(Shards, OutboundAndReturnTrafficFindTheirOwnerAndTheRulesHold) {
  Sharded g(whole_config(), 2);
  const auto [h0, h1] = one_host_per_worker();
  std::set<std::uint16_t> ports;
  for (const Ipv4 h : {h0, h1}) {
    for (std::uint16_t s = 40000; s < 40050; ++s) {
      const Sent syn = g.tcp_out(h, s, 443, kSyn);
      ASSERT_TRUE(syn.forwarded());
      EXPECT_EQ(Ipv4{rd32(&syn.packet[12])}, kPub);
      EXPECT_TRUE(ports.insert(syn.sport()).second)
          << "two live flows never share the outside 5-tuple";
      // The public port lies in the slice of the worker that made the flow, so the answer goes
      // back to it.
      const Sent synack = g.tcp_in(443, syn.sport(), kSyn | kAck);
      EXPECT_EQ(synack.worker, syn.worker);
      ASSERT_TRUE(synack.forwarded());
      EXPECT_EQ(Ipv4{rd32(&synack.packet[16])}, h);
      EXPECT_EQ(synack.dport(), s);
    }
  }
  // Unsolicited inbound is dropped, whichever worker gets it.
  for (std::uint16_t p : {std::uint16_t{2000}, std::uint16_t{60000}}) {
    if (ports.count(p)) continue;
    EXPECT_FALSE(g.tcp_in(443, p, kAck).forwarded());
  }
  EXPECT_GE(g.drops(DropReason::unsolicited_inbound) + g.drops(DropReason::no_flow), 2u);
  // SMTP stays blocked on every worker.
  EXPECT_EQ(g.tcp_out(h0, 41000, 25, kSyn).verdict.reason, DropReason::smtp_blocked);
  EXPECT_EQ(g.tcp_out(h1, 41000, 25, kSyn).verdict.reason, DropReason::smtp_blocked);
}

TEST(Shards, AnIcmpErrorReachesTheWorkerOfTheFlowItQuotes) {
  Sharded g(whole_config(), 2);
  const auto [h0, h1] = one_host_per_worker();
  for (const Ipv4 h : {h0, h1}) {
    const Sent out =
        g.send(PacketBuilder().ipv4(h, kServer).udp(5000, 53).payload("q").build(), Direction::out);
    ASSERT_TRUE(out.forwarded());
    const Bytes quoted =
        PacketBuilder().ipv4(kPub, kServer).udp(out.sport(), 53).payload("q").build();
    const Sent err = g.send(icmp_error(kServer, kPub, 3, 3, quoted), Direction::in);
    EXPECT_EQ(err.worker, out.worker);
    ASSERT_TRUE(err.forwarded());
    EXPECT_EQ(Ipv4{rd32(&err.packet[16])}, h);
  }
}

// The per-destination limit (connections per public IP to one destination) is split between the
// workers: together they never exceed it. Steered by host, a host's connections are all on one
// worker, so one host alone reaches only its worker's share (documented in src/control/README.md).
TEST(Shards, ThePerDestinationLimitHoldsForTheGatewayAsAWhole) {
  auto whole = whole_config();
  whole.limits.per_destination = 10;
  Sharded g(whole, 2, datapath::InsideSteering::host);
  const auto [h0, h1] = one_host_per_worker();
  std::size_t opened = 0;
  for (const Ipv4 h : {h0, h1}) {
    std::size_t mine = 0;
    for (std::uint16_t s = 30000; s < 30008; ++s) {
      const Sent syn = g.tcp_out(h, s, 443, kSyn);
      if (syn.forwarded()) {
        ++mine;
      } else {
        EXPECT_EQ(syn.verdict.reason, DropReason::connection_limit);
      }
    }
    EXPECT_EQ(mine, 5u) << "a host reaches its worker's share";
    opened += mine;
  }
  EXPECT_EQ(opened, 10u) << "the gateway's limit, not more";
  EXPECT_EQ(g.drops(DropReason::connection_limit), 6u);
}

// Steered by flow, one host's connections to one destination spread over the workers by source
// port, and it alone reaches the whole per-destination limit, not more.
TEST(Shards, SteeredByFlowOneHostReachesTheWholePerDestinationLimit) {
  auto whole = whole_config();
  whole.limits.per_destination = 10;
  Sharded g(whole, 2);
  std::size_t opened = 0;
  std::set<std::size_t> workers;
  for (std::uint16_t s = 30000; s < 30040; ++s) {
    const Sent syn = g.tcp_out(Ipv4{10, 0, 0, 11}, s, 443, kSyn);
    if (syn.forwarded()) {
      ++opened;
      workers.insert(syn.worker);
      const Sent synack = g.tcp_in(443, syn.sport(), kSyn | kAck);
      EXPECT_EQ(synack.worker, syn.worker);
      EXPECT_TRUE(synack.forwarded());
    } else {
      EXPECT_EQ(syn.verdict.reason, DropReason::connection_limit);
    }
  }
  EXPECT_EQ(opened, 10u) << "the gateway's limit, reached by one host";
  EXPECT_EQ(workers.size(), 2u);
  EXPECT_EQ(g.drops(DropReason::connection_limit), 30u);
}

// What explain and the state file's restore ask: the owner of a connection, as steered.
TEST(Shards, TheOwnerOfAConnectionFollowsTheSteering) {
  const Ipv4 h{10, 0, 0, 11};
  for (std::uint16_t port = 40000; port < 40016; ++port) {
    EXPECT_EQ(datapath::owner_of_connection(datapath::InsideSteering::flow, h, port, true, 3),
              datapath::owner_of_inside(h, port, 3));
    EXPECT_EQ(datapath::owner_of_connection(datapath::InsideSteering::flow, h, port, false, 3),
              datapath::owner_of_inside(h, 0, 3))
        << "ICMP: by address";
    EXPECT_EQ(datapath::owner_of_connection(datapath::InsideSteering::host, h, port, true, 3),
              datapath::owner_of_inside(h, 0, 3));
  }
}

// Steered by flow, an inside host's ICMP error about a datagram it received reaches the worker
// of the flow it quotes (by the quoted destination port, the host's), which translates it.
TEST(Shards, AnInsideHostsIcmpErrorReachesTheWorkerOfTheFlowItQuotes) {
  Sharded g(whole_config(), 2);
  const Ipv4 host{10, 0, 0, 11};
  std::set<std::size_t> workers;
  for (std::uint16_t s = 40000; s < 40016; ++s) {
    const Sent out =
        g.send(PacketBuilder().ipv4(host, kServer).udp(s, 53).payload("q").build(), Direction::out);
    ASSERT_TRUE(out.forwarded());
    workers.insert(out.worker);
    const Sent in =
        g.send(PacketBuilder().ipv4(kServer, kPub).udp(53, out.sport()).payload("a").build(),
               Direction::in);
    ASSERT_TRUE(in.forwarded());
    const Sent err = g.send(icmp_error(host, kServer, 3, 3, in.packet), Direction::out);
    EXPECT_EQ(err.worker, out.worker);
    ASSERT_TRUE(err.forwarded());
    EXPECT_EQ(Ipv4{rd32(&err.packet[12])}, kPub);
  }
  EXPECT_EQ(workers.size(), 2u);
}

// ICMP echo (profiles that translate it; aws is steered by host): the request goes to a worker
// by its source address, the reply comes back to the same worker by its identifier, the public
// "port" that worker allocated from its slice; so does a router's error about the request.
TEST(Shards, AnIcmpEchoReplyReachesTheWorkerThatTranslatedTheRequest) {
  nat::EngineConfig whole = nat::aws_profile();
  whole.public_ips = {kPub};
  whole.subnets = {*net::Prefix::parse("10.0.0.0/16")};
  Sharded g(whole, 2, datapath::InsideSteering::host);
  const auto [h0, h1] = one_host_per_worker();
  for (const Ipv4 h : {h0, h1}) {
    const Sent req = g.send(PacketBuilder().ipv4(h, kServer).icmp(8, 0, (77u << 16) | 1).build(),
                            Direction::out);
    ASSERT_TRUE(req.forwarded());
    const std::uint16_t id = rd16(&req.packet[24]);
    const Sent reply = g.send(
        PacketBuilder().ipv4(kServer, kPub).icmp(0, 0, (std::uint32_t{id} << 16) | 1).build(),
        Direction::in);
    EXPECT_EQ(reply.worker, req.worker);
    ASSERT_TRUE(reply.forwarded());
    EXPECT_EQ(Ipv4{rd32(&reply.packet[16])}, h);
    EXPECT_EQ(rd16(&reply.packet[24]), 77);
    // Time exceeded, quoting the translated request.
    const Sent err = g.send(icmp_error(kServer, kPub, 11, 0, req.packet), Direction::in);
    EXPECT_EQ(err.worker, req.worker);
    ASSERT_TRUE(err.forwarded());
    EXPECT_EQ(Ipv4{rd32(&err.packet[16])}, h);
  }
}

TEST(Shards, AnIdleExpiredFlowIsAnsweredWithAnRstByItsOwner) {
  Sharded g(whole_config(), 2);
  const auto [h0, h1] = one_host_per_worker();
  (void)h0;
  const Sent syn = g.tcp_out(h1, 40000, 443, kSyn);
  ASSERT_TRUE(g.tcp_in(443, syn.sport(), kSyn | kAck).forwarded());
  ASSERT_TRUE(g.tcp_out(h1, 40000, 443, kAck).forwarded());
  g.now += 5min;
  const Sent late = g.tcp_in(443, syn.sport(), kAck);
  EXPECT_EQ(late.worker, syn.worker);
  EXPECT_EQ(late.verdict.action, Action::reply);
  EXPECT_EQ(late.verdict.reason, DropReason::flow_expired);
}

// Saved flows go back to the worker that owns their public port, and keep working there.
TEST(Shards, SavedFlowsAreRestoredToTheOwnerOfTheirPort) {
  Sharded before(whole_config(), 2);
  const auto [h0, h1] = one_host_per_worker();
  std::vector<std::pair<Ipv4, std::uint16_t>> flows;
  for (const Ipv4 h : {h0, h1}) {
    const Sent syn = before.tcp_out(h, 40000, 443, kSyn);
    ASSERT_TRUE(before.tcp_in(443, syn.sport(), kSyn | kAck).forwarded());
    ASSERT_TRUE(before.tcp_out(h, 40000, 443, kAck).forwarded());
    flows.emplace_back(h, syn.sport());
  }
  std::vector<nat::SavedFlow> saved;
  for (const auto& e : before.engines) {
    const auto part = e->save_flows();
    saved.insert(saved.end(), part.begin(), part.end());
  }
  Sharded after(whole_config(), 2);
  std::vector<std::vector<nat::SavedFlow>> parts(2);
  for (const auto& f : saved)
    parts[datapath::owner_of_port(f.public_endpoint.port, 1024, 65535, 2)].push_back(f);
  std::size_t restored = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    const auto r = after.engines[i]->restore_flows(parts[i], 1s, after.now);
    restored += r.restored_live;
    EXPECT_TRUE(r.dropped.empty());
  }
  EXPECT_EQ(restored, 2u);
  for (const auto& [h, port] : flows) {
    const Sent back = after.tcp_in(443, port, kAck);
    ASSERT_TRUE(back.forwarded());
    EXPECT_EQ(Ipv4{rd32(&back.packet[16])}, h);
  }
}

}  // namespace
}  // namespace natgw::test
