// The FTP ALG (EngineConfig::ftp_alg): active FTP through the NAT, as Linux's nf_nat_ftp does
// it. On an outbound control connection to port 21, a PORT or EPRT command that names the inside
// host is rewritten to the public IP and a public port chosen for the server; the length change
// is carried by per-connection sequence offsets (segments from the inside shifted, the server's
// acknowledgements shifted back); SACK-permitted is removed from the control connection's SYN
// and SYN+ACK, so that no SACK block ever needs the offsets. The server's data connection to the
// public port is let in once, within ftp_data_timeout. Runs on the packet path: no allocation,
// fixed tables allocated at construction.
#include "nat/ftp_alg.hpp"

#include <array>
#include <cstring>
#include <optional>

#include "nat/map_rec.hpp"
#include "net/checksum.hpp"

namespace natgw::nat {
namespace {

constexpr std::size_t kProbe = 16;  // linear probing in the control-connection table

bool after(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) > 0;
}

char lower(std::uint8_t c) noexcept {
  return static_cast<char>(c | 0x20);
}

bool is_command(const std::uint8_t* p, const char* name) noexcept {
  for (int i = 0; i < 4; ++i) {
    if (lower(p[i]) != name[i]) return false;
  }
  return p[4] == ' ';
}

// Decimal 0..max at p (1..5 digits); advances p.
bool number(const std::uint8_t*& p, const std::uint8_t* end, std::uint32_t max,
            std::uint32_t& out) noexcept {
  std::uint32_t v = 0;
  int digits = 0;
  while (p < end && *p >= '0' && *p <= '9' && digits < 6) {
    v = v * 10 + static_cast<std::uint32_t>(*p - '0');
    ++p;
    ++digits;
  }
  out = v;
  return digits > 0 && digits <= 5 && v <= max;
}

// Writes the decimal text of v at out; returns the end.
char* decimal(char* out, std::uint32_t v) noexcept {
  char tmp[10];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *out++ = tmp[--n];
  return out;
}

// PORT h1,h2,h3,h4,p1,p2 (the arguments from `p` to `end`, which is the CR or LF).
bool parse_port(const std::uint8_t* p, const std::uint8_t* end, std::uint32_t& addr,
                std::uint16_t& port) noexcept {
  std::array<std::uint32_t, 6> n{};
  for (std::size_t i = 0; i < 6; ++i) {
    if (!number(p, end, 255, n[i])) return false;
    if (i < 5 && (p >= end || *p++ != ',')) return false;
  }
  if (p != end) return false;
  addr = (n[0] << 24) | (n[1] << 16) | (n[2] << 8) | n[3];
  port = static_cast<std::uint16_t>((n[4] << 8) | n[5]);
  return true;
}

// EPRT |1|a.b.c.d|port| with any delimiter (RFC 2428); IPv4 only.
bool parse_eprt(const std::uint8_t* p, const std::uint8_t* end, std::uint32_t& addr,
                std::uint16_t& port) noexcept {
  if (end - p < 10) return false;
  const std::uint8_t d = *p++;
  if (d < 33 || d > 126 || (d >= '0' && d <= '9') || d == '.') return false;
  if (*p++ != '1' || *p++ != d) return false;
  addr = 0;
  for (int i = 0; i < 4; ++i) {
    std::uint32_t b = 0;
    if (!number(p, end, 255, b)) return false;
    addr = (addr << 8) | b;
    if (p >= end || *p++ != (i < 3 ? '.' : d)) return false;
  }
  std::uint32_t v = 0;
  if (!number(p, end, 65535, v) || v == 0 || p >= end || *p++ != d || p != end) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

// Replaces SACK-permitted options by NOPs; true if one was there.
bool strip_sack_permitted(std::uint8_t* tcp, std::size_t doff) noexcept {
  bool changed = false;
  for (std::size_t i = 20; i < doff;) {
    const std::uint8_t kind = tcp[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= doff || tcp[i + 1] < 2 || i + tcp[i + 1] > doff) break;
    if (kind == 4 && tcp[i + 1] == 2) {
      tcp[i] = tcp[i + 1] = 1;
      changed = true;
    }
    i += tcp[i + 1];
  }
  return changed;
}

// The TCP checksum after a rewrite. A partial one (offloaded; PacketView::csum_partial) stays
// partial: the pseudo-header sum for the new length, the rest summed when the packet is sent
// (by the kernel or the NIC, segment by segment for a super-frame).
void tcp_checksum(net::PacketView& v) noexcept {
  std::uint8_t* tcp = v.l4();
  const std::uint16_t len = v.l4_len();
  std::array<std::uint8_t, 12> pseudo{};
  std::memcpy(pseudo.data(), v.ip + 12, 8);
  pseudo[9] = 6;
  net::put_be16(pseudo.data() + 10, len);
  const std::uint64_t sum = net::csum_partial(pseudo.data(), pseudo.size());
  if (v.csum_partial) {
    net::store16(tcp + 16, net::csum_fold(sum));
    return;
  }
  tcp[16] = tcp[17] = 0;
  net::store16(tcp + 16, net::checksum(tcp, len, sum));
}

}  // namespace

Engine::FtpSeq* Engine::ftp_seq(SlotIndex s, bool create) noexcept {
  const Flow& f = slots_[s];
  const auto same = [&](const FtpSeq& e, const Flow& g) {
    return e.inside_addr == g.inside_addr && e.inside_port == g.inside_port &&
           e.dst_addr == g.dst_addr && e.public_port == g.public_port;
  };
  const std::size_t mask = kFtpControlConnections - 1;
  for (std::size_t i = 0; i < kProbe; ++i) {
    FtpSeq& e = ftp_seq_[(s + i) & mask];
    if (e.slot == s && same(e, f)) return &e;
  }
  if (!create) return nullptr;
  for (std::size_t i = 0; i < kProbe; ++i) {
    FtpSeq& e = ftp_seq_[(s + i) & mask];
    // Free, or left by a connection whose slot has since been freed or reused.
    if (e.slot == kNoSlot || slots_[e.slot].state() == FlowState::free ||
        !same(e, slots_[e.slot])) {
      e = FtpSeq{s, f.inside_addr, f.dst_addr, f.inside_port, f.public_port, 0, 0, 0};
      return &e;
    }
  }
  return nullptr;
}

// Rewrites a PORT/EPRT command that names the inside host (the packet is already translated);
// true if it did. Sets up the sequence offset and the expected data connection.
bool Engine::ftp_rewrite(net::PacketView& v, SlotIndex s) noexcept {
  std::uint8_t* tcp = v.l4();
  const std::size_t doff = static_cast<std::size_t>(tcp[12] >> 4) * 4;
  std::uint8_t* payload = tcp + doff;
  const std::size_t plen = v.l4_len() - doff;
  if (plen < 6) return false;
  const bool port_cmd = is_command(payload, "port");
  if (!port_cmd && !is_command(payload, "eprt")) return false;
  const std::uint8_t* end = static_cast<const std::uint8_t*>(std::memchr(payload, '\n', plen));
  if (end == nullptr) {
    ++ftp_stats_.not_rewritten;  // the command does not end in this segment
    return false;
  }
  if (end > payload + 5 && end[-1] == '\r') --end;
  const std::uint8_t* args = payload + 5;
  std::uint32_t addr = 0;
  std::uint16_t port = 0;
  if (!(port_cmd ? parse_port(args, end, addr, port) : parse_eprt(args, end, addr, port))) {
    ++ftp_stats_.not_rewritten;
    return false;
  }
  Flow& f = slots_[s];
  if (addr != f.inside_addr || port == 0) {
    ++ftp_stats_.not_rewritten;  // a third party's address: not ours to translate
    return false;
  }
  FtpSeq* seq = ftp_seq(s, true);
  if (seq == nullptr) {
    ++ftp_stats_.not_rewritten;
    return false;
  }
  // The public port: free for the server's port 20, and not awaited by another expectation.
  // With endpoint-independent mapping, the named endpoint's mapping's port (on this public IP),
  // else one no mapping holds.
  std::uint16_t pub_port = 0;
  const MapRec* mapped = eim(L4::tcp) ? map_find_in(L4::tcp, addr, port) : nullptr;
  if (mapped != nullptr && mapped->public_idx == f.public_idx) pub_port = mapped->public_port;
  for (int tries = 0; tries < 4 && pub_port == 0 && mapped == nullptr; ++tries) {
    if (dest_load(f.public_idx, f.dst_addr, 20, L4::tcp).second >= port_range_) break;
    pub_port = pick_port(f.public_idx, f.dst_addr, 20, L4::tcp);
    if (eim(L4::tcp) && pub_port != 0 && map_find_out(L4::tcp, f.public_idx, pub_port) != nullptr) {
      pub_port = 0;
    }
    for (std::size_t i = 0; i < kFtpExpectations && pub_port != 0; ++i) {
      const FtpExpect& x = ftp_expect_[i];
      if (x.used && x.public_idx == f.public_idx && x.public_port == pub_port &&
          !after(now32_, x.expires))
        pub_port = 0;
    }
  }
  if (pub_port == 0) {
    ++ftp_stats_.not_rewritten;
    return false;
  }
  // The new arguments.
  std::array<char, 48> text{};
  char* w = text.data();
  const std::uint32_t pub = pubs_[f.public_idx].addr.value();
  if (port_cmd) {
    for (int i = 3; i >= 0; --i) {
      w = decimal(w, (pub >> (8 * i)) & 0xFF);
      *w++ = ',';
    }
    w = decimal(w, pub_port >> 8);
    *w++ = ',';
    w = decimal(w, pub_port & 0xFF);
  } else {
    const char d = static_cast<char>(args[0]);
    *w++ = d;
    *w++ = '1';
    *w++ = d;
    for (int i = 3; i >= 0; --i) {
      w = decimal(w, (pub >> (8 * i)) & 0xFF);
      *w++ = i > 0 ? '.' : d;
    }
    w = decimal(w, pub_port);
    *w++ = d;
  }
  const auto new_len = static_cast<std::size_t>(w - text.data());
  const auto old_len = static_cast<std::size_t>(end - args);
  const auto delta = static_cast<std::int32_t>(new_len) - static_cast<std::int32_t>(old_len);
  if (delta > static_cast<std::int32_t>(kFtpAlgGrowth) || v.total_len + delta > 1500) {
    ++ftp_stats_.not_rewritten;
    return false;
  }
  // Move what follows the arguments (CRLF, pipelined commands), then write them.
  std::uint8_t* a = payload + 5;
  const std::size_t tail = plen - 5 - old_len;
  std::memmove(a + new_len, a + old_len, tail);
  std::memcpy(a, text.data(), new_len);
  v.total_len = static_cast<std::uint16_t>(v.total_len + delta);
  net::put_be16(v.ip + 2, v.total_len);
  v.ip[10] = v.ip[11] = 0;
  net::store16(v.ip + 10, net::checksum(v.ip, v.ihl));
  // nf_ct_seqadj_set: a new correction point unless this segment is a retransmission of the
  // one already corrected.
  const std::uint32_t seg_seq = net::get_be32(tcp + 4);
  if (delta != 0) {
    if (seq->offset_before == seq->offset_after || after(seg_seq, seq->correction_pos)) {
      seq->correction_pos = seg_seq;
      seq->offset_before = seq->offset_after;
      seq->offset_after += delta;
    }
  }
  // The data connection: the first pending slot that is free or expired, else the oldest.
  FtpExpect* slot = nullptr;
  for (std::size_t i = 0; i < kFtpExpectations && slot == nullptr; ++i) {
    FtpExpect& x = ftp_expect_[i];
    if (!x.used || after(now32_, x.expires)) slot = &x;
  }
  if (slot == nullptr) {
    slot = &ftp_expect_[0];
    for (std::size_t i = 1; i < kFtpExpectations; ++i) {
      if (after(slot->expires, ftp_expect_[i].expires)) slot = &ftp_expect_[i];
    }
    ++ftp_stats_.expectations_lost;
  }
  *slot = FtpExpect{f.dst_addr,   f.inside_addr, now32_ + ftp_timeout_ms_, port, pub_port,
                    f.public_idx, true};
  ++ftp_stats_.rewritten;
  return true;
}

Verdict Engine::ftp_out(net::PacketView& v, SlotIndex s, Verdict r) noexcept {
  if (r.action != Action::forward || s == kNoSlot) return r;
  std::uint8_t* tcp = v.l4();
  const std::size_t doff = static_cast<std::size_t>(tcp[12] >> 4) * 4;
  if (doff < 20 || doff > v.l4_len()) return r;
  bool changed = false;
  if (v.tcp_flags & net::kTcpSyn) {
    // A new control connection: no offsets yet (a stale entry of this slot is reset).
    if (FtpSeq* e = ftp_seq(s, false)) e->offset_before = e->offset_after = 0;
    changed |= strip_sack_permitted(tcp, doff);
  }
  const std::uint16_t before = v.total_len;
  changed |= ftp_rewrite(v, s);
  if (const FtpSeq* e = ftp_seq(s, false); e != nullptr && e->offset_after != 0) {
    const std::uint32_t seg_seq = net::get_be32(tcp + 4);
    const std::int32_t off = after(seg_seq, e->correction_pos) ? e->offset_after : e->offset_before;
    if (off != 0) {
      net::put_be32(tcp + 4, seg_seq + static_cast<std::uint32_t>(off));
      changed = true;
    }
  }
  if (changed) tcp_checksum(v);
  if (v.total_len != before) {
    // forward_out counted the length before the rewrite (modulo 2^64 when it shrank).
    const auto diff = static_cast<std::uint64_t>(std::int64_t{v.total_len} - std::int64_t{before});
    counters_.bytes[static_cast<std::size_t>(L4::tcp)][0] += diff;
    if (flow_stats_) flow_stats_[s].bytes[0] += diff;
    r.len = v.total_len;
  }
  return r;
}

void Engine::ftp_in(net::PacketView& v, SlotIndex s) noexcept {
  std::uint8_t* tcp = v.l4();
  const std::size_t doff = static_cast<std::size_t>(tcp[12] >> 4) * 4;
  if (doff < 20 || doff > v.l4_len()) return;
  bool changed = false;
  if ((v.tcp_flags & net::kTcpSyn) != 0) changed |= strip_sack_permitted(tcp, doff);
  if ((v.tcp_flags & net::kTcpAck) != 0) {
    if (const FtpSeq* e = ftp_seq(s, false); e != nullptr && e->offset_after != 0) {
      const std::uint32_t ack = net::get_be32(tcp + 8);
      const std::int32_t off =
          after(ack - static_cast<std::uint32_t>(e->offset_before), e->correction_pos)
              ? e->offset_after
              : e->offset_before;
      if (off != 0) {
        net::put_be32(tcp + 8, ack - static_cast<std::uint32_t>(off));
        changed = true;
      }
    }
  }
  if (changed) tcp_checksum(v);
}

// A SYN from the outside that matches no flow: the data connection of a PORT/EPRT, or not.
std::optional<Verdict> Engine::ftp_expected(net::PacketView& v, std::size_t idx) noexcept {
  FtpExpect* x = nullptr;
  for (std::size_t i = 0; i < kFtpExpectations && x == nullptr; ++i) {
    FtpExpect& e = ftp_expect_[i];
    if (e.used && e.public_idx == idx && e.public_port == v.dport && e.server == v.src.value() &&
        !after(now32_, e.expires)) {
      x = &e;
    }
  }
  if (x == nullptr) return std::nullopt;
  auto& c = counters_.connections[static_cast<std::size_t>(L4::tcp)];
  ++c[static_cast<std::size_t>(ConnState::attempted)];
  const bool taken =
      find_in(hash_in(x->inside_addr, x->inside_port, v.src.value(), v.sport, L4::tcp),
              x->inside_addr, x->inside_port, v.src.value(), v.sport, L4::tcp) != kNoSlot;
  // Endpoint-independent mapping: the data connection belongs to the inside endpoint's mapping
  // (its public port is the mapping's, or was free of mappings when the command was rewritten),
  // made now when the endpoint has none.
  MapRec* m = eim(L4::tcp) ? map_find_in(L4::tcp, x->inside_addr, x->inside_port) : nullptr;
  DropReason why = DropReason::unsolicited_inbound;
  if (live_total_ >= config_.limits.max_connections ||
      dest_load(idx, v.src.value(), v.sport, L4::tcp).first >= config_.limits.per_destination) {
    why = DropReason::connection_limit;
  } else if (slots_in_use_ >= capacity_) {
    why = DropReason::flow_table_full;
  } else if (taken) {
    // The inside 5-tuple is in use: not this connection (unsolicited_inbound).
  } else if (m != nullptr && (m->public_idx != idx || m->public_port != v.dport)) {
    // The endpoint was mapped to another public IP:port meanwhile (unsolicited_inbound).
  } else if (eim(L4::tcp) && m == nullptr && map_find_out(L4::tcp, idx, v.dport) != nullptr) {
    // Another endpoint's mapping took the port meanwhile (unsolicited_inbound).
  } else if (eim(L4::tcp) && m == nullptr && hosts_ && !host_take(L4::tcp, x->inside_addr, true)) {
    why = DropReason::out_of_resources;
  } else {
    if (eim(L4::tcp) && m == nullptr)
      m = map_add(L4::tcp, x->inside_addr, x->inside_port, idx, v.dport);
    x->used = false;
    const SlotIndex s =
        install(x->inside_addr, x->inside_port, v.src.value(), v.sport, idx, v.dport, L4::tcp,
                FlowState::tcp_syn_sent);
    if (m != nullptr) {
      ++m->refs;
      ++m->live;
    }
    ++ftp_stats_.data_connections;
    if (flow_stats_) flow_opened(s, false);
    tcp_inbound(s, v.tcp_flags);
    return forward_in(v, slots_[s], L4::tcp);
  }
  ++c[static_cast<std::size_t>(ConnState::failed)];
  return drop(why);
}

}  // namespace natgw::nat
