#include "datapath/worker.hpp"

#include <poll.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "net/checksum.hpp"
#include "net/ethernet.hpp"
#include "net/packet.hpp"

namespace natgw::datapath {
namespace {

constexpr std::size_t kEth = net::kEthHeader;
constexpr auto kAdvanceEvery = std::chrono::milliseconds(10);
constexpr auto kExpireEvery = std::chrono::seconds(1);

std::uint16_t ether_type(const std::uint8_t* f) { return net::get_be16(f + 12); }

// An unfragmented TCP segment to port 21 (an FTP control connection, from the inside), judged
// from the first bytes alone (before parsing): the frames the FTP ALG may grow.
bool to_ftp_control(const std::uint8_t* ip, std::uint32_t len) noexcept {
  const std::uint32_t ihl = (ip[0] & 0x0Fu) * 4u;
  return ip[9] == static_cast<std::uint8_t>(net::Proto::tcp) &&
         (net::get_be16(ip + 6) & 0x3FFF) == 0 && ihl >= net::kIpv4MinHeader && len >= ihl + 4 &&
         net::get_be16(ip + ihl + 2) == 21;
}

// Completes a TCP/UDP checksum the sender left to offload: its field holds only the
// pseudo-header sum, so it is recomputed over the whole segment.
bool complete_checksum(std::uint8_t* ip, std::size_t len) noexcept {
  net::PacketView v;
  if (net::parse(ip, len, v) != net::ParseResult::ok || v.fragment) return false;
  if (!v.is_tcp() && !v.is_udp()) return false;
  std::uint8_t* field = v.l4() + (v.is_tcp() ? 16 : 6);
  net::store16(field, 0);
  net::store16(field, net::transport_checksum(ip));
  return true;
}

// A partial checksum the engine can keep partial: a TCP/UDP checksum where an unfragmented
// IPv4 packet's transport header says it is. The partial sum is then updated for the new
// address and the kernel (or NIC) completes it on transmit, segment by segment for a
// super-frame. Anything else partial is completed here (or, for a super-frame, left alone).
bool keeps_partial(const std::uint8_t* ip, std::uint32_t len, const io::Offload& o) noexcept {
  if (!o.needs_csum() || len < net::kIpv4MinHeader) return false;
  const std::uint32_t ihl = (ip[0] & 0x0Fu) * 4u;
  if (o.csum_start != kEth + ihl || (net::get_be16(ip + 6) & 0x3FFF) != 0) return false;
  const std::uint8_t proto = ip[9];
  if (proto == static_cast<std::uint8_t>(net::Proto::tcp)) return o.csum_offset == 16;
  if (proto == static_cast<std::uint8_t>(net::Proto::udp)) return o.csum_offset == 6;
  return false;
}

NeighborConfig neighbor_config(const io::Port& port, const std::vector<net::Ipv4>& addrs,
                               std::vector<net::Ipv4> answer_for, std::size_t capacity) {
  NeighborConfig c;
  c.mac = port.mac();
  c.address = addrs.empty() ? net::Ipv4{} : addrs.front();
  c.answer_for = std::move(answer_for);
  c.capacity = capacity;
  return c;
}

}  // namespace

nat::Time monotonic_now() noexcept {
  return std::chrono::duration_cast<nat::Time>(
      std::chrono::steady_clock::now().time_since_epoch());
}

Worker::Worker(WorkerConfig config, std::unique_ptr<io::Port> inside,
               std::unique_ptr<io::Port> outside)
    : cfg_(std::move(config)),
      in_(std::move(inside)),
      out_(std::move(outside)),
      engine_(cfg_.engine),
      nb_in_(neighbor_config(*in_, cfg_.inside_addresses, {}, cfg_.neighbor_capacity)),
      nb_out_(neighbor_config(*out_, cfg_.outside_addresses,
                              cfg_.primary ? cfg_.engine.public_ips : std::vector<net::Ipv4>{},
                              cfg_.neighbor_capacity)) {
  if (cfg_.engine.subnets.empty()) throw std::invalid_argument("no subnet attached");
  // The FTP ALG may grow a packet (nat::Engine::kFtpAlgGrowth bytes), and frames in the receive
  // ring have no room guaranteed after them: outbound FTP control frames are translated in a
  // copy (see process_inside). Allocated here, once.
  if (cfg_.engine.ftp_alg) ftp_staging_.assign(kBurst * kFtpSlot, 0);
  // Probes come from the inside interface's own address when it is in an attached subnet (as a
  // gateway's usually is), else from the first address of the first subnet.
  probe_src_ = net::Ipv4{cfg_.engine.subnets.front().address().value() + 1};
  for (const auto& a : cfg_.inside_addresses) {
    for (const auto& s : cfg_.engine.subnets) {
      if (s.contains(a)) {
        probe_src_ = a;
        break;
      }
    }
  }
  install_network(cfg_.network);
}

void Worker::install_network(std::shared_ptr<const vnet::Network> network) {
  if (enforcer_) {  // keep the counts of the model being replaced
    const auto& old = enforcer_->network();
    const auto counts = enforcer_->denied();
    for (const auto& r : old.rules()) {
      if (r.access != vnet::Access::deny || counts[r.id] == 0) continue;
      const std::string& group = old.security_groups()[r.group].name;
      auto it = std::find_if(retired_denials_.begin(), retired_denials_.end(), [&](const RuleDenials& d) {
        return d.security_group == group && d.rule == r.name;
      });
      if (it == retired_denials_.end()) {
        retired_denials_.push_back({group, r.name, 0, false});
        it = retired_denials_.end() - 1;
      }
      it->packets += counts[r.id];
    }
  }
  cfg_.network = std::move(network);
  enforcer_ = cfg_.network ? std::make_unique<vnet::Enforcer>(cfg_.network) : nullptr;
  engine_.set_admission(enforcer_.get());
}

std::vector<RuleDenials> Worker::security_rule_denials() const {
  std::vector<RuleDenials> out;
  if (enforcer_) {
    const auto& n = enforcer_->network();
    const auto counts = enforcer_->denied();
    for (const auto& r : n.rules()) {
      if (r.access != vnet::Access::deny) continue;
      const std::string& group = n.security_groups()[r.group].name;
      // A rule's count goes on across reloads while the rule keeps its group and name.
      if (std::any_of(out.begin(), out.end(), [&](const RuleDenials& d) {
            return d.security_group == group && d.rule == r.name;
          })) {
        continue;
      }
      out.push_back({group, r.name, counts[r.id], true});
    }
  }
  for (const auto& d : retired_denials_) {
    auto it = std::find_if(out.begin(), out.end(), [&](const RuleDenials& o) {
      return o.security_group == d.security_group && o.rule == d.rule;
    });
    if (it == out.end()) {
      out.push_back(d);
    } else {
      it->packets += d.packets;
    }
  }
  return out;
}

Worker::~Worker() = default;

bool Worker::is_local(const std::vector<net::Ipv4>& addrs, net::Ipv4 a) const noexcept {
  return std::find(addrs.begin(), addrs.end(), a) != addrs.end();
}

void Worker::transmit(io::Port& port, std::uint8_t* frame, std::uint32_t len,
                      const io::Offload& offload, bool borrowed) noexcept {
  if (len > (offload.gso() ? port.max_gso_frame() : port.max_frame())) {
    ++stats_.drops[static_cast<std::size_t>(nat::DropReason::oversize)];
    return;
  }
  const io::Frame f{frame, len, false, offload, borrowed};
  if (port.tx_burst({&f, 1}) == 1) return;
  // Queue full (a batch of super-frames fills it): send what is queued and try once more.
  port.tx_flush();
  if (port.tx_burst({&f, 1}) == 0) {
    ++stats_.drops[static_cast<std::size_t>(nat::DropReason::tx_queue_full)];
  }
}

// Decides what becomes of a received frame's checksum offload before translation; returns
// whether the engine sees the checksum as partial, and the offload to transmit with.
bool Worker::prepare_offload(io::Frame& f, std::uint8_t* ip, const io::Port& tx_port) noexcept {
  if (!f.csum_partial) return false;
  const std::uint32_t len = f.len - static_cast<std::uint32_t>(kEth);
  if (tx_port.offloads() && keeps_partial(ip, len, f.offload)) return true;
  if (!f.offload.gso() && complete_checksum(ip, len)) {
    ++stats_.csum_completed;
    f.offload.flags &= static_cast<std::uint8_t>(~io::Offload::kNeedsCsum);
    f.csum_partial = false;
  }
  return false;
}

std::optional<net::MacAddress> Worker::next_hop_mac(nat::Time now) noexcept {
  const Resolution r = nb_out_.resolve(cfg_.next_hop, now, scratch_);
  if (r.request_len > 0) transmit(*out_, scratch_.data(), static_cast<std::uint32_t>(r.request_len));
  return r.mac;
}

std::optional<net::MacAddress> Worker::inside_mac(net::Ipv4 dst, nat::Time now) noexcept {
  return on_link_mac(cfg_.inside_next_hop.value_or(dst), now);
}

std::optional<net::MacAddress> Worker::on_link_mac(net::Ipv4 addr, nat::Time now) noexcept {
  const Resolution r = nb_in_.resolve(addr, now, scratch_);
  if (r.request_len > 0) transmit(*in_, scratch_.data(), static_cast<std::uint32_t>(r.request_len));
  return r.mac;
}

// Routed past the NAT by the network model: the packet leaves as it came (TTL decremented by
// the engine), to an appliance or a host of the virtual network on the inside link, or to the
// outside next hop for a service endpoint.
void Worker::forward_untranslated(std::size_t i, const nat::Verdict& v, std::uint16_t target,
                                  nat::Time now) noexcept {
  std::uint8_t* frame = batch_frames_[i];
  const auto len = static_cast<std::uint32_t>(kEth + v.len);
  const vnet::ForwardTarget& t = enforcer_->target(target);
  io::Port* port = in_.get();
  CapturePoint tx = CapturePoint::inside_tx;
  std::optional<net::MacAddress> mac;
  switch (t.via) {
    case vnet::ForwardTarget::Via::inside_destination:
      mac = inside_mac(net::Ipv4{net::get_be32(frame + kEth + 16)}, now);
      break;
    case vnet::ForwardTarget::Via::inside_address:
      mac = on_link_mac(t.address, now);
      break;
    case vnet::ForwardTarget::Via::outside_next_hop:
      mac = next_hop_mac(now);
      port = out_.get();
      tx = CapturePoint::outside_tx;
      break;
  }
  if (!mac) {
    drop_no_neighbor(i, now, CapturePoint::inside_rx, tx);
    return;
  }
  mac->write(frame);
  port->mac().write(frame + 6);
  const auto type = static_cast<std::size_t>(t.type);
  ++stats_.forwarded_packets[type];
  stats_.forwarded_bytes[type] += v.len;
  if (capture_ != nullptr) tap(i, now, CapturePoint::inside_rx, tx, v, frame, len);
  transmit(*port, frame, len, batch_offload_[i]);
}

void Worker::drop_no_neighbor(std::size_t i, nat::Time now, CapturePoint from,
                              CapturePoint to) noexcept {
  ++stats_.drops[static_cast<std::size_t>(nat::DropReason::no_neighbor)];
  if (capture_ != nullptr) {
    tap(i, now, from, to, {nat::Action::drop, nat::DropReason::no_neighbor, 0}, nullptr, 0);
  }
}

void Worker::process_inside(std::span<io::Frame> frames, nat::Time now) noexcept {
  const net::MacAddress my_mac = in_->mac();
  std::size_t n = 0;
  for (io::Frame& f : frames) {
    ++stats_.frames_in;
    if (f.len < kEth) continue;
    const std::uint16_t type = ether_type(f.data);
    if (type == net::kEtherTypeArp) {
      const std::size_t len = nb_in_.on_arp({f.data, f.len}, now, scratch_);
      if (len > 0) transmit(*in_, scratch_.data(), static_cast<std::uint32_t>(len));
      continue;
    }
    if (type != net::kEtherTypeIpv4 || net::MacAddress::from(f.data) != my_mac ||
        f.len < kEth + net::kIpv4MinHeader ||
        is_local(cfg_.inside_addresses, net::Ipv4{net::get_be32(f.data + kEth + 16)})) {
      ++stats_.not_for_gateway;  // the kernel's business
      continue;
    }
    std::uint8_t* ip = f.data + kEth;
    const net::Ipv4 src{net::get_be32(ip + 12)};
    bool on_link = !cfg_.inside_next_hop.has_value();
    if (on_link) {
      on_link = false;
      for (const auto& s : engine_.config().subnets) on_link |= s.contains(src);
    }
    if (on_link) nb_in_.learn_from_ipv4(src, net::MacAddress::from(f.data + 6), now, Learn::create);
    // The FTP ALG may grow a PORT/EPRT command's packet, up to an IP length of 1,500 bytes: such
    // a frame is translated and sent from a copy with room after it. A longer frame (a
    // super-frame) is never grown, so it stays where it is, as does everything else.
    if (!ftp_staging_.empty() && f.len <= kFtpCopyMax &&
        to_ftp_control(ip, f.len - static_cast<std::uint32_t>(kEth))) {
      std::uint8_t* copy = ftp_staging_.data() + n * kFtpSlot;
      std::memcpy(copy, f.data, f.len);
      f.data = copy;
      ip = copy + kEth;
      ++stats_.ftp_copied;
    }
    batch_[n] = nat::Packet{
        ip, f.len - static_cast<std::uint32_t>(kEth), {}, prepare_offload(f, ip, *out_),
        f.offload.gso() ? f.offload.gso_size : std::uint16_t{0}};
    batch_offload_[n] = f.offload;
    batch_frames_[n] = f.data;
    batch_lens_[n] = f.len;
    ++n;
  }
  if (n == 0) return;
  if (capture_ != nullptr) tap_received(n);
  if (enforcer_) enforcer_->clear_passed();
  engine_.translate_batch({batch_.data(), n}, nat::Direction::out, now);
  // Packets the network model passed untranslated, in batch order (usually none).
  const std::span<const vnet::Enforcer::Passed> passed =
      enforcer_ ? enforcer_->passed() : std::span<const vnet::Enforcer::Passed>{};
  std::size_t next_passed = 0;
  std::optional<net::MacAddress> nh;
  bool resolved = false;
  for (std::size_t i = 0; i < n; ++i) {
    const nat::Verdict& v = batch_[i].verdict;
    std::uint8_t* frame = batch_frames_[i];
    const auto len = static_cast<std::uint32_t>(kEth + v.len);
    if (next_passed < passed.size() && passed[next_passed].ip == batch_[i].data &&
        v.action == nat::Action::forward) {
      forward_untranslated(i, v, passed[next_passed++].tag, now);
    } else if (v.action == nat::Action::forward) {
      if (!resolved) {
        nh = next_hop_mac(now);
        resolved = true;
      }
      if (!nh) {
        drop_no_neighbor(i, now, CapturePoint::inside_rx, CapturePoint::outside_tx);
        continue;
      }
      nh->write(frame);
      out_->mac().write(frame + 6);
      if (capture_ != nullptr) tap(i, now, CapturePoint::inside_rx, CapturePoint::outside_tx, v, frame, len);
      transmit(*out_, frame, len, batch_offload_[i], /*borrowed=*/true);
    } else if (v.action == nat::Action::reply) {
      std::copy(frame + 6, frame + 12, frame);  // back to the sender
      my_mac.write(frame + 6);
      if (capture_ != nullptr) tap(i, now, CapturePoint::inside_rx, CapturePoint::inside_tx, v, frame, len);
      transmit(*in_, frame, len);
    } else if (v.action == nat::Action::hairpin) {
      // Translated out and back in (hairpinning): to the inside host that holds the public
      // IP:port it was sent to, never to the next hop.
      const auto mac = inside_mac(net::Ipv4{net::get_be32(frame + kEth + 16)}, now);
      if (!mac) {
        drop_no_neighbor(i, now, CapturePoint::inside_rx, CapturePoint::inside_tx);
        continue;
      }
      mac->write(frame);
      my_mac.write(frame + 6);
      if (capture_ != nullptr)
        tap(i, now, CapturePoint::inside_rx, CapturePoint::inside_tx, v, frame, len);
      // As it came in: a partial checksum (or a super-frame) stays for the kernel to finish.
      transmit(*in_, frame, len, batch_offload_[i], /*borrowed=*/true);
    } else if (capture_ != nullptr) {
      tap(i, now, CapturePoint::inside_rx, CapturePoint::outside_tx, v, nullptr, 0);
    }
  }
}

void Worker::process_outside(std::span<io::Frame> frames, nat::Time now) noexcept {
  const net::MacAddress my_mac = out_->mac();
  const auto pubs = engine_.public_ips();
  std::size_t n = 0;
  for (io::Frame& f : frames) {
    ++stats_.frames_in;
    if (f.len < kEth) continue;
    const std::uint16_t type = ether_type(f.data);
    if (type == net::kEtherTypeArp) {
      const std::size_t len = nb_out_.on_arp({f.data, f.len}, now, scratch_);
      if (len > 0) transmit(*out_, scratch_.data(), static_cast<std::uint32_t>(len));
      continue;
    }
    bool ours = type == net::kEtherTypeIpv4 && net::MacAddress::from(f.data) == my_mac &&
                f.len >= kEth + net::kIpv4MinHeader;
    if (ours) {
      const net::Ipv4 dst{net::get_be32(f.data + kEth + 16)};
      ours = std::any_of(pubs.begin(), pubs.end(), [&](const nat::PublicIp& p) { return p.addr == dst; });
    }
    if (!ours) {
      ++stats_.not_for_gateway;
      continue;
    }
    std::uint8_t* ip = f.data + kEth;
    batch_[n] =
        nat::Packet{ip, f.len - static_cast<std::uint32_t>(kEth), {}, prepare_offload(f, ip, *in_),
                    f.offload.gso() ? f.offload.gso_size : std::uint16_t{0}};
    batch_offload_[n] = f.offload;
    batch_frames_[n] = f.data;
    batch_lens_[n] = f.len;
    ++n;
  }
  if (n == 0) return;
  if (capture_ != nullptr) tap_received(n);
  engine_.translate_batch({batch_.data(), n}, nat::Direction::in, now);
  for (std::size_t i = 0; i < n; ++i) {
    const nat::Verdict& v = batch_[i].verdict;
    std::uint8_t* frame = batch_frames_[i];
    const auto len = static_cast<std::uint32_t>(kEth + v.len);
    if (v.action == nat::Action::forward) {
      const net::Ipv4 dst{net::get_be32(frame + kEth + 16)};
      if (dst == probe_src_) {  // the network's answer to one of our probes
        ++stats_.probe_replies;
        continue;
      }
      const auto mac = inside_mac(dst, now);
      if (!mac) {
        drop_no_neighbor(i, now, CapturePoint::outside_rx, CapturePoint::inside_tx);
        continue;
      }
      mac->write(frame);
      in_->mac().write(frame + 6);
      if (capture_ != nullptr) tap(i, now, CapturePoint::outside_rx, CapturePoint::inside_tx, v, frame, len);
      transmit(*in_, frame, len, batch_offload_[i], /*borrowed=*/true);
    } else if (v.action == nat::Action::reply) {
      std::copy(frame + 6, frame + 12, frame);
      my_mac.write(frame + 6);
      if (capture_ != nullptr) tap(i, now, CapturePoint::outside_rx, CapturePoint::outside_tx, v, frame, len);
      transmit(*out_, frame, len);
    } else if (capture_ != nullptr) {
      tap(i, now, CapturePoint::outside_rx, CapturePoint::inside_tx, v, nullptr, 0);
    }
  }
}

void Worker::tap_received(std::size_t n) noexcept {
  const std::uint32_t snap = capture_->snaplen();
  for (std::size_t i = 0; i < n; ++i) {
    std::memcpy(capture_->scratch(i), batch_frames_[i], std::min(batch_lens_[i], snap));
  }
}

void Worker::tap(std::size_t i, nat::Time now, CapturePoint rx, CapturePoint tx, const nat::Verdict& outcome,
                 const std::uint8_t* sent, std::uint32_t sent_len) noexcept {
  const std::uint8_t* before = capture_->scratch(i);
  const std::uint32_t before_len = std::min(batch_lens_[i], capture_->snaplen());
  if (!capture_->matches(before, before_len) && (sent == nullptr || !capture_->matches(sent, sent_len))) return;
  const std::uint64_t seq = capture_->next_seq();
  capture_->push(seq, now, rx, outcome, before, batch_lens_[i]);
  if (sent != nullptr) capture_->push(seq, now, tx, outcome, sent, sent_len);
}

// An availability probe: a UDP datagram from the probe source to the next hop's traceroute
// port, through the same engine and transmit path as any packet from the inside. It succeeds
// when the engine forwards it and the outside port takes it. Probes share one 5-tuple, so they
// hold one connection (a new one after each idle expiry), not one per probe.
void Worker::send_probe(nat::Time now) noexcept {
  ++stats_.probes_sent;
  std::uint8_t* f = scratch_.data();
  constexpr std::size_t kIp = 20, kUdp = 8, kPayload = 8;
  constexpr std::size_t kLen = kEth + kIp + kUdp + kPayload;
  std::fill(f, f + kLen, 0);
  in_->mac().write(f);
  in_->mac().write(f + 6);
  net::put_be16(f + 12, net::kEtherTypeIpv4);
  std::uint8_t* ip = f + kEth;
  ip[0] = 0x45;
  net::put_be16(ip + 2, kIp + kUdp + kPayload);
  net::put_be16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = static_cast<std::uint8_t>(net::Proto::udp);
  net::put_be32(ip + 12, probe_src_.value());
  net::put_be32(ip + 16, cfg_.next_hop.value());
  net::store16(ip + 10, net::checksum(ip, kIp));
  std::uint8_t* udp = ip + kIp;
  net::put_be16(udp, kProbeSourcePort);
  net::put_be16(udp + 2, kProbePort);
  net::put_be16(udp + 4, kUdp + kPayload);
  std::copy_n("natgwprb", kPayload, udp + kUdp);
  net::store16(udp + 6, net::transport_checksum(ip));

  nat::Packet p{ip, kIp + kUdp + kPayload, {}};
  // Probes measure the datapath, not the customer's network: routes and security rules do not
  // apply to them (as the platform's own probes are not subject to a subnet's rules).
  nat::AdmissionPolicy* policy = engine_.admission();
  engine_.set_admission(nullptr);
  engine_.translate_batch({&p, 1}, nat::Direction::out, now);
  engine_.set_admission(policy);
  if (p.verdict.action != nat::Action::forward) return;
  const auto nh = next_hop_mac(now);
  if (!nh) return;
  nh->write(f);
  out_->mac().write(f + 6);
  const io::Frame fr{f, static_cast<std::uint32_t>(kEth + p.verdict.len), false};
  if (out_->tx_burst({&fr, 1}) == 1) ++stats_.probes_ok;
}

void Worker::announce(nat::Time now) noexcept {
  for (const auto& p : engine_.public_ips()) {
    if (!cfg_.primary) break;
    if (!p.accepting) continue;
    const std::size_t len = nb_out_.announce(p.addr, scratch_);
    if (len > 0) transmit(*out_, scratch_.data(), static_cast<std::uint32_t>(len));
  }
  (void)next_hop_mac(now);
  out_->tx_flush();
}

std::string Worker::reconfigure(const nat::EngineConfig& next) {
  std::string err = engine_.reconfigure(next);
  if (err.empty() && cfg_.primary) nb_out_.set_answer_for(next.public_ips);
  return err;
}

std::string Worker::reconfigure(const nat::EngineConfig& next,
                                std::shared_ptr<const vnet::Network> network) {
  std::string err = reconfigure(next);
  if (err.empty()) install_network(std::move(network));
  return err;
}

void Worker::housekeeping(nat::Time now) noexcept {
  if (now - last_advance_ >= kAdvanceEvery) {
    engine_.advance(now);
    last_advance_ = now;
  }
  if (now - last_expire_ >= kExpireEvery) {
    nb_in_.expire(now);
    nb_out_.expire(now);
    last_expire_ = now;
  }
}

void Worker::learn_from_taps(nat::Time now) noexcept {
  for (auto [tap, nb] : {std::pair{tap_in_.get(), &nb_in_}, std::pair{tap_out_.get(), &nb_out_}}) {
    if (tap == nullptr) continue;
    const std::size_t n = tap->rx_burst(rx_);
    for (std::size_t i = 0; i < n; ++i) {
      if (rx_[i].len >= kEth && ether_type(rx_[i].data) == net::kEtherTypeArp) {
        (void)nb->on_arp({rx_[i].data, rx_[i].len}, now, scratch_);  // learn; the primary answers
      }
    }
    tap->rx_done();
  }
}

void Worker::run_calls() noexcept {
  if (!call_pending_.load(std::memory_order_acquire)) return;
  std::lock_guard lk(call_mu_);
  if (call_fn_ != nullptr) {
    try {
      (*call_fn_)(*this);
    } catch (...) {
      // A control-plane request must never take the datapath down; the caller sees no result.
    }
  }
  call_fn_ = nullptr;
  call_done_ = true;
  call_pending_.store(false, std::memory_order_release);
  call_cv_.notify_all();
}

bool Worker::call(const std::function<void(Worker&)>& fn, std::chrono::milliseconds timeout) {
  static std::mutex serial;  // one call in flight at a time
  std::lock_guard one(serial);
  std::unique_lock lk(call_mu_);
  call_fn_ = &fn;
  call_done_ = false;
  call_pending_.store(true, std::memory_order_release);
  if (!call_cv_.wait_for(lk, timeout, [&] { return call_done_; })) {
    call_fn_ = nullptr;
    call_pending_.store(false, std::memory_order_release);
    return false;
  }
  return true;
}

// Received frames are transmitted borrowed (no copy): both ports are flushed before the rx
// port's rx_done() gives their memory back.
std::size_t Worker::poll_once(nat::Time now) noexcept {
  ++stats_.loops;
  const std::size_t a = in_->rx_burst(rx_);
  if (a > 0) process_inside({rx_.data(), a}, now);
  out_->tx_flush();
  in_->tx_flush();
  in_->rx_done();
  const std::size_t b = out_->rx_burst(rx_);
  if (b > 0) process_outside({rx_.data(), b}, now);
  in_->tx_flush();
  out_->tx_flush();
  out_->rx_done();
  if (probe_requested_.exchange(false, std::memory_order_relaxed)) {
    send_probe(now);
    out_->tx_flush();
  }
  learn_from_taps(now);
  housekeeping(now);
  run_calls();
  return a + b;
}

void Worker::run() {
  pollfd fds[2] = {{in_->fd(), POLLIN, 0}, {out_->fd(), POLLIN, 0}};
  const bool can_poll = fds[0].fd >= 0 && fds[1].fd >= 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (poll_once(monotonic_now()) == 0 && can_poll) {
      // Idle: sleep until a frame arrives, but wake for timers, probes and calls.
      (void)::poll(fds, 2, 5);
    }
  }
}

}  // namespace natgw::datapath
