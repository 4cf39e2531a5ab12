// The in-memory Port: the contract of port.hpp on bounded, preallocated queues.
#include "io/memory_port.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace natgw::io {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes frame(std::uint8_t tag, std::size_t len) {
  Bytes f(len, tag);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

Frame view(Bytes& b) {
  return Frame{b.data(), static_cast<std::uint32_t>(b.size()), false};
}

TEST(MemoryPort, ReceivesInjectedFramesInOrderUntilRxDone) {
  MemoryPort port(MemoryPortOptions{.rx_capacity = 4});
  const Bytes a = frame(1, 60), b = frame(2, 1514), c = frame(3, 100);
  ASSERT_TRUE(port.inject(a));
  ASSERT_TRUE(port.inject(b, true));
  ASSERT_TRUE(port.inject(c));
  std::array<Frame, 2> out{};
  ASSERT_EQ(port.rx_burst(out), 2u);
  EXPECT_EQ(Bytes(out[0].data, out[0].data + out[0].len), a);
  EXPECT_EQ(Bytes(out[1].data, out[1].data + out[1].len), b);
  EXPECT_FALSE(out[0].csum_partial);
  EXPECT_TRUE(out[1].csum_partial);
  out[0].data[0] = 0xEE;  // frames are writable in place
  // A second burst before rx_done: the first frames stay valid and held.
  std::array<Frame, 8> more{};
  ASSERT_EQ(port.rx_burst(more), 1u);
  EXPECT_EQ(more[0].len, 100u);
  EXPECT_EQ(out[0].data[0], 0xEE);
  ASSERT_TRUE(port.inject(a));   // 4th slot
  EXPECT_FALSE(port.inject(a));  // full: three held, one waiting
  port.rx_done();
  EXPECT_TRUE(port.inject(c));
  ASSERT_EQ(port.rx_burst(more), 2u);
  EXPECT_EQ(more[0].len, 60u);
  EXPECT_EQ(more[1].len, 100u);
  port.rx_done();
  EXPECT_EQ(port.rx_burst(more), 0u);
  EXPECT_EQ(port.stats().rx_frames, 5u);
  EXPECT_EQ(port.stats().rx_bytes, 60u + 1514 + 100 + 60 + 100);
}

TEST(MemoryPort, RefusesFramesLargerThanASlot) {
  MemoryPort port(MemoryPortOptions{.slot_size = 128});
  EXPECT_FALSE(port.inject(frame(1, 129)));
  EXPECT_TRUE(port.inject(frame(1, 128)));
}

TEST(MemoryPort, SendsCopiesOnFlushAndBoundsTheQueue) {
  MemoryPort port(MemoryPortOptions{.tx_capacity = 3});
  Bytes a = frame(1, 60), b = frame(2, 70), c = frame(3, 80), d = frame(4, 90);
  const std::array<Frame, 4> frames = {view(a), view(b), view(c), view(d)};
  EXPECT_EQ(port.tx_burst(frames), 3u);
  EXPECT_EQ(port.stats().tx_queue_full, 1u);
  a[0] = 0x77;                            // tx_burst copied: the caller's buffer may change
  EXPECT_TRUE(port.take_sent().empty());  // nothing flushed yet
  EXPECT_EQ(port.tx_queued(), 3u);
  port.tx_flush();
  auto sent = port.take_sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0], frame(1, 60));
  EXPECT_EQ(sent[2], c);
  EXPECT_EQ(port.flush_calls(), 1u);
  EXPECT_EQ(port.tx_burst(std::span(&frames[3], 1)), 1u);
  port.tx_flush();
  sent = port.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], d);
  EXPECT_EQ(port.stats().tx_frames, 4u);
  EXPECT_EQ(port.stats().tx_bytes, 60u + 70 + 80 + 90);
}

TEST(MemoryPort, InvalidFramesAreConsumedAndCounted) {
  MemoryPort port(MemoryPortOptions{.mtu = 100});
  Bytes tiny(10, 0), big = frame(1, 115), max = frame(2, 114);
  const std::array<Frame, 3> frames = {view(tiny), view(big), view(max)};
  EXPECT_EQ(port.max_frame(), 114u);
  EXPECT_EQ(port.tx_burst(frames), 3u);
  EXPECT_EQ(port.stats().tx_invalid, 2u);
  port.tx_flush();
  const auto sent = port.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], max);
}

TEST(MemoryPort, Identity) {
  const MacAddress mac{0x02, 1, 2, 3, 4, 5};
  MemoryPort port(MemoryPortOptions{.mac = mac, .ifindex = 7, .mtu = 9000});
  EXPECT_EQ(port.mac(), mac);
  EXPECT_EQ(port.ifindex(), 7);
  EXPECT_EQ(port.mtu(), 9000u);
  EXPECT_EQ(port.max_frame(), 2048u);  // capped by the slot size
  EXPECT_EQ(port.fd(), -1);
}

TEST(MacAddress, ParsesAndFormats) {
  const auto m = MacAddress::parse("02:AB:cd:00:ff:10");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (MacAddress{0x02, 0xab, 0xcd, 0x00, 0xff, 0x10}));
  EXPECT_EQ(m->text().view(), "02:ab:cd:00:ff:10");
  for (const char* bad : {"", "02:ab:cd:00:ff", "02:ab:cd:00:ff:10:", "02-ab-cd-00-ff-10",
                          "02:ab:cd:00:ff:1g", "2:ab:cd:00:ff:10:0"}) {
    EXPECT_FALSE(MacAddress::parse(bad)) << bad;
  }
  EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddress::broadcast().is_multicast());
  EXPECT_TRUE((MacAddress{0x01, 0, 0x5e, 0, 0, 1}).is_multicast());
  EXPECT_FALSE(m->is_multicast());
  EXPECT_TRUE(MacAddress{}.is_zero());
  static_assert(MacAddress::parse("00:00:00:00:00:01") == MacAddress(0, 0, 0, 0, 0, 1));
}

}  // namespace
}  // namespace natgw::io
