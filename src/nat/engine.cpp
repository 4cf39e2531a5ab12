#include "nat/engine.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "net/checksum.hpp"
#include "nat/ftp_alg.hpp"
#include "nat/map_rec.hpp"

namespace natgw::nat {
namespace {

constexpr std::uint8_t kPureSyn = net::kTcpSyn;  // SYN without ACK: opens a connection

// Timer wheel: 2^19 buckets of 16 ms cover 8,388 s, more than the longest timer (120 min idle
// plus 65 s hold-down), so a deadline never aliases onto a bucket that is processed too early.
constexpr unsigned kTickShift = 4;  // 16 ms ticks
constexpr std::size_t kWheelBits = 19;
constexpr std::size_t kWheelSize = std::size_t{1} << kWheelBits;
constexpr std::uint64_t kWheelSpanMs = std::uint64_t{kWheelSize} << kTickShift;
constexpr SlotIndex kWheelHead = 0x80000000u;  // wheel_prev of a bucket's first slot: flag|bucket
// Flows store milliseconds modulo 2^32 and compare them by signed difference, valid within
// 24 days. A jump of the clock by more than a day (longer than every timer) ends everything.
constexpr std::uint64_t kFlushAfterMs = 24ull * 3600 * 1000;
constexpr std::size_t kBatchChunk = 32;
constexpr int kRandomPortTries = 8;

std::uint32_t to_ms(Duration d) { return static_cast<std::uint32_t>(d.count() / 1'000'000); }

bool before_or_at(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) <= 0;
}
std::uint32_t later(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) >= 0 ? a : b;
}
std::uint32_t earlier(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) <= 0 ? a : b;
}

std::uint64_t mix(std::uint64_t a, std::uint64_t b, std::uint64_t seed) noexcept {
  std::uint64_t h = (a ^ seed) * 0x9E3779B97F4A7C15ull;
  h ^= (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return h;
}

std::size_t pow2_at_least(std::size_t n) { return std::bit_ceil(std::max<std::size_t>(n, 2)); }

template <class T>
T* alloc_zeroed(std::size_t n) {
  // calloc: large tables come as untouched zero pages, so an engine sized for 2 million flows
  // costs memory only as it fills (see prefault()).
  void* p = std::calloc(n, sizeof(T));
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<T*>(p);
}

L4 l4_of_proto(std::uint8_t proto) noexcept {
  return proto == static_cast<std::uint8_t>(net::Proto::udp)    ? L4::udp
         : proto == static_cast<std::uint8_t>(net::Proto::icmp) ? L4::icmp
                                                                : L4::tcp;
}

// An ICMP echo flow is keyed by the identifier on the inside/public side and 0 as the
// destination's "port".
std::uint16_t remote_port(L4 l4, std::uint16_t port) noexcept {
  return l4 == L4::icmp ? 0 : port;
}

// Fragments of one datagram are remembered this long after its first fragment.
constexpr std::uint32_t kFragmentLifetimeMs = 30'000;

}  // namespace

struct Engine::Dest {
  std::uint32_t dst_addr;
  std::uint16_t dst_port;
  std::uint8_t public_idx;
  std::uint8_t l4;
  std::uint16_t live;  // live connections from this public IP to this destination
  std::uint16_t used;  // live + hold-down: ports taken for this destination
  std::uint32_t next;  // hash chain, or free list
  static void check_size() { static_assert(sizeof(Dest) == 16); }
};

// A host's port allowance (behaviour.ports_per_host_min/max), per protocol.
struct Engine::HostRec {
  std::uint32_t addr;
  std::uint8_t l4;
  std::uint32_t mappings;
  std::uint32_t allowance;
  std::uint32_t next;  // hash chain, or free list
};

// The translation of a fragmented UDP datagram, for its later fragments (direct-mapped: a
// collision forgets the older datagram).
struct Engine::FragRec {
  std::uint32_t src;
  std::uint32_t dst;
  std::uint32_t new_addr;  // outbound: the public IP; inbound: the inside host
  std::uint32_t since;     // engine ms of the first fragment
  std::uint16_t id;        // IP identification
  std::uint8_t dir;        // Direction + 1; 0: empty
  std::uint8_t pad;
};

// A packet between the prefetch stages and processing.
struct Engine::Prepared {
  Packet* pkt;
  net::PacketView v;
  net::ParseResult parsed;
  bool keyed;             // TCP/UDP, unfragmented: hash is valid
  std::int8_t public_idx; // inbound: index of the destination address, or -1
  std::uint64_t hash;     // in2out (outbound) or out2in (inbound) key hash
};

void Engine::FreeDeleter::operator()(void* p) const noexcept { std::free(p); }

Engine::Engine(EngineConfig config) : config_(std::move(config)) {
  if (config_.public_ips.size() > kMaxPublicIps) {
    throw std::invalid_argument("at most " + std::to_string(kMaxPublicIps) + " public IPs");
  }
  const auto& lim = config_.limits;
  if (lim.port_min == 0 || lim.port_min > lim.port_max) {
    throw std::invalid_argument("port range must be 1..65535 with min <= max");
  }
  if (lim.max_connections == 0 || lim.max_connections > 64u * 1024 * 1024) {
    throw std::invalid_argument("max_connections must be 1..67108864");
  }
  if (lim.per_destination == 0 || lim.per_destination > 65535) {
    throw std::invalid_argument("per_destination must be 1..65535");
  }
  apply_timers(config_.timers);
  port_range_ = std::uint32_t{lim.port_max} - lim.port_min + 1;

  for (const auto& a : config_.public_ips) {
    if (public_index(a) >= 0) throw std::invalid_argument("duplicate public IP");
    pub_addrs_[pub_count_] = a.value();
    pubs_[pub_count_++].addr = a;
  }

  const std::size_t reserve = lim.holddown_reserve ? lim.holddown_reserve : lim.max_connections / 4;
  capacity_ = std::size_t{lim.max_connections} + std::max<std::size_t>(reserve, 1);
  const std::size_t buckets = pow2_at_least(capacity_ + capacity_ / 2);
  bucket_mask_ = buckets - 1;
  slots_.reset(alloc_zeroed<Flow>(capacity_ + 1));
  in2out_.reset(alloc_zeroed<SlotIndex>(buckets));
  out2in_.reset(alloc_zeroed<SlotIndex>(buckets));
  // Every destination record is referenced by at least one slot, so it can never run out first.
  dest_capacity_ = capacity_;
  // Most connections share destinations, so destination chains stay short with half as many
  // buckets as records.
  const std::size_t dest_buckets = pow2_at_least(dest_capacity_ / 2);
  dest_mask_ = dest_buckets - 1;
  dests_.reset(alloc_zeroed<Dest>(dest_capacity_ + 1));
  dest_buckets_.reset(alloc_zeroed<std::uint32_t>(dest_buckets));
  wheel_.reset(alloc_zeroed<SlotIndex>(kWheelSize));
  if (config_.flow_log) {
    flow_stats_.reset(alloc_zeroed<FlowStats>(capacity_ + 1));
    flow_events_ = std::make_unique<FlowEventRing>(config_.flow_log_ring);
  }
  if (config_.ftp_alg) {
    ftp_seq_.reset(alloc_zeroed<FtpSeq>(kFtpControlConnections));
    ftp_expect_.reset(alloc_zeroed<FtpExpect>(kFtpExpectations));
    ftp_timeout_ms_ = std::max<std::uint32_t>(to_ms(config_.ftp_data_timeout), 1);
  }

  rng_state_ = config_.seed;
  hash_seed_ = mix(config_.seed, 0x6E61746777ull, 0);  // hash keys differ from port choices

  const Behaviour& b = config_.behaviour;
  if (b.filtering == Filtering::endpoint_independent &&
      b.mapping != Mapping::endpoint_independent) {
    throw std::invalid_argument(
        "endpoint-independent filtering needs endpoint-independent mapping");
  }
  if (b.ports_per_host_min > b.ports_per_host_max ||
      (b.ports_per_host_min > 0 && b.mapping != Mapping::endpoint_independent)) {
    throw std::invalid_argument(
        "ports_per_host_min <= ports_per_host_max, with endpoint-independent mapping only");
  }
  eim_ = b.mapping == Mapping::endpoint_independent;
  eif_ = b.filtering == Filtering::endpoint_independent;
  udp_fragments_ = b.udp_fragments;
  host_min_ = b.ports_per_host_min;
  host_max_ = b.ports_per_host_max;
  apply_behaviour(b);
  if (eim_) {
    // Every mapping is referenced by at least one slot, and every host record by a mapping.
    map_capacity_ = capacity_;
    const std::size_t mb = pow2_at_least(map_capacity_ + map_capacity_ / 2);
    map_mask_ = mb - 1;
    maps_.reset(alloc_zeroed<MapRec>(map_capacity_ + 1));
    map_in_.reset(alloc_zeroed<std::uint32_t>(mb));
    map_out_.reset(alloc_zeroed<std::uint32_t>(mb));
    if (host_min_ > 0) {
      hosts_.reset(alloc_zeroed<HostRec>(map_capacity_ + 1));
      host_buckets_.reset(alloc_zeroed<std::uint32_t>(mb));
    }
  }
  if (udp_fragments_) {
    if (b.fragment_table == 0 || !std::has_single_bit(b.fragment_table) ||
        b.fragment_table > (1u << 20)) {
      throw std::invalid_argument("fragment_table must be a power of two, 1..1048576");
    }
    frags_.reset(alloc_zeroed<FragRec>(b.fragment_table));
    frag_mask_ = b.fragment_table - 1;
  }
}

// The behaviour a reload may change (the rest sizes tables: see reconfigure()).
void Engine::apply_behaviour(const Behaviour& b) {
  icmp_echo_ = b.icmp_echo;
  hairpin_ = b.hairpinning;
  late_rst_ = b.late_rst;
  blocked_.fill(0);
  for (const std::uint16_t port : b.blocked_ports)
    blocked_[port >> 6] |= std::uint64_t{1} << (port & 63);
  any_blocked_ = !b.blocked_ports.empty();
}

Engine::~Engine() = default;

void Engine::apply_timers(const Timers& t) {
  const Duration closing = t.tcp_closing == Duration::zero() ? t.tcp_idle : t.tcp_closing;
  for (Duration d : {t.tcp_idle, t.tcp_half_open, t.udp_idle, t.holddown_fin, t.holddown_rst,
                     t.holddown_udp, t.holddown_idle, closing, t.icmp_idle, t.holddown_icmp}) {
    if (d < std::chrono::milliseconds(1) || to_ms(d) + to_ms(t.holddown_idle) >= kWheelSpanMs) {
      throw std::invalid_argument("timers must be 1 ms .. 8000 s");
    }
  }
  tcp_idle_ms_ = to_ms(t.tcp_idle);
  half_open_ms_ = to_ms(t.tcp_half_open);
  udp_idle_ms_ = to_ms(t.udp_idle);
  hold_fin_ms_ = to_ms(t.holddown_fin);
  hold_rst_ms_ = to_ms(t.holddown_rst);
  hold_udp_ms_ = to_ms(t.holddown_udp);
  hold_idle_ms_ = to_ms(t.holddown_idle);
  tcp_closing_ms_ = to_ms(closing);
  icmp_idle_ms_ = to_ms(t.icmp_idle);
  hold_icmp_ms_ = to_ms(t.holddown_icmp);
  udp_each_direction_ = t.udp_refresh_each_direction;
}

std::string Engine::reconfigure(const EngineConfig& next) {
  const Limits& a = config_.limits;
  const Limits& b = next.limits;
  if (a.max_connections != b.max_connections || a.holddown_reserve != b.holddown_reserve) {
    return "the connection limit and table sizes cannot change without a restart";
  }
  if (b.port_min != a.port_min || b.port_max != a.port_max) {
    return "the SNAT port range cannot change without a restart";
  }
  if (b.per_destination == 0 || b.per_destination > 65535) return "per_destination must be 1..65535";
  const Behaviour& ob = config_.behaviour;
  const Behaviour& nb = next.behaviour;
  if (ob.mapping != nb.mapping || ob.filtering != nb.filtering ||
      ob.udp_fragments != nb.udp_fragments || ob.fragment_table != nb.fragment_table ||
      ob.ports_per_host_min != nb.ports_per_host_min ||
      ob.ports_per_host_max != nb.ports_per_host_max) {
    return "the mapping and filtering behaviour, the fragment table and the per-host port "
           "allowance cannot change without a restart";
  }
  if (next.flow_log != config_.flow_log ||
      (next.flow_log && next.flow_log_ring != config_.flow_log_ring)) {
    return "flow logs are turned on or off (and their ring sized) only with a restart";
  }
  if (next.ftp_alg != config_.ftp_alg) return "the FTP ALG is turned on or off only with a restart";
  // Public IPs: kept ones keep their index; removed ones drain (no new connections, open flows
  // continue); new ones take a free index or one whose draining address has no flows left.
  std::array<bool, kMaxPublicIps> keep{};
  std::vector<net::Ipv4> added;
  for (const auto& ip : next.public_ips) {
    const int i = public_index(ip);
    if (i >= 0) {
      keep[static_cast<std::size_t>(i)] = true;
    } else if (std::find(added.begin(), added.end(), ip) == added.end()) {
      added.push_back(ip);
    }
  }
  std::vector<std::size_t> free_idx;
  for (std::size_t i = 0; i < pub_count_; ++i) {
    const PublicIp& p = pubs_[i];
    const bool empty = p.live[0] + p.live[1] + p.holddown[0] + p.holddown[1] == 0;
    if (!keep[i] && empty) free_idx.push_back(i);
  }
  for (std::size_t i = pub_count_; i < kMaxPublicIps; ++i) free_idx.push_back(i);
  if (added.size() > free_idx.size()) {
    return "no room for " + std::to_string(added.size()) + " new public IPs: " +
           std::to_string(kMaxPublicIps) + " addresses at most, counting removed ones that "
           "still have open flows";
  }
  try {
    apply_timers(next.timers);
  } catch (const std::invalid_argument& e) {
    apply_timers(config_.timers);
    return e.what();
  }
  for (std::size_t i = 0; i < pub_count_; ++i) pubs_[i].accepting = keep[i];
  for (std::size_t k = 0; k < added.size(); ++k) {
    const std::size_t i = free_idx[k];
    pubs_[i] = PublicIp{added[k], true, {}, {}, {}};
    pub_addrs_[i] = added[k].value();
    pub_count_ = std::max(pub_count_, i + 1);
  }
  // Subnets no longer attached keep their open flows until those end.
  for (const auto& old : config_.subnets) {
    if (std::find(next.subnets.begin(), next.subnets.end(), old) == next.subnets.end() &&
        std::find(detached_subnets_.begin(), detached_subnets_.end(), old) ==
            detached_subnets_.end()) {
      detached_subnets_.push_back(old);
    }
  }
  std::erase_if(detached_subnets_, [&](const net::Prefix& p) {
    return std::find(next.subnets.begin(), next.subnets.end(), p) != next.subnets.end();
  });
  const bool timers_changed =
      next.timers.tcp_idle != config_.timers.tcp_idle ||
      next.timers.tcp_half_open != config_.timers.tcp_half_open ||
      next.timers.udp_idle != config_.timers.udp_idle ||
      next.timers.holddown_fin != config_.timers.holddown_fin ||
      next.timers.holddown_rst != config_.timers.holddown_rst ||
      next.timers.holddown_udp != config_.timers.holddown_udp ||
      next.timers.holddown_idle != config_.timers.holddown_idle ||
      next.timers.tcp_closing != config_.timers.tcp_closing ||
      next.timers.icmp_idle != config_.timers.icmp_idle ||
      next.timers.holddown_icmp != config_.timers.holddown_icmp ||
      next.timers.udp_refresh_each_direction != config_.timers.udp_refresh_each_direction;
  apply_behaviour(nb);
  const std::uint64_t seed = config_.seed;
  config_ = next;
  config_.seed = seed;  // the random sequence continues
  config_.public_ips.clear();
  for (std::size_t i = 0; i < pub_count_; ++i) {
    if (pubs_[i].accepting) config_.public_ips.push_back(pubs_[i].addr);
  }
  if (timers_changed) {
    // A shorter timer may put a deadline before the bucket a slot sits in: re-file them all.
    for (std::size_t s = 1; s < slot_hwm_; ++s) {
      if (slots_[s].state() == FlowState::free) continue;
      wheel_unlink(static_cast<SlotIndex>(s));
      wheel_insert(static_cast<SlotIndex>(s));
    }
  }
  return {};
}

std::size_t Engine::memory_bytes() const noexcept {
  return (capacity_ + 1) * sizeof(Flow) + 2 * (bucket_mask_ + 1) * sizeof(SlotIndex) +
         (dest_capacity_ + 1) * sizeof(Dest) + (dest_mask_ + 1) * sizeof(std::uint32_t) +
         kWheelSize * sizeof(SlotIndex) +
         (eim_ ? (map_capacity_ + 1) * sizeof(MapRec) + 2 * (map_mask_ + 1) * sizeof(std::uint32_t)
               : 0) +
         (hosts_ ? (map_capacity_ + 1) * sizeof(HostRec) + (map_mask_ + 1) * sizeof(std::uint32_t)
                 : 0) +
         (frags_ ? (frag_mask_ + 1) * sizeof(FragRec) : 0) +
         (flow_stats_
              ? (capacity_ + 1) * sizeof(FlowStats) + flow_events_->capacity() * sizeof(FlowEvent)
              : 0) +
         (ftp_seq_ ? kFtpControlConnections * sizeof(FtpSeq) + kFtpExpectations * sizeof(FtpExpect)
                   : 0);
}

void Engine::prefault() noexcept {
  auto touch = [](void* p, std::size_t bytes) {
    auto* b = static_cast<volatile std::uint8_t*>(p);
    for (std::size_t i = 0; i < bytes; i += 4096) b[i] = b[i];
  };
  touch(slots_.get(), (capacity_ + 1) * sizeof(Flow));
  touch(in2out_.get(), (bucket_mask_ + 1) * sizeof(SlotIndex));
  touch(out2in_.get(), (bucket_mask_ + 1) * sizeof(SlotIndex));
  touch(dests_.get(), (dest_capacity_ + 1) * sizeof(Dest));
  touch(dest_buckets_.get(), (dest_mask_ + 1) * sizeof(std::uint32_t));
  touch(wheel_.get(), kWheelSize * sizeof(SlotIndex));
  if (flow_stats_) touch(flow_stats_.get(), (capacity_ + 1) * sizeof(FlowStats));
}

// ---------------------------------------------------------------------------------------------
// Small helpers

std::uint32_t Engine::random32() noexcept {
  // splitmix64: fast, and a full-period sequence for any seed.
  std::uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<std::uint32_t>((z ^ (z >> 31)) >> 32);
}

bool Engine::in_subnet(net::Ipv4 a) const noexcept {
  for (const auto& p : config_.subnets) {
    if (p.contains(a)) return true;
  }
  return false;
}

bool Engine::in_detached_subnet(net::Ipv4 a) const noexcept {
  for (const auto& p : detached_subnets_) {
    if (p.contains(a)) return true;
  }
  return false;
}

int Engine::public_index(net::Ipv4 a) const noexcept {
  // Branch-free over all 16 entries: a loop that exits at the match mispredicts once per
  // inbound packet.
  std::uint32_t match = 0;
  for (std::size_t i = 0; i < kMaxPublicIps; ++i) {
    match |= static_cast<std::uint32_t>(pub_addrs_[i] == a.value()) << i;
  }
  match &= (std::uint32_t{1} << pub_count_) - 1;
  return match != 0 ? std::countr_zero(match) : -1;
}

std::uint64_t Engine::hash_in(std::uint32_t in_addr, std::uint16_t in_port, std::uint32_t dst,
                              std::uint16_t dport, L4 l4) const noexcept {
  return mix((std::uint64_t{in_addr} << 32) | dst,
             (std::uint64_t{in_port} << 24) | (std::uint64_t{dport} << 8) |
                 static_cast<std::uint64_t>(l4),
             hash_seed_);
}

std::uint64_t Engine::hash_out(std::size_t idx, std::uint16_t pub_port, std::uint32_t dst,
                               std::uint16_t dport, L4 l4) const noexcept {
  return mix((std::uint64_t{pub_port} << 32) | dst,
             (std::uint64_t{idx} << 32) | (std::uint64_t{dport} << 8) |
                 static_cast<std::uint64_t>(l4) | 0x100000000000ull,
             hash_seed_);
}

SlotIndex Engine::find_in(std::uint64_t h, std::uint32_t in_addr, std::uint16_t in_port,
                          std::uint32_t dst, std::uint16_t dport, L4 l4) const noexcept {
  for (SlotIndex s = in2out_[h & bucket_mask_]; s != kNoSlot; s = slots_[s].next_in2out) {
    const Flow& f = slots_[s];
    if (f.inside_addr == in_addr && f.inside_port == in_port && f.dst_addr == dst &&
        f.dst_port == dport && l4_of(f.state()) == l4) {
      return s;
    }
  }
  return kNoSlot;
}

SlotIndex Engine::find_out(std::uint64_t h, std::size_t idx, std::uint16_t pub_port,
                           std::uint32_t dst, std::uint16_t dport, L4 l4) const noexcept {
  for (SlotIndex s = out2in_[h & bucket_mask_]; s != kNoSlot; s = slots_[s].next_out2in) {
    const Flow& f = slots_[s];
    if (f.public_port == pub_port && f.dst_addr == dst && f.dst_port == dport &&
        f.public_idx == idx && l4_of(f.state()) == l4) {
      return s;
    }
  }
  return kNoSlot;
}

void Engine::link_in2out(SlotIndex s) noexcept {
  Flow& f = slots_[s];
  SlotIndex& head = in2out_[hash_in(f.inside_addr, f.inside_port, f.dst_addr, f.dst_port,
                                    l4_of(f.state())) &
                            bucket_mask_];
  f.next_in2out = head;
  head = s;
  f.set_in2out_linked(true);
}

void Engine::unlink_in2out(SlotIndex s) noexcept {
  Flow& f = slots_[s];
  if (!f.in2out_linked()) return;
  SlotIndex* p = &in2out_[hash_in(f.inside_addr, f.inside_port, f.dst_addr, f.dst_port,
                                  l4_of(f.state())) &
                          bucket_mask_];
  while (*p != s) p = &slots_[*p].next_in2out;
  *p = f.next_in2out;
  f.next_in2out = kNoSlot;
  f.set_in2out_linked(false);
}

void Engine::link_out2in(SlotIndex s) noexcept {
  Flow& f = slots_[s];
  SlotIndex& head = out2in_[hash_out(f.public_idx, f.public_port, f.dst_addr, f.dst_port,
                                     l4_of(f.state())) &
                            bucket_mask_];
  f.next_out2in = head;
  head = s;
}

void Engine::unlink_out2in(SlotIndex s) noexcept {
  Flow& f = slots_[s];
  SlotIndex* p = &out2in_[hash_out(f.public_idx, f.public_port, f.dst_addr, f.dst_port,
                                   l4_of(f.state())) &
                          bucket_mask_];
  while (*p != s) p = &slots_[*p].next_out2in;
  *p = f.next_out2in;
  f.next_out2in = kNoSlot;
}

// ---------------------------------------------------------------------------------------------
// Timers

std::uint32_t Engine::deadline(const Flow& f) const noexcept {
  switch (f.state()) {
    case FlowState::tcp_syn_sent:
    case FlowState::tcp_syn_acked:
      return later(f.last_out, f.last_in) + half_open_ms_;
    case FlowState::tcp_syn_in:
      return later(f.last_out, f.last_in) + half_open_ms_;
    case FlowState::tcp_established:
      return later(f.last_out, f.last_in) + tcp_idle_ms_;
    case FlowState::tcp_fin_out:
    case FlowState::tcp_fin_in:
      return later(f.last_out, f.last_in) + tcp_closing_ms_;
    case FlowState::tcp_closed:
      return f.last_out + hold_fin_ms_;
    case FlowState::tcp_reset:
      return f.last_out + hold_rst_ms_;
    case FlowState::tcp_expired:
      return f.last_out + hold_idle_ms_;
    case FlowState::udp_new:
    case FlowState::udp_replied:
      // Each direction must have been heard from within the idle timeout (nat/README.md), or
      // (other profiles) either.
      return (udp_each_direction_ ? earlier(f.last_out, f.last_in) : later(f.last_out, f.last_in)) +
             udp_idle_ms_;
    case FlowState::udp_expired:
      return f.last_out + hold_udp_ms_;
    case FlowState::icmp_new:
    case FlowState::icmp_replied:
      return later(f.last_out, f.last_in) + icmp_idle_ms_;
    case FlowState::icmp_expired:
      return f.last_out + hold_icmp_ms_;
    case FlowState::free:
      break;
  }
  return f.last_out;
}

bool Engine::due(const Flow& f) const noexcept { return before_or_at(deadline(f), now32_); }

Time Engine::to_time(std::uint32_t ms) const noexcept {
  const auto back = static_cast<std::int32_t>(now32_ - ms);
  return std::chrono::milliseconds(static_cast<std::int64_t>(now_ms_) - back);
}

void Engine::wheel_insert(SlotIndex s) noexcept {
  Flow& f = slots_[s];
  const std::size_t b = (deadline(f) >> kTickShift) & (kWheelSize - 1);
  f.wheel_next = wheel_[b];
  f.wheel_prev = kWheelHead | static_cast<SlotIndex>(b);
  if (f.wheel_next != kNoSlot) slots_[f.wheel_next].wheel_prev = s;
  wheel_[b] = s;
}

void Engine::wheel_unlink(SlotIndex s) noexcept {
  Flow& f = slots_[s];
  if (f.wheel_prev == kNoSlot) return;  // not on the wheel
  if (f.wheel_prev & kWheelHead) {
    wheel_[f.wheel_prev & ~kWheelHead] = f.wheel_next;
  } else {
    slots_[f.wheel_prev].wheel_next = f.wheel_next;
  }
  if (f.wheel_next != kNoSlot) slots_[f.wheel_next].wheel_prev = f.wheel_prev;
  f.wheel_prev = f.wheel_next = kNoSlot;
}

// A slot sits in the bucket of the deadline it had when inserted. Refreshes only move a
// deadline later, so the packet path never touches the wheel; a slot found early is simply
// re-inserted at its current deadline. State changes that bring a deadline forward re-insert.
void Engine::wheel_process(std::uint64_t tick) noexcept {
  const std::size_t b = tick & (kWheelSize - 1);
  SlotIndex s = wheel_[b];
  wheel_[b] = kNoSlot;
  while (s != kNoSlot) {
    Flow& f = slots_[s];
    const SlotIndex next = f.wheel_next;
    f.wheel_prev = f.wheel_next = kNoSlot;
    if (!expire_if_due(s)) wheel_insert(s);
    s = next;
  }
}

void Engine::set_now(Time now) noexcept {
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), 0));
  if (!started_) {
    started_ = true;
    now_ms_ = ms;
    now32_ = static_cast<std::uint32_t>(ms);
    next_tick_ = ms >> kTickShift;
    return;
  }
  if (ms <= now_ms_) return;  // the clock is monotonic; an earlier `now` changes nothing
  const std::uint64_t jump = ms - now_ms_;
  now_ms_ = ms;
  now32_ = static_cast<std::uint32_t>(ms);
  if (jump > kFlushAfterMs) {
    flush_all();
    next_tick_ = ms >> kTickShift;
    return;
  }
  const std::uint64_t target = ms >> kTickShift;
  std::uint64_t from = next_tick_;
  if (target - from > kWheelSize) from = target - kWheelSize;  // each bucket once is enough
  for (std::uint64_t t = from; t < target; ++t) wheel_process(t);
  next_tick_ = target;
}

void Engine::advance(Time now) noexcept {
  set_now(now);
  sweep_current_tick();
}

// Processes the bucket of the current, unfinished tick, so that every timer due by now has
// fired: on advance(), and when a limit is reached (a port whose hold-down ended a few
// milliseconds ago must be found free). At most once per millisecond.
void Engine::sweep_current_tick() noexcept {
  if (last_sweep_ms_ == now_ms_) return;
  last_sweep_ms_ = now_ms_;
  wheel_process(now_ms_ >> kTickShift);
}

void Engine::flush_all() noexcept {
  for (std::size_t b = 0; b < kWheelSize; ++b) {
    SlotIndex s = wheel_[b];
    wheel_[b] = kNoSlot;
    while (s != kNoSlot) {
      Flow& f = slots_[s];
      const SlotIndex next = f.wheel_next;
      f.wheel_prev = f.wheel_next = kNoSlot;
      if (is_live(f.state())) {
        // Ended by its idle timer long ago; its hold-down is over too.
        const FlowState ended = is_udp(f.state())    ? FlowState::udp_expired
                                : is_icmp(f.state()) ? FlowState::icmp_expired
                                                     : FlowState::tcp_expired;
        end_connection(s, ended, ConnState::timed_out, f.last_out);
      }
      release(s);
      s = next;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Connection lifecycle

Engine::Dest* Engine::find_dest(std::size_t idx, std::uint32_t dst, std::uint16_t dport,
                                L4 l4) const noexcept {
  const std::uint64_t h = mix(dst, (std::uint64_t{dport} << 16) | (idx << 8) |
                                       static_cast<std::uint64_t>(l4), hash_seed_);
  for (std::uint32_t d = dest_buckets_[h & dest_mask_]; d != 0; d = dests_[d].next) {
    Dest& r = dests_[d];
    if (r.dst_addr == dst && r.dst_port == dport && r.public_idx == idx &&
        r.l4 == static_cast<std::uint8_t>(l4)) {
      return &r;
    }
  }
  return nullptr;
}

Engine::Dest* Engine::find_or_add_dest(std::size_t idx, std::uint32_t dst, std::uint16_t dport,
                                       L4 l4) noexcept {
  if (Dest* r = find_dest(idx, dst, dport, l4)) return r;
  std::uint32_t d = free_dests_;
  if (d != 0) {
    free_dests_ = dests_[d].next;
  } else {
    d = static_cast<std::uint32_t>(dest_hwm_++);  // cannot pass dest_capacity_: see constructor
  }
  const std::uint64_t h = mix(dst, (std::uint64_t{dport} << 16) | (idx << 8) |
                                       static_cast<std::uint64_t>(l4), hash_seed_);
  Dest& r = dests_[d];
  r = Dest{dst, dport, static_cast<std::uint8_t>(idx), static_cast<std::uint8_t>(l4), 0, 0,
           dest_buckets_[h & dest_mask_]};
  dest_buckets_[h & dest_mask_] = d;
  return &r;
}

std::pair<std::uint32_t, std::uint32_t> Engine::dest_load(std::size_t idx, std::uint32_t dst,
                                                          std::uint16_t dport,
                                                          L4 l4) const noexcept {
  const Dest* d = find_dest(idx, dst, dport, l4);
  return d == nullptr ? std::pair<std::uint32_t, std::uint32_t>{0, 0}
                      : std::pair<std::uint32_t, std::uint32_t>{d->live, d->used};
}

void Engine::dest_release(std::size_t idx, std::uint32_t dst, std::uint16_t dport, L4 l4,
                          bool was_live) noexcept {
  const std::uint64_t h = mix(dst, (std::uint64_t{dport} << 16) | (idx << 8) |
                                       static_cast<std::uint64_t>(l4), hash_seed_);
  std::uint32_t* p = &dest_buckets_[h & dest_mask_];
  while (*p != 0) {
    Dest& r = dests_[*p];
    if (r.dst_addr == dst && r.dst_port == dport && r.public_idx == idx &&
        r.l4 == static_cast<std::uint8_t>(l4)) {
      if (was_live) --r.live;
      if (--r.used == 0) {
        const std::uint32_t d = *p;
        *p = r.next;
        r.next = free_dests_;
        free_dests_ = d;
      }
      return;
    }
    p = &r.next;
  }
}

// A live connection ends: it stops counting as live and its port enters hold-down from `since`.
void Engine::end_connection(SlotIndex s, FlowState holddown_state, ConnState how,
                            std::uint32_t since) noexcept {
  Flow& f = slots_[s];
  if (flow_stats_) {
    flow_ended(s,
               holddown_state == FlowState::tcp_closed  ? FlowEnd::closed
               : holddown_state == FlowState::tcp_reset ? FlowEnd::reset
                                                        : FlowEnd::idle,
               since);
  }
  const L4 l4 = l4_of(f.state());
  const auto p = static_cast<std::size_t>(l4);
  --counters_.active[p];
  --live_total_;
  ++counters_.connections[p][static_cast<std::size_t>(how)];
  ++counters_.holddown[p];
  PublicIp& pub = pubs_[f.public_idx];
  --pub.live[p];
  ++pub.holddown[p];
  if (Dest* d = find_dest(f.public_idx, f.dst_addr, f.dst_port, l4)) --d->live;
  if (eim(l4)) map_unref(f, true, false);
  f.set_state(holddown_state);
  f.last_out = f.last_in = since;
}

void Engine::release(SlotIndex s) noexcept {
  Flow& f = slots_[s];
  const FlowState st = f.state();
  const L4 l4 = l4_of(st);
  const auto p = static_cast<std::size_t>(l4);
  const bool live = is_live(st);
  if (live) {
    --counters_.active[p];
    --live_total_;
    --pubs_[f.public_idx].live[p];
  } else {
    --counters_.holddown[p];
    --pubs_[f.public_idx].holddown[p];
  }
  dest_release(f.public_idx, f.dst_addr, f.dst_port, l4, live);
  if (eim(l4)) map_unref(f, live, true);
  unlink_in2out(s);
  unlink_out2in(s);
  wheel_unlink(s);
  f.set_state(FlowState::free);
  f.next_in2out = free_slots_;
  free_slots_ = s;
  --slots_in_use_;
}

bool Engine::expire_if_due(SlotIndex s) noexcept {
  Flow& f = slots_[s];
  bool moved = false;
  while (due(f)) {
    const std::uint32_t when = deadline(f);
    switch (f.state()) {
      case FlowState::tcp_syn_sent:
      case FlowState::tcp_syn_acked:
      case FlowState::tcp_syn_in:
        // Half-open: the port is free again at once for this destination.
        ++counters_.connections[static_cast<std::size_t>(L4::tcp)]
                               [static_cast<std::size_t>(ConnState::timed_out)];
        if (flow_stats_) flow_ended(s, FlowEnd::half_open, when);
        release(s);
        return true;
      case FlowState::tcp_established:
      case FlowState::tcp_fin_out:
      case FlowState::tcp_fin_in:
        end_connection(s, FlowState::tcp_expired, ConnState::timed_out, when);
        moved = true;
        break;
      case FlowState::udp_new:
      case FlowState::udp_replied:
        end_connection(s, FlowState::udp_expired, ConnState::timed_out, when);
        moved = true;
        break;
      case FlowState::icmp_new:
      case FlowState::icmp_replied:
        end_connection(s, FlowState::icmp_expired, ConnState::timed_out, when);
        moved = true;
        break;
      default:  // hold-down over
        release(s);
        return true;
    }
  }
  if (moved && f.wheel_prev != kNoSlot) {
    wheel_unlink(s);
    wheel_insert(s);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// TCP state (nat/README.md has the diagram)

void Engine::tcp_outbound(SlotIndex s, std::uint8_t flags) noexcept {
  Flow& f = slots_[s];
  if (flags & net::kTcpRst) {
    end_connection(s, FlowState::tcp_reset, ConnState::closed, now32_);
    wheel_unlink(s);
    wheel_insert(s);
    return;
  }
  f.last_out = now32_;
  FlowState st = f.state();
  if (st == FlowState::tcp_syn_in && (flags & net::kTcpSyn) && (flags & net::kTcpAck)) {
    // The inside host accepts a connection opened from the outside (endpoint-independent
    // filtering): counted established, as the handshake is complete but for the last ACK.
    st = FlowState::tcp_established;
    ++counters_.connections[static_cast<std::size_t>(L4::tcp)]
                           [static_cast<std::size_t>(ConnState::established)];
  }
  // A connection opened from the outside (an FTP data connection, a simultaneous open): the
  // inside answers the SYN with a SYN+ACK.
  if (st == FlowState::tcp_syn_sent && (flags & net::kTcpSyn) && (flags & net::kTcpAck)) {
    st = FlowState::tcp_syn_acked;
  }
  if (st == FlowState::tcp_syn_acked && (flags & net::kTcpAck) && !(flags & net::kTcpSyn)) {
    st = FlowState::tcp_established;
    ++counters_.connections[static_cast<std::size_t>(L4::tcp)]
                           [static_cast<std::size_t>(ConnState::established)];
  }
  if (flags & net::kTcpFin) {
    if (st == FlowState::tcp_established) {
      st = FlowState::tcp_fin_out;
    } else if (st == FlowState::tcp_fin_in) {
      f.set_state(st);
      end_connection(s, FlowState::tcp_closed, ConnState::closed, now32_);
      wheel_unlink(s);
      wheel_insert(s);
      return;
    }
  }
  f.set_state(st);
}

void Engine::tcp_inbound(SlotIndex s, std::uint8_t flags) noexcept {
  Flow& f = slots_[s];
  if (flags & net::kTcpRst) {
    end_connection(s, FlowState::tcp_reset, ConnState::closed, now32_);
    wheel_unlink(s);
    wheel_insert(s);
    return;
  }
  f.last_in = now32_;
  FlowState st = f.state();
  if (st == FlowState::tcp_syn_sent && (flags & net::kTcpSyn) && (flags & net::kTcpAck)) {
    st = FlowState::tcp_syn_acked;
  }
  if (flags & net::kTcpFin) {
    if (st == FlowState::tcp_established) {
      st = FlowState::tcp_fin_in;
    } else if (st == FlowState::tcp_fin_out) {
      end_connection(s, FlowState::tcp_closed, ConnState::closed, now32_);
      wheel_unlink(s);
      wheel_insert(s);
      return;
    }
  }
  f.set_state(st);
}

// ---------------------------------------------------------------------------------------------
// The packet path

Verdict Engine::drop(DropReason r) noexcept {
  const std::uint64_t seen = counters_.drops[static_cast<std::size_t>(r)]++;
  DropSample& d = drops_ring_[static_cast<std::size_t>(r)][seen % kRecentDrops];
  d.seq = drop_seq_++;
  d.time = std::chrono::milliseconds(static_cast<std::int64_t>(now_ms_));
  d.reason = r;
  d.direction = current_dir_;
  if (current_ != nullptr && current_->ip != nullptr) {
    d.ip_proto = current_->proto;
    d.src = {current_->src, current_->sport};
    d.dst = {current_->dst, current_->dport};
  } else {
    d.ip_proto = 0;
    d.src = d.dst = {};
  }
  return Verdict{Action::drop, r, 0};
}

// Active FTP: the client names an address and port for the server to connect back to. natgw
// (profile azure) has no FTP gateway, so that connection will arrive unsolicited and be dropped;
// the doctor reports it from these samples.
void Engine::note_ftp_command(const net::PacketView& v) noexcept {
  const std::uint8_t* l4 = v.l4();
  const std::size_t doff = static_cast<std::size_t>(l4[12] >> 4) * 4;
  if (v.l4_len() < doff + 5) return;
  const std::uint8_t* p = l4 + doff;
  const bool port = (p[0] | 0x20) == 'p' && (p[1] | 0x20) == 'o' && (p[2] | 0x20) == 'r' && (p[3] | 0x20) == 't' && p[4] == ' ';
  const bool eprt = (p[0] | 0x20) == 'e' && (p[1] | 0x20) == 'p' && (p[2] | 0x20) == 'r' && (p[3] | 0x20) == 't' && p[4] == ' ';
  if (!port && !eprt) return;
  FtpActiveSample& f = ftp_ring_[ftp_active_total_++ % kRecentFtp];
  f.time = std::chrono::milliseconds(static_cast<std::int64_t>(now_ms_));
  f.client = {v.src, v.sport};
  f.server = {v.dst, v.dport};
}

std::vector<DropSample> Engine::recent_drops() const {
  std::vector<DropSample> out;
  for (std::size_t r = 0; r < kDropReasonCount; ++r) {
    const std::uint64_t seen = counters_.drops[r];
    const std::uint64_t n = std::min<std::uint64_t>(seen, kRecentDrops);
    for (std::uint64_t i = seen - n; i < seen; ++i) out.push_back(drops_ring_[r][i % kRecentDrops]);
  }
  std::sort(out.begin(), out.end(), [](const DropSample& a, const DropSample& b) { return a.seq < b.seq; });
  return out;
}

std::vector<FtpActiveSample> Engine::recent_ftp_active() const {
  std::vector<FtpActiveSample> out;
  const std::uint64_t n = std::min<std::uint64_t>(ftp_active_total_, kRecentFtp);
  for (std::uint64_t i = ftp_active_total_ - n; i < ftp_active_total_; ++i) out.push_back(ftp_ring_[i % kRecentFtp]);
  return out;
}

Verdict Engine::forward_out(net::PacketView& v, Flow& f, L4 l4) noexcept {
  const std::uint16_t len = v.total_len;
  if (l4 == L4::icmp) {
    net::set_echo_source(v, pubs_[f.public_idx].addr, f.public_port);
  } else {
    net::set_source(v, pubs_[f.public_idx].addr, f.public_port);
  }
  net::decrement_ttl(v);
  const net::WireSize w = net::wire_size(v);
  if (flow_stats_) flow_count(f, 0, w);
  const auto p = static_cast<std::size_t>(l4);
  counters_.bytes[p][0] += w.bytes;
  counters_.packets[p][0] += w.packets;
  return Verdict{Action::forward, DropReason::malformed, len};
}

Verdict Engine::forward_in(net::PacketView& v, Flow& f, L4 l4) noexcept {
  const std::uint16_t len = v.total_len;
  if (l4 == L4::icmp) {
    net::set_echo_destination(v, net::Ipv4{f.inside_addr}, f.inside_port);
  } else {
    net::set_destination(v, net::Ipv4{f.inside_addr}, f.inside_port);
  }
  net::decrement_ttl(v);
  const net::WireSize w = net::wire_size(v);
  if (flow_stats_) flow_count(f, 1, w);
  const auto p = static_cast<std::size_t>(l4);
  counters_.bytes[p][1] += w.bytes;
  counters_.packets[p][1] += w.packets;
  return Verdict{Action::forward, DropReason::malformed, len};
}

// A segment of a TCP flow that expired idle: answered with an RST to its sender, never
// forwarded, never used to recreate the flow. An RST is never answered.
Verdict Engine::late_segment(net::PacketView& v, Direction dir) noexcept {
  Verdict d = drop(DropReason::flow_expired);
  if (late_rst_ == LateRst::none || (late_rst_ == LateRst::inside_only && dir == Direction::in)) {
    return d;
  }
  if (v.is_tcp() && !(v.tcp_flags & net::kTcpRst)) {
    ++counters_.late_rst;
    return Verdict{Action::reply, DropReason::flow_expired, net::write_rst_reply(v)};
  }
  return d;
}

void Engine::prepare(Prepared& p, Packet& pkt, Direction dir) const noexcept {
  p.pkt = &pkt;
  p.parsed = net::parse(pkt.data, pkt.len, p.v);
  p.v.csum_partial = pkt.csum_partial;
  p.v.gso_size = pkt.gso_size;
  p.keyed = false;
  p.public_idx = -1;
  if (p.parsed != net::ParseResult::ok) return;
  const net::PacketView& v = p.v;
  if (dir == Direction::in) p.public_idx = static_cast<std::int8_t>(public_index(v.dst));
  if (v.fragment && !(udp_fragments_ && v.first_fragment)) return;
  if (!(v.is_tcp() || v.is_udp())) {
    // ICMP echo, where the profile translates it: requests out, replies in.
    if (!icmp_echo_ || !v.is_icmp() ||
        v.icmp_type != (dir == Direction::out ? net::kIcmpEchoRequest : net::kIcmpEchoReply)) {
      return;
    }
  }
  const L4 l4 = l4_of_proto(v.proto);
  if (dir == Direction::out) {
    p.hash = hash_in(v.src.value(), v.sport, v.dst.value(), remote_port(l4, v.dport), l4);
    __builtin_prefetch(&in2out_[p.hash & bucket_mask_]);
  } else {
    if (p.public_idx < 0) return;
    p.hash = hash_out(static_cast<std::size_t>(p.public_idx), v.dport, v.src.value(),
                      remote_port(l4, v.sport), l4);
    __builtin_prefetch(&out2in_[p.hash & bucket_mask_]);
  }
  p.keyed = true;
}

Verdict Engine::process(Prepared& p, Direction dir) noexcept {
  current_dir_ = dir;
  if (p.parsed != net::ParseResult::ok) {
    current_ = nullptr;
    return drop(DropReason::malformed);
  }
  current_ = &p.v;
  Verdict v = dir == Direction::out ? outbound(p) : inbound(p);
  if (hairpin_ && dir == Direction::out && v.action == Action::forward && !p.v.fragment) {
    // Translated towards one of our own public IPs: back in (behaviour.hairpinning).
    const int idx = public_index(p.v.dst);
    if (idx >= 0 && public_index(p.v.src) >= 0) v = hairpin(p, static_cast<std::size_t>(idx));
  }
  current_ = nullptr;
  return v;
}

Verdict Engine::outbound(Prepared& p) noexcept {
  net::PacketView& v = p.v;
  // A subnet detached by a reload keeps its open flows until they end, but opens no new ones.
  const bool attached = in_subnet(v.src);
  if (!attached && !in_detached_subnet(v.src)) return drop(DropReason::source_not_in_subnet);
  if (v.fragment) {
    if (!udp_fragments_ || !v.is_udp()) return drop(DropReason::fragment);
    if (!v.first_fragment) return later_fragment(v, Direction::out);
  }
  if (v.is_icmp() && (v.icmp_error || v.quoted_echo)) return outbound_icmp_error(v);
  if (!p.keyed) return drop(DropReason::unsupported_protocol);
  if (v.ttl <= 1) return drop(DropReason::ttl_expired);
  const L4 l4 = l4_of_proto(v.proto);
  if (l4 == L4::tcp && config_.block_smtp && v.dport == 25) {
    if (flow_stats_ && (v.tcp_flags & (net::kTcpSyn | net::kTcpAck)) == kPureSyn) {
      flow_failed(v, l4, DropReason::smtp_blocked);
    }
    return drop(DropReason::smtp_blocked);
  }
  if (any_blocked_ && l4 != L4::icmp && port_blocked(v.dport)) {
    return drop(DropReason::port_blocked);
  }
  if (!v.fragment) return outbound_flow(p, l4, attached);
  // A UDP first fragment: translated by its header; the later ones follow its translation.
  const std::uint32_t src = v.src.value();
  const Verdict r = outbound_flow(p, l4, attached);
  if (r.action == Action::forward) {
    note_fragment(src, v.dst.value(), net::get_be16(v.ip + 4), Direction::out, v.src.value());
  }
  return r;
}

Verdict Engine::outbound_flow(Prepared& p, L4 l4, bool attached) noexcept {
  net::PacketView& v = p.v;
  const bool opens =
      l4 != L4::tcp || (v.tcp_flags & (net::kTcpSyn | net::kTcpAck | net::kTcpRst)) == kPureSyn;
  const std::uint16_t dport = remote_port(l4, v.dport);
  SlotIndex s = find_in(p.hash, v.src.value(), v.sport, v.dst.value(), dport, l4);
  if (s != kNoSlot && due(slots_[s]) && expire_if_due(s)) s = kNoSlot;
  if (s != kNoSlot) {
    Flow& f = slots_[s];
    switch (f.state()) {
      case FlowState::tcp_closed:
      case FlowState::tcp_reset:
        if (!opens) {  // final ACKs and retransmissions pass
          if (ftp_seq_ && v.dport == 21) return ftp_out(v, s, forward_out(v, f, l4));
          return forward_out(v, f, l4);
        }
        break;  // the inside host reuses its 5-tuple: a new connection on another port
      case FlowState::tcp_expired:
        if (!opens) return late_segment(v, Direction::out);
        break;
      case FlowState::udp_expired:
      case FlowState::icmp_expired:
        break;
      case FlowState::udp_new:
      case FlowState::udp_replied:
      case FlowState::icmp_new:
      case FlowState::icmp_replied:
        f.last_out = now32_;
        return forward_out(v, f, l4);
      default:  // live TCP
        tcp_outbound(s, v.tcp_flags);
        if (v.dport == 21) note_ftp_command(v);
        if (ftp_seq_ && v.dport == 21) return ftp_out(v, s, forward_out(v, f, l4));
        return forward_out(v, f, l4);
    }
  }
  // The network in front of the NAT (routes, security rules) decides about packets without a
  // flow only: established traffic never pays for it.
  if (admission_ != nullptr && attached && l4 != L4::icmp) {
    const Admission a = admission_->admit(v, opens);
    if (a.kind == Admission::Kind::drop) {
      if (flow_stats_ && opens) flow_failed(v, l4, a.reason);
      return drop(a.reason);
    }
    if (a.kind == Admission::Kind::pass) return pass(v);
  }
  if (!opens) return drop(DropReason::no_flow);
  if (!attached) return drop(DropReason::source_not_in_subnet);
  // `s`, if any, is an ended flow of the same inside 5-tuple in hold-down.
  if (ftp_seq_ && l4 == L4::tcp && v.dport == 21) {
    const std::uint32_t src = v.src.value();  // forward_out rewrites the view's source
    const std::uint16_t sport = v.sport;
    const Verdict r = new_connection(p, l4, s);
    if (r.action != Action::forward) return r;
    return ftp_out(v, find_in(p.hash, src, sport, v.dst.value(), v.dport, l4), r);
  }
  return new_connection(p, l4, s);
}

// Routed past the NAT by the admission policy: forwarded as it is, as a router would (TTL
// decremented). Not counted as processed by the NAT: the caller counts it.
Verdict Engine::pass(net::PacketView& v) noexcept {
  net::decrement_ttl(v);
  return Verdict{Action::forward, DropReason::malformed, v.total_len};
}

Verdict Engine::inbound(Prepared& p) noexcept {
  net::PacketView& v = p.v;
  if (p.public_idx < 0) return drop(DropReason::unsolicited_inbound);
  if (v.fragment) {
    if (!udp_fragments_ || !v.is_udp()) return drop(DropReason::fragment);
    if (!v.first_fragment) return later_fragment(v, Direction::in);
  }
  if (v.is_icmp() && (v.icmp_error || v.quoted_echo)) {
    return inbound_icmp_error(v, static_cast<std::size_t>(p.public_idx));
  }
  if (!p.keyed) return drop(DropReason::unsupported_protocol);
  if (v.ttl <= 1) return drop(DropReason::ttl_expired);
  const L4 l4 = l4_of_proto(v.proto);
  if (!v.fragment) return inbound_flow(p, l4);
  const std::uint32_t src = v.src.value();
  const std::uint32_t dst = v.dst.value();
  const Verdict r = inbound_flow(p, l4);
  if (r.action == Action::forward) {
    note_fragment(src, dst, net::get_be16(v.ip + 4), Direction::in, v.dst.value());
  }
  return r;
}

Verdict Engine::inbound_flow(Prepared& p, L4 l4) noexcept {
  net::PacketView& v = p.v;
  SlotIndex s = find_out(p.hash, static_cast<std::size_t>(p.public_idx), v.dport, v.src.value(),
                         remote_port(l4, v.sport), l4);
  if (s != kNoSlot && due(slots_[s]) && expire_if_due(s)) s = kNoSlot;
  if (s == kNoSlot) {
    if (ftp_expect_ && l4 == L4::tcp && (v.tcp_flags & (net::kTcpSyn | net::kTcpAck)) == kPureSyn) {
      // A data connection a PORT/EPRT announced, or unsolicited (then as without the ALG).
      if (auto r = ftp_expected(v, static_cast<std::size_t>(p.public_idx))) return *r;
    }
    if (eif_ && l4 != L4::icmp) return inbound_open(p, l4);
    return drop(DropReason::unsolicited_inbound);
  }
  Flow& f = slots_[s];
  const bool pure_syn = l4 == L4::tcp && (v.tcp_flags & (net::kTcpSyn | net::kTcpAck)) == kPureSyn;
  switch (f.state()) {
    case FlowState::tcp_closed:
    case FlowState::tcp_reset:
      if (pure_syn) return drop(DropReason::unsolicited_inbound);
      if (ftp_seq_ && v.sport == 21) {
        const Verdict r = forward_in(v, f, l4);
        ftp_in(v, s);
        return r;
      }
      return forward_in(v, f, l4);
    case FlowState::tcp_expired:
    case FlowState::udp_expired:
    case FlowState::icmp_expired:
      return late_segment(v, Direction::in);
    case FlowState::udp_new:
    case FlowState::icmp_new:
      ++counters_.connections[static_cast<std::size_t>(l4)]
                             [static_cast<std::size_t>(ConnState::established)];
      f.set_state(l4 == L4::udp ? FlowState::udp_replied : FlowState::icmp_replied);
      f.last_in = now32_;
      return forward_in(v, f, l4);
    case FlowState::udp_replied:
    case FlowState::icmp_replied:
      f.last_in = now32_;
      return forward_in(v, f, l4);
    default:  // live TCP; a SYN from outside only as a simultaneous open (RFC 5382 REQ-2)
      if (pure_syn && f.state() != FlowState::tcp_syn_sent && f.state() != FlowState::tcp_syn_in) {
        return drop(DropReason::unsolicited_inbound);
      }
      tcp_inbound(s, v.tcp_flags);
      if (ftp_seq_ && v.sport == 21) {
        const Verdict r = forward_in(v, f, l4);
        ftp_in(v, s);
        return r;
      }
      return forward_in(v, f, l4);
  }
}

// Endpoint-independent filtering: a packet from a new remote endpoint to a public IP:port that
// an endpoint-independent mapping holds (with a live flow) opens a flow to its inside host: for
// TCP only a SYN (RFC 5382 REQ-4), for UDP any datagram (RFC 4787 REQ-8).
Verdict Engine::inbound_open(Prepared& p, L4 l4) noexcept {
  net::PacketView& v = p.v;
  const auto idx = static_cast<std::size_t>(p.public_idx);
  if (l4 == L4::tcp && (v.tcp_flags & (net::kTcpSyn | net::kTcpAck | net::kTcpRst)) != kPureSyn) {
    return drop(DropReason::unsolicited_inbound);
  }
  MapRec* m = map_find_out(l4, idx, v.dport);
  if (m == nullptr || m->live == 0) return drop(DropReason::unsolicited_inbound);
  if (live_total_ >= config_.limits.max_connections) return drop(DropReason::connection_limit);
  if (slots_in_use_ >= capacity_) return drop(DropReason::flow_table_full);
  if (const Dest* d = find_dest(idx, v.src.value(), v.sport, l4)) {
    if (d->live >= config_.limits.per_destination) return drop(DropReason::connection_limit);
  }
  const SlotIndex s = install(m->inside_addr, m->inside_port, v.src.value(), v.sport, idx, v.dport,
                              l4, l4 == L4::tcp ? FlowState::tcp_syn_in : FlowState::udp_replied);
  ++m->refs;
  ++m->live;
  ++counters_.inbound_opened;
  return forward_in(v, slots_[s], l4);
}

// Hairpinning: a packet from the inside, already translated out, whose destination is one of
// our public IPs: it goes through the inbound path as if it had arrived from the outside, and
// on to the inside host that holds that public IP:port. Only TCP and UDP.
Verdict Engine::hairpin(Prepared& p, std::size_t idx) noexcept {
  net::PacketView& v = p.v;
  if (!(v.is_tcp() || v.is_udp()))
    return Verdict{Action::forward, DropReason::malformed, v.total_len};
  const L4 l4 = l4_of_proto(v.proto);
  p.public_idx = static_cast<std::int8_t>(idx);
  p.hash = hash_out(idx, v.dport, v.src.value(), v.sport, l4);
  p.keyed = true;
  current_dir_ = Direction::in;
  Verdict r = inbound(p);
  if (r.action == Action::forward) {
    ++counters_.hairpinned;
    r.action = Action::hairpin;
  } else if (r.action == Action::reply) {
    r.action = Action::drop;  // an RST addressed to a public endpoint of our own: not sent
    r.len = 0;
  }
  return r;
}

// An error from the outside about a packet natgw translated: restore the quoted header and
// send it to the inside host (RFC 5508 section 4.2). It never refreshes or ends the flow.
Verdict Engine::inbound_icmp_error(net::PacketView& v, std::size_t idx) noexcept {
  const L4 l4 = l4_of_proto(v.inner_proto);
  if (l4 == L4::icmp && !icmp_echo_) return drop(DropReason::unsupported_protocol);
  if (v.inner_src != v.dst) return drop(DropReason::unsolicited_inbound);
  const std::uint16_t dport = remote_port(l4, v.inner_dport);
  const SlotIndex s = find_out(hash_out(idx, v.inner_sport, v.inner_dst.value(), dport, l4), idx,
                               v.inner_sport, v.inner_dst.value(), dport, l4);
  if (s == kNoSlot || due(slots_[s])) return drop(DropReason::unsolicited_inbound);
  const Flow& f = slots_[s];
  const FlowState st = f.state();
  if (is_holddown(st) && st != FlowState::tcp_closed && st != FlowState::tcp_reset) {
    return drop(DropReason::unsolicited_inbound);
  }
  if (v.ttl <= 1) return drop(DropReason::ttl_expired);
  const std::uint16_t len = v.total_len;
  net::icmp_error_rewrite_inbound(v, net::Ipv4{f.inside_addr}, f.inside_port);
  net::decrement_ttl(v);
  ++counters_.icmp_errors_translated;
  counters_.bytes[static_cast<std::size_t>(l4)][1] += len;
  ++counters_.packets[static_cast<std::size_t>(l4)][1];
  return Verdict{Action::forward, DropReason::malformed, len};
}

// An inside host reports an error about a packet it received through natgw.
Verdict Engine::outbound_icmp_error(net::PacketView& v) noexcept {
  if (v.inner_dst != v.src) return drop(DropReason::unsupported_protocol);
  const L4 l4 = l4_of_proto(v.inner_proto);
  if (l4 == L4::icmp && !icmp_echo_) return drop(DropReason::unsupported_protocol);
  const std::uint32_t in_addr = v.inner_dst.value();
  const std::uint16_t sport = remote_port(l4, v.inner_sport);
  const SlotIndex s = find_in(hash_in(in_addr, v.inner_dport, v.inner_src.value(), sport, l4),
                              in_addr, v.inner_dport, v.inner_src.value(), sport, l4);
  if (s == kNoSlot || due(slots_[s])) return drop(DropReason::unsupported_protocol);
  const Flow& f = slots_[s];
  const FlowState st = f.state();
  if (is_holddown(st) && st != FlowState::tcp_closed && st != FlowState::tcp_reset) {
    return drop(DropReason::unsupported_protocol);
  }
  if (v.ttl <= 1) return drop(DropReason::ttl_expired);
  const std::uint16_t len = v.total_len;
  net::icmp_error_rewrite_outbound(v, pubs_[f.public_idx].addr, f.public_port);
  net::decrement_ttl(v);
  ++counters_.icmp_errors_translated;
  counters_.bytes[static_cast<std::size_t>(l4)][0] += len;
  ++counters_.packets[static_cast<std::size_t>(l4)][0];
  return Verdict{Action::forward, DropReason::malformed, len};
}

bool Engine::port_free(std::size_t idx, std::uint16_t port, std::uint32_t dst,
                       std::uint16_t dport, L4 l4) noexcept {
  const SlotIndex s = find_out(hash_out(idx, port, dst, dport, l4), idx, port, dst, dport, l4);
  return s == kNoSlot || (due(slots_[s]) && expire_if_due(s));
}

std::uint16_t Engine::pick_port(std::size_t idx, std::uint32_t dst, std::uint16_t dport,
                                L4 l4) noexcept {
  const auto uniform = [this] {
    return static_cast<std::uint32_t>((std::uint64_t{random32()} * port_range_) >> 32);
  };
  for (int i = 0; i < kRandomPortTries; ++i) {
    const auto port = static_cast<std::uint16_t>(config_.limits.port_min + uniform());
    if (port_free(idx, port, dst, dport, l4)) return port;
  }
  // Crowded: walk the range from a random point. The caller knows a port is free.
  const std::uint32_t start = uniform();
  for (std::uint32_t i = 0; i < port_range_; ++i) {
    const auto port =
        static_cast<std::uint16_t>(config_.limits.port_min + (start + i) % port_range_);
    if (port_free(idx, port, dst, dport, l4)) return port;
  }
  return 0;
}

std::size_t Engine::host_ip(std::uint32_t inside_addr, const std::uint8_t* candidates,
                            std::size_t n) const noexcept {
  // Highest random weight of (host, public address): stable per host and per address, so a
  // change of the IPs in service moves only the hosts whose winner came or went.
  std::size_t best = 0;
  std::uint64_t best_weight = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint64_t w = mix(inside_addr, pubs_[candidates[k]].addr.value(), 0x686F7374ull);
    if (k == 0 || w > best_weight) {
      best = k;
      best_weight = w;
    }
  }
  return best;
}

std::size_t Engine::host_first(std::array<std::uint8_t, kMaxPublicIps>& order, std::size_t n,
                               std::uint32_t inside_addr) const noexcept {
  if (config_.ip_selection != IpSelection::per_host || n < 2) return 0;
  std::swap(order[0], order[host_ip(inside_addr, order.data(), n)]);
  return 1;
}

std::size_t Engine::draw_ip(std::array<std::uint8_t, kMaxPublicIps>& order, std::size_t k,
                            std::size_t n, std::size_t fixed) noexcept {
  if (k >= fixed) {
    const std::size_t j = k + static_cast<std::size_t>((std::uint64_t{random32()} * (n - k)) >> 32);
    std::swap(order[k], order[j]);
  }
  return order[k];
}

std::size_t Engine::accepting_ips(std::array<std::uint8_t, kMaxPublicIps>& order) const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < pub_count_; ++i) {
    if (pubs_[i].accepting) order[n++] = static_cast<std::uint8_t>(i);
  }
  return n;
}

bool Engine::try_allocate(Prepared& p, L4 l4, SlotIndex& out, DropReason& why) noexcept {
  const net::PacketView& v = p.v;
  if (live_total_ >= config_.limits.max_connections) {
    why = DropReason::connection_limit;
    return false;
  }
  if (slots_in_use_ >= capacity_) {
    why = DropReason::flow_table_full;
    return false;
  }
  if (eim(l4)) return eim_allocate(p, l4, out, why);
  // Public IP: uniformly random among those with room for this destination (the first with
  // room in a random permutation), so a full address is skipped without bias.
  std::array<std::uint8_t, kMaxPublicIps> order;
  const std::size_t n = accepting_ips(order);
  if (n == 0) {
    why = DropReason::no_public_ip;
    return false;
  }
  const std::uint32_t dst = v.dst.value();
  const std::uint16_t dport = remote_port(l4, v.dport);
  const std::size_t fixed = host_first(order, n, v.src.value());
  bool port_shortage = false;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t idx = draw_ip(order, k, n, fixed);
    if (const Dest* d = find_dest(idx, dst, dport, l4)) {
      if (d->live >= config_.limits.per_destination) continue;
      if (d->used >= port_range_) {
        port_shortage = true;
        continue;
      }
    }
    const std::uint16_t port = pick_port(idx, dst, dport, l4);
    if (port == 0) {
      port_shortage = true;
      continue;
    }
    out = install(v.src.value(), v.sport, dst, dport, idx, port, l4,
                  l4 == L4::tcp   ? FlowState::tcp_syn_sent
                  : l4 == L4::udp ? FlowState::udp_new
                                  : FlowState::icmp_new);
    return true;
  }
  why = port_shortage ? DropReason::snat_exhausted : DropReason::connection_limit;
  return false;
}

// A free slot holding a flow with these fields, on no chain yet (the caller checked that one
// is free).
SlotIndex Engine::take_slot(std::uint32_t in_addr, std::uint16_t in_port, std::uint32_t dst,
                            std::uint16_t dport, std::size_t idx, std::uint16_t port,
                            FlowState state) noexcept {
  SlotIndex s = free_slots_;
  if (s != kNoSlot) {
    free_slots_ = slots_[s].next_in2out;
  } else {
    s = static_cast<SlotIndex>(slot_hwm_++);
  }
  ++slots_in_use_;
  Flow& f = slots_[s];
  f = Flow{};
  f.inside_addr = in_addr;
  f.dst_addr = dst;
  f.inside_port = in_port;
  f.dst_port = dport;
  f.public_port = port;
  f.public_idx = static_cast<std::uint8_t>(idx);
  f.set_state(state);
  f.last_out = f.last_in = now32_;
  return s;
}

// A new live flow in a free slot (the caller checked the limits and that one is free).
SlotIndex Engine::install(std::uint32_t in_addr, std::uint16_t in_port, std::uint32_t dst,
                          std::uint16_t dport, std::size_t idx, std::uint16_t port, L4 l4,
                          FlowState state) noexcept {
  const SlotIndex s = take_slot(in_addr, in_port, dst, dport, idx, port, state);
  link_in2out(s);
  link_out2in(s);
  wheel_insert(s);
  Dest* d = find_or_add_dest(idx, dst, dport, l4);
  ++d->live;
  ++d->used;
  ++pubs_[idx].live[static_cast<std::size_t>(l4)];
  ++counters_.active[static_cast<std::size_t>(l4)];
  ++live_total_;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Endpoint-independent mapping (nat/README.md "Profiles")

namespace {
std::uint64_t map_key_in(L4 l4, std::uint32_t addr, std::uint16_t port) noexcept {
  return (std::uint64_t{addr} << 24) | (std::uint64_t{port} << 8) | static_cast<std::uint64_t>(l4);
}
std::uint64_t map_key_out(L4 l4, std::size_t idx, std::uint16_t port) noexcept {
  return (std::uint64_t{idx} << 24) | (std::uint64_t{port} << 8) | static_cast<std::uint64_t>(l4) |
         (std::uint64_t{1} << 40);
}
}  // namespace

Engine::MapRec* Engine::map_find_in(L4 l4, std::uint32_t in_addr,
                                    std::uint16_t in_port) const noexcept {
  const std::uint64_t h = mix(map_key_in(l4, in_addr, in_port), 0x6d6170, hash_seed_);
  for (std::uint32_t m = map_in_[h & map_mask_]; m != 0; m = maps_[m].next_in) {
    MapRec& r = maps_[m];
    if (r.inside_addr == in_addr && r.inside_port == in_port &&
        r.l4 == static_cast<std::uint8_t>(l4)) {
      return &r;
    }
  }
  return nullptr;
}

Engine::MapRec* Engine::map_find_out(L4 l4, std::size_t idx, std::uint16_t port) const noexcept {
  if (!eim_) return nullptr;
  const std::uint64_t h = mix(map_key_out(l4, idx, port), 0x6d6170, hash_seed_);
  for (std::uint32_t m = map_out_[h & map_mask_]; m != 0; m = maps_[m].next_out) {
    MapRec& r = maps_[m];
    if (r.public_port == port && r.public_idx == idx && r.l4 == static_cast<std::uint8_t>(l4)) {
      return &r;
    }
  }
  return nullptr;
}

Engine::MapRec* Engine::map_add(L4 l4, std::uint32_t in_addr, std::uint16_t in_port,
                                std::size_t idx, std::uint16_t port) noexcept {
  std::uint32_t m = free_maps_;
  if (m != 0) {
    free_maps_ = maps_[m].next_out;
  } else {
    m = static_cast<std::uint32_t>(map_hwm_++);  // cannot pass map_capacity_: see constructor
  }
  MapRec& r = maps_[m];
  const std::uint64_t hi = mix(map_key_in(l4, in_addr, in_port), 0x6d6170, hash_seed_) & map_mask_;
  const std::uint64_t ho = mix(map_key_out(l4, idx, port), 0x6d6170, hash_seed_) & map_mask_;
  r = MapRec{in_addr,
             in_port,
             port,
             static_cast<std::uint8_t>(idx),
             static_cast<std::uint8_t>(l4),
             0,
             0,
             map_in_[hi],
             map_out_[ho]};
  map_in_[hi] = m;
  map_out_[ho] = m;
  ++pubs_[idx].mappings[static_cast<std::size_t>(l4)];
  return &r;
}

// A flow of a mapping stops being live (`was_live`, not `ends`) or goes away (`ends`).
void Engine::map_unref(const Flow& f, bool was_live, bool ends) noexcept {
  const L4 l4 = l4_of(f.state());
  MapRec* r = map_find_out(l4, f.public_idx, f.public_port);
  if (r == nullptr) return;
  if (was_live) --r->live;
  if (!ends || --r->refs != 0) return;
  // The last flow of the mapping went: unlink it from both chains and free it.
  const std::uint32_t m = static_cast<std::uint32_t>(r - maps_.get());
  const std::uint64_t hi =
      mix(map_key_in(l4, r->inside_addr, r->inside_port), 0x6d6170, hash_seed_) & map_mask_;
  const std::uint64_t ho =
      mix(map_key_out(l4, r->public_idx, r->public_port), 0x6d6170, hash_seed_) & map_mask_;
  std::uint32_t* q = &map_in_[hi];
  while (*q != m) q = &maps_[*q].next_in;
  *q = r->next_in;
  q = &map_out_[ho];
  while (*q != m) q = &maps_[*q].next_out;
  *q = r->next_out;
  --pubs_[r->public_idx].mappings[static_cast<std::size_t>(l4)];
  if (hosts_) host_give(l4, r->inside_addr);
  r->next_out = free_maps_;
  free_maps_ = m;
}

Engine::HostRec* Engine::host_find(L4 l4, std::uint32_t addr) const noexcept {
  const std::uint64_t h = mix(addr, 0x686f7374 + static_cast<std::uint64_t>(l4), hash_seed_);
  for (std::uint32_t i = host_buckets_[h & map_mask_]; i != 0; i = hosts_[i].next) {
    HostRec& r = hosts_[i];
    if (r.addr == addr && r.l4 == static_cast<std::uint8_t>(l4)) return &r;
  }
  return nullptr;
}

// One more mapping for a host: within its allowance, or the allowance grows (the minimum
// first, then doubling up to the maximum) while the ports promised to every host fit in the
// accepting public IPs' ranges (`enforce_pool`). False: out of resources.
bool Engine::host_take(L4 l4, std::uint32_t addr, bool enforce_pool) noexcept {
  HostRec* h = host_find(l4, addr);
  if (h == nullptr) {
    std::uint32_t i = free_hosts_;
    if (i != 0) {
      free_hosts_ = hosts_[i].next;
    } else {
      i = static_cast<std::uint32_t>(host_hwm_++);
    }
    const std::uint64_t b =
        mix(addr, 0x686f7374 + static_cast<std::uint64_t>(l4), hash_seed_) & map_mask_;
    hosts_[i] = HostRec{addr, static_cast<std::uint8_t>(l4), 0, 0, host_buckets_[b]};
    host_buckets_[b] = i;
    h = &hosts_[i];
  }
  if (h->mappings < h->allowance) {
    ++h->mappings;
    return true;
  }
  const std::uint32_t grow = h->allowance == 0 ? host_min_
                                               : static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                                     std::uint64_t{h->allowance} * 2, host_max_));
  std::uint64_t pool = 0;
  for (std::size_t i = 0; i < pub_count_; ++i) pool += pubs_[i].accepting ? port_range_ : 0;
  const auto p = static_cast<std::size_t>(l4);
  if (grow <= h->allowance || (enforce_pool && reserved_[p] + (grow - h->allowance) > pool)) {
    if (h->mappings == 0) {
      ++h->mappings;  // so that host_give frees the record
      host_give(l4, addr);
    }
    return false;
  }
  reserved_[p] += grow - h->allowance;
  h->allowance = grow;
  ++h->mappings;
  return true;
}

void Engine::host_give(L4 l4, std::uint32_t addr) noexcept {
  const std::uint64_t b =
      mix(addr, 0x686f7374 + static_cast<std::uint64_t>(l4), hash_seed_) & map_mask_;
  std::uint32_t* q = &host_buckets_[b];
  while (*q != 0) {
    HostRec& r = hosts_[*q];
    if (r.addr == addr && r.l4 == static_cast<std::uint8_t>(l4)) {
      if (--r.mappings == 0) {
        // A host with no mapping left gives its whole allowance back.
        reserved_[static_cast<std::size_t>(l4)] -= r.allowance;
        const std::uint32_t i = *q;
        *q = r.next;
        r.next = free_hosts_;
        free_hosts_ = i;
      }
      return;
    }
    q = &r.next;
  }
}

// A new connection under endpoint-independent mapping: the inside endpoint's mapping if it has
// one (its public IP:port must be free for this destination, or the connection fails with
// endpoint_independence_conflict), else a new mapping on a port no other mapping holds.
bool Engine::eim_allocate(Prepared& p, L4 l4, SlotIndex& out, DropReason& why) noexcept {
  const net::PacketView& v = p.v;
  const std::uint32_t src = v.src.value();
  const std::uint32_t dst = v.dst.value();
  MapRec* m = map_find_in(l4, src, v.sport);
  if (m != nullptr) {
    const std::size_t idx = m->public_idx;
    if (const Dest* d = find_dest(idx, dst, v.dport, l4)) {
      if (d->live >= config_.limits.per_destination) {
        why = DropReason::connection_limit;
        return false;
      }
    }
    const SlotIndex held = find_out(hash_out(idx, m->public_port, dst, v.dport, l4), idx,
                                    m->public_port, dst, v.dport, l4);
    if (held != kNoSlot && !(due(slots_[held]) && expire_if_due(held))) {
      // An ended connection of this very inside endpoint to this destination (the mapping's
      // port is no one else's). Closed by FIN, it sits out TIME_WAIT: GCP's conflict. Ended
      // otherwise (idle, RST), it is revived in place: the same mapping, the same destination.
      if (slots_[held].state() == FlowState::tcp_closed || is_live(slots_[held].state())) {
        why = DropReason::endpoint_independence_conflict;
        return false;
      }
      Flow& f = slots_[held];
      const auto pi = static_cast<std::size_t>(l4);
      --counters_.holddown[pi];
      --pubs_[idx].holddown[pi];
      ++counters_.active[pi];
      ++pubs_[idx].live[pi];
      ++live_total_;
      if (Dest* d = find_dest(idx, dst, v.dport, l4)) ++d->live;
      f.set_state(l4 == L4::tcp ? FlowState::tcp_syn_sent : FlowState::udp_new);
      f.last_out = f.last_in = now32_;
      if (!f.in2out_linked()) link_in2out(held);
      wheel_unlink(held);
      wheel_insert(held);
      ++m->live;
      out = held;
      return true;
    }
    out = install(src, v.sport, dst, v.dport, idx, m->public_port, l4,
                  l4 == L4::tcp ? FlowState::tcp_syn_sent : FlowState::udp_new);
    ++m->refs;
    ++m->live;
    return true;
  }
  std::array<std::uint8_t, kMaxPublicIps> order;
  const std::size_t n = accepting_ips(order);
  if (n == 0) {
    why = DropReason::no_public_ip;
    return false;
  }
  if (hosts_ && !host_take(l4, src, true)) {
    why = DropReason::out_of_resources;
    return false;
  }
  const auto uniform = [this] {
    return static_cast<std::uint32_t>((std::uint64_t{random32()} * port_range_) >> 32);
  };
  const std::size_t fixed = host_first(order, n, src);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t idx = draw_ip(order, k, n, fixed);
    if (pubs_[idx].mappings[static_cast<std::size_t>(l4)] >= port_range_) continue;
    // A port no mapping holds has no flow either (a mapping outlives its flows' hold-downs).
    std::uint16_t port = 0;
    for (int i = 0; i < kRandomPortTries && port == 0; ++i) {
      const auto c = static_cast<std::uint16_t>(config_.limits.port_min + uniform());
      if (map_find_out(l4, idx, c) == nullptr) port = c;
    }
    const std::uint32_t start = uniform();
    for (std::uint32_t i = 0; i < port_range_ && port == 0; ++i) {
      const auto c =
          static_cast<std::uint16_t>(config_.limits.port_min + (start + i) % port_range_);
      if (map_find_out(l4, idx, c) == nullptr) port = c;
    }
    if (port == 0) continue;
    m = map_add(l4, src, v.sport, idx, port);
    out = install(src, v.sport, dst, v.dport, idx, port, l4,
                  l4 == L4::tcp ? FlowState::tcp_syn_sent : FlowState::udp_new);
    ++m->refs;
    ++m->live;
    return true;
  }
  if (hosts_) host_give(l4, src);
  why = hosts_ ? DropReason::out_of_resources : DropReason::snat_exhausted;
  return false;
}

// ---------------------------------------------------------------------------------------------
// UDP fragments (behaviour.udp_fragments)

void Engine::note_fragment(std::uint32_t src, std::uint32_t dst, std::uint16_t id, Direction dir,
                           std::uint32_t new_addr) noexcept {
  const std::uint64_t h =
      mix((std::uint64_t{src} << 32) | dst,
          (std::uint64_t{id} << 8) | static_cast<std::uint64_t>(dir), hash_seed_);
  FragRec& r = frags_[h & frag_mask_];
  r = FragRec{src, dst, new_addr, now32_, id, static_cast<std::uint8_t>(static_cast<int>(dir) + 1),
              0};
}

// A UDP fragment after the first: it carries no ports, so it follows the translation of its
// datagram's first fragment (same source, destination and IP identification), which must have
// been seen within kFragmentLifetimeMs; otherwise it is dropped (fragment_without_first).
Verdict Engine::later_fragment(net::PacketView& v, Direction dir) noexcept {
  const std::uint32_t src = v.src.value();
  const std::uint32_t dst = v.dst.value();
  const std::uint16_t id = net::get_be16(v.ip + 4);
  const std::uint64_t h =
      mix((std::uint64_t{src} << 32) | dst,
          (std::uint64_t{id} << 8) | static_cast<std::uint64_t>(dir), hash_seed_);
  const FragRec& r = frags_[h & frag_mask_];
  if (r.dir != static_cast<int>(dir) + 1 || r.src != src || r.dst != dst || r.id != id ||
      !before_or_at(now32_, r.since + kFragmentLifetimeMs)) {
    return drop(DropReason::fragment_without_first);
  }
  if (v.ttl <= 1) return drop(DropReason::ttl_expired);
  const std::uint16_t len = v.total_len;
  if (dir == Direction::out) {
    net::set_source(v, net::Ipv4{r.new_addr}, 0);
  } else {
    net::set_destination(v, net::Ipv4{r.new_addr}, 0);
  }
  net::decrement_ttl(v);
  const auto d = static_cast<std::size_t>(dir);
  counters_.bytes[static_cast<std::size_t>(L4::udp)][d] += len;
  ++counters_.packets[static_cast<std::size_t>(L4::udp)][d];
  ++counters_.fragments_forwarded;
  return Verdict{Action::forward, DropReason::malformed, len};
}

Verdict Engine::new_connection(Prepared& p, L4 l4, SlotIndex superseded) noexcept {
  auto& c = counters_.connections[static_cast<std::size_t>(l4)];
  ++c[static_cast<std::size_t>(ConnState::attempted)];
  SlotIndex s = kNoSlot;
  DropReason why = DropReason::connection_limit;
  if (!try_allocate(p, l4, s, why)) {
    // At a limit, timers due within the current 16 ms tick decide: run them and retry once.
    sweep_current_tick();
    if (!try_allocate(p, l4, s, why)) {
      ++c[static_cast<std::size_t>(ConnState::failed)];
      if (flow_stats_) flow_failed(p.v, l4, why);
      return drop(why);  // the superseded flow stays reachable from the inside
    }
  }
  // The new connection now answers to the inside 5-tuple; the old one keeps its port in
  // hold-down and stays reachable from the outside only. (It cannot have been freed meanwhile:
  // it was not due, and only due slots are freed.)
  if (superseded != kNoSlot && superseded != s) unlink_in2out(superseded);
  if (flow_stats_) flow_opened(s, false);
  return forward_out(p.v, slots_[s], l4);
}

Verdict Engine::translate(std::uint8_t* data, std::size_t len, Direction dir, Time now) noexcept {
  Packet pkt{data, static_cast<std::uint32_t>(std::min<std::size_t>(len, 0xFFFFFFFFu)), {}};
  translate_batch({&pkt, 1}, dir, now);
  return pkt.verdict;
}

void Engine::translate_batch(std::span<Packet> batch, Direction dir, Time now) noexcept {
  set_now(now);
  std::array<Prepared, kBatchChunk> prep;
  const SlotIndex* buckets = dir == Direction::out ? in2out_.get() : out2in_.get();
  for (std::size_t base = 0; base < batch.size(); base += kBatchChunk) {
    const std::size_t n = std::min(kBatchChunk, batch.size() - base);
    // Stage 1: parse and hash; prefetch the bucket. Stage 2: prefetch the first slot.
    for (std::size_t i = 0; i < n; ++i) prepare(prep[i], batch[base + i], dir);
    for (std::size_t i = 0; i < n; ++i) {
      if (!prep[i].keyed) continue;
      // A 40-byte slot may straddle two cache lines: fetch both.
      const SlotIndex first = buckets[prep[i].hash & bucket_mask_];
      const auto* slot = reinterpret_cast<const char*>(&slots_[first]);
      __builtin_prefetch(slot);
      __builtin_prefetch(slot + sizeof(Flow) - 1);
      if (flow_stats_) {  // flow logs: the flow's counters are written too
        const auto* st = reinterpret_cast<const char*>(&flow_stats_[first]);
        __builtin_prefetch(st, 1);
        __builtin_prefetch(st + sizeof(FlowStats) - 1, 1);
      }
    }
    // Stage 3: decide, in arrival order (later packets may depend on flows earlier ones made).
    for (std::size_t i = 0; i < n; ++i) prep[i].pkt->verdict = process(prep[i], dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Control-plane views

FlowInfo Engine::info(const Flow& f) const {
  FlowInfo i;
  i.proto = l4_of(f.state());
  i.state = f.state();
  i.inside = {net::Ipv4{f.inside_addr}, f.inside_port};
  i.public_endpoint = {pubs_[f.public_idx].addr, f.public_port};
  i.destination = {net::Ipv4{f.dst_addr}, f.dst_port};
  i.last_out = to_time(f.last_out);
  i.last_in = to_time(f.last_in);
  i.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(now_ms_) +
                                         static_cast<std::int32_t>(deadline(f) - now32_));
  return i;
}

void Engine::for_each_flow(const std::function<void(const FlowInfo&)>& fn) const {
  for (std::size_t s = 1; s < slot_hwm_; ++s) {
    if (slots_[s].state() != FlowState::free) fn(info(slots_[s]));
  }
}

std::vector<DestinationLoad> Engine::destinations() const {
  std::vector<DestinationLoad> out;
  for (std::size_t d = 1; d < dest_hwm_; ++d) {
    const Dest& r = dests_[d];
    if (r.used == 0) continue;
    out.push_back(DestinationLoad{pubs_[r.public_idx].addr, static_cast<L4>(r.l4),
                                  {net::Ipv4{r.dst_addr}, r.dst_port}, r.live,
                                  static_cast<std::uint32_t>(r.used - r.live)});
  }
  return out;
}

std::optional<DestinationLoad> Engine::busiest_destination(std::size_t public_idx,
                                                           L4 proto) const {
  std::optional<DestinationLoad> best;
  for (std::size_t d = 1; d < dest_hwm_; ++d) {
    const Dest& r = dests_[d];
    if (r.used == 0 || r.public_idx != public_idx || r.l4 != static_cast<std::uint8_t>(proto)) {
      continue;
    }
    if (!best || r.live > best->live) {
      best = DestinationLoad{pubs_[r.public_idx].addr, proto, {net::Ipv4{r.dst_addr}, r.dst_port},
                             r.live, static_cast<std::uint32_t>(r.used - r.live)};
    }
  }
  return best;
}

std::vector<SavedFlow> Engine::save_flows() const {
  std::vector<SavedFlow> out;
  out.reserve(slots_in_use_);
  for (std::size_t s = 1; s < slot_hwm_; ++s) {
    const Flow& f = slots_[s];
    if (f.state() == FlowState::free) continue;
    SavedFlow v;
    v.proto = l4_of(f.state());
    v.state = f.state();
    v.inside_linked = f.in2out_linked();
    v.inside = {net::Ipv4{f.inside_addr}, f.inside_port};
    v.public_endpoint = {pubs_[f.public_idx].addr, f.public_port};
    v.destination = {net::Ipv4{f.dst_addr}, f.dst_port};
    v.age_out_ms = now32_ - f.last_out;
    v.age_in_ms = now32_ - f.last_in;
    out.push_back(v);
  }
  return out;
}

RestoreReport Engine::restore_flows(std::span<const SavedFlow> flows, Duration downtime, Time now) {
  set_now(now);
  RestoreReport r;
  const auto down_ms = static_cast<std::uint64_t>(
      std::max<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(downtime).count(), 0));
  for (const SavedFlow& v : flows) {
    const bool live = is_live(v.state);
    const int idx = public_index(v.public_endpoint.addr);
    if (v.state == FlowState::free || l4_of(v.state) != v.proto) {
      ++r.dropped["not a valid flow state"];
      continue;
    }
    // Past a day every timer has run out (and 32-bit ages would no longer compare).
    if (v.age_out_ms + down_ms > kFlushAfterMs || v.age_in_ms + down_ms > kFlushAfterMs) {
      ++r.expired;
      continue;
    }
    if (idx < 0) {
      ++r.dropped["its public IP is no longer configured"];
      continue;
    }
    if (v.public_endpoint.port < config_.limits.port_min || v.public_endpoint.port > config_.limits.port_max) {
      ++r.dropped["its port is outside the SNAT port range"];
      continue;
    }
    if (live && !in_subnet(v.inside.addr)) {
      ++r.dropped["its source is in no attached subnet"];
      continue;
    }
    const auto uidx = static_cast<std::size_t>(idx);
    const std::uint32_t dst = v.destination.addr.value();
    if (find_out(hash_out(uidx, v.public_endpoint.port, dst, v.destination.port, v.proto), uidx,
                 v.public_endpoint.port, dst, v.destination.port, v.proto) != kNoSlot) {
      ++r.dropped["another flow holds its public port for the destination"];
      continue;
    }
    if (live && live_total_ >= config_.limits.max_connections) {
      ++r.dropped["connection limit reached"];
      continue;
    }
    if (slots_in_use_ >= capacity_) {
      ++r.dropped["flow table full"];
      continue;
    }
    const Dest* existing = find_dest(uidx, dst, v.destination.port, v.proto);
    if (live && existing != nullptr && existing->live >= config_.limits.per_destination) {
      ++r.dropped["per-destination connection limit reached"];
      continue;
    }
    MapRec* m = nullptr;
    if (eim(v.proto)) {
      // The flow keeps its mapping: the same public IP:port for its inside endpoint, which no
      // other inside endpoint may hold.
      m = map_find_in(v.proto, v.inside.addr.value(), v.inside.port);
      MapRec* holder = map_find_out(v.proto, uidx, v.public_endpoint.port);
      if ((m != nullptr && (m->public_idx != uidx || m->public_port != v.public_endpoint.port)) ||
          (m == nullptr && holder != nullptr)) {
        ++r.dropped["another endpoint-independent mapping holds its public port"];
        continue;
      }
      if (m == nullptr) {
        if (hosts_ && !host_take(v.proto, v.inside.addr.value(), false)) {
          ++r.dropped["its host's port allowance is used up"];
          continue;
        }
        m = map_add(v.proto, v.inside.addr.value(), v.inside.port, uidx, v.public_endpoint.port);
      }
      ++m->refs;
      if (live) ++m->live;
    }
    const SlotIndex s = take_slot(v.inside.addr.value(), v.inside.port, dst, v.destination.port,
                                  uidx, v.public_endpoint.port, v.state);
    Flow& f = slots_[s];
    f.last_out = now32_ - static_cast<std::uint32_t>(v.age_out_ms + down_ms);
    f.last_in = now32_ - static_cast<std::uint32_t>(v.age_in_ms + down_ms);
    if (v.inside_linked) link_in2out(s);
    link_out2in(s);
    Dest* d = find_or_add_dest(uidx, dst, v.destination.port, v.proto);
    ++d->used;
    const auto p = static_cast<std::size_t>(v.proto);
    if (live) {
      ++d->live;
      ++pubs_[uidx].live[p];
      ++counters_.active[p];
      ++live_total_;
    } else {
      ++pubs_[uidx].holddown[p];
      ++counters_.holddown[p];
    }
    if (flow_stats_ && live) {
      // The counters of the previous process are not in the state file: this one counts anew.
      flow_stats_[s] = FlowStats{{}, {}, now_ms_ | kFlowRestored};
    }
    wheel_insert(s);
    if (due(f)) {
      // Ran out while natgw was down: apply it now (a live flow may still leave a hold-down).
      ++r.expired;
      expire_if_due(s);
      continue;
    }
    if (flow_stats_ && live) flow_opened(s, true);
    ++(live ? r.restored_live : r.restored_holddown);
  }
  return r;
}

NewConnectionOutlook Engine::would_open(const net::FiveTuple& t) const {
  // The checks of outbound() and try_allocate(), in their order, on a 5-tuple.
  NewConnectionOutlook o;
  if (!in_subnet(t.src.addr)) {
    o.refused = DropReason::source_not_in_subnet;
    return o;
  }
  if (t.proto != net::Proto::tcp && t.proto != net::Proto::udp) {
    o.refused = DropReason::unsupported_protocol;
    return o;
  }
  const L4 l4 = t.proto == net::Proto::tcp ? L4::tcp : L4::udp;
  if (l4 == L4::tcp && config_.block_smtp && t.dst.port == 25) {
    o.refused = DropReason::smtp_blocked;
    return o;
  }
  if (any_blocked_ && port_blocked(t.dst.port)) {
    o.refused = DropReason::port_blocked;
    return o;
  }
  if (eim(l4)) {
    // Endpoint-independent mapping: an inside endpoint with a mapping has one choice.
    if (const MapRec* m = map_find_in(l4, t.src.addr.value(), t.src.port)) {
      const SlotIndex held =
          find_out(hash_out(m->public_idx, m->public_port, t.dst.addr.value(), t.dst.port, l4),
                   m->public_idx, m->public_port, t.dst.addr.value(), t.dst.port, l4);
      if (held != kNoSlot && !due(slots_[held]) &&
          (slots_[held].state() == FlowState::tcp_closed || is_live(slots_[held].state()))) {
        o.refused = DropReason::endpoint_independence_conflict;
        return o;
      }
      o.room.push_back(DestinationLoad{pubs_[m->public_idx].addr, l4, t.dst, 0, 0});
      return o;
    }
  }
  if (live_total_ >= config_.limits.max_connections) {
    o.refused = DropReason::connection_limit;
    return o;
  }
  if (slots_in_use_ >= capacity_) {
    o.refused = DropReason::flow_table_full;
    return o;
  }
  std::array<std::uint8_t, kMaxPublicIps> accepting;
  const std::size_t n = accepting_ips(accepting);
  const std::size_t own =
      config_.ip_selection == IpSelection::per_host && n > 0
          ? accepting[host_ip(t.src.addr.value(), accepting.data(), n)]
          : pub_count_;
  bool port_shortage = false;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = accepting[k];
    DestinationLoad load{pubs_[i].addr, l4, t.dst, 0, 0};
    if (const Dest* d = find_dest(i, t.dst.addr.value(), t.dst.port, l4)) {
      load.live = d->live;
      load.holddown = static_cast<std::uint32_t>(d->used - d->live);
      if (d->live >= config_.limits.per_destination) continue;
      if (d->used >= port_range_) {
        port_shortage = true;
        continue;
      }
    }
    if (i == own) {
      o.room.insert(o.room.begin(), load);
      o.host_ip_first = true;
    } else {
      o.room.push_back(load);
    }
  }
  if (n == 0) {
    o.refused = DropReason::no_public_ip;
  } else if (o.room.empty()) {
    o.refused = port_shortage ? DropReason::snat_exhausted : DropReason::connection_limit;
  }
  return o;
}

std::optional<FlowInfo> Engine::find_outbound(const net::FiveTuple& t) const {
  if (t.proto != net::Proto::tcp && t.proto != net::Proto::udp) return std::nullopt;
  const L4 l4 = t.proto == net::Proto::tcp ? L4::tcp : L4::udp;
  const SlotIndex s =
      find_in(hash_in(t.src.addr.value(), t.src.port, t.dst.addr.value(), t.dst.port, l4),
              t.src.addr.value(), t.src.port, t.dst.addr.value(), t.dst.port, l4);
  if (s == kNoSlot) return std::nullopt;
  return info(slots_[s]);
}

}  // namespace natgw::nat
