// One network interface as a batch packet I/O port. Backends: AF_PACKET (af_packet.hpp), AF_XDP
// (af_xdp.hpp; optional at build time, no offloads) and an in-memory port for tests
// (memory_port.hpp).
//
// The contract, for every backend:
//  - A Port is owned and used by one thread (a datapath worker). No method is thread-safe.
//  - rx_burst() fills `out` with up to out.size() received frames and returns how many. Frames
//    point into the backend's receive memory (no copy) and stay valid, and writable in place,
//    until rx_done(). Several rx_burst() calls may precede one rx_done(); all the frames they
//    returned stay valid until then. Typical loop:
//        n = port.rx_burst(frames); ...translate in place, tx_burst(out_port, ...)...;
//        out_port.tx_flush(); port.rx_done();
//  - tx_burst() copies frames into the backend's transmit queue and returns how many frames of
//    the front of `frames` it consumed: queued, or dropped as invalid (shorter than an Ethernet
//    header, longer than max_frame() (max_gso_frame() for a super-frame), or a super-frame on a
//    port without offloads(); counted in PortStats::tx_invalid). Fewer than
//    frames.size() means the queue is full (counted in tx_queue_full for the rest); the caller
//    drops or retries the remainder. Because tx_burst copies, rx frames may be sent and then
//    released with rx_done() before tx_flush().
//  - tx_flush() hands the queued frames to the kernel (AF_PACKET: one syscall per batch).
//  - rx_burst, rx_done, tx_burst and tx_flush never allocate, throw or log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "net/ethernet.hpp"

namespace natgw::io {

using net::MacAddress;

// Offload state of one frame: the fields of the kernel's struct virtio_net_hdr (host byte
// order), which a port with offloads() carries in both directions (AF_PACKET PACKET_VNET_HDR).
//  - kNeedsCsum: the TCP/UDP checksum at csum_start + csum_offset (counted from the first byte
//    of the Ethernet header) holds only the pseudo-header sum; whoever sends the frame last
//    (the NIC, or the kernel's GSO) sums the rest. A NAT must update that partial sum for a
//    changed address and leave it alone for a changed port (ports are in the summed part).
//  - gso_type != kGsoNone: a super-frame (TSO/GSO from a sender, GRO on receive) of up to 64 KiB
//    that the kernel cuts into segments of gso_size payload bytes on transmit; hdr_len is the
//    length of the headers copied into every segment.
//  - kDataValid (receive only): the checksum was verified already.
struct Offload {
  static constexpr std::uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr std::uint8_t kDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
  static constexpr std::uint8_t kGsoNone = 0;    // VIRTIO_NET_HDR_GSO_NONE
  static constexpr std::uint8_t kGsoTcpv4 = 1;
  static constexpr std::uint8_t kGsoUdp = 3;
  static constexpr std::uint8_t kGsoTcpv6 = 4;
  static constexpr std::uint8_t kGsoUdpL4 = 5;
  static constexpr std::uint8_t kGsoEcn = 0x80;

  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;

  [[nodiscard]] bool gso() const noexcept { return (gso_type & ~kGsoEcn) != kGsoNone; }
  [[nodiscard]] bool needs_csum() const noexcept { return (flags & kNeedsCsum) != 0; }
  friend bool operator==(const Offload&, const Offload&) = default;
};

// One Ethernet frame (no FCS). `csum_partial`: the frame's TCP/UDP checksum was not computed
// yet (a locally generated packet whose checksum was offloaded; AF_PACKET reports it as
// TP_STATUS_CSUMNOTREADY, or kNeedsCsum in `offload`). Its checksum field then holds only the
// pseudo-header sum. On a port without offloads() the receiver must compute the checksum over
// the whole segment before forwarding the frame (csum_partial is then always false for frames
// passed to tx_burst); on a port with offloads() `offload` says where the checksum is, and
// tx_burst hands `offload` to the kernel with the frame.
struct Frame {
  std::uint8_t* data = nullptr;
  std::uint32_t len = 0;
  bool csum_partial = false;
  Offload offload{};
  // tx only: the caller keeps the bytes valid and unchanged until this port's next tx_flush(),
  // so the backend may send them from where they are instead of copying them (AF_PACKET
  // sendmmsg does: a super-frame goes from the rx ring to the kernel with no copy in between).
  bool borrowed = false;
};

// Counters since the port was opened. Read by the owning thread (stats() is not hot-path: the
// AF_PACKET backend makes a getsockopt call for the kernel's counters).
struct PortStats {
  std::uint64_t rx_frames = 0;  // frames returned by rx_burst
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_kernel_drops = 0;  // frames the kernel dropped because the rx ring was full
  std::uint64_t rx_invalid = 0;       // frames skipped: truncated by the ring, or VLAN-tagged
  std::uint64_t tx_frames = 0;        // frames handed to the kernel
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_queue_full = 0;  // frames tx_burst refused because the tx queue was full
  std::uint64_t tx_invalid = 0;     // frames tx_burst dropped: too short or too long
  // Failed sends. AF_PACKET ring: a kick the kernel refused (the frames stay in the ring and go
  // with the next tx_flush). sendmmsg and memory: frames dropped, one count each.
  std::uint64_t tx_errors = 0;
};

class Port {
 public:
  Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;
  virtual ~Port() = default;

  [[nodiscard]] virtual std::size_t rx_burst(std::span<Frame> out) noexcept = 0;
  virtual void rx_done() noexcept = 0;
  [[nodiscard]] virtual std::size_t tx_burst(std::span<const Frame> frames) noexcept = 0;
  virtual void tx_flush() noexcept = 0;

  // A descriptor that poll() reports readable when rx_burst has frames; -1 when the backend has
  // none (the in-memory port): the caller then simply calls rx_burst.
  [[nodiscard]] virtual int fd() const noexcept = 0;
  [[nodiscard]] virtual MacAddress mac() const noexcept = 0;
  [[nodiscard]] virtual int ifindex() const noexcept = 0;
  [[nodiscard]] virtual std::uint32_t mtu() const noexcept = 0;  // IP MTU, as `ip link` shows
  // Largest frame tx_burst accepts: MTU + Ethernet header (no VLAN tag), capped by the backend's
  // slot size.
  [[nodiscard]] virtual std::uint32_t max_frame() const noexcept = 0;
  // True when frames carry their Offload both ways (rx_burst fills it, tx_burst passes it on),
  // so super-frames and partial checksums can be forwarded as they are.
  [[nodiscard]] virtual bool offloads() const noexcept { return false; }
  // Largest super-frame (Offload::gso()) tx_burst accepts; max_frame() without offloads().
  [[nodiscard]] virtual std::uint32_t max_gso_frame() const noexcept { return max_frame(); }
  [[nodiscard]] virtual PortStats stats() const = 0;
};

}  // namespace natgw::io
