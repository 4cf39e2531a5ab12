// An in-memory Port for tests and the simulator: frames injected with inject() are returned by
// rx_burst; frames sent with tx_burst + tx_flush are collected for take_sent(). All memory is
// allocated at construction, so rx_burst/tx_burst behave like the real backend (bounded queues,
// no allocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/port.hpp"

namespace natgw::io {

struct MemoryPortOptions {
  MacAddress mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  int ifindex = 1;
  std::uint32_t mtu = 1500;
  std::size_t rx_capacity = 256;   // frames injected and not yet released by rx_done
  std::size_t tx_capacity = 256;   // frames queued or sent and not yet taken with take_sent
  std::uint32_t slot_size = 2048;  // largest frame either way
  bool offloads = false;           // carry Offload both ways (as AF_PACKET with PACKET_VNET_HDR)
};

// A frame flushed by a MemoryPort, with the offload state it was sent with.
struct SentFrame {
  std::vector<std::uint8_t> bytes;
  Offload offload;
};

class MemoryPort final : public Port {
 public:
  explicit MemoryPort(const MemoryPortOptions& options = {});

  // Copies a frame into the receive queue. False (and nothing queued) when the queue is full or
  // the frame is larger than a slot.
  bool inject(std::span<const std::uint8_t> frame, bool csum_partial = false);
  // The same with offload state (a port with offloads); csum_partial follows kNeedsCsum.
  bool inject(std::span<const std::uint8_t> frame, const Offload& offload);
  // Frames flushed since the last call, oldest first; frees their room in the tx queue.
  [[nodiscard]] std::vector<std::vector<std::uint8_t>> take_sent();
  // The same with the offload state of each frame.
  [[nodiscard]] std::vector<SentFrame> take_sent_frames();
  [[nodiscard]] std::size_t rx_pending() const noexcept { return rx_waiting_; }
  [[nodiscard]] std::size_t tx_queued() const noexcept { return tx_count_ - tx_flushed_; }
  [[nodiscard]] std::size_t flush_calls() const noexcept { return flush_calls_; }

  std::size_t rx_burst(std::span<Frame> out) noexcept override;
  void rx_done() noexcept override;
  std::size_t tx_burst(std::span<const Frame> frames) noexcept override;
  void tx_flush() noexcept override;

  int fd() const noexcept override { return -1; }
  MacAddress mac() const noexcept override { return opt_.mac; }
  int ifindex() const noexcept override { return opt_.ifindex; }
  std::uint32_t mtu() const noexcept override { return opt_.mtu; }
  std::uint32_t max_frame() const noexcept override;
  bool offloads() const noexcept override { return opt_.offloads; }
  std::uint32_t max_gso_frame() const noexcept override;
  PortStats stats() const override { return stats_; }

 private:
  struct Slot {
    std::uint32_t len = 0;
    bool csum_partial = false;
    Offload offload{};
  };
  bool inject_slot(std::span<const std::uint8_t> frame, const Slot& slot);
  std::uint8_t* rx_data(std::size_t i) noexcept { return rx_mem_.data() + i * opt_.slot_size; }
  std::uint8_t* tx_data(std::size_t i) noexcept { return tx_mem_.data() + i * opt_.slot_size; }

  MemoryPortOptions opt_;
  std::vector<std::uint8_t> rx_mem_;
  std::vector<Slot> rx_slots_;
  std::size_t rx_head_ = 0;     // oldest slot held by the caller (or next to deliver)
  std::size_t rx_held_ = 0;     // delivered by rx_burst, not yet released by rx_done
  std::size_t rx_waiting_ = 0;  // injected, not yet delivered
  std::vector<std::uint8_t> tx_mem_;
  std::vector<std::uint32_t> tx_len_;
  std::vector<Offload> tx_offload_;
  std::size_t tx_count_ = 0;    // slots [0, tx_count_) are in use
  std::size_t tx_flushed_ = 0;  // slots [0, tx_flushed_) were flushed ("sent")
  std::size_t flush_calls_ = 0;
  PortStats stats_;
};

}  // namespace natgw::io
