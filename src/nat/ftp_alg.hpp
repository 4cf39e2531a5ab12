// Internal to the engine: the FTP ALG's tables (EngineConfig::ftp_alg; nat/README.md, FTP ALG).
#pragma once

#include <cstdint>

#include "nat/engine.hpp"

namespace natgw::nat {

// Sequence number offsets of one FTP control connection, from the inside (the direction whose
// payload the ALG rewrites), as Linux's nf_conntrack_seqadj keeps them: segments that start
// after `correction_pos` are shifted by `offset_after`, earlier ones (retransmissions) by
// `offset_before`; acknowledgements from the outside are shifted back the same way.
struct Engine::FtpSeq {
  SlotIndex slot;  // 0: unused
  std::uint32_t inside_addr;
  std::uint32_t dst_addr;
  std::uint16_t inside_port;
  std::uint16_t public_port;
  std::uint32_t correction_pos;
  std::int32_t offset_before;
  std::int32_t offset_after;
};

// A data connection a PORT/EPRT announced: from `server` (any port) to the public IP:port,
// translated to the inside host's address and port, until `expires` (engine ms modulo 2^32).
struct Engine::FtpExpect {
  std::uint32_t server;
  std::uint32_t inside_addr;
  std::uint32_t expires;
  std::uint16_t inside_port;
  std::uint16_t public_port;
  std::uint8_t public_idx;
  bool used;
};

}  // namespace natgw::nat
