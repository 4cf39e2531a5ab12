#include "io/af_packet.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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

class AfPacketPort final : public Port {
 public:
  AfPacketPort(const std::string& ifname, const AfPacketOptions& opt);
  ~AfPacketPort() override;

  std::size_t rx_burst(std::span<Frame> out) noexcept override;
  void rx_done() noexcept override;
  std::size_t tx_burst(std::span<const Frame> frames) noexcept override;
  void tx_flush() noexcept override;

  int fd() const noexcept override { return fd_; }
  MacAddress mac() const noexcept override { return mac_; }
  int ifindex() const noexcept override { return ifindex_; }
  std::uint32_t mtu() const noexcept override { return mtu_; }
  std::uint32_t max_frame() const noexcept override { return max_frame_; }
  PortStats stats() const override;

 private:
  void setopt(int level, int name, const void* value, socklen_t len, const char* what);
  void query_interface();
  void setup_rings();
  std::size_t tx_burst_ring(std::span<const Frame> frames) noexcept;
  std::size_t tx_burst_mmsg(std::span<const Frame> frames) noexcept;
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
  // tx sendmmsg
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

  const int v3 = TPACKET_V3;
  setopt(SOL_PACKET, PACKET_VERSION, &v3, sizeof v3, "PACKET_VERSION TPACKET_V3");
  const int one = 1;
  if (opt_.tx_mode == TxMode::ring)
    setopt(SOL_PACKET, PACKET_LOSS, &one, sizeof one, "PACKET_LOSS");
  setup_rings();
  if (opt_.qdisc_bypass) {
    setopt(SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one, "PACKET_QDISC_BYPASS");
  }
  setopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one, "PACKET_IGNORE_OUTGOING");

  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex_;
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) != 0) {
    fail(errno, ifname, "cannot bind the packet socket");
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
  if (fd_ >= 0) ::close(fd_);
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
  constexpr std::uint32_t kRxFrameSize = 2048;  // V3 ignores it beyond this consistency check
  tpacket_req3 rx{};
  rx.tp_block_size = opt_.rx_block_size;
  rx.tp_block_nr = opt_.rx_block_count;
  rx.tp_frame_size = kRxFrameSize;
  rx.tp_frame_nr = opt_.rx_block_size / kRxFrameSize * opt_.rx_block_count;
  rx.tp_retire_blk_tov = opt_.rx_block_timeout_ms;
  setopt(SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx, "PACKET_RX_RING");
  map_len_ = std::size_t{opt_.rx_block_size} * opt_.rx_block_count;

  std::size_t tx_len = 0;
  const std::uint32_t tx_max = opt_.tx_frame_size - kTxDataOffset;
  max_frame_ = std::min(mtu_ + static_cast<std::uint32_t>(net::kEthHeader), tx_max);
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
    tx_stage_.resize(std::size_t{opt_.tx_frame_count} * opt_.tx_frame_size);
    tx_iov_.resize(opt_.tx_frame_count);
    tx_msgs_.resize(opt_.tx_frame_count);
    for (std::uint32_t i = 0; i < opt_.tx_frame_count; ++i) {
      tx_iov_[i].iov_base = tx_stage_.data() + std::size_t{i} * opt_.tx_frame_size;
      tx_msgs_[i].msg_hdr.msg_iov = &tx_iov_[i];
      tx_msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }

  void* m =
      ::mmap(nullptr, map_len_ + tx_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (m == MAP_FAILED) fail(errno, ifname_, "cannot map the packet rings");
  map_ = static_cast<std::uint8_t*>(m);
  if (tx_len != 0) tx_base_ = map_ + map_len_;
  map_len_ += tx_len;
}

std::size_t AfPacketPort::rx_burst(std::span<Frame> out) noexcept {
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
    out[n++] = Frame{data, len, (status & TP_STATUS_CSUMNOTREADY) != 0};
    ++stats_.rx_frames;
    stats_.rx_bytes += len;
  }
  return n;
}

void AfPacketPort::rx_done() noexcept {
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
    if (f.len < net::kEthHeader || f.len > max_frame_) {
      ++stats_.tx_invalid;
      continue;
    }
    tpacket3_hdr* h = tx_slot(tx_head_);
    const std::uint32_t status = load_acquire(h->tp_status);
    if ((status & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) != 0) break;  // ring full
    if (status == TP_STATUS_WRONG_FORMAT) ++stats_.tx_errors;
    std::memcpy(reinterpret_cast<std::uint8_t*>(h) + kTxDataOffset, f.data, f.len);
    h->tp_len = f.len;
    h->tp_snaplen = f.len;
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
    if (f.len < net::kEthHeader || f.len > max_frame_) {
      ++stats_.tx_invalid;
      continue;
    }
    if (tx_pending_ == opt_.tx_frame_count) break;
    std::memcpy(tx_iov_[tx_pending_].iov_base, f.data, f.len);
    tx_iov_[tx_pending_].iov_len = f.len;
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
        stats_.tx_bytes += tx_iov_[i].iov_len;
      }
      off += static_cast<std::uint32_t>(r);
    } else if (errno != EINTR) {
      ++stats_.tx_errors;  // the first remaining frame failed: drop it, send the rest
      ++off;
    }
  }
  tx_pending_ = 0;
  tx_pending_bytes_ = 0;
}

PortStats AfPacketPort::stats() const {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof st;
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
    kernel_drops_ += st.tp_drops;
  PortStats s = stats_;
  s.rx_kernel_drops = kernel_drops_;
  return s;
}

}  // namespace

std::unique_ptr<Port> open_af_packet(const std::string& ifname, const AfPacketOptions& options) {
  return std::make_unique<AfPacketPort>(ifname, options);
}

}  // namespace natgw::io
