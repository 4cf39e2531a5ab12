// Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Every function works on 16-bit words exactly as they lie in the packet (network order),
// loaded with a native load. One's-complement addition commutes with byte swapping, so a
// checksum computed and stored this way is correct on any host without conversions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace natgw::net {

[[nodiscard]] inline std::uint16_t load16(const std::uint8_t* p) noexcept {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(std::uint8_t* p, std::uint16_t v) noexcept { std::memcpy(p, &v, sizeof v); }
[[nodiscard]] inline std::uint32_t load32(const std::uint8_t* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store32(std::uint8_t* p, std::uint32_t v) noexcept { std::memcpy(p, &v, sizeof v); }

// Big-endian field access for values the program reasons about (ports, lengths, addresses).
[[nodiscard]] inline std::uint16_t get_be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
[[nodiscard]] inline std::uint32_t get_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
inline void put_be16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void put_be32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// Unfolded one's-complement sum of `len` bytes added to `sum`. Odd trailing byte is padded
// with zero as RFC 1071 requires.
[[nodiscard]] inline std::uint64_t csum_partial(const std::uint8_t* data, std::size_t len,
                                                std::uint64_t sum = 0) noexcept {
  while (len >= 8) {
    std::uint64_t w;
    std::memcpy(&w, data, 8);
    sum += w & 0xFFFFFFFFu;
    sum += w >> 32;
    data += 8;
    len -= 8;
  }
  while (len >= 2) {
    sum += load16(data);
    data += 2;
    len -= 2;
  }
  if (len) {
    std::uint8_t tail[2] = {data[0], 0};
    sum += load16(tail);
  }
  return sum;
}

[[nodiscard]] inline std::uint16_t csum_fold(std::uint64_t sum) noexcept {
  sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
  sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
  sum = (sum & 0xFFFFu) + (sum >> 16);
  sum = (sum & 0xFFFFu) + (sum >> 16);
  sum = (sum & 0xFFFFu) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// The checksum field value for `len` bytes (whose own checksum field must be zero).
[[nodiscard]] inline std::uint16_t checksum(const std::uint8_t* data, std::size_t len,
                                            std::uint64_t sum = 0) noexcept {
  return static_cast<std::uint16_t>(~csum_fold(csum_partial(data, len, sum)));
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word m changed to m'.
[[nodiscard]] inline std::uint16_t csum_replace16(std::uint16_t check, std::uint16_t old_word,
                                                  std::uint16_t new_word) noexcept {
  std::uint32_t s = static_cast<std::uint16_t>(~check);
  s += static_cast<std::uint16_t>(~old_word);
  s += new_word;
  s = (s & 0xFFFFu) + (s >> 16);
  s = (s & 0xFFFFu) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

// The same for a 32-bit field (an address), both words at once.
[[nodiscard]] inline std::uint16_t csum_replace32(std::uint16_t check, std::uint32_t old_word,
                                                  std::uint32_t new_word) noexcept {
  std::uint64_t s = static_cast<std::uint16_t>(~check);
  s += (~old_word & 0xFFFFu) + (~old_word >> 16);
  s += (new_word & 0xFFFFu) + (new_word >> 16);
  s = (s & 0xFFFFu) + (s >> 16);
  s = (s & 0xFFFFu) + (s >> 16);
  s = (s & 0xFFFFu) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

}  // namespace natgw::net
