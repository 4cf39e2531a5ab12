// The daemon's flow-log thread: drains the engines' flow-event rings, one per datapath worker
// (the consumer side of each SPSC ring; the worker's thread is its producer), and writes the
// records through a
// telemetry::FlowLogWriter. The datapath never waits for it: a ring it has not drained in time
// loses records, and counts them.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nat/flow_events.hpp"
#include "telemetry/flow_log.hpp"
#include "telemetry/snapshot.hpp"

namespace natgw::daemon {

class FlowLogPump {
 public:
  // Records of one worker keep their order; records of different workers are written ring after
  // ring at each drain (each carries its own time).
  explicit FlowLogPump(std::vector<nat::FlowEventRing*> rings) : rings_(std::move(rings)) {}
  ~FlowLogPump() { stop(); }
  FlowLogPump(const FlowLogPump&) = delete;
  FlowLogPump& operator=(const FlowLogPump&) = delete;

  // Opens the output (start, or a reload with new options); an error leaves the old output.
  [[nodiscard]] std::string open(const telemetry::FlowLogOptions& options);
  void start();
  // Stops the thread after a last drain; call after the datapath stopped for every record.
  void stop();
  // Writes what the ring holds now (the thread does this every 50 ms).
  void drain();
  void fill(telemetry::FlowLogReport& r) const;

 private:
  std::vector<nat::FlowEventRing*> rings_;
  std::int64_t offset_ = 0;  // Unix ms minus monotonic ms, as used for the records (drain())
  bool offset_known_ = false;
  mutable std::mutex mu_;  // the writer: this thread and reloads
  telemetry::FlowLogWriter writer_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace natgw::daemon
