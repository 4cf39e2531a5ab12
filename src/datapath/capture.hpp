// A capture tap on the datapath: while a session is attached, the worker copies the frames it
// handles — as received and, when it sends them on, as transmitted — into a fixed ring that
// another thread drains. Nothing is allocated or locked on the worker side; a full ring drops
// (and counts) frames rather than slowing the datapath. Frames the datapath leaves to the
// kernel (ARP, traffic for the host itself) are not captured.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "nat/engine.hpp"

namespace natgw::datapath {

enum class CapturePoint : std::uint8_t { inside_rx, outside_tx, outside_rx, inside_tx };
[[nodiscard]] const char* name(CapturePoint p) noexcept;

inline constexpr std::uint32_t kCaptureMaxSnap = 2048;

struct CapturedFrame {
  std::uint64_t seq = 0;  // a received frame and what was sent for it share a number
  nat::Time time{};
  CapturePoint point = CapturePoint::inside_rx;
  nat::Action action = nat::Action::drop;  // the verdict on the received frame
  nat::DropReason reason = nat::DropReason::malformed;
  std::uint32_t len = 0;     // length on the wire
  std::uint32_t caplen = 0;  // bytes kept
  std::vector<std::uint8_t> data;
};

class CaptureSession {
 public:
  // `filter` decides on a whole Ethernet frame (e.g. a compiled BPF program); it runs on the
  // worker thread and must not allocate. A received frame is kept when it or the frame sent
  // for it matches.
  using Filter = std::function<bool(const std::uint8_t* frame, std::uint32_t len)>;
  CaptureSession(std::size_t capacity, std::uint32_t snaplen, Filter filter);

  // Worker side.
  [[nodiscard]] bool matches(const std::uint8_t* frame, std::uint32_t len) const {
    return !filter_ || filter_(frame, len);
  }
  void push(std::uint64_t seq, nat::Time t, CapturePoint p, const nat::Verdict& v,
            const std::uint8_t* frame, std::uint32_t len) noexcept;
  [[nodiscard]] std::uint64_t next_seq() noexcept { return ++seq_; }
  // Scratch for the pre-translation copy of batch entry `i` (translation rewrites in place).
  [[nodiscard]] std::uint8_t* scratch(std::size_t i) noexcept { return scratch_.data() + i * snaplen_; }
  [[nodiscard]] std::uint32_t snaplen() const noexcept { return snaplen_; }

  // Reader side: moves what is in the ring to `out`.
  void drain(std::vector<CapturedFrame>& out);
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t captured() const noexcept { return written_.load(std::memory_order_acquire); }

  static constexpr std::size_t kScratchFrames = 64;

 private:
  struct Slot {
    std::uint64_t seq;
    nat::Time time;
    CapturePoint point;
    nat::Verdict verdict;
    std::uint32_t len;
    std::uint32_t caplen;
  };
  std::size_t capacity_;
  std::uint32_t snaplen_;
  Filter filter_;
  std::vector<Slot> slots_;
  std::vector<std::uint8_t> bytes_;
  std::vector<std::uint8_t> scratch_;
  std::atomic<std::uint64_t> written_{0};  // producer position
  std::atomic<std::uint64_t> read_{0};     // consumer position
  std::atomic<std::uint64_t> dropped_{0};
  std::uint64_t seq_ = 0;
};

}  // namespace natgw::datapath
