// One flow slot: 40 bytes, referenced by a 32-bit index (0 is "none"). A slot holds either a
// live connection or, after it ended, the public port it keeps in hold-down for its destination.
#pragma once

#include <cstdint>
#include <string_view>

#include "nat/counters.hpp"
#include "net/types.hpp"

namespace natgw::nat {

using SlotIndex = std::uint32_t;
inline constexpr SlotIndex kNoSlot = 0;

// The state of a slot. The state implies the protocol. See nat/README.md for the diagram.
enum class FlowState : std::uint8_t {
  free,
  // TCP, live
  tcp_syn_sent,     // SYN from the inside seen (half-open)
  tcp_syn_acked,    // SYN+ACK from the outside seen (still half-open)
  tcp_established,  // the inside acknowledged the SYN+ACK
  tcp_fin_out,      // FIN from the inside seen
  tcp_fin_in,       // FIN from the outside seen
  // TCP, ended: the port is in hold-down for the destination
  tcp_closed,   // FIN both ways: packets still pass (final ACKs), no refresh
  tcp_reset,    // RST seen: packets still pass, no refresh
  tcp_expired,  // idle timeout: late segments are answered with RST
  // UDP
  udp_new,      // no reply yet
  udp_replied,  // at least one packet from the outside
  udp_expired,  // idle timeout: hold-down
  // ICMP echo (behaviour.icmp_echo); the identifier is the port
  icmp_new,      // echo request seen, no reply yet
  icmp_replied,  // at least one echo reply
  icmp_expired,  // idle timeout: hold-down
  // TCP, live: a SYN from the outside to an endpoint-independent mapping (endpoint-independent
  // filtering); established when the inside host answers it
  tcp_syn_in,
};
inline constexpr int kFlowStateCount = 16;

[[nodiscard]] constexpr bool is_udp(FlowState s) noexcept {
  return s >= FlowState::udp_new && s <= FlowState::udp_expired;
}
[[nodiscard]] constexpr bool is_icmp(FlowState s) noexcept {
  return s >= FlowState::icmp_new && s <= FlowState::icmp_expired;
}
// A table rather than two range checks: flow lookups compare it for every slot of a chain.
inline constexpr L4 kL4OfState[kFlowStateCount] = {
    L4::tcp, L4::tcp, L4::tcp, L4::tcp, L4::tcp,  L4::tcp,  L4::tcp,  L4::tcp,
    L4::tcp, L4::udp, L4::udp, L4::udp, L4::icmp, L4::icmp, L4::icmp, L4::tcp};
static_assert(kFlowStateCount == 16, "l4_of indexes a table of 16 states");
[[nodiscard]] constexpr L4 l4_of(FlowState s) noexcept {
  return kL4OfState[static_cast<int>(s) & (kFlowStateCount - 1)];
}
[[nodiscard]] constexpr bool is_live(FlowState s) noexcept {
  switch (s) {
    case FlowState::tcp_syn_sent:
    case FlowState::tcp_syn_acked:
    case FlowState::tcp_established:
    case FlowState::tcp_fin_out:
    case FlowState::tcp_fin_in:
    case FlowState::udp_new:
    case FlowState::udp_replied:
    case FlowState::icmp_new:
    case FlowState::icmp_replied:
    case FlowState::tcp_syn_in:
      return true;
    default:
      return false;
  }
}
[[nodiscard]] constexpr bool is_holddown(FlowState s) noexcept {
  return s != FlowState::free && !is_live(s);
}
[[nodiscard]] constexpr bool is_half_open(FlowState s) noexcept {
  return s == FlowState::tcp_syn_sent || s == FlowState::tcp_syn_acked ||
         s == FlowState::tcp_syn_in;
}

[[nodiscard]] constexpr std::string_view name(FlowState s) noexcept {
  constexpr std::string_view names[kFlowStateCount] = {
      "free",    "syn_sent", "syn_acked", "established", "fin_out", "fin_in",  "closed",  "reset",
      "expired", "new",      "replied",   "expired",     "new",     "replied", "expired", "syn_in"};
  return names[static_cast<int>(s)];
}

struct Flow {
  std::uint32_t inside_addr;  // host order
  std::uint32_t dst_addr;
  std::uint16_t inside_port;
  std::uint16_t dst_port;
  std::uint16_t public_port;
  std::uint8_t public_idx;  // index into the engine's public IP table
  // FlowState in the low 7 bits; the top bit is set while the slot is reachable by its inside
  // key. A slot in hold-down whose inside 5-tuple was reused by a new connection is reachable
  // from the outside only.
  std::uint8_t state_bits;
  // Milliseconds on the engine clock, modulo 2^32 (compared by signed difference). Live flows:
  // last packet from the inside / from the outside. Hold-down: both hold its start.
  std::uint32_t last_out;
  std::uint32_t last_in;
  SlotIndex wheel_prev;
  SlotIndex wheel_next;
  SlotIndex next_in2out;  // hash chain, inside key
  SlotIndex next_out2in;  // hash chain, outside key

  static constexpr std::uint8_t kLinked = 0x80;
  [[nodiscard]] FlowState state() const noexcept {
    return static_cast<FlowState>(state_bits & ~kLinked);
  }
  void set_state(FlowState s) noexcept {
    state_bits = static_cast<std::uint8_t>((state_bits & kLinked) | static_cast<std::uint8_t>(s));
  }
  [[nodiscard]] bool in2out_linked() const noexcept { return (state_bits & kLinked) != 0; }
  void set_in2out_linked(bool on) noexcept {
    state_bits = static_cast<std::uint8_t>(on ? (state_bits | kLinked) : (state_bits & ~kLinked));
  }
};
static_assert(sizeof(Flow) == 40, "a flow slot is 40 bytes; see bytes_per_flow in nat/README.md");

}  // namespace natgw::nat
