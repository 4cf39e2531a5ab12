// The datapath worker on in-memory ports: ARP, L2 rewriting, translation both ways, probes.
#include <gtest/gtest.h>

#include "datapath/worker.hpp"
#include "io/memory_port.hpp"
#include "support/packets.hpp"
#include "vnet/network.hpp"

namespace natgw::test {
namespace {

using namespace std::chrono_literals;
using net::Ipv4;
using net::MacAddress;

const MacAddress kInMac{0x02, 0, 0, 0, 0, 0x01};
const MacAddress kOutMac{0x02, 0, 0, 0, 0, 0x02};
const MacAddress kVmMac{0x02, 0, 0, 0, 0, 0x10};
const MacAddress kRouterMac{0x02, 0, 0, 0, 0, 0x20};
const Ipv4 kPub{203, 0, 113, 10};
const Ipv4 kVm{10, 0, 0, 11};
const Ipv4 kGwIn{10, 0, 0, 1};
const Ipv4 kGwOut{198, 51, 100, 1};
const Ipv4 kRouter{198, 51, 100, 2};
const Ipv4 kServer{192, 0, 2, 10};

Bytes frame(MacAddress dst, MacAddress src, std::uint16_t type, const Bytes& payload) {
  Bytes f(14 + payload.size());
  dst.write(f.data());
  src.write(f.data() + 6);
  wr16(f.data() + 12, type);
  std::copy(payload.begin(), payload.end(), f.begin() + 14);
  return f;
}

Bytes arp(std::uint16_t op, MacAddress sha, Ipv4 spa, MacAddress tha, Ipv4 tpa) {
  Bytes b(28);
  wr16(&b[0], 1);
  wr16(&b[2], 0x0800);
  b[4] = 6;
  b[5] = 4;
  wr16(&b[6], op);
  sha.write(&b[8]);
  wr32(&b[14], spa.value());
  tha.write(&b[18]);
  wr32(&b[24], tpa.value());
  return frame(op == 1 ? MacAddress::broadcast() : tha, sha, 0x0806, b);
}

class WorkerTest : public ::testing::Test {
 protected:
  WorkerTest() { make(nullptr); }

  // (Re)builds the worker, with a network model when `network` is set.
  void make(std::shared_ptr<const vnet::Network> network) {
    io::MemoryPortOptions in_opt, out_opt;
    in_opt.offloads = out_opt.offloads = offloads_;
    if (offloads_) {  // room for super-frames
      in_opt.slot_size = out_opt.slot_size = 65536 + 64;
      in_opt.rx_capacity = out_opt.rx_capacity = in_opt.tx_capacity = out_opt.tx_capacity = 8;
    }
    in_opt.mac = kInMac;
    out_opt.mac = kOutMac;
    out_opt.ifindex = 2;
    auto in = std::make_unique<io::MemoryPort>(in_opt);
    auto out = std::make_unique<io::MemoryPort>(out_opt);
    in_ = in.get();
    out_ = out.get();
    datapath::WorkerConfig c;
    c.engine = nat::azure_profile();
    c.engine.public_ips = {kPub};
    c.engine.subnets = {*net::Prefix::parse("10.0.0.0/24")};
    c.engine.limits.max_connections = 10000;
    c.engine.ftp_alg = ftp_alg_;
    c.inside_addresses = {kGwIn};
    c.outside_addresses = {kGwOut};
    c.next_hop = kRouter;
    c.neighbor_capacity = 64;
    c.network = std::move(network);
    worker_.reset();
    worker_ = std::make_unique<datapath::Worker>(std::move(c), std::move(in), std::move(out));
  }

  void poll() {
    now_ += 1ms;
    worker_->poll_once(now_);
  }
  // The router answers the worker's ARP request.
  void resolve_router() {
    out_->inject(arp(2, kRouterMac, kRouter, kOutMac, kGwOut));
    poll();
    (void)out_->take_sent();
  }
  Bytes vm_tcp(std::uint8_t flags, std::uint16_t sport = 40000) {
    return frame(kInMac, kVmMac, 0x0800, PacketBuilder().ipv4(kVm, kServer).tcp(sport, 80, flags).build());
  }
  std::uint64_t drops(nat::DropReason r) { return worker_->stats().drops[static_cast<std::size_t>(r)]; }

  bool offloads_ = false;  // ports that carry offloads (as AF_PACKET with PACKET_VNET_HDR)
  bool ftp_alg_ = false;   // the engine runs the FTP ALG
  io::MemoryPort* in_ = nullptr;
  io::MemoryPort* out_ = nullptr;
  std::unique_ptr<datapath::Worker> worker_;
  nat::Time now_ = std::chrono::hours(1);
};

TEST_F(WorkerTest, AnswersArpForPublicIpsOnTheOutside) {
  out_->inject(arp(1, kRouterMac, kRouter, MacAddress{}, kPub));
  poll();
  auto sent = out_->take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(MacAddress::from(sent[0].data()), kRouterMac);
  EXPECT_EQ(rd16(&sent[0][12]), 0x0806);
  EXPECT_EQ(rd16(&sent[0][20]), 2) << "a reply";
  EXPECT_EQ(MacAddress::from(&sent[0][22]), kOutMac);
  EXPECT_EQ(Ipv4{rd32(&sent[0][28])}, kPub);
  // Not for addresses that are not ours (the kernel answers for its own).
  out_->inject(arp(1, kRouterMac, kRouter, MacAddress{}, kGwOut));
  poll();
  EXPECT_TRUE(out_->take_sent().empty());
}

TEST_F(WorkerTest, OutboundFrameWaitsForTheNextHopThenIsTranslatedAndAddressed) {
  in_->inject(vm_tcp(kSyn));
  poll();
  auto sent = out_->take_sent();
  ASSERT_EQ(sent.size(), 1u) << "an ARP request for the next hop";
  EXPECT_EQ(rd16(&sent[0][12]), 0x0806);
  EXPECT_EQ(Ipv4{rd32(&sent[0][38])}, kRouter);
  EXPECT_EQ(drops(nat::DropReason::no_neighbor), 1u);

  resolve_router();
  in_->inject(vm_tcp(kSyn));
  poll();
  sent = out_->take_sent();
  ASSERT_EQ(sent.size(), 1u);
  const Bytes& f = sent[0];
  EXPECT_EQ(MacAddress::from(f.data()), kRouterMac);
  EXPECT_EQ(MacAddress::from(f.data() + 6), kOutMac);
  EXPECT_EQ(Ipv4{rd32(&f[14 + 12])}, kPub);
  EXPECT_EQ(Ipv4{rd32(&f[14 + 16])}, kServer);
  EXPECT_TRUE(ip_checksum_ok(f.data() + 14));
  EXPECT_TRUE(l4_checksum_ok(f.data() + 14));
}

TEST_F(WorkerTest, ReturnTrafficGoesToTheHostsMacLearnedFromItsFrames) {
  resolve_router();
  in_->inject(vm_tcp(kSyn));
  poll();
  const Bytes syn = out_->take_sent().at(0);
  const std::uint16_t pub_port = rd16(&syn[14 + 20]);
  out_->inject(frame(kOutMac, kRouterMac, 0x0800,
                     PacketBuilder().ipv4(kServer, kPub).tcp(80, pub_port, kSyn | kAck, 7, 1001).build()));
  poll();
  auto sent = in_->take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(MacAddress::from(sent[0].data()), kVmMac);
  EXPECT_EQ(MacAddress::from(sent[0].data() + 6), kInMac);
  EXPECT_EQ(Ipv4{rd32(&sent[0][14 + 16])}, kVm);
  EXPECT_EQ(rd16(&sent[0][14 + 22]), 40000);
  EXPECT_TRUE(l4_checksum_ok(sent[0].data() + 14));
}

TEST_F(WorkerTest, FramesForTheKernelAreLeftAlone) {
  resolve_router();
  // Another MAC, the gateway's own inside address, a non-IP EtherType.
  in_->inject(frame(MacAddress{0x02, 9, 9, 9, 9, 9}, kVmMac, 0x0800, PacketBuilder().ipv4(kVm, kServer).tcp(1, 80, kSyn).build()));
  in_->inject(frame(kInMac, kVmMac, 0x0800, PacketBuilder().ipv4(kVm, kGwIn).icmp(8, 0).build()));
  in_->inject(frame(kInMac, kVmMac, 0x86DD, Bytes(40, 0)));
  // Outside: to the outside interface's own address.
  out_->inject(frame(kOutMac, kRouterMac, 0x0800, PacketBuilder().ipv4(kRouter, kGwOut).tcp(1, 22, kSyn).build()));
  poll();
  EXPECT_TRUE(out_->take_sent().empty());
  EXPECT_TRUE(in_->take_sent().empty());
  EXPECT_EQ(worker_->stats().not_for_gateway, 4u);
  EXPECT_EQ(worker_->engine().counters().total_drops(), 0u) << "none of them reached the engine";
}

TEST_F(WorkerTest, PartialChecksumsAreCompletedBeforeTranslation) {
  resolve_router();
  Bytes f = vm_tcp(kSyn);
  // Offloaded: the checksum field holds only the pseudo-header sum.
  std::uint8_t* ip = f.data() + 14;
  const std::uint32_t pseudo = rd16(ip + 12) + rd16(ip + 14) + rd16(ip + 16) + rd16(ip + 18) + 6u + 20u;
  std::uint32_t folded = pseudo;
  while (folded >> 16) folded = (folded & 0xFFFF) + (folded >> 16);
  wr16(ip + 20 + 16, static_cast<std::uint16_t>(folded));
  in_->inject(f, /*csum_partial=*/true);
  poll();
  auto sent = out_->take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(l4_checksum_ok(sent[0].data() + 14));
  EXPECT_EQ(worker_->stats().csum_completed, 1u);
}

TEST_F(WorkerTest, LateSegmentIsAnsweredWithRstBackToTheSender) {
  resolve_router();
  in_->inject(vm_tcp(kSyn));
  poll();
  const std::uint16_t pub_port = rd16(&out_->take_sent().at(0)[14 + 20]);
  out_->inject(frame(kOutMac, kRouterMac, 0x0800,
                     PacketBuilder().ipv4(kServer, kPub).tcp(80, pub_port, kSyn | kAck, 7, 1001).build()));
  poll();
  in_->inject(vm_tcp(kAck));
  poll();
  (void)in_->take_sent();
  (void)out_->take_sent();
  now_ += 4min;  // idle: the flow expires; its port is held and late segments get an RST
  in_->inject(vm_tcp(kAck | kPsh));
  poll();
  EXPECT_TRUE(out_->take_sent().empty());
  auto back = in_->take_sent();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(MacAddress::from(back[0].data()), kVmMac);
  EXPECT_EQ(MacAddress::from(back[0].data() + 6), kInMac);
  EXPECT_EQ(Ipv4{rd32(&back[0][14 + 12])}, kServer);
  EXPECT_EQ(back[0][14 + 20 + 13] & kRst, kRst);
  EXPECT_EQ(back[0].size(), 54u);
  EXPECT_EQ(worker_->engine().counters().late_rst, 1u);
}

TEST_F(WorkerTest, ProbeCrossesTheDatapath) {
  resolve_router();
  worker_->request_probe();
  poll();
  auto sent = out_->take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Ipv4{rd32(&sent[0][14 + 12])}, kPub);
  EXPECT_EQ(Ipv4{rd32(&sent[0][14 + 16])}, kRouter);
  EXPECT_EQ(rd16(&sent[0][14 + 22]), datapath::Worker::kProbePort);
  EXPECT_TRUE(l4_checksum_ok(sent[0].data() + 14));
  EXPECT_EQ(worker_->stats().probes_sent, 1u);
  EXPECT_EQ(worker_->stats().probes_ok, 1u);
  EXPECT_EQ(worker_->probe_source(), kGwIn);
  // The router's port-unreachable answer comes back and is recognised, not sent inside.
  out_->inject(frame(kOutMac, kRouterMac, 0x0800, icmp_error(kRouter, kPub, 3, 3, Bytes(sent[0].begin() + 14, sent[0].end()))));
  poll();
  EXPECT_EQ(worker_->stats().probe_replies, 1u);
  EXPECT_TRUE(in_->take_sent().empty());
}

TEST_F(WorkerTest, ProbeFailsWithoutANextHop) {
  worker_->request_probe();
  poll();
  EXPECT_EQ(worker_->stats().probes_sent, 1u);
  EXPECT_EQ(worker_->stats().probes_ok, 0u);
}

TEST_F(WorkerTest, CallRunsOnTheWorkerBetweenBatches) {
  std::atomic<bool> stop{false};
  std::thread t([&] {
    while (!stop) worker_->poll_once(now_);
  });
  std::uint64_t slots = 99;
  EXPECT_TRUE(worker_->call([&](datapath::Worker& w) { slots = w.engine().slots_in_use(); }, 2000ms));
  EXPECT_EQ(slots, 0u);
  stop = true;
  t.join();
  EXPECT_FALSE(worker_->call([](datapath::Worker&) {}, 50ms)) << "nobody runs the loop: times out";
}

// --- The network around the gateway (src/vnet) on the datapath --------------------------------

const MacAddress kApplianceMac{0x02, 0, 0, 0, 0, 0x30};
const Ipv4 kAppliance{10, 0, 0, 5};

net::Prefix prefix(const char* s) { return *net::Prefix::parse(s); }

vnet::SecurityRuleConfig deny_tcp_port(std::string name, std::uint16_t priority, std::uint16_t port) {
  vnet::SecurityRuleConfig r;
  r.name = std::move(name);
  r.priority = priority;
  r.access = vnet::Access::deny;
  r.protocol = vnet::Protocol::tcp;
  r.destination_ports = {{port, port}};
  return r;
}

std::shared_ptr<const vnet::Network> network(const vnet::NetworkConfig& c) {
  return vnet::Network::build(c, std::vector<net::Prefix>{prefix("10.0.0.0/24")});
}

vnet::NetworkConfig appliance_network() {
  vnet::NetworkConfig c;
  c.route_tables = {{"rt", {prefix("10.0.0.0/24")},
                     {{"to-fw", prefix("0.0.0.0/0"), vnet::NextHopType::virtual_appliance, kAppliance}}}};
  return c;
}

vnet::NetworkConfig deny_http_network() {
  vnet::NetworkConfig c;
  c.security_groups = {{"nsg", {prefix("10.0.0.0/24")}, {deny_tcp_port("deny-http", 100, 80)}}};
  return c;
}

std::uint64_t denials(const datapath::Worker& w, const std::string& rule) {
  for (const auto& d : w.security_rule_denials()) {
    if (d.rule == rule) return d.packets;
  }
  return ~0ull;
}

TEST_F(WorkerTest, ApplianceRouteForwardsUntranslatedBackOutOfTheInside) {
  make(network(appliance_network()));
  resolve_router();
  in_->inject(vm_tcp(kSyn));
  poll();
  auto back = in_->take_sent();
  ASSERT_EQ(back.size(), 1u) << "an ARP request for the appliance";
  EXPECT_EQ(rd16(&back[0][12]), 0x0806);
  EXPECT_EQ(Ipv4{rd32(&back[0][38])}, kAppliance);
  EXPECT_EQ(drops(nat::DropReason::no_neighbor), 1u);

  in_->inject(arp(2, kApplianceMac, kAppliance, kInMac, kGwIn));
  in_->inject(vm_tcp(kSyn));
  in_->inject(vm_tcp(kAck));
  poll();
  back = in_->take_sent();
  ASSERT_EQ(back.size(), 2u) << "the SYN and the ACK: every packet of the flow";
  for (const Bytes& f : back) {
    EXPECT_EQ(MacAddress::from(f.data()), kApplianceMac);
    EXPECT_EQ(MacAddress::from(f.data() + 6), kInMac);
    EXPECT_EQ(Ipv4{rd32(&f[14 + 12])}, kVm) << "untranslated";
    EXPECT_EQ(Ipv4{rd32(&f[14 + 16])}, kServer);
    EXPECT_EQ(rd16(&f[14 + 20]), 40000);
    EXPECT_EQ(f[14 + 8], 63) << "TTL decremented";
    EXPECT_TRUE(ip_checksum_ok(f.data() + 14));
    EXPECT_TRUE(l4_checksum_ok(f.data() + 14));
  }
  EXPECT_TRUE(out_->take_sent().empty()) << "nothing goes to the internet";
  const auto i = static_cast<std::size_t>(vnet::NextHopType::virtual_appliance);
  EXPECT_EQ(worker_->stats().forwarded_packets[i], 2u);
  EXPECT_EQ(worker_->stats().forwarded_bytes[i], 80u);
  EXPECT_EQ(worker_->engine().slots_in_use(), 0u);
}

TEST_F(WorkerTest, VirtualNetworkAndServiceEndpointTraffic) {
  vnet::NetworkConfig c;
  c.address_space = {prefix("10.0.0.0/16")};
  c.service_endpoints = {{"storage", {prefix("10.0.0.0/24")}, {prefix("192.0.2.0/24")}}};
  make(network(c));
  resolve_router();
  // To another subnet of the virtual network: back out of the inside, to the destination.
  const Ipv4 peer{10, 0, 5, 5};
  const MacAddress peer_mac{0x02, 0, 0, 0, 0, 0x55};
  in_->inject(arp(2, peer_mac, peer, kInMac, kGwIn));
  in_->inject(frame(kInMac, kVmMac, 0x0800, PacketBuilder().ipv4(kVm, peer).tcp(40000, 22, kSyn).build()));
  // To the service (kServer is 192.0.2.10): out of the outside, untranslated.
  in_->inject(vm_tcp(kSyn));
  poll();
  auto inside = in_->take_sent();
  ASSERT_EQ(inside.size(), 1u);
  EXPECT_EQ(MacAddress::from(inside[0].data()), peer_mac);
  EXPECT_EQ(Ipv4{rd32(&inside[0][14 + 12])}, kVm);
  auto outside = out_->take_sent();
  ASSERT_EQ(outside.size(), 1u);
  EXPECT_EQ(MacAddress::from(outside[0].data()), kRouterMac);
  EXPECT_EQ(MacAddress::from(outside[0].data() + 6), kOutMac);
  EXPECT_EQ(Ipv4{rd32(&outside[0][14 + 12])}, kVm) << "the service sees the private address";
  EXPECT_EQ(worker_->stats().forwarded_packets[static_cast<std::size_t>(vnet::NextHopType::virtual_network)], 1u);
  EXPECT_EQ(worker_->stats().forwarded_packets[static_cast<std::size_t>(vnet::NextHopType::service_endpoint)], 1u);
}

TEST_F(WorkerTest, SecurityRuleDenialsAreDropsCountedPerRule) {
  make(network(deny_http_network()));
  resolve_router();
  in_->inject(vm_tcp(kSyn));
  in_->inject(vm_tcp(kSyn));
  poll();
  EXPECT_TRUE(out_->take_sent().empty());
  EXPECT_TRUE(in_->take_sent().empty());
  EXPECT_EQ(worker_->engine().counters().drop(nat::DropReason::security_rule_denied), 2u);
  EXPECT_EQ(denials(*worker_, "deny-http"), 2u);
  EXPECT_EQ(denials(*worker_, "DenyAllOutBound"), 0u) << "every deny rule is listed, zero included";
  EXPECT_EQ(denials(*worker_, "AllowInternetOutBound"), ~0ull) << "allow rules are not";
  // Port 443 is allowed.
  in_->inject(frame(kInMac, kVmMac, 0x0800, PacketBuilder().ipv4(kVm, kServer).tcp(40001, 443, kSyn).build()));
  poll();
  EXPECT_EQ(out_->take_sent().size(), 1u);
}

TEST_F(WorkerTest, RouteNoneDrops) {
  vnet::NetworkConfig c;
  c.route_tables = {{"rt", {prefix("10.0.0.0/24")}, {{"blackhole", prefix("192.0.2.0/24"), vnet::NextHopType::none, std::nullopt}}}};
  make(network(c));
  resolve_router();
  in_->inject(vm_tcp(kSyn));
  poll();
  EXPECT_TRUE(out_->take_sent().empty());
  EXPECT_EQ(worker_->engine().counters().drop(nat::DropReason::route_none), 1u);
}

TEST_F(WorkerTest, ReloadAppliesNewRulesToNewConnectionsOnlyAndKeepsCounts) {
  resolve_router();
  in_->inject(vm_tcp(kSyn));  // opened before any rule
  poll();
  const Bytes syn = out_->take_sent().at(0);
  out_->inject(frame(kOutMac, kRouterMac, 0x0800,
                     PacketBuilder().ipv4(kServer, kPub).tcp(80, rd16(&syn[14 + 20]), kSyn | kAck, 7, 1001).build()));
  poll();
  (void)in_->take_sent();
  ASSERT_EQ(worker_->reconfigure(worker_->engine().config(), network(deny_http_network())), "");
  in_->inject(vm_tcp(kAck));
  in_->inject(vm_tcp(kSyn, 40001));
  poll();
  auto sent = out_->take_sent();
  ASSERT_EQ(sent.size(), 1u) << "the open connection goes on; the new one is denied";
  EXPECT_EQ(sent[0][14 + 20 + 13], kAck);
  EXPECT_EQ(denials(*worker_, "deny-http"), 1u);
  // The same rule in the next model goes on counting; a rule that disappears keeps its count.
  ASSERT_EQ(worker_->reconfigure(worker_->engine().config(), network(deny_http_network())), "");
  in_->inject(vm_tcp(kSyn, 40002));
  poll();
  EXPECT_EQ(denials(*worker_, "deny-http"), 2u);
  ASSERT_EQ(worker_->reconfigure(worker_->engine().config(), nullptr), "");
  const auto all = worker_->security_rule_denials();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].rule, "deny-http");
  EXPECT_EQ(all[0].packets, 2u);
  EXPECT_FALSE(all[0].configured);
  EXPECT_EQ(worker_->network(), nullptr);
  in_->inject(vm_tcp(kSyn, 40003));
  poll();
  EXPECT_EQ(out_->take_sent().size(), 1u) << "no rules any more";
}

TEST_F(WorkerTest, ProbesAreNotSubjectToTheNetworksRules) {
  vnet::NetworkConfig c;
  vnet::SecurityRuleConfig all;
  all.name = "deny-everything";
  all.priority = 100;
  all.access = vnet::Access::deny;
  c.security_groups = {{"nsg", {prefix("10.0.0.0/24")}, {all}}};
  c.route_tables = appliance_network().route_tables;
  make(network(c));
  resolve_router();
  worker_->request_probe();
  poll();
  EXPECT_EQ(worker_->stats().probes_ok, 1u);
  EXPECT_EQ(out_->take_sent().size(), 1u);
  in_->inject(vm_tcp(kSyn));
  poll();
  EXPECT_EQ(denials(*worker_, "deny-everything"), 1u) << "while customer traffic is denied";
}

}  // namespace
}  // namespace natgw::test

namespace natgw::test {
namespace {

// Ports with offloads: a 64 KiB TCP super-frame with a partial checksum (a sender's TSO/GSO, or
// GRO on the gateway) is translated once, whole, both ways; its offload state goes out with it
// and the partial sum is right for the new addresses.
TEST_F(WorkerTest, SuperFramesCrossWholeWithTheirOffloadBothWays) {
  offloads_ = true;
  make(nullptr);
  resolve_router();
  in_->inject(vm_tcp(kSyn));
  poll();
  const std::uint16_t pub_port = rd16(&out_->take_sent().at(0)[14 + 20]);
  out_->inject(
      frame(kOutMac, kRouterMac, 0x0800,
            PacketBuilder().ipv4(kServer, kPub).tcp(80, pub_port, kSyn | kAck, 7, 1001).build()));
  poll();
  (void)in_->take_sent();

  const std::string body(65535 - 40, 'x');
  io::Offload gso;
  gso.flags = io::Offload::kNeedsCsum;
  gso.gso_type = io::Offload::kGsoTcpv4;
  gso.gso_size = 1448;
  gso.hdr_len = 14 + 20 + 20;
  gso.csum_start = 14 + 20;
  gso.csum_offset = 16;

  Bytes up =
      frame(kInMac, kVmMac, 0x0800,
            PacketBuilder().ipv4(kVm, kServer).tcp(40000, 80, kAck, 1001, 8).payload(body).build());
  make_partial(up.data() + 14);
  ASSERT_TRUE(in_->inject(up, gso));
  poll();
  auto sent = out_->take_sent_frames();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].bytes.size(), 14u + 65535u) << "whole, not segmented or dropped";
  EXPECT_EQ(sent[0].offload, gso);
  std::uint8_t* ip = sent[0].bytes.data() + 14;
  EXPECT_EQ(Ipv4{rd32(ip + 12)}, kPub);
  EXPECT_EQ(rd16(ip + 20), pub_port);
  EXPECT_TRUE(ip_checksum_ok(ip));
  complete_partial(ip);
  EXPECT_TRUE(l4_checksum_ok(ip));

  Bytes down = frame(kOutMac, kRouterMac, 0x0800,
                     PacketBuilder()
                         .ipv4(kServer, kPub)
                         .tcp(80, pub_port, kAck, 8, 1001 + 65495)
                         .payload(body)
                         .build());
  make_partial(down.data() + 14);
  ASSERT_TRUE(out_->inject(down, gso));
  poll();
  sent = in_->take_sent_frames();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].bytes.size(), 14u + 65535u);
  EXPECT_EQ(sent[0].offload, gso);
  ip = sent[0].bytes.data() + 14;
  EXPECT_EQ(Ipv4{rd32(ip + 16)}, kVm);
  EXPECT_EQ(rd16(ip + 22), 40000);
  complete_partial(ip);
  EXPECT_TRUE(l4_checksum_ok(ip));
  EXPECT_EQ(worker_->stats().csum_completed, 0u)
      << "kept partial: the kernel completes it per segment";
  EXPECT_EQ(worker_->engine().counters().total_drops(), 0u);
}

// A partial checksum the worker cannot keep partial (not where the transport header says) is
// completed before translation, and the frame leaves without the flag.
TEST_F(WorkerTest, APartialChecksumInAnUnexpectedPlaceIsCompleted) {
  offloads_ = true;
  make(nullptr);
  resolve_router();
  Bytes f = vm_tcp(kSyn);
  make_partial(f.data() + 14);
  io::Offload o;
  o.flags = io::Offload::kNeedsCsum;
  o.csum_start = 14 + 20;
  o.csum_offset = 6;  // not TCP's checksum
  ASSERT_TRUE(in_->inject(f, o));
  poll();
  auto sent = out_->take_sent_frames();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(sent[0].offload.needs_csum());
  EXPECT_TRUE(l4_checksum_ok(sent[0].bytes.data() + 14));
  EXPECT_EQ(worker_->stats().csum_completed, 1u);
}

// Without offloads on the outgoing port, a super-frame cannot be sent whole: counted, not sent.
TEST_F(WorkerTest, ASuperFrameToAPortWithoutOffloadsIsACountedDrop) {
  offloads_ = true;
  make(nullptr);
  resolve_router();
  io::MemoryPortOptions big;
  big.slot_size = 65536 + 64;
  big.rx_capacity = big.tx_capacity = 4;
  io::MemoryPort plain(big);
  EXPECT_FALSE(plain.offloads());
  EXPECT_EQ(plain.max_gso_frame(), plain.max_frame());
  const Bytes f(20000, 0);
  io::Offload gso;
  gso.gso_type = io::Offload::kGsoTcpv4;
  const io::Frame fr{const_cast<std::uint8_t*>(f.data()), 20000, false, gso};
  EXPECT_EQ(plain.tx_burst({&fr, 1}), 1u);
  EXPECT_EQ(plain.stats().tx_invalid, 1u);
}

// The FTP ALG on the datapath: a control connection to port 21 through the worker, up to the
// server's SYN+ACK; returns the public port. Sequence numbers: the client's start at 1001, the
// server's at 8.
class FtpWorkerTest : public WorkerTest {
 protected:
  void open_control() {
    ftp_alg_ = true;
    make(nullptr);
    resolve_router();
    in_->inject(frame(kInMac, kVmMac, 0x0800,
                      PacketBuilder().ipv4(kVm, kServer).tcp(40000, 21, kSyn).build()));
    poll();
    auto sent = out_->take_sent();
    ASSERT_EQ(sent.size(), 1u);
    pub_port_ = rd16(&sent[0][14 + 20]);
    out_->inject(frame(
        kOutMac, kRouterMac, 0x0800,
        PacketBuilder().ipv4(kServer, kPub).tcp(21, pub_port_, kSyn | kAck, 7, 1001).build()));
    poll();
    ASSERT_EQ(in_->take_sent().size(), 1u);
  }
  Bytes command(const std::string& text, std::uint32_t seq = 1001) {
    return frame(kInMac, kVmMac, 0x0800,
                 PacketBuilder()
                     .ipv4(kVm, kServer)
                     .tcp(40000, 21, kAck | kPsh, seq, 8)
                     .payload(text)
                     .build());
  }
  static std::string payload_of(const Bytes& f) {
    const std::uint8_t* ip = f.data() + 14;
    const std::size_t ihl = std::size_t(ip[0] & 0x0F) * 4,
                      doff = std::size_t(ip[ihl + 12] >> 4) * 4;
    return {reinterpret_cast<const char*>(ip + ihl + doff), rd16(ip + 2) - ihl - doff};
  }

  std::uint16_t pub_port_ = 0;
};

// A PORT command naming the inside host grows (10.0.0.11 -> 203.0.113.10): translated in a copy
// with room after it, sent whole with valid checksums; the server's data connection comes in.
TEST_F(FtpWorkerTest, APortCommandGrowsTheFrameAndIsSentWhole) {
  open_control();
  const Bytes cmd = command("PORT 10,0,0,11,156,64\r\n");  // 10.0.0.11:40000
  in_->inject(cmd);
  poll();
  auto sent = out_->take_sent();
  ASSERT_EQ(sent.size(), 1u);
  const std::string out = payload_of(sent[0]);
  ASSERT_EQ(out.rfind("PORT 203,0,113,10,", 0), 0u) << out;
  ASSERT_EQ(out.substr(out.size() - 2), "\r\n");
  EXPECT_GT(out.size(), 23u);
  const std::uint8_t* ip = sent[0].data() + 14;
  EXPECT_EQ(sent[0].size(), cmd.size() - 23 + out.size()) << "longer by what the command grew";
  EXPECT_EQ(rd16(ip + 2), sent[0].size() - 14);
  EXPECT_TRUE(ip_checksum_ok(ip));
  EXPECT_TRUE(l4_checksum_ok(ip));
  EXPECT_EQ(worker_->stats().ftp_copied, 2u) << "the SYN and the PORT segment";
  EXPECT_EQ(worker_->engine().ftp_alg_stats().rewritten, 1u);

  // The server's acknowledgement of the longer segment is shifted back.
  const auto grown = static_cast<std::uint32_t>(out.size() - 23);
  out_->inject(frame(
      kOutMac, kRouterMac, 0x0800,
      PacketBuilder().ipv4(kServer, kPub).tcp(21, pub_port_, kAck, 8, 1001 + 23 + grown).build()));
  poll();
  auto back = in_->take_sent();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(rd32(&back[0][14 + 20 + 8]), 1001u + 23u);
  EXPECT_TRUE(l4_checksum_ok(back[0].data() + 14));

  // The data connection, from port 20 to the public port the command named.
  const std::size_t comma = out.rfind(',', out.size() - 3), before = out.rfind(',', comma - 1);
  const auto data_port =
      static_cast<std::uint16_t>(std::stoi(out.substr(before + 1, comma - before - 1)) * 256 +
                                 std::stoi(out.substr(comma + 1)));
  out_->inject(frame(kOutMac, kRouterMac, 0x0800,
                     PacketBuilder().ipv4(kServer, kPub).tcp(20, data_port, kSyn, 500).build()));
  poll();
  back = in_->take_sent();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(Ipv4{rd32(&back[0][14 + 16])}, kVm);
  EXPECT_EQ(rd16(&back[0][14 + 22]), 40000);

  // Other traffic is not copied.
  in_->inject(vm_tcp(kSyn, 40001));
  poll();
  EXPECT_EQ(out_->take_sent().size(), 1u);
  EXPECT_EQ(worker_->stats().ftp_copied, 2u);
  EXPECT_EQ(worker_->engine().counters().total_drops(), 0u);
}

// With offloads, a partial checksum on the control connection stays partial through the
// rewrite (the kernel completes it), and a super-frame to port 21, too long to grow, crosses
// in place with its sequence number shifted.
TEST_F(FtpWorkerTest, PartialChecksumsAndSuperFramesOnTheControlConnection) {
  offloads_ = true;
  open_control();
  io::Offload partial;
  partial.flags = io::Offload::kNeedsCsum;
  partial.csum_start = 14 + 20;
  partial.csum_offset = 16;
  Bytes cmd = command("EPRT |1|10.0.0.11|40000|\r\n");
  make_partial(cmd.data() + 14);
  ASSERT_TRUE(in_->inject(cmd, partial));
  poll();
  auto sent = out_->take_sent_frames();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].offload, partial);
  const std::string out = payload_of(sent[0].bytes);
  ASSERT_EQ(out.rfind("EPRT |1|203.0.113.10|", 0), 0u) << out;
  const auto grown = static_cast<std::uint32_t>(out.size() - 26);
  EXPECT_GT(grown, 0u);
  std::uint8_t* ip = sent[0].bytes.data() + 14;
  EXPECT_EQ(rd16(ip + 2), sent[0].bytes.size() - 14);
  EXPECT_TRUE(ip_checksum_ok(ip));
  complete_partial(ip);
  EXPECT_TRUE(l4_checksum_ok(ip));
  EXPECT_EQ(worker_->stats().csum_completed, 0u);

  io::Offload gso = partial;
  gso.gso_type = io::Offload::kGsoTcpv4;
  gso.gso_size = 1448;
  gso.hdr_len = 14 + 20 + 20;
  Bytes big = command(std::string(4000, 'x'), 1001 + 26);
  make_partial(big.data() + 14);
  ASSERT_TRUE(in_->inject(big, gso));
  poll();
  sent = out_->take_sent_frames();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].bytes.size(), big.size()) << "whole";
  EXPECT_EQ(sent[0].offload, gso);
  ip = sent[0].bytes.data() + 14;
  EXPECT_EQ(rd32(ip + 20 + 4), 1001u + 26u + grown);
  complete_partial(ip);
  EXPECT_TRUE(l4_checksum_ok(ip));
  EXPECT_EQ(worker_->stats().ftp_copied, 2u) << "the SYN and the EPRT segment, not the super-frame";
  EXPECT_EQ(worker_->engine().counters().total_drops(), 0u);
}

// A reload cannot turn the ALG on or off (the staging copies and the engine's tables are sized at
// start): the worker passes on the engine's refusal, and keeps running as it was.
TEST_F(FtpWorkerTest, AReloadThatTurnsTheAlgOnOrOffIsRefused) {
  nat::EngineConfig next = worker_->engine().config();
  next.ftp_alg = true;
  EXPECT_EQ(worker_->reconfigure(next), "the FTP ALG is turned on or off only with a restart");
  open_control();
  next = worker_->engine().config();
  next.ftp_alg = false;
  EXPECT_EQ(worker_->reconfigure(next), "the FTP ALG is turned on or off only with a restart");
  EXPECT_TRUE(worker_->engine().config().ftp_alg);
}

}  // namespace
}  // namespace natgw::test
