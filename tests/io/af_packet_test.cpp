// AF_PACKET backend on a real veth between two network namespaces created by the test.
#include "io/af_packet.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <optional>
#include <system_error>
#include <thread>

#include "io/netns.hpp"
#include "io/raw_socket.hpp"
#include "net/checksum.hpp"

namespace natgw::io {
namespace {

using namespace std::chrono_literals;
using test::NetnsGuard;
using test::VethPairTest;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t kTestEtherType = 0x88B5;  // IEEE 802 local experimental
constexpr std::array<std::uint8_t, 4> kMagic = {'N', 'G', 'W', 'T'};

// A test frame: Ethernet header, magic, sequence number, then a pattern up to `len` bytes.
Bytes test_frame(const MacAddress& dst, const MacAddress& src, std::uint32_t seq, std::size_t len) {
  Bytes f(len, 0);
  net::write_eth_header(f.data(), dst, src, kTestEtherType);
  std::memcpy(&f[14], kMagic.data(), kMagic.size());
  for (int i = 0; i < 4; ++i) f[18 + i] = static_cast<std::uint8_t>(seq >> (24 - 8 * i));
  for (std::size_t i = 22; i < len; ++i) f[i] = static_cast<std::uint8_t>(seq + i);
  return f;
}

// The sequence number of a test frame; nullopt for any other frame.
std::optional<std::uint32_t> test_seq(const std::uint8_t* p, std::size_t len) {
  if (len < 22 || net::eth_type(p) != kTestEtherType ||
      std::memcmp(p + 14, kMagic.data(), kMagic.size()) != 0) {
    return std::nullopt;
  }
  return (std::uint32_t{p[18]} << 24) | (std::uint32_t{p[19]} << 16) | (std::uint32_t{p[20]} << 8) |
         p[21];
}

// The peer's plain packet socket (raw_socket.hpp), which also picks test frames out.
class RawSocket : public test::RawSocket {
 public:
  using test::RawSocket::RawSocket;
  // The next test frame, skipping anything else.
  std::optional<Bytes> recv_test(std::chrono::milliseconds timeout, bool outgoing = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto f = recv(std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()),
                    outgoing);
      if (!f) return std::nullopt;
      if (test_seq(f->data(), f->size())) return f;
    }
    return std::nullopt;
  }
};

class AfPacketTest : public VethPairTest {
 protected:
  std::unique_ptr<Port> open_a(const AfPacketOptions& o = {}) {
    NetnsGuard in(ns_a_);
    return open_af_packet(kIfA, o);
  }
  // Receives test frames from `port` until `count` arrived or `timeout` passed; copies them.
  static std::vector<Bytes> receive(Port& port, std::size_t count,
                                    std::chrono::milliseconds timeout,
                                    std::vector<bool>* csum_partial = nullptr) {
    std::vector<Bytes> got;
    std::array<Frame, 8> frames{};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
      test::wait_readable(port.fd(), 20ms);
      const std::size_t n = port.rx_burst(frames);
      for (std::size_t i = 0; i < n; ++i) {
        if (!test_seq(frames[i].data, frames[i].len)) continue;
        got.emplace_back(frames[i].data, frames[i].data + frames[i].len);
        if (csum_partial) csum_partial->push_back(frames[i].csum_partial);
      }
      port.rx_done();
    }
    return got;
  }
  // A UDP datagram to port 9 of ns a (10.77.0.1) from ns b's own stack: veth offloads its
  // checksum (CHECKSUM_PARTIAL).
  void send_udp_from_b(const char (&msg)[16]) const {
    EXPECT_EQ(test::send_udp_to_9(ns_b_, 0x0A4D0001, msg, sizeof msg),
              static_cast<ssize_t>(sizeof msg));
  }
  // Calls `check` on the first UDP frame to port 9 that `port` receives within 3 s (the ARP
  // exchange before it, and anything else, skipped); false when none came.
  template <class Check>
  static bool first_udp_to_9(Port& port, Check check) {
    std::array<Frame, 8> frames{};
    bool seen = false;
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (!seen && std::chrono::steady_clock::now() < deadline) {
      test::wait_readable(port.fd(), 20ms);
      const std::size_t n = port.rx_burst(frames);
      for (std::size_t i = 0; i < n && !seen; ++i) {
        const std::uint8_t* p = frames[i].data;
        if (frames[i].len < 14 + 20 + 8 || net::eth_type(p) != net::kEtherTypeIpv4 ||
            p[23] != 17 || ((p[36] << 8) | p[37]) != 9) {
          continue;
        }
        check(frames[i]);
        seen = true;
      }
      port.rx_done();
    }
    return seen;
  }
};

TEST_F(AfPacketTest, OpenFailsClearlyForAMissingInterface) {
  NetnsGuard in(ns_a_);
  try {
    (void)open_af_packet("natgw-nope0");
    FAIL() << "expected std::system_error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENODEV);
    EXPECT_NE(std::string(e.what()).find("'natgw-nope0': no such interface"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)open_af_packet("a-name-far-too-long-for-linux"), std::system_error);
}

TEST_F(AfPacketTest, OpenFailsClearlyForAnInterfaceThatIsDown) {
  ASSERT_EQ(test::run({"ip", "-n", ns_a_, "link", "set", kIfA, "down"}), 0);
  NetnsGuard in(ns_a_);
  try {
    (void)open_af_packet(kIfA);
    FAIL() << "expected std::system_error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENETDOWN);
    EXPECT_NE(std::string(e.what()).find("interface is down"), std::string::npos) << e.what();
  }
}

TEST_F(AfPacketTest, RejectsBadRingGeometry) {
  NetnsGuard in(ns_a_);
  AfPacketOptions o;
  o.rx_block_size = 3000;
  EXPECT_THROW((void)open_af_packet(kIfA, o), std::system_error);
  o = {};
  o.tx_frame_size = 1000;
  EXPECT_THROW((void)open_af_packet(kIfA, o), std::system_error);
}

TEST_F(AfPacketTest, ReportsTheInterface) {
  ASSERT_EQ(test::run({"ip", "-n", ns_a_, "link", "set", kIfA, "mtu", "1400"}), 0);
  NetnsGuard in(ns_a_);
  const auto port = open_af_packet(kIfA);
  EXPECT_EQ(port->mac(), kMacA);
  EXPECT_EQ(port->ifindex(), static_cast<int>(if_nametoindex(kIfA)));
  EXPECT_EQ(port->mtu(), 1400u);
  EXPECT_EQ(port->max_frame(), 1414u);
  EXPECT_GE(port->fd(), 0);
}

TEST_F(AfPacketTest, ReceivesFramesWithTheirLengthsAcrossBlocks) {
  // Small blocks (a few frames each) so that bursts cross block boundaries and rx_done must
  // hand blocks back for the ring to keep going.
  AfPacketOptions o;
  o.rx_block_size = 4096;
  o.rx_block_count = 8;
  const auto port = open_a(o);
  RawSocket peer(ns_b_, kIfB);
  const std::array<std::size_t, 6> lengths = {60, 61, 100, 512, 1000, 1514};
  std::uint32_t seq = 0;
  for (int round = 0; round < 20; ++round) {
    std::vector<Bytes> sent;
    for (int i = 0; i < 6; ++i, ++seq) {
      sent.push_back(test_frame(kMacA, kMacB, seq, lengths[seq % lengths.size()]));
      peer.send(sent.back());
    }
    std::vector<bool> partial;
    const auto got = receive(*port, sent.size(), 2s, &partial);
    ASSERT_EQ(got.size(), sent.size()) << "round " << round;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i], sent[i]) << "round " << round << " frame " << i;
      EXPECT_FALSE(partial[i]);
    }
  }
  const PortStats s = port->stats();
  EXPECT_GE(s.rx_frames, 120u);
  EXPECT_EQ(s.rx_kernel_drops, 0u);
}

TEST_F(AfPacketTest, FlagsLocallyGeneratedUdpAsChecksumPartial) {
  const auto port = open_a();
  send_udp_from_b("natgw csum test");
  EXPECT_TRUE(first_udp_to_9(*port, [](const Frame& f) { EXPECT_TRUE(f.csum_partial); }));
}

// With offloads (PACKET_VNET_HDR, the default) a partial checksum comes with its position.
TEST_F(AfPacketTest, OffloadsSayWhereAPartialChecksumIs) {
  const auto port = open_a();
  ASSERT_TRUE(port->offloads()) << "PACKET_VNET_HDR refused by this kernel";
  EXPECT_GE(port->max_gso_frame(), 65535u + 14u);
  send_udp_from_b("natgw vnet test");
  EXPECT_TRUE(first_udp_to_9(*port, [](const Frame& f) {
    EXPECT_TRUE(f.csum_partial);
    EXPECT_TRUE(f.offload.needs_csum());
    EXPECT_EQ(f.offload.csum_start, 14 + 20);
    EXPECT_EQ(f.offload.csum_offset, 6);
    EXPECT_FALSE(f.offload.gso());
  }));
}

// A 60 KB TCP super-frame sent with its GSO state crosses the veth whole and arrives, on a port
// with offloads, as one frame with the same state.
TEST_F(AfPacketTest, ASuperFrameCrossesWholeWithItsOffload) {
  const auto a = open_a();
  std::unique_ptr<Port> b;
  {
    NetnsGuard in(ns_b_);
    b = open_af_packet(kIfB);
  }
  ASSERT_TRUE(a->offloads() && b->offloads());
  // 10.77.0.1 -> 10.77.0.99 (no such host: the kernel in ns b drops it), ports 5555 -> 7777.
  Bytes f(14 + 60000, 0);
  net::write_eth_header(f.data(), kMacB, kMacA, net::kEtherTypeIpv4);
  std::uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  net::put_be16(ip + 2, 60000);
  net::put_be16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 6;
  net::put_be32(ip + 12, 0x0A4D0001);
  net::put_be32(ip + 16, 0x0A4D0063);
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += net::get_be16(ip + i);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  net::put_be16(ip + 10, static_cast<std::uint16_t>(~sum));
  std::uint8_t* tcp = ip + 20;
  net::put_be16(tcp, 5555);
  net::put_be16(tcp + 2, 7777);
  tcp[12] = 5 << 4;
  tcp[13] = 0x10;  // ACK
  net::put_be16(tcp + 14, 65535);
  for (std::size_t i = 14 + 40; i < f.size(); ++i) f[i] = static_cast<std::uint8_t>(i);
  // The partial checksum: the pseudo-header sum.
  sum = 0x0A4D + 0x0001 + 0x0A4D + 0x0063 + 6 + (60000 - 20);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  net::put_be16(tcp + 16, static_cast<std::uint16_t>(sum));
  Offload o;
  o.flags = Offload::kNeedsCsum;
  o.gso_type = Offload::kGsoTcpv4;
  o.gso_size = 1448;
  o.hdr_len = 54;
  o.csum_start = 34;
  o.csum_offset = 16;
  const Frame out{f.data(), static_cast<std::uint32_t>(f.size()), false, o};
  ASSERT_EQ(a->tx_burst({&out, 1}), 1u);
  a->tx_flush();
  EXPECT_EQ(a->stats().tx_errors, 0u);
  EXPECT_EQ(a->stats().tx_frames, 1u);

  std::array<Frame, 8> frames{};
  bool seen = false;
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    test::wait_readable(b->fd(), 20ms);
    const std::size_t n = b->rx_burst(frames);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t* p = frames[i].data;
      if (frames[i].len < 14 + 40 || net::eth_type(p) != net::kEtherTypeIpv4 || p[23] != 6 ||
          net::get_be16(p + 34) != 5555) {
        continue;
      }
      EXPECT_EQ(frames[i].len, f.size()) << "one frame, not segments";
      EXPECT_TRUE(std::equal(f.begin(), f.end(), p));
      EXPECT_TRUE(frames[i].offload.gso());
      EXPECT_EQ(frames[i].offload.gso_type & ~Offload::kGsoEcn, Offload::kGsoTcpv4);
      EXPECT_EQ(frames[i].offload.gso_size, 1448);
      EXPECT_TRUE(frames[i].offload.needs_csum());
      EXPECT_EQ(frames[i].offload.csum_start, 34);
      EXPECT_EQ(frames[i].offload.csum_offset, 16);
      seen = true;
    }
    b->rx_done();
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(b->stats().rx_invalid, 0u);
}

class AfPacketTxTest : public AfPacketTest, public ::testing::WithParamInterface<TxMode> {};

TEST_P(AfPacketTxTest, SentFramesReachThePeerIntact) {
  AfPacketOptions o;
  o.tx_mode = GetParam();
  const auto port = open_a(o);
  RawSocket peer(ns_b_, kIfB);
  std::vector<Bytes> sent;
  std::vector<Frame> frames;
  for (std::uint32_t seq = 0; seq < 50; ++seq) {
    sent.push_back(test_frame(kMacB, kMacA, seq, 60 + (seq * 97) % 1455));
  }
  for (auto& f : sent)
    frames.push_back(Frame{f.data(), static_cast<std::uint32_t>(f.size()), false});
  ASSERT_EQ(port->tx_burst(frames), frames.size());
  port->tx_flush();
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const auto got = peer.recv_test(2s);
    ASSERT_TRUE(got) << "frame " << i;
    EXPECT_EQ(*got, sent[i]) << "frame " << i;
  }
  const PortStats s = port->stats();
  EXPECT_EQ(s.tx_frames, 50u);
  EXPECT_EQ(s.tx_errors, 0u);
}

TEST_P(AfPacketTxTest, InvalidFramesAreConsumedAndCounted) {
  AfPacketOptions o;
  o.tx_mode = GetParam();
  const auto port = open_a(o);
  RawSocket peer(ns_b_, kIfB);
  Bytes tiny(10, 0);
  Bytes huge = test_frame(kMacB, kMacA, 1, port->max_frame() + 1);
  Bytes good = test_frame(kMacB, kMacA, 2, port->max_frame());
  const std::array<Frame, 3> frames = {
      Frame{tiny.data(), 10, false},
      Frame{huge.data(), static_cast<std::uint32_t>(huge.size()), false},
      Frame{good.data(), static_cast<std::uint32_t>(good.size()), false}};
  EXPECT_EQ(port->tx_burst(frames), 3u);
  port->tx_flush();
  const auto got = peer.recv_test(2s);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, good);
  EXPECT_EQ(port->stats().tx_invalid, 2u);
}

TEST_P(AfPacketTxTest, AFullQueueTakesWhatFitsAndCountsTheRest) {
  AfPacketOptions o;
  o.tx_mode = GetParam();
  o.tx_frame_count = 32;  // the ring rounds up to whole 64 KiB blocks: 32 slots of 2 KiB
  const auto port = open_a(o);
  RawSocket peer(ns_b_, kIfB);
  std::vector<Bytes> sent;
  std::vector<Frame> frames;
  for (std::uint32_t seq = 0; seq < 40; ++seq) sent.push_back(test_frame(kMacB, kMacA, seq, 200));
  for (auto& f : sent)
    frames.push_back(Frame{f.data(), static_cast<std::uint32_t>(f.size()), false});
  EXPECT_EQ(port->tx_burst(frames), 32u);  // nothing flushed yet: every slot is queued
  EXPECT_EQ(port->stats().tx_queue_full, 8u);
  port->tx_flush();
  for (std::uint32_t i = 0; i < 32; ++i) {
    const auto got = peer.recv_test(2s);
    ASSERT_TRUE(got);
    EXPECT_EQ(test_seq(got->data(), got->size()), i);
  }
  // After the flush the slots come back; the remaining frames go out.
  std::size_t queued = 0;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (queued < 8 && std::chrono::steady_clock::now() < deadline) {
    queued += port->tx_burst(std::span(frames).subspan(32 + queued));
  }
  ASSERT_EQ(queued, 8u);
  port->tx_flush();
  for (std::uint32_t i = 32; i < 40; ++i) {
    const auto got = peer.recv_test(2s);
    ASSERT_TRUE(got);
    EXPECT_EQ(test_seq(got->data(), got->size()), i);
  }
}

// A slot is reused only when the kernel is done with it: frames still queued on the receiving
// side keep their bytes even after the port has sent more frames from the same slots.
TEST_P(AfPacketTxTest, ReusedSlotsDoNotCorruptFramesStillInFlight) {
  AfPacketOptions o;
  o.tx_mode = GetParam();
  o.tx_frame_count = 32;
  const auto port = open_a(o);
  RawSocket peer(ns_b_, kIfB);  // does not read until everything was sent
  std::vector<Bytes> sent;
  for (std::uint32_t seq = 0; seq < 96; ++seq) sent.push_back(test_frame(kMacB, kMacA, seq, 300));
  std::size_t next = 0;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (next < sent.size() && std::chrono::steady_clock::now() < deadline) {
    const Frame f{sent[next].data(), static_cast<std::uint32_t>(sent[next].size()), false};
    if (port->tx_burst(std::span(&f, 1)) == 1) ++next;
    port->tx_flush();
  }
  ASSERT_EQ(next, sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const auto got = peer.recv_test(2s);
    ASSERT_TRUE(got) << "frame " << i;
    ASSERT_EQ(*got, sent[i]) << "frame " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, AfPacketTxTest, ::testing::Values(TxMode::ring, TxMode::sendmmsg),
                         [](const auto& p) {
                           return p.param == TxMode::ring ? std::string("ring")
                                                          : std::string("sendmmsg");
                         });

// PACKET_IGNORE_OUTGOING: the port sees none of the frames sent on its interface, whether by
// another packet socket (another worker's port) or by the kernel's own stack. (A socket never
// sees its own transmissions; with PACKET_QDISC_BYPASS no other socket sees them either.)
TEST_F(AfPacketTest, DoesNotSeeFramesSentOnItsInterface) {
  const auto port = open_a();
  AfPacketOptions through_qdisc;
  through_qdisc.qdisc_bypass = false;  // so that the tap below can see this port's frames
  const auto other = open_a(through_qdisc);
  RawSocket peer(ns_b_, kIfB);
  RawSocket tap(ns_a_, kIfA);  // a plain socket on the same interface, without the option
  std::vector<Bytes> sent;
  std::vector<Frame> frames;
  for (std::uint32_t seq = 0; seq < 10; ++seq) sent.push_back(test_frame(kMacB, kMacA, seq, 100));
  for (auto& f : sent)
    frames.push_back(Frame{f.data(), static_cast<std::uint32_t>(f.size()), false});
  ASSERT_EQ(other->tx_burst(frames), frames.size());
  other->tx_flush();
  // The kernel of namespace a sends too (an ARP request, then the datagram to 10.77.0.2, ns b).
  EXPECT_EQ(test::send_udp_to_9(ns_a_, 0x0A4D0002, "x", 1), 1);
  for (std::uint32_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(peer.recv_test(2s)) << "the peer got frame " << i;
    // The frames really were on the interface: the tap, asking for outgoing frames, sees them.
    const auto t = tap.recv_test(2s, true);
    ASSERT_TRUE(t);
    EXPECT_EQ(test_seq(t->data(), t->size()), i);
  }
  bool udp_out = false;  // the tap sees the kernel's datagram leave
  for (auto f = tap.recv(2s, true); f && !udp_out; f = tap.recv(2s, true)) {
    udp_out = f->size() >= 34 && net::eth_src(f->data()) == kMacA &&
              net::eth_type(f->data()) == net::kEtherTypeIpv4 && (*f)[23] == 17;
  }
  EXPECT_TRUE(udp_out);
  // The peer then sends a sentinel; nothing the port receives before it comes from a.
  const Bytes sentinel = test_frame(kMacA, kMacB, 1000, 60);
  peer.send(sentinel);
  std::array<Frame, 8> in{};
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    test::wait_readable(port->fd(), 20ms);
    const std::size_t n = port->rx_burst(in);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_NE(net::eth_src(in[i].data), kMacA) << "saw an outgoing frame";
      done = done || test_seq(in[i].data, in[i].len) == 1000u;
    }
    port->rx_done();
  }
  EXPECT_TRUE(done);
}

TEST_F(AfPacketTest, CountsKernelDropsWhenTheRingIsFull) {
  AfPacketOptions o;
  o.rx_block_size = 4096;
  o.rx_block_count = 2;  // room for a handful of 1000-byte frames
  const auto port = open_a(o);
  RawSocket peer(ns_b_, kIfB);
  for (std::uint32_t seq = 0; seq < 100; ++seq) peer.send(test_frame(kMacA, kMacB, seq, 1000));
  // Nothing is read while the peer sends: the ring fills and the kernel drops the rest.
  std::uint64_t drops = 0;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (drops == 0 && std::chrono::steady_clock::now() < deadline) {
    drops = port->stats().rx_kernel_drops;
    if (drops == 0) std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(drops, 0u);
  // Reading afterwards returns the frames that fit, and the port keeps working.
  (void)receive(*port, 100, 200ms);
  const Bytes after = test_frame(kMacA, kMacB, 5000, 60);
  peer.send(after);
  const auto got = receive(*port, 1, 2s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], after);
}

}  // namespace
}  // namespace natgw::io
