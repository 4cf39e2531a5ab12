#include "daemon/flow_log_pump.hpp"

#include <array>
#include <chrono>

#include "daemon/state_file.hpp"
#include "datapath/worker.hpp"

namespace natgw::daemon {

std::string FlowLogPump::open(const telemetry::FlowLogOptions& options) {
  std::lock_guard lk(mu_);
  return writer_.open(options);
}

void FlowLogPump::start() {
  thread_ = std::thread([this] {
    while (!stopping_.load(std::memory_order_relaxed)) {
      drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

void FlowLogPump::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  drain();
}

void FlowLogPump::drain() {
  std::array<nat::FlowEvent, 256> batch;
  std::lock_guard lk(mu_);
  bool any = false;
  for (nat::FlowEventRing* ring : rings_) {
    for (;;) {
      const std::size_t n = ring->pop(batch);
      if (n == 0) break;
      any = true;
      // Engine time is the datapath's monotonic clock; records carry Unix time. The offset
      // between the two is kept while it stays within 100 ms, so that the same instant is the
      // same Unix time in every record (a flow's start in its opened and its ended record); a
      // step of the wall clock beyond that is followed.
      const nat::Time now = datapath::monotonic_now();
      const std::int64_t offset =
          unix_ms_now() - std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
      if (!offset_known_ || offset - offset_ > 100 || offset_ - offset > 100) {
        offset_ = offset;
        offset_known_ = true;
      }
      for (std::size_t i = 0; i < n; ++i) writer_.write(batch[i], now, offset_);
    }
  }
  if (any) writer_.flush();
}

void FlowLogPump::fill(telemetry::FlowLogReport& r) const {
  const auto& c = writer_.counters();  // atomics: no lock needed
  r.enabled = true;
  r.records = 0;
  r.ring_full = 0;
  for (const nat::FlowEventRing* ring : rings_) {
    r.records += ring->pushed() + ring->lost();
    r.ring_full += ring->lost();
  }
  r.written = c.written.load(std::memory_order_relaxed);
  r.rate_limited = c.rate_limited.load(std::memory_order_relaxed);
  r.write_errors = c.write_errors.load(std::memory_order_relaxed);
}

}  // namespace natgw::daemon
