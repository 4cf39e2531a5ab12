#include "io/af_packet.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

namespace natgw::io {
namespace {

constexpr std::uint32_t tpacket_align(std::uint32_t x) noexcept {
  constexpr std::uint32_t a = TPACKET_ALIGNMENT;
  return (x + a - 1) & ~(a - 1);
}
// Where a TPACKET_V3 tx slot's frame starts (the kernel's tp_hdrlen - sizeof(sockaddr_ll)).
constexpr std::uint32_t kTxDataOffset = tpacket_align(sizeof(tpacket3_hdr));
constexpr std::uint32_t kTxBlockSize = 1u << 16;
// struct virtio_net_hdr (linux/virtio_net.h, which does not compile as C++ with every set of
// headers): flags, gso_type, then hdr_len, gso_size, csum_start, csum_offset (16 bits each).
constexpr std::uint32_t kVnetHdr = 10;
// Largest IPv4 packet (total length 65535) in an Ethernet frame: a GSO/GRO super-frame.
constexpr std::uint32_t kMaxSuperFrame = 65535 + 14;
constexpr std::size_t kStageAlign = 64;

// virtio_net_hdr is little endian for packet sockets on little-endian hosts (vio_le()); its
// 16-bit fields are read and written byte by byte here, so the code is right on any host.
std::uint16_t le16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
void put_le16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
Offload read_vnet(const std::uint8_t* h) noexcept {
  Offload o;
  o.flags = h[0];
  o.gso_type = h[1];
  o.hdr_len = le16(h + 2);
  o.gso_size = le16(h + 4);
  o.csum_start = le16(h + 6);
  o.csum_offset = le16(h + 8);
  return o;
}
// The header for transmit: kDataValid is a receive-side flag, not passed on.
void write_vnet(std::uint8_t* h, const Offload& o) noexcept {
  h[0] = static_cast<std::uint8_t>(o.flags & Offload::kNeedsCsum);
  h[1] = o.gso_type;
  put_le16(h + 2, o.hdr_len);
  put_le16(h + 4, o.gso_size);
  put_le16(h + 6, o.csum_start);
  put_le16(h + 8, o.csum_offset);
}

[[noreturn]] void fail(int err, const std::string& ifname, const std::string& what) {
  throw std::system_error(err, std::generic_category(), "interface '" + ifname + "': " + what);
}

bool power_of_two(std::uint32_t x) noexcept {
  return x != 0 && (x & (x - 1)) == 0;
}

std::uint32_t load_acquire(std::uint32_t& v) noexcept {
  return std::atomic_ref<std::uint32_t>(v).load(std::memory_order_acquire);
}
void store_release(std::uint32_t& v, std::uint32_t x) noexcept {
  std::atomic_ref<std::uint32_t>(v).store(x, std::memory_order_release);
}

#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

static_assert(sizeof(BpfInstruction) == sizeof(sock_filter));

class AfPacketPort final : public Port {
 public:
  AfPacketPort(const std::string& ifname, const AfPacketOptions& opt);
  // Joins fanout group `id` (0: a new one with a kernel-chosen id); returns the group id.
  // frames mode: the second socket (super-frames) joins group `big_id` the same way.
  std::array<std::uint16_t, 2> join_fanout(std::array<std::uint16_t, 2> ids,
                                           const std::vector<BpfInstruction>* program);
  ~AfPacketPort() override;

  std::size_t rx_burst(std::span<Frame> out) noexcept override;
  void rx_done() noexcept override;
  std::size_t tx_burst(std::span<const Frame> frames) noexcept override;
  void tx_flush() noexcept override;

  int fd() const noexcept override { return frames_ ? epfd_ : fd_; }
  MacAddress mac() const noexcept override { return mac_; }
  int ifindex() const noexcept override { return ifindex_; }
  std::uint32_t mtu() const noexcept override { return mtu_; }
  std::uint32_t max_frame() const noexcept override { return max_frame_; }
  bool offloads() const noexcept override { return vnet_; }
  std::uint32_t max_gso_frame() const noexcept override { return max_gso_frame_; }
  PortStats stats() const override;

 private:
  void setopt(int level, int name, const void* value, socklen_t len, const char* what);
  void query_interface();
  void setup_rings();
  // A TPACKET_V2 receive ring (RxMode::frames).
  struct RingV2 {
    int fd = -1;
    std::uint8_t* map = nullptr;
    std::size_t map_len = 0;
    std::uint32_t frame_size = 0, frames_per_block = 0, block_size = 0, count = 0;
    std::uint32_t next = 0;     // next slot to look at
    std::uint32_t release = 0;  // oldest slot held by user space
    std::uint32_t held = 0;
    tpacket2_hdr* slot(std::uint32_t i) const noexcept {
      return reinterpret_cast<tpacket2_hdr*>(map + std::size_t{i / frames_per_block} * block_size +
                                             std::size_t{i % frames_per_block} * frame_size);
    }
  };
  void setup_ring_v2(RingV2& r, std::uint32_t block_size, std::uint32_t frame_size,
                     std::uint32_t frames);
  void attach_size_filter(int fd, bool big);
  void open_big_socket();
  std::size_t rx_burst_frames(std::span<Frame> out) noexcept;
  std::uint16_t join_fanout_fd(int fd, std::uint16_t id,
                               const std::vector<BpfInstruction>* program);
  void rx_done_frames() noexcept;
  [[noreturn]] void fail_errno(const std::string& what) const { fail(errno, ifname_, what); }
  std::size_t tx_burst_ring(std::span<const Frame> frames) noexcept;
  std::size_t tx_burst_mmsg(std::span<const Frame> frames) noexcept;
  [[nodiscard]] bool tx_acceptable(const Frame& f) const noexcept {
    const bool gso = f.offload.gso();
    return f.len >= net::kEthHeader && f.len <= (gso ? max_gso_frame_ : max_frame_) &&
           (!gso || vnet_);
  }
  tpacket_block_desc* rx_block(std::uint32_t i) const noexcept {
    return reinterpret_cast<tpacket_block_desc*>(map_ + std::size_t{i} * opt_.rx_block_size);
  }
  tpacket3_hdr* tx_slot(std::uint32_t i) const noexcept {
    return reinterpret_cast<tpacket3_hdr*>(tx_base_ + std::size_t{i} * opt_.tx_frame_size);
  }

  std::string ifname_;
  AfPacketOptions opt_;
  int fd_ = -1;
  int ifindex_ = 0;
  MacAddress mac_;
  std::uint32_t mtu_ = 0;
  std::uint32_t max_frame_ = 0;
  std::uint32_t max_gso_frame_ = 0;
  bool vnet_ = false;    // PACKET_VNET_HDR: a struct virtio_net_hdr precedes every frame
  bool frames_ = false;  // RxMode::frames: small_ on fd_, big_ on a socket of its own
  RingV2 small_;
  RingV2 big_;
  int epfd_ = -1;

  std::uint8_t* map_ = nullptr;  // rx ring, then tx ring (ring mode)
  std::size_t map_len_ = 0;

  // rx: blocks [rx_release_, rx_release_ + rx_held_) are held by user space; the last of them is
  // the one being read when rx_left_ > 0.
  std::uint32_t rx_next_ = 0;     // next block to open
  std::uint32_t rx_release_ = 0;  // oldest held block
  std::uint32_t rx_held_ = 0;
  std::uint32_t rx_left_ = 0;  // frames not yet returned in the block being read
  std::uint8_t* rx_pkt_ = nullptr;

  // tx ring
  std::uint8_t* tx_base_ = nullptr;
  std::uint32_t tx_head_ = 0;
  std::uint32_t tx_pending_ = 0;  // queued since the last kick (ring) / staged (sendmmsg)
  std::uint64_t tx_pending_bytes_ = 0;
  bool tx_kick_needed_ = false;  // the last kick failed: kick again even with nothing new
  // tx sendmmsg: frames packed one after the other in tx_stage_ (tx_stage_used_ bytes taken);
  // with vnet_, message i is two iovecs: its header in tx_vnet_, then the frame.
  std::size_t tx_stage_used_ = 0;
  std::vector<std::uint8_t> tx_vnet_;
  std::vector<std::uint8_t> tx_stage_;
  std::vector<iovec> tx_iov_;
  std::vector<mmsghdr> tx_msgs_;

  PortStats stats_;
  mutable std::uint64_t kernel_drops_ = 0;  // PACKET_STATISTICS resets on read: accumulate
};

AfPacketPort::AfPacketPort(const std::string& ifname, const AfPacketOptions& opt)
    : ifname_(ifname), opt_(opt) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    fail(EINVAL, ifname, "not a valid interface name (1 to 15 characters)");
  }
  // Protocol 0: receive nothing until bind() names the interface.
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    const int err = errno;
    if (err == EPERM || err == EACCES) {
      fail(err, ifname, "opening a packet socket needs CAP_NET_RAW (run as root)");
    }
    fail(err, ifname, "cannot open a packet socket");
  }
  query_interface();

  frames_ = opt_.rx_mode == RxMode::frames && opt_.tx_mode == TxMode::sendmmsg;
  const int version = frames_ ? TPACKET_V2 : TPACKET_V3;
  setopt(SOL_PACKET, PACKET_VERSION, &version, sizeof version, "PACKET_VERSION");
  const int one = 1;
  // Before the rings (the kernel refuses it after). A kernel without it (before 5.7 for the rx
  // ring) leaves the port without offloads(): the caller then sees MTU-size frames only when
  // the interfaces' offloads are off.
  vnet_ = opt_.offloads && ::setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
  if (opt_.tx_mode == TxMode::ring)
    setopt(SOL_PACKET, PACKET_LOSS, &one, sizeof one, "PACKET_LOSS");
  setup_rings();
  if (opt_.qdisc_bypass) {
    setopt(SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one, "PACKET_QDISC_BYPASS");
  }
  setopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one, "PACKET_IGNORE_OUTGOING");

  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(opt_.ether_type);
  sll.sll_ifindex = ifindex_;
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) != 0) {
    fail(errno, ifname, "cannot bind the packet socket");
  }
  if (frames_) {
    // Frames above kSmallFrameMax come only with offloads (super-frames) or a larger MTU.
    if (vnet_ || mtu_ + net::kEthHeader > kSmallFrameMax) open_big_socket();
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) fail_errno("epoll_create1");
    for (const int f : {fd_, big_.fd}) {
      if (f < 0) continue;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = f;
      if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, f, &ev) != 0) fail_errno("epoll_ctl");
    }
  }
  if (opt_.promiscuous) {
    packet_mreq mreq{};
    mreq.mr_ifindex = ifindex_;
    mreq.mr_type = PACKET_MR_PROMISC;
    setopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq, "promiscuous mode");
  }
}

AfPacketPort::~AfPacketPort() {
  if (map_ != nullptr) ::munmap(map_, map_len_);
  if (big_.map != nullptr) ::munmap(big_.map, big_.map_len);
  if (big_.fd >= 0) ::close(big_.fd);
  if (epfd_ >= 0) ::close(epfd_);
  if (fd_ >= 0) ::close(fd_);
}

// Frames of at most kSmallFrameMax bytes (big: larger ones); the rest is not for this socket.
void AfPacketPort::attach_size_filter(int fd, bool big) {
  sock_filter code[] = {
      {BPF_LD | BPF_W | BPF_LEN, 0, 0, 0},
      {BPF_JMP | BPF_JGT | BPF_K, static_cast<std::uint8_t>(big ? 0 : 1),
       static_cast<std::uint8_t>(big ? 1 : 0), kSmallFrameMax},
      {BPF_RET | BPF_K, 0, 0, 0x40000},  // accept (the whole frame)
      {BPF_RET | BPF_K, 0, 0, 0},
  };
  sock_fprog prog{4, code};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
    fail_errno("SO_ATTACH_FILTER");
}

void AfPacketPort::setup_ring_v2(RingV2& r, std::uint32_t block_size, std::uint32_t frame_size,
                                 std::uint32_t frames) {
  r.frame_size = frame_size;
  r.block_size = block_size;
  r.frames_per_block = block_size / frame_size;
  const std::uint32_t blocks = (frames + r.frames_per_block - 1) / r.frames_per_block;
  r.count = blocks * r.frames_per_block;
  tpacket_req3 req{};
  req.tp_block_size = block_size;
  req.tp_block_nr = blocks;
  req.tp_frame_size = frame_size;
  req.tp_frame_nr = r.count;
  if (::setsockopt(r.fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(tpacket_req)) != 0) {
    fail_errno("setsockopt PACKET_RX_RING (TPACKET_V2)");
  }
  r.map_len = std::size_t{block_size} * blocks;
  void* m = ::mmap(nullptr, r.map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r.fd, 0);
  if (m == MAP_FAILED) fail_errno("cannot map the packet ring");
  r.map = static_cast<std::uint8_t*>(m);
}

// The second socket of RxMode::frames: super-frames and jumbo frames, in 64 KiB slots.
void AfPacketPort::open_big_socket() {
  big_.fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (big_.fd < 0) fail_errno("cannot open a packet socket");
  const int v2 = TPACKET_V2, one = 1;
  if (::setsockopt(big_.fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof v2) != 0)
    fail_errno("PACKET_VERSION");
  if (vnet_ && ::setsockopt(big_.fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
    fail_errno("PACKET_VNET_HDR");
  }
  attach_size_filter(big_.fd, true);
  // Room for the ring header, the virtio_net_hdr and a 64 KiB IPv4 packet in Ethernet.
  constexpr std::uint32_t kBigFrame = 65536 + 512;
  constexpr std::uint32_t kBigBlock = 1u << 20;
  setup_ring_v2(big_, kBigBlock, kBigFrame, std::max<std::uint32_t>(opt_.rx_big_frame_count, 1));
  if (::setsockopt(big_.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0) {
    fail_errno("PACKET_IGNORE_OUTGOING");
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(opt_.ether_type);
  sll.sll_ifindex = ifindex_;
  if (::bind(big_.fd, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) != 0) {
    fail_errno("cannot bind the packet socket");
  }
}

void AfPacketPort::setopt(int level, int name, const void* value, socklen_t len, const char* what) {
  if (::setsockopt(fd_, level, name, value, len) != 0) {
    fail(errno, ifname_, std::string("setsockopt ") + what);
  }
}

void AfPacketPort::query_interface() {
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname_.c_str(), ifname_.size() + 1);
  if (::ioctl(fd_, SIOCGIFINDEX, &ifr) != 0) {
    const int err = errno;
    if (err == ENODEV) fail(err, ifname_, "no such interface in this network namespace");
    fail(err, ifname_, "cannot read the interface index");
  }
  ifindex_ = ifr.ifr_ifindex;
  if (::ioctl(fd_, SIOCGIFFLAGS, &ifr) != 0)
    fail(errno, ifname_, "cannot read the interface flags");
  if ((ifr.ifr_flags & IFF_UP) == 0) {
    fail(ENETDOWN, ifname_, "interface is down (ip link set " + ifname_ + " up)");
  }
  if (::ioctl(fd_, SIOCGIFHWADDR, &ifr) != 0) fail(errno, ifname_, "cannot read the MAC address");
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    fail(EINVAL, ifname_, "not an Ethernet interface");
  }
  std::uint8_t mac[6];
  std::memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  mac_ = MacAddress::from(mac);
  if (::ioctl(fd_, SIOCGIFMTU, &ifr) != 0) fail(errno, ifname_, "cannot read the MTU");
  mtu_ = static_cast<std::uint32_t>(ifr.ifr_mtu);
}

void AfPacketPort::setup_rings() {
  const auto page = static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE));
  if (opt_.rx_block_size < page || !power_of_two(opt_.rx_block_size) || opt_.rx_block_count == 0) {
    fail(EINVAL, ifname_,
         "rx_block_size must be a power of two >= the page size, rx_block_count > 0");
  }
  if (!power_of_two(opt_.tx_frame_size) || opt_.tx_frame_size < 128 ||
      opt_.tx_frame_size > kTxBlockSize || opt_.tx_frame_count == 0) {
    fail(EINVAL, ifname_, "tx_frame_size must be a power of two in 128..65536, tx_frame_count > 0");
  }
  if (frames_) {
    if (opt_.rx_frame_size < 256 || opt_.rx_frame_size % TPACKET_ALIGNMENT != 0 ||
        opt_.rx_frame_size > opt_.rx_block_size) {
      fail(EINVAL, ifname_, "rx_frame_size must be a multiple of 16 in 256..rx_block_size");
    }
    attach_size_filter(fd_, false);
    small_.fd = fd_;
    setup_ring_v2(small_, opt_.rx_block_size, opt_.rx_frame_size,
                  opt_.rx_block_size / opt_.rx_frame_size * opt_.rx_block_count);
  }
  constexpr std::uint32_t kRxFrameSize = 2048;  // V3 ignores it beyond this consistency check
  tpacket_req3 rx{};
  rx.tp_block_size = opt_.rx_block_size;
  rx.tp_block_nr = opt_.rx_block_count;
  rx.tp_frame_size = kRxFrameSize;
  rx.tp_frame_nr = opt_.rx_block_size / kRxFrameSize * opt_.rx_block_count;
  rx.tp_retire_blk_tov = opt_.rx_block_timeout_ms;
  if (!frames_) {
    setopt(SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx, "PACKET_RX_RING");
    map_len_ = std::size_t{opt_.rx_block_size} * opt_.rx_block_count;
  }

  std::size_t tx_len = 0;
  const std::uint32_t vnet_len = vnet_ ? kVnetHdr : 0;
  const std::uint32_t tx_max =
      opt_.tx_mode == TxMode::ring ? opt_.tx_frame_size - kTxDataOffset - vnet_len
      : vnet_                      ? kMaxSuperFrame
              : std::min(opt_.tx_frame_count * opt_.tx_frame_size, kMaxSuperFrame);
  max_frame_ = std::min(mtu_ + static_cast<std::uint32_t>(net::kEthHeader), tx_max);
  max_gso_frame_ = vnet_ ? std::max(max_frame_, tx_max) : max_frame_;
  if (opt_.tx_mode == TxMode::ring) {
    const std::uint32_t block = std::max(kTxBlockSize, page);
    const std::uint32_t per_block = block / opt_.tx_frame_size;
    tpacket_req3 tx{};
    tx.tp_block_size = block;
    tx.tp_block_nr = (opt_.tx_frame_count + per_block - 1) / per_block;
    tx.tp_frame_size = opt_.tx_frame_size;
    tx.tp_frame_nr = tx.tp_block_nr * per_block;
    opt_.tx_frame_count = tx.tp_frame_nr;
    setopt(SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx, "PACKET_TX_RING");
    tx_len = std::size_t{block} * tx.tp_block_nr;
  } else {
    // Room for tx_frame_count frames of tx_frame_size, packed: many small frames or a few
    // super-frames.
    // With offloads, at least a worker batch (64 frames) of super-frames.
    const std::size_t stage =
        std::max<std::size_t>(std::size_t{opt_.tx_frame_count} * opt_.tx_frame_size,
                              vnet_ ? std::size_t{72} * (kMaxSuperFrame + kStageAlign) : 0);
    tx_stage_.resize(stage + kStageAlign);
    tx_vnet_.resize(std::size_t{opt_.tx_frame_count} * kVnetHdr);
    tx_iov_.resize(std::size_t{opt_.tx_frame_count} * 2);
    tx_msgs_.resize(opt_.tx_frame_count);
    for (std::uint32_t i = 0; i < opt_.tx_frame_count; ++i) {
      iovec* v = &tx_iov_[std::size_t{i} * 2];
      v[0].iov_base = tx_vnet_.data() + std::size_t{i} * kVnetHdr;
      v[0].iov_len = kVnetHdr;
      tx_msgs_[i].msg_hdr.msg_iov = vnet_ ? v : v + 1;
      tx_msgs_[i].msg_hdr.msg_iovlen = vnet_ ? 2 : 1;
    }
  }

  if (frames_) return;  // the small ring is mapped; no tx ring in this mode
  void* m =
      ::mmap(nullptr, map_len_ + tx_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (m == MAP_FAILED) fail(errno, ifname_, "cannot map the packet rings");
  map_ = static_cast<std::uint8_t*>(m);
  if (tx_len != 0) tx_base_ = map_ + map_len_;
  map_len_ += tx_len;
}

// The two rings are merged in arrival order (the kernel's receive timestamps), so a small
// segment never overtakes a super-frame of the same flow that arrived before it.
std::size_t AfPacketPort::rx_burst_frames(std::span<Frame> out) noexcept {
  std::size_t n = 0;
  const auto ready = [](RingV2& r) -> tpacket2_hdr* {
    if (r.fd < 0 || r.held == r.count) return nullptr;
    tpacket2_hdr* h = r.slot(r.next);
    return (load_acquire(h->tp_status) & TP_STATUS_USER) != 0 ? h : nullptr;
  };
  while (n < out.size()) {
    tpacket2_hdr* hs = ready(small_);
    tpacket2_hdr* hb = ready(big_);
    if (hs == nullptr && hb == nullptr) break;
    bool take_big = hs == nullptr;
    if (hs != nullptr && hb != nullptr) {
      take_big = hb->tp_sec < hs->tp_sec || (hb->tp_sec == hs->tp_sec && hb->tp_nsec < hs->tp_nsec);
    }
    RingV2& r = take_big ? big_ : small_;
    tpacket2_hdr* h = take_big ? hb : hs;
    const std::uint32_t status = h->tp_status;
    r.next = r.next + 1 == r.count ? 0 : r.next + 1;
    ++r.held;
    std::uint8_t* data = reinterpret_cast<std::uint8_t*>(h) + h->tp_mac;
    const std::uint32_t len = h->tp_snaplen;
    if (len < h->tp_len || (status & TP_STATUS_VLAN_VALID) != 0) {
      ++stats_.rx_invalid;
      continue;
    }
    Frame& f = out[n++];
    f = Frame{data, len, (status & TP_STATUS_CSUMNOTREADY) != 0, {}};
    if (vnet_) {
      f.offload = read_vnet(data - kVnetHdr);
      f.csum_partial = f.offload.needs_csum();
    }
    ++stats_.rx_frames;
    stats_.rx_bytes += len;
  }
  return n;
}

void AfPacketPort::rx_done_frames() noexcept {
  for (RingV2* r : {&small_, &big_}) {
    for (; r->held > 0; --r->held) {
      store_release(r->slot(r->release)->tp_status, TP_STATUS_KERNEL);
      r->release = r->release + 1 == r->count ? 0 : r->release + 1;
    }
  }
}

std::size_t AfPacketPort::rx_burst(std::span<Frame> out) noexcept {
  if (frames_) return rx_burst_frames(out);
  std::size_t n = 0;
  while (n < out.size()) {
    if (rx_left_ == 0) {
      if (rx_held_ == opt_.rx_block_count) break;  // every block awaits rx_done
      tpacket_block_desc* b = rx_block(rx_next_);
      if ((load_acquire(b->hdr.bh1.block_status) & TP_STATUS_USER) == 0) break;
      rx_next_ = rx_next_ + 1 == opt_.rx_block_count ? 0 : rx_next_ + 1;
      ++rx_held_;
      rx_left_ = b->hdr.bh1.num_pkts;
      rx_pkt_ = reinterpret_cast<std::uint8_t*>(b) + b->hdr.bh1.offset_to_first_pkt;
      continue;
    }
    const auto* h = reinterpret_cast<const tpacket3_hdr*>(rx_pkt_);
    std::uint8_t* data = rx_pkt_ + h->tp_mac;
    const std::uint32_t len = h->tp_snaplen;
    const std::uint32_t status = h->tp_status;
    const bool skip = len < h->tp_len || (status & TP_STATUS_VLAN_VALID) != 0;
    rx_pkt_ += h->tp_next_offset;
    --rx_left_;
    if (skip) {
      ++stats_.rx_invalid;
      continue;
    }
    Frame& f = out[n++];
    f = Frame{data, len, (status & TP_STATUS_CSUMNOTREADY) != 0, {}};
    if (vnet_) {  // the kernel wrote the header just before the frame (tpacket_rcv)
      f.offload = read_vnet(data - kVnetHdr);
      f.csum_partial = f.offload.needs_csum();
    }
    ++stats_.rx_frames;
    stats_.rx_bytes += len;
  }
  return n;
}

void AfPacketPort::rx_done() noexcept {
  if (frames_) {
    rx_done_frames();
    return;
  }
  // The block being read (frames left) stays held; every other held block goes back.
  std::uint32_t release = rx_held_ - (rx_left_ > 0 ? 1 : 0);
  rx_held_ -= release;
  while (release-- > 0) {
    store_release(rx_block(rx_release_)->hdr.bh1.block_status, TP_STATUS_KERNEL);
    rx_release_ = rx_release_ + 1 == opt_.rx_block_count ? 0 : rx_release_ + 1;
  }
}

std::size_t AfPacketPort::tx_burst(std::span<const Frame> frames) noexcept {
  return opt_.tx_mode == TxMode::ring ? tx_burst_ring(frames) : tx_burst_mmsg(frames);
}

std::size_t AfPacketPort::tx_burst_ring(std::span<const Frame> frames) noexcept {
  std::size_t k = 0;
  for (; k < frames.size(); ++k) {
    const Frame& f = frames[k];
    if (!tx_acceptable(f)) {
      ++stats_.tx_invalid;
      continue;
    }
    tpacket3_hdr* h = tx_slot(tx_head_);
    const std::uint32_t status = load_acquire(h->tp_status);
    if ((status & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) != 0) break;  // ring full
    if (status == TP_STATUS_WRONG_FORMAT) ++stats_.tx_errors;
    std::uint8_t* d = reinterpret_cast<std::uint8_t*>(h) + kTxDataOffset;
    const std::uint32_t vlen = vnet_ ? kVnetHdr : 0;
    if (vnet_) write_vnet(d, f.offload);  // tpacket_snd reads it before the frame
    std::memcpy(d + vlen, f.data, f.len);
    h->tp_len = f.len + vlen;
    h->tp_snaplen = f.len + vlen;
    h->tp_next_offset = 0;
    store_release(h->tp_status, TP_STATUS_SEND_REQUEST);
    tx_head_ = tx_head_ + 1 == opt_.tx_frame_count ? 0 : tx_head_ + 1;
    ++tx_pending_;
    tx_pending_bytes_ += f.len;
  }
  stats_.tx_queue_full += frames.size() - k;
  return k;
}

std::size_t AfPacketPort::tx_burst_mmsg(std::span<const Frame> frames) noexcept {
  std::size_t k = 0;
  for (; k < frames.size(); ++k) {
    const Frame& f = frames[k];
    if (!tx_acceptable(f)) {
      ++stats_.tx_invalid;
      continue;
    }
    const std::size_t at = (tx_stage_used_ + kStageAlign - 1) & ~(kStageAlign - 1);
    if (tx_pending_ == opt_.tx_frame_count || (!f.borrowed && at + f.len > tx_stage_.size())) break;
    iovec* v = &tx_iov_[std::size_t{tx_pending_} * 2];
    if (vnet_) write_vnet(static_cast<std::uint8_t*>(v[0].iov_base), f.offload);
    v[1].iov_len = f.len;
    if (f.borrowed) {
      v[1].iov_base = f.data;  // sent from where it is (valid until tx_flush)
    } else {
      v[1].iov_base = tx_stage_.data() + at;
      std::memcpy(v[1].iov_base, f.data, f.len);
      tx_stage_used_ = at + f.len;
    }
    ++tx_pending_;
    tx_pending_bytes_ += f.len;
  }
  stats_.tx_queue_full += frames.size() - k;
  return k;
}

void AfPacketPort::tx_flush() noexcept {
  if (opt_.tx_mode == TxMode::ring) {
    if (tx_pending_ == 0 && !tx_kick_needed_) return;
    stats_.tx_frames += tx_pending_;
    stats_.tx_bytes += tx_pending_bytes_;
    tx_pending_ = 0;
    tx_pending_bytes_ = 0;
    // Sends every slot marked SEND_REQUEST. On a driver drop the kernel returns an error and
    // leaves the slot (and those after it) queued: kick again at the next flush.
    tx_kick_needed_ = ::send(fd_, nullptr, 0, MSG_DONTWAIT) < 0;
    if (tx_kick_needed_) ++stats_.tx_errors;
    return;
  }
  std::uint32_t off = 0;
  while (off < tx_pending_) {
    const int r = ::sendmmsg(fd_, &tx_msgs_[off], tx_pending_ - off, MSG_DONTWAIT);
    if (r > 0) {
      for (std::uint32_t i = off; i < off + static_cast<std::uint32_t>(r); ++i) {
        ++stats_.tx_frames;
        stats_.tx_bytes += tx_iov_[std::size_t{i} * 2 + 1].iov_len;
      }
      off += static_cast<std::uint32_t>(r);
    } else if (errno != EINTR) {
      ++stats_.tx_errors;  // the first remaining frame failed: drop it, send the rest
      ++off;
    }
  }
  tx_pending_ = 0;
  tx_pending_bytes_ = 0;
  tx_stage_used_ = 0;
}

std::array<std::uint16_t, 2> AfPacketPort::join_fanout(std::array<std::uint16_t, 2> ids,
                                                       const std::vector<BpfInstruction>* program) {
  std::array<std::uint16_t, 2> out{};
  const std::array<int, 2> fds = {fd_, big_.fd};
  for (std::size_t k = 0; k < 2; ++k) {
    if (fds[k] >= 0) out[k] = join_fanout_fd(fds[k], ids[k], program);
  }
  return out;
}

std::uint16_t AfPacketPort::join_fanout_fd(int fd, std::uint16_t id,
                                           const std::vector<BpfInstruction>* program) {
  const auto join = [&](int flags) {
    const int arg = static_cast<int>(id) | ((PACKET_FANOUT_CBPF | flags) << 16);
    return ::setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) == 0;
  };
  const int unique = id == 0 ? PACKET_FANOUT_FLAG_UNIQUEID : 0;
  // Every member must join with the same flags; a kernel without IGNORE_OUTGOING refuses it for
  // the first member already, and then the group goes without (sent frames are seen and left
  // alone: they are not addressed to this interface).
  if (!join(unique | PACKET_FANOUT_FLAG_IGNORE_OUTGOING) && !join(unique)) {
    fail(errno, ifname_, "setsockopt PACKET_FANOUT (packet fanout group)");
  }
  int got = 0;
  socklen_t len = sizeof got;
  if (::getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &got, &len) != 0) {
    fail(errno, ifname_, "getsockopt PACKET_FANOUT");
  }
  if (program != nullptr) {
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(program->size());
    prog.filter = reinterpret_cast<sock_filter*>(const_cast<BpfInstruction*>(program->data()));
    if (::setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof prog) != 0) {
      fail_errno("setsockopt PACKET_FANOUT_DATA (steering program)");
    }
  }
  return static_cast<std::uint16_t>(got & 0xFFFF);
}

PortStats AfPacketPort::stats() const {
  for (const int f : {fd_, big_.fd}) {
    if (f < 0) continue;
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    if (::getsockopt(f, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
      kernel_drops_ += st.tp_drops;
  }
  PortStats s = stats_;
  s.rx_kernel_drops = kernel_drops_;
  return s;
}

}  // namespace

std::unique_ptr<Port> open_af_packet(const std::string& ifname, const AfPacketOptions& options) {
  return std::make_unique<AfPacketPort>(ifname, options);
}

std::vector<std::unique_ptr<Port>> open_af_packet_group(
    const std::string& ifname, const AfPacketOptions& options, std::size_t count,
    const std::vector<BpfInstruction>& program) {
  std::vector<std::unique_ptr<Port>> ports;
  std::array<std::uint16_t, 2> ids{};  // one group per ring of a port (RxMode::frames: two)
  for (std::size_t i = 0; i < count; ++i) {
    auto p = std::make_unique<AfPacketPort>(ifname, options);
    // The program goes with the first member: until then (a moment at start) every frame goes
    // to member 0, as an unset program returns 0.
    ids = p->join_fanout(ids, i == 0 ? &program : nullptr);
    ports.push_back(std::move(p));
  }
  return ports;
}

}  // namespace natgw::io
