// The engine's side of flow logs (nat/flow_events.hpp): events at connection open, end and
// refusal. Called from the packet path and the timers only when EngineConfig::flow_log is on;
// each writes one fixed-size record into the preallocated ring (a full ring counts a loss).
#include <algorithm>

#include "nat/engine.hpp"

namespace natgw::nat {
namespace {

// An event about the flow in a slot: its tuples and public endpoint.
FlowEvent event_of(const Flow& f, net::Ipv4 public_addr, FlowEventKind kind) noexcept {
  FlowEvent e;
  e.kind = kind;
  e.proto = l4_of(f.state());
  e.inside_addr = f.inside_addr;
  e.inside_port = f.inside_port;
  e.dst_addr = f.dst_addr;
  e.dst_port = f.dst_port;
  e.public_addr = public_addr.value();
  e.public_port = f.public_port;
  return e;
}

}  // namespace

void Engine::flow_opened(SlotIndex s, bool restored) noexcept {
  const Flow& f = slots_[s];
  if (!restored) flow_stats_[s] = FlowStats{{}, {}, now_ms_};
  FlowEvent e = event_of(f, pubs_[f.public_idx].addr, FlowEventKind::opened);
  e.time_ms = e.start_ms = now_ms_;
  e.restored = restored;
  flow_events_->push(e);
}

void Engine::flow_ended(SlotIndex s, FlowEnd how, std::uint32_t when) noexcept {
  const Flow& f = slots_[s];
  const FlowStats& st = flow_stats_[s];
  FlowEvent e = event_of(f, pubs_[f.public_idx].addr, FlowEventKind::ended);
  e.end = how;
  // `when` is on the 32-bit flow clock and not after now (an idle end is its exact deadline).
  const auto back = static_cast<std::uint32_t>(now32_ - when);
  e.time_ms = now_ms_ >= back ? now_ms_ - back : 0;
  e.start_ms = st.start_ms & ~kFlowRestored;
  // A flow restored after it had already run out ends before this process started counting it.
  if (e.time_ms < e.start_ms) e.time_ms = e.start_ms;
  e.restored = (st.start_ms & kFlowRestored) != 0;
  e.bytes = st.bytes;
  e.packets = st.packets;
  // A close or reset is caused by the packet being decided (the last FIN, the RST); it is
  // forwarded after this event is written, so it is added here.
  if ((how == FlowEnd::closed || how == FlowEnd::reset) && current_ != nullptr) {
    const auto d = static_cast<std::size_t>(current_dir_);
    const net::WireSize w = net::wire_size(*current_);
    e.bytes[d] += w.bytes;
    e.packets[d] += w.packets;
  }
  flow_events_->push(e);
}

std::size_t Engine::log_stopped_flows(Time now, std::size_t from, std::size_t max) noexcept {
  if (!flow_stats_) return 0;
  set_now(now);
  sweep_current_tick();
  std::size_t written = 0;
  for (std::size_t s = std::max<std::size_t>(from, 1); s < slot_hwm_; ++s) {
    if (!is_live(slots_[s].state())) continue;
    if (written == max) return s;
    flow_ended(static_cast<SlotIndex>(s), FlowEnd::stopped, now32_);
    ++written;
  }
  return 0;
}

void Engine::flow_failed(const net::PacketView& v, L4 l4, DropReason why) noexcept {
  FlowEvent e;
  e.kind = FlowEventKind::failed;
  e.reason = why;
  e.time_ms = e.start_ms = now_ms_;
  e.proto = l4;
  e.inside_addr = v.src.value();
  e.inside_port = v.sport;
  e.dst_addr = v.dst.value();
  e.dst_port = v.dport;
  e.packets[0] = 1;
  e.bytes[0] = v.total_len;
  flow_events_->push(e);
}

}  // namespace natgw::nat
