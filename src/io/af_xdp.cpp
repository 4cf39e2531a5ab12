#include "io/af_xdp.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

#include "io/af_packet.hpp"

#ifdef NATGW_HAVE_AF_XDP
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <vector>

#include "io/bpf/natgw_xdp_object.hpp"
#endif

namespace natgw::io {

namespace {

[[noreturn]] void fail(int err, const std::string& ifname, const std::string& what) {
  throw std::system_error(err, std::generic_category(), "interface '" + ifname + "': " + what);
}

}  // namespace

#ifndef NATGW_HAVE_AF_XDP

bool af_xdp_built() noexcept {
  return false;
}

std::unique_ptr<AfXdpPort> open_af_xdp(const std::string& ifname, const AfXdpOptions&) {
  fail(ENOTSUP, ifname,
       "this natgw was built without AF_XDP (libxdp-dev, libbpf-dev or clang were missing)");
}

#else

bool af_xdp_built() noexcept {
  return true;
}

namespace {

// libbpf's messages (the verifier's log, for one) go to this buffer while a port opens, so an
// error can quote them; they are not printed.
std::string g_libbpf_log;
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  if (n > 0)
    g_libbpf_log.append(line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1));
  if (g_libbpf_log.size() > 4096) g_libbpf_log.erase(0, g_libbpf_log.size() - 4096);
  return 0;
}

std::string last_libbpf_line() {
  std::string s = g_libbpf_log;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::string why(int err) {
  std::string s = std::strerror(err);
  if (err == EPERM || err == EACCES) s += " (needs root: CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW)";
  const std::string log = last_libbpf_line();
  if (!log.empty()) s += "; libbpf: " + log;
  return s;
}

struct NatgwXdpConfig {
  std::uint8_t mac[6];
  std::uint8_t pad[2];
};

class XdpPort final : public AfXdpPort {
 public:
  XdpPort(std::string ifname, AfXdpOptions opt)
      : ifname_(std::move(ifname)), opt_(std::move(opt)) {}
  ~XdpPort() override { close_all(); }

  void open();

  std::size_t rx_burst(std::span<Frame> out) noexcept override;
  void rx_done() noexcept override;
  std::size_t tx_burst(std::span<const Frame> frames) noexcept override;
  void tx_flush() noexcept override;
  int fd() const noexcept override { return epoll_fd_; }
  MacAddress mac() const noexcept override { return arp_->mac(); }
  int ifindex() const noexcept override { return ifindex_; }
  std::uint32_t mtu() const noexcept override { return arp_->mtu(); }
  std::uint32_t max_frame() const noexcept override { return max_frame_; }
  PortStats stats() const override;
  bool zero_copy() const noexcept override { return zero_copy_; }
  bool native() const noexcept override { return native_; }
  ProgramCounts program_counts() const override;

 private:
  void close_all() noexcept;
  void load_program();
  void create_socket(bool zero_copy);
  void delete_socket() noexcept;
  void reap() noexcept;
  void refill() noexcept;
  void kick() noexcept;

  std::string ifname_;
  AfXdpOptions opt_;
  std::unique_ptr<Port> arp_;  // ARP only (AF_PACKET)
  int ifindex_ = 0;
  std::uint32_t max_frame_ = 0;
  std::uint32_t rx_count_ = 0;  // rx frames = fill/rx ring size
  std::uint32_t tx_count_ = 0;  // tx frames = tx/completion ring size

  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  int link_fd_ = -1;  // the BPF link that attaches the program
  int xsks_map_fd_ = -1;
  int counts_map_fd_ = -1;
  bool native_ = false;
  bool zero_copy_ = false;

  std::uint8_t* umem_area_ = nullptr;
  std::size_t umem_size_ = 0;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
  int xsk_fd_ = -1;
  int epoll_fd_ = -1;

  // rx: frames handed out since the last rx_done (ring entries to release), and the addresses of
  // frames released but not yet back in the fill ring.
  std::uint32_t rx_peeked_ = 0;
  std::vector<std::uint64_t> unfilled_;
  std::size_t unfilled_n_ = 0;
  bool arp_pending_ = false;
  // tx: free transmit frames (a stack), frames reserved in the tx ring but not submitted.
  std::vector<std::uint64_t> free_;
  std::size_t free_n_ = 0;
  std::uint32_t queued_ = 0;
  std::uint64_t queued_bytes_ = 0;
  bool kick_pending_ = false;  // submitted frames the kernel was not told about yet

  PortStats st_{};
};

void XdpPort::open() {
  if (opt_.frame_size != 2048 && opt_.frame_size != 4096)
    fail(EINVAL, ifname_, "frame_size must be 2048 or 4096");
  if (opt_.frame_count < 64 || (opt_.frame_count & (opt_.frame_count - 1)) != 0) {
    fail(EINVAL, ifname_, "frame_count must be a power of two >= 64");
  }
  // The ARP socket first: it checks the interface (exists, up, Ethernet) and knows its MAC/MTU.
  AfPacketOptions arp;
  arp.ether_type = 0x0806;
  arp.rx_block_size = 1u << 16;
  arp.rx_block_count = 2;
  arp.tx_frame_count = 4;
  arp.offloads = false;
  arp_ = open_af_packet(ifname_, arp);
  ifindex_ = arp_->ifindex();
  max_frame_ = std::min(arp_->mtu() + 14, opt_.frame_size);
  rx_count_ = opt_.frame_count / 2;
  tx_count_ = opt_.frame_count / 2;

  umem_size_ = static_cast<std::size_t>(opt_.frame_count) * opt_.frame_size;
  void* area = ::mmap(nullptr, umem_size_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area == MAP_FAILED) fail(errno, ifname_, "cannot map the AF_XDP frame memory");
  umem_area_ = static_cast<std::uint8_t*>(area);
  unfilled_.assign(rx_count_, 0);
  free_.assign(tx_count_, 0);

  libbpf_set_print(libbpf_print);
  g_libbpf_log.clear();
  load_program();
  bool zc = false;
  if (opt_.try_zero_copy) {
    try {
      create_socket(true);
      zc = true;
    } catch (const std::system_error&) {
      delete_socket();  // no zero-copy in this driver: copy mode
    }
  }
  if (!zc) create_socket(false);
  zero_copy_ = zc;

  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) fail(errno, ifname_, "epoll_create1");
  for (const int fd : {xsk_fd_, arp_->fd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) fail(errno, ifname_, "epoll_ctl");
  }
  libbpf_set_print(nullptr);
}

void XdpPort::load_program() {
  LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "natgw_xdp");
  obj_ = bpf_object__open_mem(bpf::kXdpObject, bpf::kXdpObjectSize, &oo);
  if (obj_ == nullptr) fail(errno, ifname_, "cannot open the XDP program: " + why(errno));
  if (const int rc = bpf_object__load(obj_); rc != 0) {
    fail(-rc, ifname_, "the kernel refused the XDP program: " + why(-rc));
  }
  bpf_program* prog = bpf_object__find_program_by_name(obj_, "natgw_xdp");
  if (prog == nullptr) fail(ENOENT, ifname_, "the XDP object has no program natgw_xdp");
  prog_fd_ = bpf_program__fd(prog);
  xsks_map_fd_ = bpf_object__find_map_fd_by_name(obj_, "natgw_xsks");
  counts_map_fd_ = bpf_object__find_map_fd_by_name(obj_, "natgw_counts");
  const int config_fd = bpf_object__find_map_fd_by_name(obj_, "natgw_config");
  const int local_fd = bpf_object__find_map_fd_by_name(obj_, "natgw_local");
  if (xsks_map_fd_ < 0 || counts_map_fd_ < 0 || config_fd < 0 || local_fd < 0) {
    fail(ENOENT, ifname_, "the XDP object lacks one of its maps");
  }
  NatgwXdpConfig cfg{};
  arp_->mac().write(cfg.mac);
  const std::uint32_t zero = 0;
  if (bpf_map_update_elem(config_fd, &zero, &cfg, BPF_ANY) != 0) {
    fail(errno, ifname_, "cannot configure the XDP program: " + why(errno));
  }
  for (const net::Ipv4 a : opt_.local_addresses) {
    const std::uint32_t key = htonl(a.value());
    const std::uint8_t one = 1;
    if (bpf_map_update_elem(local_fd, &key, &one, BPF_ANY) != 0) {
      fail(errno, ifname_, "cannot configure the XDP program: " + why(errno));
    }
  }
  // Native mode when the driver has it, else generic. A BPF link, not a netlink attach: closing
  // it detaches the program, from any namespace, and the kernel detaches it when the process
  // dies; and a link never replaces a program someone else attached (EBUSY).
  int rc = -EOPNOTSUPP;
  for (const std::uint32_t mode :
       {std::uint32_t{XDP_FLAGS_DRV_MODE}, std::uint32_t{XDP_FLAGS_SKB_MODE}}) {
    if (mode == XDP_FLAGS_DRV_MODE && !opt_.try_native) continue;
    LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = mode);
    const int fd = bpf_link_create(prog_fd_, ifindex_, BPF_XDP, &lo);
    if (fd >= 0) {
      link_fd_ = fd;
      native_ = mode == XDP_FLAGS_DRV_MODE;
      rc = 0;
      break;
    }
    rc = fd < 0 ? -errno : fd;
    if (rc == -EBUSY || rc == -EEXIST || rc == -EPERM) break;
  }
  if (rc != 0) {
    if (rc == -EBUSY || rc == -EEXIST) {
      fail(
          EBUSY, ifname_,
          "another XDP program is attached to the interface (ip link set " + ifname_ + " xdp off)");
    }
    fail(-rc, ifname_, "the kernel refused to attach the XDP program: " + why(-rc));
  }
}

void XdpPort::create_socket(bool zero_copy) {
  xsk_umem_config ucfg{};
  ucfg.fill_size = rx_count_;
  ucfg.comp_size = tx_count_;
  ucfg.frame_size = opt_.frame_size;
  ucfg.frame_headroom = 0;
  ucfg.flags = 0;
  if (const int rc = xsk_umem__create(&umem_, umem_area_, umem_size_, &fill_, &comp_, &ucfg);
      rc != 0) {
    umem_ = nullptr;
    fail(-rc, ifname_, "cannot register the AF_XDP frame memory: " + why(-rc));
  }
  xsk_socket_config scfg{};
  scfg.rx_size = rx_count_;
  scfg.tx_size = tx_count_;
  scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  scfg.xdp_flags = 0;
  scfg.bind_flags =
      static_cast<std::uint16_t>(XDP_USE_NEED_WAKEUP | (zero_copy ? XDP_ZEROCOPY : XDP_COPY));
  if (const int rc =
          xsk_socket__create(&xsk_, ifname_.c_str(), opt_.queue, umem_, &rx_, &tx_, &scfg);
      rc != 0) {
    xsk_ = nullptr;
    fail(-rc, ifname_,
         std::string("cannot open the AF_XDP socket (") + (zero_copy ? "zero-copy" : "copy") +
             " mode, queue " + std::to_string(opt_.queue) + "): " + why(-rc));
  }
  xsk_fd_ = xsk_socket__fd(xsk_);
  if (const int rc = xsk_socket__update_xskmap(xsk_, xsks_map_fd_); rc != 0) {
    fail(-rc, ifname_, "cannot register the AF_XDP socket with the XDP program: " + why(-rc));
  }
  // The fill ring holds every receive frame; the transmit frames start free.
  std::uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&fill_, rx_count_, &idx) != rx_count_)
    fail(ENOMEM, ifname_, "fill ring");
  for (std::uint32_t i = 0; i < rx_count_; ++i) {
    *xsk_ring_prod__fill_addr(&fill_, idx + i) = static_cast<std::uint64_t>(i) * opt_.frame_size;
  }
  xsk_ring_prod__submit(&fill_, rx_count_);
  for (std::uint32_t i = 0; i < tx_count_; ++i) {
    free_[i] = static_cast<std::uint64_t>(rx_count_ + i) * opt_.frame_size;
  }
  free_n_ = tx_count_;
}

void XdpPort::delete_socket() noexcept {
  if (xsk_ != nullptr) {
    const std::uint32_t key = opt_.queue;
    if (xsks_map_fd_ >= 0) (void)bpf_map_delete_elem(xsks_map_fd_, &key);
    xsk_socket__delete(xsk_);
    xsk_ = nullptr;
  }
  if (umem_ != nullptr) {
    (void)xsk_umem__delete(umem_);
    umem_ = nullptr;
  }
  xsk_fd_ = -1;
  fill_ = {};
  comp_ = {};
  rx_ = {};
  tx_ = {};
}

void XdpPort::close_all() noexcept {
  delete_socket();
  if (link_fd_ >= 0) ::close(link_fd_);  // detaches the program
  link_fd_ = -1;
  if (obj_ != nullptr) bpf_object__close(obj_);
  obj_ = nullptr;
  if (umem_area_ != nullptr) ::munmap(umem_area_, umem_size_);
  umem_area_ = nullptr;
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  epoll_fd_ = -1;
}

std::size_t XdpPort::rx_burst(std::span<Frame> out) noexcept {
  std::size_t k = 0;
  std::uint32_t idx = 0;
  const auto room = static_cast<std::uint32_t>(
      std::min<std::size_t>(out.size(), rx_count_ - unfilled_n_ - rx_peeked_));
  const std::uint32_t n = room == 0 ? 0 : xsk_ring_cons__peek(&rx_, room, &idx);
  for (std::uint32_t i = 0; i < n; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_, idx + i);
    unfilled_[unfilled_n_ + rx_peeked_ + i] = xsk_umem__extract_addr(d->addr);
    if (d->len < 14 || d->len > opt_.frame_size) {
      ++st_.rx_invalid;
      continue;
    }
    Frame& f = out[k++];
    f = Frame{};
    f.data = static_cast<std::uint8_t*>(
        xsk_umem__get_data(umem_area_, xsk_umem__add_offset_to_addr(d->addr)));
    f.len = d->len;
    st_.rx_bytes += d->len;
  }
  rx_peeked_ += n;
  st_.rx_frames += k;
  if (k < out.size()) {
    const std::size_t a = arp_->rx_burst(out.subspan(k));
    if (a > 0) arp_pending_ = true;
    k += a;
  }
  return k;
}

void XdpPort::rx_done() noexcept {
  if (rx_peeked_ > 0) {
    xsk_ring_cons__release(&rx_, rx_peeked_);
    unfilled_n_ += rx_peeked_;
    rx_peeked_ = 0;
  }
  refill();
  if (arp_pending_) {
    arp_->rx_done();
    arp_pending_ = false;
  }
}

void XdpPort::refill() noexcept {
  if (unfilled_n_ == 0) return;
  std::uint32_t idx = 0;
  const auto n = static_cast<std::uint32_t>(unfilled_n_);
  if (xsk_ring_prod__reserve(&fill_, n, &idx) != n)
    return;  // cannot happen: the ring holds every rx frame
  for (std::uint32_t i = 0; i < n; ++i) *xsk_ring_prod__fill_addr(&fill_, idx + i) = unfilled_[i];
  xsk_ring_prod__submit(&fill_, n);
  unfilled_n_ = 0;
  if (xsk_ring_prod__needs_wakeup(&fill_)) {
    (void)::recvfrom(xsk_fd_, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
  }
}

void XdpPort::reap() noexcept {
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&comp_, tx_count_, &idx);
  for (std::uint32_t i = 0; i < n; ++i)
    free_[free_n_++] = *xsk_ring_cons__comp_addr(&comp_, idx + i);
  if (n > 0) xsk_ring_cons__release(&comp_, n);
}

std::size_t XdpPort::tx_burst(std::span<const Frame> frames) noexcept {
  std::size_t done = 0;
  for (; done < frames.size(); ++done) {
    const Frame& f = frames[done];
    if (f.len < 14 || f.len > max_frame_ || f.offload.gso()) {
      ++st_.tx_invalid;
      continue;
    }
    if (free_n_ == 0) reap();
    std::uint32_t idx = 0;
    if (free_n_ == 0 || xsk_ring_prod__reserve(&tx_, 1, &idx) != 1) break;
    const std::uint64_t addr = free_[--free_n_];
    std::memcpy(xsk_umem__get_data(umem_area_, addr), f.data, f.len);
    xdp_desc* d = xsk_ring_prod__tx_desc(&tx_, idx);
    d->addr = addr;
    d->len = f.len;
    d->options = 0;
    ++queued_;
    queued_bytes_ += f.len;
  }
  st_.tx_queue_full += frames.size() - done;
  return done;
}

void XdpPort::kick() noexcept {
  // Copy mode sends at most the kernel's TX batch (32 frames) per call and says EAGAIN when more
  // are left: call again, a bounded number of times; what is left goes with the next flush.
  for (int tries = 0; tries < 64; ++tries) {
    if (!xsk_ring_prod__needs_wakeup(&tx_) ||
        ::sendto(xsk_fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) {
      kick_pending_ = false;
      return;
    }
    const int err = errno;
    if (err != EAGAIN && err != EBUSY && err != ENOBUFS) {
      if (err != ENETDOWN) ++st_.tx_errors;
      kick_pending_ = false;
      return;
    }
    reap();
  }
}

void XdpPort::tx_flush() noexcept {
  if (queued_ > 0) {
    xsk_ring_prod__submit(&tx_, queued_);
    st_.tx_frames += queued_;
    st_.tx_bytes += queued_bytes_;
    queued_ = 0;
    queued_bytes_ = 0;
    kick_pending_ = true;
  }
  if (kick_pending_) kick();
  reap();
}

PortStats XdpPort::stats() const {
  PortStats s = st_;
  const PortStats a = arp_->stats();
  s.rx_frames += a.rx_frames;
  s.rx_bytes += a.rx_bytes;
  s.rx_kernel_drops += a.rx_kernel_drops;
  xdp_statistics xs{};
  socklen_t len = sizeof xs;
  if (xsk_fd_ >= 0 && ::getsockopt(xsk_fd_, SOL_XDP, XDP_STATISTICS, &xs, &len) == 0) {
    s.rx_kernel_drops += xs.rx_dropped + xs.rx_ring_full + xs.rx_fill_ring_empty_descs;
    s.rx_invalid += xs.rx_invalid_descs;
    s.tx_invalid += xs.tx_invalid_descs;
  }
  return s;
}

AfXdpPort::ProgramCounts XdpPort::program_counts() const {
  ProgramCounts c;
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0 || counts_map_fd_ < 0) return c;
  std::vector<std::uint64_t> v(static_cast<std::size_t>(ncpu));
  for (std::uint32_t key : {0u, 1u}) {
    if (bpf_map_lookup_elem(counts_map_fd_, &key, v.data()) != 0) continue;
    std::uint64_t sum = 0;
    for (const auto x : v) sum += x;
    (key == 0 ? c.redirected : c.passed) = sum;
  }
  return c;
}

}  // namespace

std::unique_ptr<AfXdpPort> open_af_xdp(const std::string& ifname, const AfXdpOptions& options) {
  auto p = std::make_unique<XdpPort>(ifname, options);
  p->open();  // on failure the destructor undoes what was done
  return p;
}

#endif

}  // namespace natgw::io
