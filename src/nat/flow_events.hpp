// Flow events: what the engine tells a flow log (telemetry/flow_log.hpp) about connections.
//
// The engine is the single producer of a FlowEventRing, on its own thread; one other thread (the
// daemon's flow-log writer) is the single consumer. Both sides are wait-free: the ring is sized
// at construction, a push never allocates, locks or blocks, and a push into a full ring is
// counted as lost (never waits for the consumer). Per-flow byte and packet counters live in a
// table parallel to the flow slots (FlowStats), allocated only when flow logs are enabled
// (EngineConfig::flow_log), so an engine without flow logs pays nothing for them.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "nat/counters.hpp"
#include "nat/drop_reason.hpp"

namespace natgw::nat {

enum class FlowEventKind : std::uint8_t {
  opened,  // a new connection got its public IP:port
  ended,   // a live connection ended (FlowEnd says how)
  failed,  // a connection attempt the engine refused (DropReason says why)
};
inline constexpr std::array<std::string_view, 3> kFlowEventKindNames = {"opened", "ended",
                                                                        "failed"};

// How a connection ended.
enum class FlowEnd : std::uint8_t {
  closed,     // FIN both ways
  reset,      // RST from either side
  idle,       // the idle timer ran out (established or UDP)
  half_open,  // SYN sent, never established within the half-open timeout (30 s)
  stopped,    // still open when the gateway stopped without a state file to hand it over
};
inline constexpr std::array<std::string_view, 5> kFlowEndNames = {"closed", "reset", "idle",
                                                                  "half_open", "stopped"};

[[nodiscard]] constexpr std::string_view name(FlowEventKind k) noexcept {
  return kFlowEventKindNames[static_cast<std::size_t>(k)];
}
[[nodiscard]] constexpr std::string_view name(FlowEnd e) noexcept {
  return kFlowEndNames[static_cast<std::size_t>(e)];
}

// Per-flow counters, in a table indexed by slot. Index 0 of `bytes`/`packets`: from the inside
// (out), 1: from the outside (in), as Counters. Packets are counted as the engine forwards them.
struct FlowStats {
  std::array<std::uint64_t, 2> bytes;
  std::array<std::uint64_t, 2> packets;
  std::uint64_t start_ms;  // engine clock: when the connection opened (or was restored)
};
// Set in FlowStats::start_ms of a flow restored from a state file.
inline constexpr std::uint64_t kFlowRestored = std::uint64_t{1} << 63;
static_assert(sizeof(FlowStats) == 40);

// One record, fixed size. Addresses are host order. Times are milliseconds on the engine clock
// (the `now` the caller passes); the consumer maps them to wall-clock time.
struct FlowEvent {
  std::uint64_t time_ms = 0;   // opened: start; ended: when it ended (idle: the exact deadline)
  std::uint64_t start_ms = 0;  // when the connection opened (ended events)
  std::array<std::uint64_t, 2> bytes{};    // [out, in], ended events
  std::array<std::uint64_t, 2> packets{};  // [out, in], ended events
  std::uint32_t inside_addr = 0;
  std::uint32_t dst_addr = 0;
  std::uint32_t public_addr = 0;  // 0 for failed events
  std::uint16_t inside_port = 0;
  std::uint16_t dst_port = 0;
  std::uint16_t public_port = 0;
  FlowEventKind kind = FlowEventKind::opened;
  L4 proto = L4::tcp;
  FlowEnd end = FlowEnd::closed;              // ended events
  DropReason reason = DropReason::malformed;  // failed events
  // Restored from a state file at start: counters and start time only cover this process.
  bool restored = false;
};

// Single-producer single-consumer ring of FlowEvents, capacity a power of two.
class FlowEventRing {
 public:
  // Allocates (construction only). `capacity` is rounded up to a power of two, at least 2.
  explicit FlowEventRing(std::size_t capacity);
  FlowEventRing(const FlowEventRing&) = delete;
  FlowEventRing& operator=(const FlowEventRing&) = delete;

  // Producer: false (and counted in lost()) when the ring is full. Never blocks.
  bool push(const FlowEvent& e) noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_cache_ >= capacity_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head - tail_cache_ >= capacity_) {
        lost_.store(lost_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return false;
      }
    }
    slots_[head & mask_] = e;
    head_.store(head + 1, std::memory_order_release);
    pushed_.store(pushed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
  }

  // Consumer: moves up to out.size() events into `out`, oldest first; returns how many.
  std::size_t pop(std::span<FlowEvent> out) noexcept {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(head - tail, out.size()));
    for (std::size_t i = 0; i < n; ++i) out[i] = slots_[(tail + i) & mask_];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  // Events accepted and events lost to a full ring, since construction (any thread).
  [[nodiscard]] std::uint64_t pushed() const noexcept {
    return pushed_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t lost() const noexcept {
    return lost_.load(std::memory_order_relaxed);
  }

 private:
  std::size_t capacity_;
  std::uint64_t mask_;
  std::unique_ptr<FlowEvent[]> slots_;
  alignas(64) std::atomic<std::uint64_t> head_{0};  // written by the producer
  std::uint64_t tail_cache_ = 0;                    // producer's last view of tail_
  std::atomic<std::uint64_t> pushed_{0};
  std::atomic<std::uint64_t> lost_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // written by the consumer
};

}  // namespace natgw::nat
