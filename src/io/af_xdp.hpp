// AF_XDP backend: one AF_XDP socket (XSK) on one receive queue of an interface, fed by natgw's own
// XDP program (bpf/natgw_xdp.bpf.c), built only when libxdp, libbpf and clang were found at build
// time (af_xdp_built()).
//
//  - The XDP program diverts the gateway's frames to the socket: IPv4, unicast to the interface's
//    MAC, not addressed to one of AfXdpOptions::local_addresses. Everything else (ARP, IPv6,
//    broadcast, the host's own traffic) goes on to the kernel (XDP_PASS). Unlike AF_PACKET, the
//    kernel never sees the diverted frames, so they need no ingress drop.
//  - ARP: the port also opens an AF_PACKET socket bound to ARP only (io/af_packet.hpp) and returns
//    its frames from rx_burst after the socket's, so the worker resolves and answers neighbours
//    exactly as with AF_PACKET. fd() is an epoll descriptor over both sockets.
//  - UMEM: frame_count frames of frame_size bytes; the first half is the receive pool, kept in
//    the fill ring (rx_done gives frames back to it at once), the second half the transmit pool.
//    tx_burst copies each frame into a free transmit frame (frames are never sent from another
//    port's memory); tx_flush submits them and wakes the kernel with one sendto(); finished
//    frames come back through the completion ring, reaped by tx_burst and tx_flush.
//  - Zero-copy is tried first (XDP_ZEROCOPY) and copy mode (XDP_COPY) used when the driver has no
//    zero-copy support (veth). The program is attached in native (driver) mode when the driver
//    has it, else in generic (SKB) mode. Generic mode sees GRO/TSO super-frames that do not fit a
//    UMEM frame and drops them: zero_copy()/native() say what was obtained.
//  - No offloads: frames are at most MTU-sized with complete checksums (offloads() is false).
//  - One queue: the port binds to AfXdpOptions::queue; an interface with several receive queues
//    only delivers the frames of that queue to natgw (the others pass to the kernel). The daemon
//    uses this backend with one datapath worker and queue 0.
//  - The program is attached through a BPF link: closing the port (or the process dying)
//    detaches it, and it never replaces a program attached by someone else (EBUSY).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/port.hpp"
#include "net/types.hpp"

namespace natgw::io {

struct AfXdpOptions {
  std::uint32_t queue = 0;
  std::uint32_t frame_count = 4096;  // UMEM frames (16 MiB), half rx, half tx; a power of two
  std::uint32_t frame_size = 4096;   // bytes; 2048 or 4096
  // The host's own addresses: frames to them pass to the kernel.
  std::vector<net::Ipv4> local_addresses;
  bool try_zero_copy = true;
  bool try_native = true;  // false: attach in generic (SKB) mode only
};

// The extra facts of an AF_XDP port (the daemon logs them).
class AfXdpPort : public Port {
 public:
  [[nodiscard]] virtual bool zero_copy() const noexcept = 0;
  [[nodiscard]] virtual bool native() const noexcept = 0;  // XDP in driver mode, else generic
  // Frames the XDP program sent to the socket and passed to the kernel, since the port opened.
  struct ProgramCounts {
    std::uint64_t redirected = 0;
    std::uint64_t passed = 0;
  };
  [[nodiscard]] virtual ProgramCounts program_counts() const = 0;
};

// True when this build has the AF_XDP backend (libxdp, libbpf and clang were found).
[[nodiscard]] bool af_xdp_built() noexcept;

// Opens `ifname` in the calling thread's network namespace and attaches the XDP program. Throws
// std::system_error whose what() names the interface and the cause: not built with AF_XDP
// (ENOTSUP), no such interface, interface down, not permitted (needs CAP_NET_ADMIN, CAP_BPF),
// the kernel refused the program or the socket, or another XDP program is attached already
// (EBUSY). Not for the hot path.
[[nodiscard]] std::unique_ptr<AfXdpPort> open_af_xdp(const std::string& ifname,
                                                     const AfXdpOptions& options = {});

}  // namespace natgw::io
