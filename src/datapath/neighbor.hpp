// Neighbour (MAC) resolution for one interface: ARP for IPv4 over Ethernet (RFC 826), with the
// announcement and probe forms of RFC 5227. No I/O and no clock: frames come in and go out
// through caller buffers, and every call that depends on time takes `now` (any monotonic
// origin; it must not go backwards).
//
// Entry lifecycle (times counted from the entry's last confirmation: an ARP message from the
// neighbour, or an IPv4 frame from it when the caller learns from traffic):
//
//   (absent) --resolve--> incomplete --ARP from it--> learned --reachable_time--> stale
//                            |                          ^                          |
//                            |                          +-------ARP / IPv4---------+
//                            +--incomplete_time--> (absent) <---expire_time--------+
//
//  - learned: resolve() returns the MAC.
//  - stale: resolve() still returns the MAC (traffic keeps flowing) and asks for a unicast
//    request to confirm it, at most one per request_interval.
//  - incomplete: resolve() returns no MAC and asks for a broadcast request, at most one per
//    request_interval per target. The datapath drops the packet that needed it (no queue: inside
//    hosts are learned from their own outbound frames, the next hop is resolved at start).
//  - Entries past expire_time (incomplete: incomplete_time) count as absent at once and are freed
//    by expire() or when their slot is needed.
//
// Learning follows RFC 826's merge rule: an ARP message updates the entry of its sender if there
// is one, and creates it only if the message is addressed to us (target = our address or an
// address we answer for). A message that claims one of our answered addresses from another MAC
// is counted as a conflict and never learned.
//
// Capacity is fixed at construction. When the table is full, a new entry takes the slot of the
// least recently confirmed entry if that one is incomplete, stale or expired; otherwise the new
// entry is refused and counted (table_full): live neighbours are never evicted.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "net/ethernet.hpp"
#include "net/types.hpp"

namespace natgw::datapath {

using std::chrono::nanoseconds;

inline constexpr std::uint16_t kArpRequest = 1;
inline constexpr std::uint16_t kArpReply = 2;
inline constexpr std::size_t kArpPayload = 28;  // Ethernet/IPv4 ARP body
// Frames built here: Ethernet header + ARP body, zero-padded to the Ethernet minimum.
inline constexpr std::size_t kArpFrameLen = net::kEthMinFrame;

// One ARP message for IPv4 over Ethernet, with the Ethernet addresses that carried it.
struct ArpMessage {
  net::MacAddress eth_dst;
  net::MacAddress eth_src;
  std::uint16_t op = kArpRequest;
  net::MacAddress sha;  // sender hardware address
  net::Ipv4 spa;        // sender protocol address
  net::MacAddress tha;  // target hardware address
  net::Ipv4 tpa;        // target protocol address
};

// Parses an Ethernet frame carrying ARP. nullopt unless: EtherType 0x0806, hardware type 1
// (Ethernet), protocol type 0x0800, address lengths 6 and 4, operation request or reply, and the
// frame holds the whole 28-byte body.
[[nodiscard]] std::optional<ArpMessage> parse_arp(std::span<const std::uint8_t> frame) noexcept;

// Writes `m` as an Ethernet frame of kArpFrameLen bytes; returns the length, or 0 when `out` is
// shorter than that.
[[nodiscard]] std::size_t write_arp(std::span<std::uint8_t> out, const ArpMessage& m) noexcept;

// A gratuitous ARP announcing that `ip` is at `mac` (RFC 5227 section 2.3 announcement: a
// broadcast request with sender and target address both `ip` and a zero target MAC).
[[nodiscard]] std::size_t write_gratuitous_arp(std::span<std::uint8_t> out, net::MacAddress mac,
                                               net::Ipv4 ip) noexcept;

enum class NeighborState : std::uint8_t { incomplete, learned, stale };

[[nodiscard]] constexpr const char* name(NeighborState s) noexcept {
  switch (s) {
    case NeighborState::incomplete:
      return "incomplete";
    case NeighborState::learned:
      return "learned";
    case NeighborState::stale:
      return "stale";
  }
  return "unknown";
}

struct NeighborConfig {
  net::MacAddress mac;  // the interface's MAC: sender of our requests and replies
  // Sender address of our requests: the interface's address on the link. 0.0.0.0 makes every
  // request an RFC 5227 probe, which neighbours also answer.
  net::Ipv4 address;
  std::vector<net::Ipv4> answer_for;  // addresses whose ARP requests we answer (public IPs)
  std::size_t capacity = 1024;        // entries; memory is allocated once, at construction
  nanoseconds reachable_time = std::chrono::seconds(30);
  nanoseconds expire_time = std::chrono::seconds(120);
  nanoseconds incomplete_time = std::chrono::seconds(3);
  nanoseconds request_interval = std::chrono::seconds(1);
};

struct NeighborCounters {
  std::uint64_t arp_received = 0;           // frames given to on_arp
  std::uint64_t arp_malformed = 0;          // not a valid Ethernet/IPv4 ARP message; ignored
  std::uint64_t requests_answered = 0;      // replies written by on_arp
  std::uint64_t requests_sent = 0;          // requests written by resolve
  std::uint64_t requests_rate_limited = 0;  // resolve calls that wanted a request too soon
  std::uint64_t learned = 0;                // entries created with a MAC (ARP or IPv4)
  std::uint64_t changed = 0;                // entries whose MAC changed
  std::uint64_t conflicts = 0;              // another MAC claimed an address we answer for
  std::uint64_t expired = 0;                // entries removed after their time
  std::uint64_t evicted = 0;                // stale or incomplete entries replaced when full
  std::uint64_t table_full = 0;             // new entries refused: every entry was live
};

struct NeighborEntry {
  net::Ipv4 ip;
  net::MacAddress mac;  // zero while incomplete
  NeighborState state = NeighborState::incomplete;
  nanoseconds confirmed{0};  // last confirmation (incomplete: when it was created)
};

// What resolve() found. `mac` empty: the packet cannot be sent yet. `request_len` > 0: an ARP
// request of that length was written to the caller's buffer; send it.
struct Resolution {
  std::optional<net::MacAddress> mac;
  std::size_t request_len = 0;
};

// Whether learn_from_ipv4 may create an entry, or only refresh an existing one.
enum class Learn : std::uint8_t { refresh_only, create };

class NeighborTable {
 public:
  // Throws std::invalid_argument for a zero capacity, a non-positive time, expire_time shorter
  // than reachable_time, or a multicast/zero MAC.
  explicit NeighborTable(NeighborConfig config);

  // Handles a received ARP frame: learning as described above; a request for an answered
  // address is answered by writing the reply into `reply` (unicast to the asker). Returns the
  // reply's length, 0 when there is nothing to send.
  std::size_t on_arp(std::span<const std::uint8_t> frame, nanoseconds now,
                     std::span<std::uint8_t> reply) noexcept;

  // Learns (or refreshes) `src` at `src_mac` from a received IPv4 frame. Call it only for frames
  // from on-link hosts (source inside the interface's subnet), as the caller knows the subnets.
  // Multicast/zero MACs and zero/broadcast/multicast addresses are ignored.
  void learn_from_ipv4(net::Ipv4 src, net::MacAddress src_mac, nanoseconds now,
                       Learn learn) noexcept;

  // The MAC to send to `ip`, and an ARP request to send when one is due (written to `request`,
  // which needs kArpFrameLen bytes; with a shorter buffer no request is produced).
  [[nodiscard]] Resolution resolve(net::Ipv4 ip, nanoseconds now,
                                   std::span<std::uint8_t> request) noexcept;

  // Writes the gratuitous ARP announcing `ip` at this interface's MAC.
  [[nodiscard]] std::size_t announce(net::Ipv4 ip, std::span<std::uint8_t> out) const noexcept {
    return write_gratuitous_arp(out, cfg_.mac, ip);
  }

  // Frees entries past their time, oldest first; stops at the first live entry of the
  // least-recently-confirmed order (an expired entry behind it already counts as absent).
  // Returns how many were freed. Call it from time to time (e.g. once per second).
  std::size_t expire(nanoseconds now) noexcept;

  // Control plane (may allocate): the entry for `ip` if present and not expired, without side
  // effects; all live entries; a new set of answered addresses (config reload).
  [[nodiscard]] std::optional<NeighborEntry> lookup(net::Ipv4 ip, nanoseconds now) const noexcept;
  [[nodiscard]] std::vector<NeighborEntry> entries(nanoseconds now) const;
  void set_answer_for(std::vector<net::Ipv4> addresses) { cfg_.answer_for = std::move(addresses); }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return entries_.size(); }
  [[nodiscard]] const NeighborCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] const NeighborConfig& config() const noexcept { return cfg_; }

 private:
  static constexpr std::uint32_t kNil = 0xFFFFFFFFu;
  struct Entry {
    net::Ipv4 ip;
    net::MacAddress mac;
    bool has_mac = false;
    bool requested = false;  // last_request is meaningful
    nanoseconds confirmed{0};
    nanoseconds last_request{0};
    std::uint32_t prev = kNil;  // least-recently-confirmed list; free list uses `next`
    std::uint32_t next = kNil;
  };

  [[nodiscard]] bool answers(net::Ipv4 ip) const noexcept;
  [[nodiscard]] bool expired(const Entry& e, nanoseconds now) const noexcept;
  [[nodiscard]] NeighborState state(const Entry& e, nanoseconds now) const noexcept;
  [[nodiscard]] std::uint32_t find(net::Ipv4 ip) const noexcept;
  [[nodiscard]] std::uint32_t insert(net::Ipv4 ip, nanoseconds now) noexcept;
  void remove(std::uint32_t idx) noexcept;
  void touch(std::uint32_t idx) noexcept;  // move to the most-recent end
  void unlink(std::uint32_t idx) noexcept;
  void link_tail(std::uint32_t idx) noexcept;
  [[nodiscard]] std::size_t home(net::Ipv4 ip) const noexcept;
  // Updates or creates the entry of `ip` with a confirmed MAC.
  void confirm(net::Ipv4 ip, net::MacAddress mac, nanoseconds now, Learn learn) noexcept;
  std::size_t request(Entry& e, nanoseconds now, std::span<std::uint8_t> out) noexcept;

  NeighborConfig cfg_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> slots_;  // open addressing, linear probing: entry index or kNil
  std::size_t mask_ = 0;
  int shift_ = 0;  // 64 - log2(slots_.size()): the hash keeps the product's top bits
  std::size_t size_ = 0;
  std::uint32_t free_ = kNil;
  std::uint32_t head_ = kNil;  // least recently confirmed
  std::uint32_t tail_ = kNil;
  NeighborCounters counters_;
};

}  // namespace natgw::datapath
