// Ethernet II: the MAC address value type, EtherTypes and header accessors.
// Like the rest of net/, nothing here allocates or throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace natgw::net {

inline constexpr std::size_t kEthHeader = 14;    // dst(6) src(6) type(2); no 802.1Q tag
inline constexpr std::size_t kEthMinFrame = 60;  // minimum frame without FCS (IEEE 802.3)

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;

// A 48-bit MAC address, bytes in wire order.
class MacAddress {
 public:
  constexpr MacAddress() noexcept = default;
  constexpr explicit MacAddress(const std::array<std::uint8_t, 6>& b) noexcept : b_(b) {}
  constexpr MacAddress(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                       std::uint8_t e, std::uint8_t f) noexcept
      : b_{a, b, c, d, e, f} {}

  // Reads 6 bytes from a frame (no length check: the caller has checked the frame length).
  [[nodiscard]] static constexpr MacAddress from(const std::uint8_t* p) noexcept {
    return MacAddress{p[0], p[1], p[2], p[3], p[4], p[5]};
  }
  constexpr void write(std::uint8_t* p) const noexcept {
    for (std::size_t i = 0; i < 6; ++i) p[i] = b_[i];
  }

  [[nodiscard]] static constexpr MacAddress broadcast() noexcept {
    return MacAddress{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  }
  [[nodiscard]] constexpr const std::array<std::uint8_t, 6>& bytes() const noexcept { return b_; }
  [[nodiscard]] constexpr bool is_zero() const noexcept { return *this == MacAddress{}; }
  [[nodiscard]] constexpr bool is_broadcast() const noexcept { return *this == broadcast(); }
  // Group bit (I/G) set: multicast or broadcast. Never a valid source or neighbour address.
  [[nodiscard]] constexpr bool is_multicast() const noexcept { return (b_[0] & 0x01) != 0; }
  constexpr auto operator<=>(const MacAddress&) const noexcept = default;

  // "aa:bb:cc:dd:ee:ff", hex digits in either case; nullopt for anything else.
  [[nodiscard]] static constexpr std::optional<MacAddress> parse(std::string_view s) noexcept {
    if (s.size() != 17) return std::nullopt;
    std::array<std::uint8_t, 6> b{};
    for (std::size_t i = 0; i < 6; ++i) {
      if (i > 0 && s[i * 3 - 1] != ':') return std::nullopt;
      const int hi = hex(s[i * 3]);
      const int lo = hex(s[i * 3 + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      b[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return MacAddress{b};
  }

  // Lower-case text form in a fixed buffer (no allocation).
  struct Text {
    std::array<char, 17> buf{};
    [[nodiscard]] std::string_view view() const noexcept { return {buf.data(), buf.size()}; }
  };
  [[nodiscard]] constexpr Text text() const noexcept {
    constexpr std::string_view digits = "0123456789abcdef";
    Text t;
    for (std::size_t i = 0; i < 6; ++i) {
      if (i > 0) t.buf[i * 3 - 1] = ':';
      t.buf[i * 3] = digits[b_[i] >> 4];
      t.buf[i * 3 + 1] = digits[b_[i] & 0x0F];
    }
    return t;
  }

 private:
  static constexpr int hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  std::array<std::uint8_t, 6> b_{};
};

// Ethernet header accessors. `frame` holds at least kEthHeader bytes (checked by the caller).
[[nodiscard]] constexpr MacAddress eth_dst(const std::uint8_t* frame) noexcept {
  return MacAddress::from(frame);
}
[[nodiscard]] constexpr MacAddress eth_src(const std::uint8_t* frame) noexcept {
  return MacAddress::from(frame + 6);
}
[[nodiscard]] constexpr std::uint16_t eth_type(const std::uint8_t* frame) noexcept {
  return static_cast<std::uint16_t>((frame[12] << 8) | frame[13]);
}
constexpr void write_eth_header(std::uint8_t* frame, const MacAddress& dst, const MacAddress& src,
                                std::uint16_t type) noexcept {
  dst.write(frame);
  src.write(frame + 6);
  frame[12] = static_cast<std::uint8_t>(type >> 8);
  frame[13] = static_cast<std::uint8_t>(type);
}

}  // namespace natgw::net
