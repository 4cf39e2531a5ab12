#include "datapath/neighbor.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace natgw::datapath {
namespace {

constexpr std::uint16_t kHwEthernet = 1;

std::uint16_t rd16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
net::Ipv4 rd_ip(const std::uint8_t* p) noexcept {
  return net::Ipv4{p[0], p[1], p[2], p[3]};
}
void wr16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void wr_ip(std::uint8_t* p, net::Ipv4 ip) noexcept {
  const std::uint32_t v = ip.value();
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

// Addresses that never name a neighbour: 0.0.0.0, 255.255.255.255, 224.0.0.0/4.
bool unicast_address(net::Ipv4 ip) noexcept {
  const std::uint32_t v = ip.value();
  return v != 0 && v != 0xFFFFFFFFu && (v >> 28) != 0xE;
}
bool unicast_mac(net::MacAddress m) noexcept {
  return !m.is_zero() && !m.is_multicast();
}

}  // namespace

std::optional<ArpMessage> parse_arp(std::span<const std::uint8_t> frame) noexcept {
  if (frame.size() < net::kEthHeader + kArpPayload) return std::nullopt;
  const std::uint8_t* f = frame.data();
  if (net::eth_type(f) != net::kEtherTypeArp) return std::nullopt;
  const std::uint8_t* a = f + net::kEthHeader;
  if (rd16(a) != kHwEthernet || rd16(a + 2) != net::kEtherTypeIpv4 || a[4] != 6 || a[5] != 4) {
    return std::nullopt;
  }
  ArpMessage m;
  m.op = rd16(a + 6);
  if (m.op != kArpRequest && m.op != kArpReply) return std::nullopt;
  m.eth_dst = net::eth_dst(f);
  m.eth_src = net::eth_src(f);
  m.sha = net::MacAddress::from(a + 8);
  m.spa = rd_ip(a + 14);
  m.tha = net::MacAddress::from(a + 18);
  m.tpa = rd_ip(a + 24);
  return m;
}

std::size_t write_arp(std::span<std::uint8_t> out, const ArpMessage& m) noexcept {
  if (out.size() < kArpFrameLen) return 0;
  std::uint8_t* f = out.data();
  std::memset(f, 0, kArpFrameLen);
  net::write_eth_header(f, m.eth_dst, m.eth_src, net::kEtherTypeArp);
  std::uint8_t* a = f + net::kEthHeader;
  wr16(a, kHwEthernet);
  wr16(a + 2, net::kEtherTypeIpv4);
  a[4] = 6;
  a[5] = 4;
  wr16(a + 6, m.op);
  m.sha.write(a + 8);
  wr_ip(a + 14, m.spa);
  m.tha.write(a + 18);
  wr_ip(a + 24, m.tpa);
  return kArpFrameLen;
}

std::size_t write_gratuitous_arp(std::span<std::uint8_t> out, net::MacAddress mac,
                                 net::Ipv4 ip) noexcept {
  ArpMessage m;
  m.eth_dst = net::MacAddress::broadcast();
  m.eth_src = mac;
  m.op = kArpRequest;
  m.sha = mac;
  m.spa = ip;
  m.tpa = ip;
  return write_arp(out, m);
}

NeighborTable::NeighborTable(NeighborConfig config) : cfg_(std::move(config)) {
  if (cfg_.capacity == 0 || cfg_.capacity > (std::size_t{1} << 30)) {
    throw std::invalid_argument("neighbour table capacity must be 1..1073741824");
  }
  if (cfg_.reachable_time.count() <= 0 || cfg_.expire_time.count() <= 0 ||
      cfg_.incomplete_time.count() <= 0 || cfg_.request_interval.count() <= 0) {
    throw std::invalid_argument("neighbour table times must be positive");
  }
  if (cfg_.expire_time < cfg_.reachable_time) {
    throw std::invalid_argument("neighbour expire_time must be at least reachable_time");
  }
  if (!unicast_mac(cfg_.mac)) {
    throw std::invalid_argument("neighbour table MAC must be a unicast address");
  }
  entries_.resize(cfg_.capacity);
  // At most half full: short probe sequences.
  slots_.assign(std::bit_ceil(cfg_.capacity * 2), kNil);
  mask_ = slots_.size() - 1;
  shift_ = 64 - std::countr_zero(slots_.size());
  for (std::size_t i = cfg_.capacity; i-- > 0;) {
    entries_[i].next = free_;
    free_ = static_cast<std::uint32_t>(i);
  }
}

bool NeighborTable::answers(net::Ipv4 ip) const noexcept {
  return std::find(cfg_.answer_for.begin(), cfg_.answer_for.end(), ip) != cfg_.answer_for.end();
}

bool NeighborTable::expired(const Entry& e, nanoseconds now) const noexcept {
  return now - e.confirmed >= (e.has_mac ? cfg_.expire_time : cfg_.incomplete_time);
}

NeighborState NeighborTable::state(const Entry& e, nanoseconds now) const noexcept {
  if (!e.has_mac) return NeighborState::incomplete;
  return now - e.confirmed < cfg_.reachable_time ? NeighborState::learned : NeighborState::stale;
}

std::size_t NeighborTable::home(net::Ipv4 ip) const noexcept {
  // Fibonacci hashing: the high bits of the product are well mixed.
  return static_cast<std::size_t>((ip.value() * 0x9E3779B97F4A7C15ull) >> shift_);
}

std::uint32_t NeighborTable::find(net::Ipv4 ip) const noexcept {
  for (std::size_t s = home(ip);; s = (s + 1) & mask_) {
    const std::uint32_t idx = slots_[s];
    if (idx == kNil) return kNil;
    if (entries_[idx].ip == ip) return idx;
  }
}

void NeighborTable::unlink(std::uint32_t idx) noexcept {
  Entry& e = entries_[idx];
  (e.prev == kNil ? head_ : entries_[e.prev].next) = e.next;
  (e.next == kNil ? tail_ : entries_[e.next].prev) = e.prev;
  e.prev = e.next = kNil;
}

void NeighborTable::link_tail(std::uint32_t idx) noexcept {
  Entry& e = entries_[idx];
  e.prev = tail_;
  e.next = kNil;
  (tail_ == kNil ? head_ : entries_[tail_].next) = idx;
  tail_ = idx;
}

void NeighborTable::touch(std::uint32_t idx) noexcept {
  if (idx == tail_) return;
  unlink(idx);
  link_tail(idx);
}

std::uint32_t NeighborTable::insert(net::Ipv4 ip, nanoseconds now) noexcept {
  if (free_ == kNil) {
    // Full: reuse the least recently confirmed entry unless it is live and learned.
    const Entry& oldest = entries_[head_];
    if (expired(oldest, now)) {
      ++counters_.expired;
    } else if (state(oldest, now) != NeighborState::learned) {
      ++counters_.evicted;
    } else {
      ++counters_.table_full;
      return kNil;
    }
    remove(head_);
  }
  const std::uint32_t idx = free_;
  free_ = entries_[idx].next;
  entries_[idx] = Entry{};
  entries_[idx].ip = ip;
  entries_[idx].confirmed = now;
  link_tail(idx);
  std::size_t s = home(ip);
  while (slots_[s] != kNil) s = (s + 1) & mask_;
  slots_[s] = idx;
  ++size_;
  return idx;
}

void NeighborTable::remove(std::uint32_t idx) noexcept {
  // Backward-shift deletion keeps every probe sequence unbroken without tombstones.
  std::size_t hole = home(entries_[idx].ip);
  while (slots_[hole] != idx) hole = (hole + 1) & mask_;
  for (std::size_t j = (hole + 1) & mask_; slots_[j] != kNil; j = (j + 1) & mask_) {
    const std::size_t k = home(entries_[slots_[j]].ip);
    // Move slot j into the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
    if (!stays) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = kNil;
  unlink(idx);
  entries_[idx].next = free_;
  free_ = idx;
  --size_;
}

void NeighborTable::confirm(net::Ipv4 ip, net::MacAddress mac, nanoseconds now,
                            Learn learn) noexcept {
  std::uint32_t idx = find(ip);
  if (idx != kNil && expired(entries_[idx], now)) {
    remove(idx);
    ++counters_.expired;
    idx = kNil;
  }
  if (idx == kNil) {
    if (learn != Learn::create) return;
    idx = insert(ip, now);
    if (idx == kNil) return;
    ++counters_.learned;
  } else if (entries_[idx].has_mac && entries_[idx].mac != mac) {
    ++counters_.changed;
  } else if (!entries_[idx].has_mac) {
    ++counters_.learned;
  }
  Entry& e = entries_[idx];
  e.mac = mac;
  e.has_mac = true;
  e.confirmed = now;
  e.requested = false;
  touch(idx);
}

std::size_t NeighborTable::on_arp(std::span<const std::uint8_t> frame, nanoseconds now,
                                  std::span<std::uint8_t> reply) noexcept {
  ++counters_.arp_received;
  const auto m = parse_arp(frame);
  if (!m || !unicast_mac(m->sha) || (m->spa.value() != 0 && !unicast_address(m->spa))) {
    ++counters_.arp_malformed;
    return 0;
  }
  if (m->sha == cfg_.mac) return 0;  // our own frame, looped back
  const bool for_us = answers(m->tpa) || (cfg_.address.value() != 0 && m->tpa == cfg_.address);
  if (answers(m->spa)) {
    ++counters_.conflicts;  // someone else claims one of our addresses: never learn it
  } else if (m->spa.value() != 0) {
    confirm(m->spa, m->sha, now, for_us ? Learn::create : Learn::refresh_only);
  }
  if (m->op != kArpRequest || !answers(m->tpa)) return 0;
  ArpMessage r;
  r.eth_dst = m->sha;
  r.eth_src = cfg_.mac;
  r.op = kArpReply;
  r.sha = cfg_.mac;
  r.spa = m->tpa;
  r.tha = m->sha;
  r.tpa = m->spa;  // 0.0.0.0 for an RFC 5227 probe: the reply still tells the prober
  const std::size_t len = write_arp(reply, r);
  if (len != 0) ++counters_.requests_answered;
  return len;
}

void NeighborTable::learn_from_ipv4(net::Ipv4 src, net::MacAddress src_mac, nanoseconds now,
                                    Learn learn) noexcept {
  if (!unicast_address(src) || !unicast_mac(src_mac) || src_mac == cfg_.mac || answers(src)) {
    return;
  }
  confirm(src, src_mac, now, learn);
}

std::size_t NeighborTable::request(Entry& e, nanoseconds now,
                                   std::span<std::uint8_t> out) noexcept {
  if (e.requested && now - e.last_request < cfg_.request_interval) {
    ++counters_.requests_rate_limited;
    return 0;
  }
  ArpMessage m;
  // A stale entry is confirmed with a unicast request (as Linux probes); otherwise broadcast.
  m.eth_dst = e.has_mac ? e.mac : net::MacAddress::broadcast();
  m.eth_src = cfg_.mac;
  m.op = kArpRequest;
  m.sha = cfg_.mac;
  m.spa = cfg_.address;
  m.tpa = e.ip;
  const std::size_t len = write_arp(out, m);
  if (len == 0) return 0;
  e.requested = true;
  e.last_request = now;
  ++counters_.requests_sent;
  return len;
}

Resolution NeighborTable::resolve(net::Ipv4 ip, nanoseconds now,
                                  std::span<std::uint8_t> out) noexcept {
  std::uint32_t idx = find(ip);
  if (idx != kNil && expired(entries_[idx], now)) {
    remove(idx);
    ++counters_.expired;
    idx = kNil;
  }
  if (idx == kNil) {
    if (!unicast_address(ip)) return {};
    idx = insert(ip, now);
    if (idx == kNil) return {};
  }
  Entry& e = entries_[idx];
  switch (state(e, now)) {
    case NeighborState::learned:
      return {e.mac, 0};
    case NeighborState::stale:
      return {e.mac, request(e, now, out)};
    case NeighborState::incomplete:
      break;
  }
  return {std::nullopt, request(e, now, out)};
}

std::size_t NeighborTable::expire(nanoseconds now) noexcept {
  std::size_t n = 0;
  while (head_ != kNil && expired(entries_[head_], now)) {
    remove(head_);
    ++n;
  }
  counters_.expired += n;
  return n;
}

std::optional<NeighborEntry> NeighborTable::lookup(net::Ipv4 ip, nanoseconds now) const noexcept {
  const std::uint32_t idx = find(ip);
  if (idx == kNil || expired(entries_[idx], now)) return std::nullopt;
  const Entry& e = entries_[idx];
  return NeighborEntry{e.ip, e.has_mac ? e.mac : net::MacAddress{}, state(e, now), e.confirmed};
}

std::vector<NeighborEntry> NeighborTable::entries(nanoseconds now) const {
  std::vector<NeighborEntry> out;
  out.reserve(size_);
  for (std::uint32_t i = head_; i != kNil; i = entries_[i].next) {
    const Entry& e = entries_[i];
    if (expired(e, now)) continue;
    out.push_back(
        NeighborEntry{e.ip, e.has_mac ? e.mac : net::MacAddress{}, state(e, now), e.confirmed});
  }
  return out;
}

}  // namespace natgw::datapath
