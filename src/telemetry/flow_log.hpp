// Flow logs: one JSON line per connection start, end and refused attempt, from the engine's
// flow events (nat/flow_events.hpp). This side runs off the packet path, on the daemon's
// flow-log thread: it formats, rate-limits (token bucket), writes and rotates.
//
// Time is an input everywhere here (`now` on the engine's monotonic clock, and the offset from
// it to Unix time), so the formatter, the rate limit and the rotation are tested without a clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "nat/config.hpp"
#include "nat/flow_events.hpp"

namespace natgw::telemetry {

struct FlowLogOptions {
  std::string path = "-";                          // a file, or "-" for standard output
  std::uint64_t max_bytes = 100ull * 1024 * 1024;  // rotate before a file would pass this size
  std::uint32_t keep = 5;                // rotated files kept: path.1 (newest) .. path.keep
  std::uint32_t rate_per_second = 1000;  // records written per second at most (burst: 1 s)

  bool operator==(const FlowLogOptions&) const = default;
};

// A token bucket: `rate` tokens per second, holding at most `burst`; starts full.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
  // Takes one token at time `now` if there is one.
  bool take(nat::Time now) noexcept;

 private:
  double rate_;
  double burst_;
  double tokens_;
  nat::Time last_{};
  bool started_ = false;
};

// One JSON line (with its '\n') for an event. `unix_offset_ms` maps the engine clock to Unix
// time (Unix ms = engine ms + offset).
[[nodiscard]] std::string format_flow_event(const nat::FlowEvent& e, std::int64_t unix_offset_ms);

// "2026-11-27T08:45:01.123Z"
[[nodiscard]] std::string rfc3339_ms(std::int64_t unix_ms);

// Counters of a flow log, readable from any thread.
struct FlowLogCounters {
  std::atomic<std::uint64_t> records{0};       // events taken from the ring
  std::atomic<std::uint64_t> written{0};       // lines written
  std::atomic<std::uint64_t> rate_limited{0};  // left out by the rate limit
  std::atomic<std::uint64_t> write_errors{0};  // lines a failed write lost
  std::atomic<std::uint64_t> rotations{0};
};

// Writes lines to a file with size-based rotation, or to standard output.
class FlowLogWriter {
 public:
  FlowLogWriter() = default;
  ~FlowLogWriter();
  FlowLogWriter(const FlowLogWriter&) = delete;
  FlowLogWriter& operator=(const FlowLogWriter&) = delete;

  // Opens (or, on a reload, reopens: a file moved away by log rotation is created again) the
  // output with these options; the rate limit starts full when it is new or its rate changed.
  // Returns an empty string, or why the file cannot be opened (the previous output then stays).
  [[nodiscard]] std::string open(const FlowLogOptions& options);
  // Rate-limits, formats and writes one event taken from the ring at engine time `now`.
  void write(const nat::FlowEvent& e, nat::Time now, std::int64_t unix_offset_ms);
  void flush();

  [[nodiscard]] const FlowLogCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] const FlowLogOptions& options() const noexcept { return options_; }

 private:
  void rotate();

  FlowLogOptions options_;
  std::FILE* file_ = nullptr;  // stdout when path is "-"
  std::uint64_t size_ = 0;     // bytes in the current file
  bool opened_ = false;
  TokenBucket bucket_{1, 1};
  FlowLogCounters counters_;
};

}  // namespace natgw::telemetry
