#include "nat/flow_events.hpp"

#include <bit>

namespace natgw::nat {

FlowEventRing::FlowEventRing(std::size_t capacity)
    : capacity_(std::bit_ceil(std::max<std::size_t>(capacity, 2))),
      mask_(capacity_ - 1),
      slots_(std::make_unique<FlowEvent[]>(capacity_)) {}

}  // namespace natgw::nat
