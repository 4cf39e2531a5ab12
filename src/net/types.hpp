// Value types shared by every layer: addresses, prefixes, protocols, 5-tuples.
// All values are kept in host byte order; packet views convert at the edge.
#pragma once

#include <array>
#include <charconv>
#include <compare>
#include <cstdint>
#include <optional>
#include <string_view>

namespace natgw::net {

// IP protocol numbers (IANA).
enum class Proto : std::uint8_t { icmp = 1, tcp = 6, udp = 17 };

// An IPv4 address in host byte order.
class Ipv4 {
 public:
  constexpr Ipv4() noexcept = default;
  constexpr explicit Ipv4(std::uint32_t host_order) noexcept : v_(host_order) {}
  constexpr Ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept
      : v_((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d) {}

  [[nodiscard]] constexpr std::uint32_t value() const noexcept { return v_; }
  constexpr auto operator<=>(const Ipv4&) const noexcept = default;

  // Dotted quad; nullopt for anything else (no leading '+', no octet > 255, exactly 4 parts).
  [[nodiscard]] static constexpr std::optional<Ipv4> parse(std::string_view s) noexcept {
    std::uint32_t v = 0;
    const char* p = s.data();
    const char* end = s.data() + s.size();
    for (int i = 0; i < 4; ++i) {
      if (i > 0) {
        if (p == end || *p != '.') return std::nullopt;
        ++p;
      }
      if (p == end || *p < '0' || *p > '9') return std::nullopt;
      unsigned octet = 0;
      int digits = 0;
      while (p != end && *p >= '0' && *p <= '9') {
        octet = octet * 10 + static_cast<unsigned>(*p - '0');
        if (++digits > 3 || octet > 255) return std::nullopt;
        ++p;
      }
      v = (v << 8) | octet;
    }
    if (p != end) return std::nullopt;
    return Ipv4{v};
  }

  // Text form in a fixed buffer (no allocation).
  struct Text {
    std::array<char, 16> buf{};
    std::uint8_t len = 0;
    [[nodiscard]] std::string_view view() const noexcept { return {buf.data(), len}; }
  };
  [[nodiscard]] Text text() const noexcept {
    Text t;
    char* p = t.buf.data();
    for (int i = 3; i >= 0; --i) {
      p = std::to_chars(p, t.buf.data() + t.buf.size(), (v_ >> (i * 8)) & 0xFFu).ptr;
      if (i > 0) *p++ = '.';
    }
    t.len = static_cast<std::uint8_t>(p - t.buf.data());
    return t;
  }

 private:
  std::uint32_t v_ = 0;
};

// An IPv4 prefix; the address is stored with host bits cleared.
class Prefix {
 public:
  constexpr Prefix() noexcept = default;
  constexpr Prefix(Ipv4 addr, std::uint8_t len) noexcept
      : addr_(Ipv4{addr.value() & mask_of(len)}), len_(len) {}

  [[nodiscard]] constexpr Ipv4 address() const noexcept { return addr_; }
  [[nodiscard]] constexpr std::uint8_t length() const noexcept { return len_; }
  [[nodiscard]] constexpr std::uint32_t mask() const noexcept { return mask_of(len_); }
  [[nodiscard]] constexpr std::uint64_t size() const noexcept { return std::uint64_t{1} << (32 - len_); }
  [[nodiscard]] constexpr bool contains(Ipv4 a) const noexcept {
    return (a.value() & mask()) == addr_.value();
  }
  [[nodiscard]] constexpr bool overlaps(const Prefix& o) const noexcept {
    return contains(o.addr_) || o.contains(addr_);
  }
  constexpr auto operator<=>(const Prefix&) const noexcept = default;

  // "a.b.c.d/len"; a bare address is a /32. Host bits set (10.0.0.1/24) are rejected so that a
  // typo in a config is reported rather than silently widened.
  [[nodiscard]] static constexpr std::optional<Prefix> parse(std::string_view s) noexcept {
    const auto slash = s.find('/');
    const auto addr = Ipv4::parse(s.substr(0, slash));
    if (!addr) return std::nullopt;
    unsigned len = 32;
    if (slash != std::string_view::npos) {
      const auto digits = s.substr(slash + 1);
      if (digits.empty() || digits.size() > 2) return std::nullopt;
      len = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        len = len * 10 + static_cast<unsigned>(c - '0');
      }
      if (len > 32) return std::nullopt;
    }
    if ((addr->value() & ~mask_of(static_cast<std::uint8_t>(len))) != 0) return std::nullopt;
    return Prefix{*addr, static_cast<std::uint8_t>(len)};
  }

  // RFC 1918 private space (10/8, 172.16/12, 192.168/16) and RFC 6598 shared space (100.64/10).
  [[nodiscard]] constexpr bool is_private() const noexcept;

 private:
  static constexpr std::uint32_t mask_of(std::uint8_t len) noexcept {
    return len == 0 ? 0u : ~std::uint32_t{0} << (32 - len);
  }
  Ipv4 addr_{};
  std::uint8_t len_ = 0;
};

inline constexpr std::array<Prefix, 4> kPrivateRanges = {
    Prefix{Ipv4{10, 0, 0, 0}, 8}, Prefix{Ipv4{172, 16, 0, 0}, 12},
    Prefix{Ipv4{192, 168, 0, 0}, 16}, Prefix{Ipv4{100, 64, 0, 0}, 10}};

constexpr bool Prefix::is_private() const noexcept {
  for (const auto& r : kPrivateRanges) {
    if (r.length() <= len_ && r.contains(addr_)) return true;
  }
  return false;
}

// A transport endpoint.
struct Endpoint {
  Ipv4 addr;
  std::uint16_t port = 0;
  constexpr auto operator<=>(const Endpoint&) const noexcept = default;
};

struct FiveTuple {
  Proto proto = Proto::tcp;
  Endpoint src;
  Endpoint dst;
  constexpr auto operator<=>(const FiveTuple&) const noexcept = default;
};

[[nodiscard]] constexpr std::string_view name(Proto p) noexcept {
  switch (p) {
    case Proto::icmp: return "icmp";
    case Proto::tcp: return "tcp";
    case Proto::udp: return "udp";
  }
  return "other";
}

}  // namespace natgw::net
