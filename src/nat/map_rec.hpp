// Internal to the engine (engine.cpp, ftp_alg.cpp): an endpoint-independent mapping record.
#pragma once

#include <cstdint>

#include "nat/engine.hpp"

namespace natgw::nat {

// An endpoint-independent mapping: one inside IP:port to one public IP:port, for every
// destination; shared by the flows (live and in hold-down) of that inside endpoint.
struct Engine::MapRec {
  std::uint32_t inside_addr;
  std::uint16_t inside_port;
  std::uint16_t public_port;
  std::uint8_t public_idx;
  std::uint8_t l4;
  std::uint32_t refs;  // flows on it, live and in hold-down; the record is freed at 0
  std::uint32_t live;  // live flows: inbound is accepted (endpoint-independent filtering) while > 0
  std::uint32_t next_in;
  std::uint32_t next_out;  // also the free list
};

}  // namespace natgw::nat
