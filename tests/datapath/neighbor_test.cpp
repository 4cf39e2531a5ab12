// ARP and the neighbour table, on pure frames and a virtual clock.
#include "datapath/neighbor.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <random>
#include <vector>

namespace natgw::datapath {
namespace {

using namespace std::chrono_literals;
using net::Ipv4;
using net::MacAddress;
using Buf = std::array<std::uint8_t, kArpFrameLen>;

const MacAddress kGwMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const MacAddress kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const MacAddress kOtherMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x03};
const Ipv4 kGwAddr{198, 51, 100, 1};
const Ipv4 kPeer{198, 51, 100, 2};
const Ipv4 kPublic{203, 0, 113, 10};
const Ipv4 kPublic2{203, 0, 113, 11};

NeighborConfig gw_config() {
  NeighborConfig c;
  c.mac = kGwMac;
  c.address = kGwAddr;
  c.answer_for = {kPublic, kPublic2};
  c.capacity = 16;
  return c;
}

// A frame as a neighbour would send it.
Buf arp_frame(std::uint16_t op, MacAddress sha, Ipv4 spa, MacAddress tha, Ipv4 tpa,
              MacAddress eth_dst = MacAddress::broadcast()) {
  ArpMessage m;
  m.eth_dst = eth_dst;
  m.eth_src = sha;
  m.op = op;
  m.sha = sha;
  m.spa = spa;
  m.tha = tha;
  m.tpa = tpa;
  Buf b{};
  EXPECT_EQ(write_arp(b, m), kArpFrameLen);
  return b;
}

Buf request_from_peer(Ipv4 target) {
  return arp_frame(kArpRequest, kPeerMac, kPeer, {}, target);
}

TEST(Arp, WriteThenParseRoundTrips) {
  const Buf b = arp_frame(kArpReply, kPeerMac, kPeer, kGwMac, kPublic, kGwMac);
  // Wire layout (RFC 826): htype 1, ptype 0x0800, hlen 6, plen 4, op 2.
  EXPECT_EQ(b[12], 0x08);
  EXPECT_EQ(b[13], 0x06);
  EXPECT_EQ(b[14], 0x00);
  EXPECT_EQ(b[15], 0x01);
  EXPECT_EQ(b[16], 0x08);
  EXPECT_EQ(b[17], 0x00);
  EXPECT_EQ(b[18], 6);
  EXPECT_EQ(b[19], 4);
  EXPECT_EQ(b[21], 2);
  for (std::size_t i = 42; i < b.size(); ++i) EXPECT_EQ(b[i], 0) << "padding at " << i;
  const auto m = parse_arp(b);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, kArpReply);
  EXPECT_EQ(m->eth_dst, kGwMac);
  EXPECT_EQ(m->eth_src, kPeerMac);
  EXPECT_EQ(m->sha, kPeerMac);
  EXPECT_EQ(m->spa, kPeer);
  EXPECT_EQ(m->tha, kGwMac);
  EXPECT_EQ(m->tpa, kPublic);
  // A 42-byte frame (no padding) parses too.
  EXPECT_TRUE(parse_arp(std::span(b).first(42)));
}

TEST(Arp, WriteNeedsRoomForTheWholeFrame) {
  std::array<std::uint8_t, kArpFrameLen - 1> small{};
  EXPECT_EQ(write_arp(small, ArpMessage{}), 0u);
  EXPECT_EQ(write_gratuitous_arp(small, kGwMac, kPublic), 0u);
}

TEST(Arp, GratuitousAnnouncement) {
  Buf b{};
  ASSERT_EQ(write_gratuitous_arp(b, kGwMac, kPublic), kArpFrameLen);
  const auto m = parse_arp(b);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->eth_dst.is_broadcast());
  EXPECT_EQ(m->eth_src, kGwMac);
  EXPECT_EQ(m->op, kArpRequest);
  EXPECT_EQ(m->sha, kGwMac);
  EXPECT_EQ(m->spa, kPublic);
  EXPECT_EQ(m->tpa, kPublic);
  EXPECT_TRUE(m->tha.is_zero());
  NeighborTable t(gw_config());
  Buf c{};
  ASSERT_EQ(t.announce(kPublic2, c), kArpFrameLen);
  EXPECT_EQ(parse_arp(c)->spa, kPublic2);
}

TEST(Arp, MalformedFramesAreIgnoredAndCounted) {
  NeighborTable t(gw_config());
  const Buf good = request_from_peer(kPublic);
  std::vector<std::vector<std::uint8_t>> bad;
  bad.emplace_back(good.begin(), good.begin() + 41);  // truncated body
  auto mutate = [&](std::size_t at, std::uint8_t v) {
    std::vector<std::uint8_t> f(good.begin(), good.end());
    f[at] = v;
    bad.push_back(f);
  };
  mutate(13, 0x00);  // EtherType 0x0800: not ARP
  mutate(15, 6);     // hardware type 6 (IEEE 802)
  mutate(16, 0x86);  // protocol type 0x86xx
  mutate(18, 8);     // hardware length 8
  mutate(19, 16);    // protocol length 16
  mutate(21, 3);     // operation 3 (RARP)
  mutate(22, 0x01);  // sender MAC multicast
  mutate(28, 224);   // sender IP multicast
  Buf reply{};
  for (const auto& f : bad) EXPECT_EQ(t.on_arp(f, 1s, reply), 0u);
  EXPECT_EQ(t.counters().arp_malformed, bad.size());
  EXPECT_EQ(t.counters().arp_received, bad.size());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.counters().requests_answered, 0u);
  // The good frame still works afterwards.
  EXPECT_EQ(t.on_arp(good, 1s, reply), kArpFrameLen);
}

TEST(Neighbor, AnswersRequestsForPublicIps) {
  NeighborTable t(gw_config());
  Buf reply{};
  ASSERT_EQ(t.on_arp(request_from_peer(kPublic2), 5s, reply), kArpFrameLen);
  const auto m = parse_arp(reply);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->eth_dst, kPeerMac);  // unicast to the asker
  EXPECT_EQ(m->eth_src, kGwMac);
  EXPECT_EQ(m->op, kArpReply);
  EXPECT_EQ(m->sha, kGwMac);
  EXPECT_EQ(m->spa, kPublic2);
  EXPECT_EQ(m->tha, kPeerMac);
  EXPECT_EQ(m->tpa, kPeer);
  EXPECT_EQ(t.counters().requests_answered, 1u);
  // The request was for us: the asker is learned (RFC 826).
  const auto e = t.lookup(kPeer, 5s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->mac, kPeerMac);
  EXPECT_EQ(e->state, NeighborState::learned);
}

TEST(Neighbor, IgnoresRequestsForOtherAddresses) {
  NeighborTable t(gw_config());
  Buf reply{};
  EXPECT_EQ(t.on_arp(request_from_peer(Ipv4{198, 51, 100, 77}), 1s, reply), 0u);
  EXPECT_EQ(t.on_arp(request_from_peer(kGwAddr), 1s, reply), 0u);  // the kernel's address
  // Not for a public IP: not answered. Addressed to kGwAddr: the sender is learned.
  EXPECT_EQ(t.counters().requests_answered, 0u);
  EXPECT_TRUE(t.lookup(kPeer, 1s));
}

TEST(Neighbor, OverheardArpOnlyRefreshesKnownEntries) {
  NeighborTable t(gw_config());
  Buf reply{};
  const Buf overheard = request_from_peer(Ipv4{198, 51, 100, 77});
  EXPECT_EQ(t.on_arp(overheard, 1s, reply), 0u);
  EXPECT_FALSE(t.lookup(kPeer, 1s));  // not addressed to us: not created
  t.learn_from_ipv4(kPeer, kPeerMac, 1s, Learn::create);
  // 40 s later the entry is stale; the overheard request confirms it again.
  EXPECT_EQ(t.lookup(kPeer, 41s)->state, NeighborState::stale);
  EXPECT_EQ(t.on_arp(overheard, 41s, reply), 0u);
  EXPECT_EQ(t.lookup(kPeer, 41s)->state, NeighborState::learned);
  // A gratuitous ARP with a new MAC updates the entry and is counted.
  EXPECT_EQ(t.on_arp(arp_frame(kArpRequest, kOtherMac, kPeer, {}, kPeer), 42s, reply), 0u);
  EXPECT_EQ(t.lookup(kPeer, 42s)->mac, kOtherMac);
  EXPECT_EQ(t.counters().changed, 1u);
}

TEST(Neighbor, ProbeForPublicIpIsAnsweredWithoutLearning) {
  NeighborTable t(gw_config());
  Buf reply{};
  const Buf probe = arp_frame(kArpRequest, kPeerMac, Ipv4{}, {}, kPublic);  // RFC 5227 probe
  ASSERT_EQ(t.on_arp(probe, 1s, reply), kArpFrameLen);
  const auto m = parse_arp(reply);
  EXPECT_EQ(m->eth_dst, kPeerMac);
  EXPECT_EQ(m->spa, kPublic);
  EXPECT_EQ(m->tpa, Ipv4{});
  EXPECT_EQ(t.size(), 0u);
}

TEST(Neighbor, ConflictingClaimOfPublicIpIsCountedNotLearned) {
  NeighborTable t(gw_config());
  Buf reply{};
  // Another host announces kPublic: counted, not learned, and answered, which defends the
  // address (RFC 5227 section 2.4) by telling that host who holds it.
  ASSERT_EQ(t.on_arp(arp_frame(kArpRequest, kOtherMac, kPublic, {}, kPublic), 1s, reply),
            kArpFrameLen);
  EXPECT_EQ(parse_arp(reply)->sha, kGwMac);
  EXPECT_EQ(t.counters().conflicts, 1u);
  EXPECT_FALSE(t.lookup(kPublic, 1s));
  // Our own frames coming back are not conflicts.
  EXPECT_EQ(t.on_arp(arp_frame(kArpRequest, kGwMac, kPublic, {}, kPublic), 1s, reply), 0u);
  EXPECT_EQ(t.counters().conflicts, 1u);
}

TEST(Neighbor, RequestReplyRoundTripBetweenTwoTables) {
  NeighborTable gw(gw_config());
  NeighborConfig pc;
  pc.mac = kPeerMac;
  pc.address = kPeer;
  pc.answer_for = {kPeer};
  NeighborTable peer(pc);

  Buf req{};
  Resolution r = gw.resolve(kPeer, 10s, req);
  EXPECT_FALSE(r.mac);
  ASSERT_EQ(r.request_len, kArpFrameLen);
  const auto m = parse_arp(req);
  EXPECT_TRUE(m->eth_dst.is_broadcast());
  EXPECT_EQ(m->op, kArpRequest);
  EXPECT_EQ(m->sha, kGwMac);
  EXPECT_EQ(m->spa, kGwAddr);
  EXPECT_TRUE(m->tha.is_zero());
  EXPECT_EQ(m->tpa, kPeer);
  EXPECT_EQ(gw.lookup(kPeer, 10s)->state, NeighborState::incomplete);

  Buf rep{};
  ASSERT_EQ(peer.on_arp(req, 10s, rep), kArpFrameLen);
  EXPECT_EQ(peer.lookup(kGwAddr, 10s)->mac, kGwMac);  // the asker, learned on the way
  EXPECT_EQ(gw.on_arp(rep, 10s + 1ms, req), 0u);
  r = gw.resolve(kPeer, 10s + 2ms, req);
  ASSERT_TRUE(r.mac);
  EXPECT_EQ(*r.mac, kPeerMac);
  EXPECT_EQ(r.request_len, 0u);
  EXPECT_EQ(gw.counters().requests_sent, 1u);
  EXPECT_EQ(gw.counters().learned, 1u);
}

TEST(Neighbor, RequestsAreRateLimitedPerTarget) {
  NeighborTable t(gw_config());
  Buf b{};
  EXPECT_EQ(t.resolve(kPeer, 100s, b).request_len, kArpFrameLen);
  EXPECT_EQ(t.resolve(kPeer, 100s + 1ms, b).request_len, 0u);
  EXPECT_EQ(t.resolve(kPeer, 100s + 999ms, b).request_len, 0u);
  // Another target is not held back by the first.
  EXPECT_EQ(t.resolve(Ipv4{198, 51, 100, 9}, 100s + 1ms, b).request_len, kArpFrameLen);
  EXPECT_EQ(t.resolve(kPeer, 101s, b).request_len, kArpFrameLen);
  EXPECT_EQ(t.resolve(kPeer, 101s + 500ms, b).request_len, 0u);
  EXPECT_EQ(t.resolve(kPeer, 102s, b).request_len, kArpFrameLen);
  EXPECT_EQ(t.counters().requests_sent, 4u);
  EXPECT_EQ(t.counters().requests_rate_limited, 3u);
  // A buffer too small for the frame produces nothing and spends no rate.
  std::array<std::uint8_t, 10> small{};
  EXPECT_EQ(t.resolve(kPeer, 103s, small).request_len, 0u);
  EXPECT_EQ(t.resolve(kPeer, 103s, b).request_len, kArpFrameLen);
}

TEST(Neighbor, IncompleteEntriesAreForgottenAfterIncompleteTime) {
  NeighborTable t(gw_config());
  Buf b{};
  ASSERT_EQ(t.resolve(kPeer, 0s, b).request_len, kArpFrameLen);
  EXPECT_TRUE(t.lookup(kPeer, 2s));
  EXPECT_FALSE(t.lookup(kPeer, 3s));
  EXPECT_EQ(t.expire(3s), 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(Neighbor, LearnedThenStaleThenExpired) {
  NeighborConfig c = gw_config();
  c.reachable_time = 30s;
  c.expire_time = 120s;
  NeighborTable t(c);
  Buf b{};
  t.learn_from_ipv4(kPeer, kPeerMac, 0s, Learn::create);
  Resolution r = t.resolve(kPeer, 29s, b);
  EXPECT_EQ(r.mac, kPeerMac);
  EXPECT_EQ(r.request_len, 0u);
  // Stale: still used, with a unicast confirmation request, rate-limited.
  r = t.resolve(kPeer, 31s, b);
  EXPECT_EQ(r.mac, kPeerMac);
  ASSERT_EQ(r.request_len, kArpFrameLen);
  EXPECT_EQ(parse_arp(b)->eth_dst, kPeerMac);
  EXPECT_EQ(t.resolve(kPeer, 31s + 10ms, b).request_len, 0u);
  EXPECT_EQ(t.lookup(kPeer, 31s)->state, NeighborState::stale);
  // Expired: gone; resolving starts over with a broadcast request.
  EXPECT_FALSE(t.lookup(kPeer, 120s));
  r = t.resolve(kPeer, 120s, b);
  EXPECT_FALSE(r.mac);
  ASSERT_EQ(r.request_len, kArpFrameLen);
  EXPECT_TRUE(parse_arp(b)->eth_dst.is_broadcast());
  EXPECT_EQ(t.counters().expired, 1u);
}

TEST(Neighbor, LearningFromIpv4Frames) {
  NeighborTable t(gw_config());
  t.learn_from_ipv4(kPeer, kPeerMac, 1s, Learn::refresh_only);
  EXPECT_FALSE(t.lookup(kPeer, 1s));  // refresh only: nothing to refresh
  t.learn_from_ipv4(kPeer, kPeerMac, 1s, Learn::create);
  EXPECT_EQ(t.lookup(kPeer, 1s)->mac, kPeerMac);
  t.learn_from_ipv4(kPeer, kPeerMac, 50s, Learn::refresh_only);
  EXPECT_EQ(t.lookup(kPeer, 60s)->state, NeighborState::learned);
  // Never learned: broadcast/multicast/zero addresses, group MACs, our own answered addresses.
  t.learn_from_ipv4(Ipv4{255, 255, 255, 255}, kOtherMac, 60s, Learn::create);
  t.learn_from_ipv4(Ipv4{224, 0, 0, 1}, kOtherMac, 60s, Learn::create);
  t.learn_from_ipv4(Ipv4{}, kOtherMac, 60s, Learn::create);
  t.learn_from_ipv4(Ipv4{198, 51, 100, 3}, MacAddress::broadcast(), 60s, Learn::create);
  t.learn_from_ipv4(Ipv4{198, 51, 100, 4}, MacAddress{0x01, 0, 0x5e, 0, 0, 1}, 60s, Learn::create);
  t.learn_from_ipv4(kPublic, kOtherMac, 60s, Learn::create);
  EXPECT_EQ(t.size(), 1u);
}

TEST(Neighbor, FullTableRefusesNewEntriesButNeverEvictsLiveOnes) {
  NeighborConfig c = gw_config();
  c.capacity = 2;
  NeighborTable t(c);
  Buf b{};
  const Ipv4 a{10, 0, 0, 1}, bb{10, 0, 0, 2}, cc{10, 0, 0, 3};
  t.learn_from_ipv4(a, kPeerMac, 0s, Learn::create);
  t.learn_from_ipv4(bb, kOtherMac, 1s, Learn::create);
  Resolution r = t.resolve(cc, 2s, b);
  EXPECT_FALSE(r.mac);
  EXPECT_EQ(r.request_len, 0u);
  EXPECT_EQ(t.counters().table_full, 1u);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.lookup(a, 2s));
  // At 31 s, `a` (confirmed at 0 s) is stale: it makes room for `cc`; `bb` is still live.
  r = t.resolve(cc, 31s, b);
  EXPECT_EQ(r.request_len, kArpFrameLen);
  EXPECT_EQ(t.counters().evicted, 1u);
  EXPECT_FALSE(t.lookup(a, 31s));
  EXPECT_TRUE(t.lookup(bb, 31s));
  EXPECT_EQ(t.lookup(cc, 31s)->state, NeighborState::incomplete);
  EXPECT_EQ(t.size(), 2u);
}

TEST(Neighbor, EntriesListsLiveEntriesOldestFirst) {
  NeighborTable t(gw_config());
  Buf b{};
  t.learn_from_ipv4(kPeer, kPeerMac, 0s, Learn::create);
  (void)t.resolve(Ipv4{198, 51, 100, 9}, 1s, b);
  const auto list = t.entries(2s);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].ip, kPeer);
  EXPECT_EQ(list[0].state, NeighborState::learned);
  EXPECT_EQ(list[1].state, NeighborState::incomplete);
  EXPECT_STREQ(name(list[1].state), "incomplete");
}

TEST(Neighbor, RejectsBadConfig) {
  NeighborConfig c = gw_config();
  c.capacity = 0;
  EXPECT_THROW(NeighborTable{c}, std::invalid_argument);
  c = gw_config();
  c.expire_time = 1s;
  EXPECT_THROW(NeighborTable{c}, std::invalid_argument);
  c = gw_config();
  c.request_interval = 0s;
  EXPECT_THROW(NeighborTable{c}, std::invalid_argument);
  c = gw_config();
  c.mac = MacAddress::broadcast();
  EXPECT_THROW(NeighborTable{c}, std::invalid_argument);
}

// Differential test of the open-addressing table (insert, lookup, backward-shift deletion)
// against std::map, with a capacity the pool never exceeds so no eviction policy is involved.
// Small tables make probe sequences wrap around the end of the slot array.
class NeighborDifferential : public ::testing::TestWithParam<std::size_t> {};

TEST_P(NeighborDifferential, MatchesAReferenceMapUnderRandomLearningAndExpiry) {
  const std::size_t capacity = GetParam();
  NeighborConfig c = gw_config();
  c.capacity = capacity;
  c.reachable_time = 10s;
  c.expire_time = 20s;
  NeighborTable t(c);
  std::map<std::uint32_t, std::pair<MacAddress, nanoseconds>> ref;
  std::mt19937 rng(static_cast<std::uint32_t>(7 + capacity));
  std::vector<Ipv4> pool;  // scattered addresses, so probe sequences collide
  while (pool.size() < capacity) pool.emplace_back(Ipv4{10, 0, 0, 0}.value() | (rng() & 0xFFFFFF));
  // Steps of 0..400 ms against a 20 s expiry keep entries both coming and going.
  const int step_ms = capacity >= 32 ? 400 : 2000;
  nanoseconds now = 0s;
  for (int step = 0; step < 20000; ++step) {
    now += std::chrono::milliseconds(rng() % static_cast<unsigned>(step_ms));
    const Ipv4 ip = pool[rng() % pool.size()];
    const MacAddress mac{
        0x02, 0, 0, 1, static_cast<std::uint8_t>(rng() % 4), static_cast<std::uint8_t>(ip.value())};
    switch (rng() % 3) {
      case 0:
        t.learn_from_ipv4(ip, mac, now, Learn::create);
        ref[ip.value()] = {mac, now};
        break;
      case 1: {
        t.learn_from_ipv4(ip, mac, now, Learn::refresh_only);
        auto it = ref.find(ip.value());
        if (it != ref.end() && now - it->second.second < 20s) it->second = {mac, now};
        break;
      }
      default:
        (void)t.expire(now);
        break;
    }
    for (const Ipv4 q : pool) {
      const auto it = ref.find(q.value());
      const bool live = it != ref.end() && now - it->second.second < 20s;
      const auto e = t.lookup(q, now);
      ASSERT_EQ(e.has_value(), live) << "step " << step << " host " << q.text().view();
      if (live) {
        ASSERT_EQ(e->mac, it->second.first);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Capacities, NeighborDifferential, ::testing::Values(2, 5, 8, 64));

// Removing any one entry of a full small table (whose probe sequences collide and wrap around
// the slot array) leaves every other entry reachable.
TEST(Neighbor, RemovingAnyEntryKeepsTheOthersReachable) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 3000; ++trial) {
    NeighborConfig c = gw_config();
    c.capacity = 4;
    c.reachable_time = 10s;
    c.expire_time = 20s;
    NeighborTable t(c);
    std::vector<Ipv4> ips;
    while (ips.size() < 4) ips.emplace_back(Ipv4{10, 0, 0, 0}.value() | (rng() & 0xFFFFFF));
    for (const Ipv4 ip : ips) t.learn_from_ipv4(ip, kPeerMac, 0s, Learn::create);
    const std::size_t victim = rng() % ips.size();
    for (std::size_t i = 0; i < ips.size(); ++i) {
      if (i != victim) t.learn_from_ipv4(ips[i], kPeerMac, 15s, Learn::refresh_only);
    }
    ASSERT_EQ(t.expire(25s), 1u);
    for (std::size_t i = 0; i < ips.size(); ++i) {
      ASSERT_EQ(t.lookup(ips[i], 25s).has_value(), i != victim) << "trial " << trial;
    }
  }
}

}  // namespace
}  // namespace natgw::datapath
