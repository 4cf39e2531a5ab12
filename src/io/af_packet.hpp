// AF_PACKET backend: one packet socket bound to one interface (ETH_P_ALL).
//
//  - rx, RxMode::frames (default): two packet sockets per port, each with a TPACKET_V2 ring
//    (PACKET_RX_RING, mmap) whose slots the kernel hands over one by one, with no added latency.
//    A socket filter splits the traffic by size: frames of at most kSmallFrameMax bytes go to
//    the first ring (rx_frame_size slots: many of them, for bursts of small packets), larger
//    ones (super-frames, jumbo frames) to the second (64 KiB slots, fewer). fd() is an epoll
//    descriptor over both. A small frame may be returned before a super-frame that arrived just
//    before it (the rings are read in turn); TCP copes with that rare reordering.
//  - rx, RxMode::blocks: a TPACKET_V3 ring (PACKET_RX_RING, mmap). The kernel fills blocks of
//  frames; a block is
//    handed to user space when it is full or when rx_block_timeout_ms passed since its first
//    frame, so at low rates a frame waits up to that timeout (rounded up to a kernel tick) before
//    rx_burst sees it. rx_burst walks the frames of the ready blocks in place; rx_done gives
//    every block it finished back to the kernel.
//    Ring capacity: a block also retires half empty when its timeout fires, so at moderate rates
//    the ring holds about rx_block_count x (frames arriving per timeout), not the full blocks.
//  - tx: TxMode::sendmmsg (default) copies frames into private buffers and tx_flush sends them
//    with one sendmmsg(); TxMode::ring copies them into a PACKET_TX_RING (TPACKET_V3) and
//    tx_flush kicks the kernel with one send(). On veth, sendmmsg costs the same CPU per frame
//    as the ring for full-size frames and ~6% less for minimum-size ones, so the ring's zero-copy
//    send buys nothing there (measured with tests/io/af_packet_flood.cpp). The ring may win on a
//    physical NIC, which can send from the ring's pages directly; measure there.
//  - PACKET_QDISC_BYPASS (on by default): frames go straight to the driver, as a router's
//    forwarding path would. Side effect: other packet sockets on the interface (tcpdump) do not
//    see them. PACKET_IGNORE_OUTGOING: the socket does not see frames sent on the interface by
//    other sockets (another worker's port) or by the kernel (a socket never sees its own).
//    PACKET_LOSS (ring mode): a bad tx slot is skipped instead of stalling the ring.
//  - Offloads (AfPacketOptions::offloads, PACKET_VNET_HDR, on by default): the kernel puts a
//    struct virtio_net_hdr before every received frame (tpacket_rcv writes it just before the
//    MAC header) and expects one before every sent frame; the port turns it into Frame::offload
//    and back. So a TCP super-frame that GRO built on receive, or a sender's TSO/GSO frame
//    (typically 47..64 KiB on veth), is returned whole with gso_type/gso_size/hdr_len, and sent
//    whole: the kernel (or the NIC) segments it on transmit. Partial checksums (kNeedsCsum) keep
//    csum_start/csum_offset. sendmmsg mode packs frames in a staging area of tx_frame_count x
//    tx_frame_size bytes (with offloads at least 72 super-frames), so it holds many small frames
//    or a worker's batch of super-frames; ring mode takes
//    super-frames only up to its slot size.
//  - Frames received with TP_STATUS_CSUMNOTREADY (or kNeedsCsum) have Frame::csum_partial set.
//    Frames longer than the MTU arrive when the interface aggregates (GRO/LRO): they are
//    returned as they are, up to what fits a ring block. VLAN-tagged frames whose tag the NIC
//    stripped (TP_STATUS_VLAN_VALID) and frames truncated by the ring are skipped and counted in
//    PortStats::rx_invalid.
//  - The kernel's own stack still sees every frame (a packet socket is a tap, not a diversion):
//    the daemon checks that the kernel does not forward on these interfaces
//    (interface_forwarding_enabled in io/host.hpp) and drops the kernel's copy of the frames it
//    translates at netdev ingress, after the packet sockets got theirs (daemon/host.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/port.hpp"

namespace natgw::io {

enum class TxMode : std::uint8_t { ring, sendmmsg };
// frames: TPACKET_V2 rings, each frame handed over as soon as the kernel wrote it (latency: none
// added), two of them per port (see below). blocks: one TPACKET_V3 ring; a frame waits until its
// block is full or rx_block_timeout_ms passed (1 ms or more: a connection's handshake through
// the gateway then takes milliseconds). Ring tx mode implies blocks.
enum class RxMode : std::uint8_t { frames, blocks };

struct AfPacketOptions {
  RxMode rx_mode = RxMode::frames;
  // frames mode: slots of rx_frame_size bytes for frames up to kSmallFrameMax bytes, in
  // rx_block_size blocks (rx_block_count of them); super-frames go to a second socket whose ring
  // has rx_big_frame_count slots of 64 KiB.
  std::uint32_t rx_frame_size = 2048;
  std::uint32_t rx_big_frame_count = 60;
  std::uint32_t rx_block_size = 1u << 18;  // bytes; a multiple of the page size, power of two
  std::uint32_t rx_block_count = 32;
  std::uint32_t rx_block_timeout_ms = 1;  // hand a partly filled block over after this long
  std::uint32_t tx_frame_size = 2048;     // bytes per tx slot; power of two, 128..65536
  std::uint32_t tx_frame_count = 1024;    // tx queue length (ring: rounded up to 64 KiB blocks)
  TxMode tx_mode = TxMode::sendmmsg;
  bool qdisc_bypass = true;
  bool promiscuous = false;  // also receive frames addressed to other MACs
  // PACKET_VNET_HDR: frames carry their Offload (struct virtio_net_hdr) both ways, so GRO/GSO
  // super-frames of up to 64 KiB and partial checksums pass whole. Falls back to off (the port's
  // offloads() says which) on a kernel that refuses it.
  bool offloads = true;
  // Frames received: every protocol (ETH_P_ALL), or only this EtherType (e.g. 0x0806, ARP).
  std::uint16_t ether_type = 0x0003;  // ETH_P_ALL
};

// One classic BPF instruction (layout of the kernel's struct sock_filter).
struct BpfInstruction {
  std::uint16_t code = 0;
  std::uint8_t jt = 0;
  std::uint8_t jf = 0;
  std::uint32_t k = 0;
};

// Frames up to this size go to a port's small-frame ring (RxMode::frames).
inline constexpr std::uint32_t kSmallFrameMax = 1900;

// Opens `ifname` in the calling thread's network namespace. Throws std::system_error whose
// what() names the interface and the cause: no such interface, interface down, not permitted
// (needs CAP_NET_RAW), or the ring setup the kernel refused. Not for the hot path.
[[nodiscard]] std::unique_ptr<Port> open_af_packet(const std::string& ifname,
                                                   const AfPacketOptions& options = {});

// Opens `count` ports on `ifname` in one new packet fanout group (PACKET_FANOUT_CBPF, a unique
// group id chosen by the kernel): each received frame goes to exactly one of them, port
// `program(frame) % count`. `program` runs on the frame from its network header (the kernel's
// fanout hook sees the skb after the Ethernet header was pulled); the frame's EtherType is the
// ancillary load SKF_AD_PROTOCOL. Ports are returned in member order. Frames sent on the
// interface are not delivered to the group (PACKET_FANOUT_FLAG_IGNORE_OUTGOING) where the kernel
// supports it. Throws std::system_error as open_af_packet does.
[[nodiscard]] std::vector<std::unique_ptr<Port>> open_af_packet_group(
    const std::string& ifname, const AfPacketOptions& options, std::size_t count,
    const std::vector<BpfInstruction>& program);

}  // namespace natgw::io
