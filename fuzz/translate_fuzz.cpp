// libFuzzer target: feeds sequences of packets, both directions, through one nat::Engine on a
// virtual clock, and checks every verdict against what the packet in and the packet out say.
//
// Input: records until the input ends (at most kMaxRecords).
//   byte 0  bit 0   direction: 0 out (inside to outside), 1 in
//           bit 1   fix the IPv4 header checksum before translating
//           bit 2   fix the transport checksum (TCP, UDP with a nonzero checksum, ICMP, and the
//                   header quoted by an ICMP error) before translating
//           bit 3   after an outbound forward: translate the forwarded packet inbound as it is,
//                   then the answer to it (addresses and ports swapped) inbound
//           bits 4-5  TCP flags of that answer: the forwarded ones, SYN|ACK, FIN|ACK, RST
//           bit 6   translate the packet twice in one batch (two copies)
//           bit 7   after an outbound TCP/UDP forward: a router's ICMP error about the
//                   forwarded packet, inbound
//           An inbound record with bit 3 or 7 set sends, instead of its packet, the answer or
//           the ICMP error to the last packet the engine forwarded outbound: late answers
//           reach flows that have since closed or expired.
//   byte 1  bits 0-3  clock step before this packet (kSteps); 0xFF: a jump of more than a day,
//                   which ends every flow (kept rare: it walks the whole timer wheel)
//           bits 4-5  transport bytes the ICMP error quotes: 8, 18, 20, all
//           bit 6   ICMP error type: destination unreachable (fragmentation needed) or time
//                   exceeded
//           bit 7   engine: 0 roomy limits, 1 tight limits (reached within one input)
//   bytes 2-3       packet length, big-endian (cut to the bytes left)
//   then            the packet, from its IPv4 header; translated in a buffer of exactly that
//                   size so that AddressSanitizer sees any read past it
//
// The two engines are static (built once), so flows, ports and the clock carry over from one
// input to the next. A crash may then depend on earlier inputs: set
// NATGW_FUZZ_FRESH_ENGINE=1 to build a new engine for every input when reproducing one, and
// NATGW_FUZZ_TRACE=1 to print every verdict, NATGW_FUZZ_STATS=1 to print the engine's counters
// at exit.
//
// Checks beyond memory safety (each aborts with the failed condition):
// - forward: the input parsed, its TTL was > 1; the output parses; the IPv4 checksum verifies;
//   transport and ICMP checksums (and the quoted header's) that verified still verify; a UDP
//   checksum of 0 stays 0; only the bytes the translation may change changed; outbound sources
//   are public IP:port in the configured range, inbound destinations are in the subnet; no
//   outbound TCP to port 25; an answer to a forwarded packet comes back to its inside endpoint.
// - reply: only for a TCP segment without RST; 40 bytes, RST set, addressed back to the sender,
//   checksums verify.
// - engine counters: live + hold-down == slots in use <= capacity; per-IP counts sum to totals.
// - after each input (and Engine::advance): the control-plane views (for_each_flow,
//   destinations) agree with the counters.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

#include "nat/engine.hpp"
#include "net/packet.hpp"
#include "net/types.hpp"
#include "support/packets.hpp"

namespace {

using natgw::nat::Action;
using natgw::nat::Direction;
using natgw::nat::Engine;
using natgw::nat::Verdict;
using natgw::net::Ipv4;
using natgw::net::PacketView;
using natgw::net::ParseResult;
using natgw::test::Bytes;
using natgw::test::rd16;
using natgw::test::rd32;
using natgw::test::ref_checksum;
using natgw::test::wr16;

constexpr Ipv4 kPublicA{203, 0, 113, 10};
constexpr Ipv4 kPublicB{203, 0, 113, 11};
constexpr Ipv4 kRouter{192, 0, 2, 1};
constexpr natgw::net::Prefix kSubnet{Ipv4{10, 0, 0, 0}, 24};
constexpr std::size_t kMaxRecords = 256;

// Clock steps in milliseconds: nothing, around the 16 ms timer tick, around the RST hold-down
// (16 s), half-open (30 s), FIN hold-down (65 s) and idle (240 s) timers, and past idle plus
// hold-down.
constexpr std::array<std::int64_t, 16> kSteps = {
    0, 0, 0, 1, 15, 16, 17, 1000, 15999, 16000, 30001, 65000, 65001, 240000, 240001, 480001};
constexpr std::uint8_t kDayJump = 0xFF;
constexpr std::int64_t kDayMs = 25ll * 3600 * 1000;

[[noreturn]] void fail(const char* what, int line) {
  std::fprintf(stderr, "translate_fuzz.cpp:%d: check failed: %s\n", line, what);
  std::abort();
}
#define FUZZ_CHECK(cond)                \
  do {                                  \
    if (!(cond)) fail(#cond, __LINE__); \
  } while (0)

// Roomy: 4,096 connections, 1,536 ports per IP. Tight: every limit within reach of one input
// (64 connections and 80 slots in all, 16 per destination per IP, 24 ports per IP).
natgw::nat::EngineConfig fuzz_config(bool tight) {
  natgw::nat::EngineConfig c;
  c.public_ips = {kPublicA, kPublicB};
  c.subnets = {kSubnet};
  c.limits.max_connections = tight ? 64 : 4096;
  c.limits.holddown_reserve = tight ? 16 : 0;
  c.limits.per_destination = tight ? 16 : 512;
  c.limits.port_min = tight ? 65512 : 64000;
  c.limits.port_max = 65535;
  c.seed = 42;
  return c;
}

struct Harness {
  Engine roomy{fuzz_config(false)};
  Engine tight{fuzz_config(true)};
  std::int64_t now_ms = 0;
  // The last outbound forward of each engine (roomy, tight): as sent and as forwarded.
  std::array<Bytes, 2> last_sent, last_forwarded;
};

bool is_public(Ipv4 a) {
  return a == kPublicA || a == kPublicB;
}

std::size_t header_len(const Bytes& p) {
  return std::size_t(p[0] & 0x0F) * 4;
}

// ---- checksum fix-ups the fuzzer cannot do itself (reference implementation) ----

void fix_ip_checksum_at(std::uint8_t* ip, std::size_t avail) {
  if (avail < 20 || (ip[0] >> 4) != 4) return;
  const std::size_t ihl = std::size_t(ip[0] & 0x0F) * 4;
  if (ihl < 20 || ihl > avail) return;
  wr16(ip + 10, 0);
  wr16(ip + 10, ref_checksum(ip, ihl));
}

void fix_transport_checksum(Bytes& p) {
  if (p.size() < 20 || (p[0] >> 4) != 4) return;
  const std::size_t ihl = header_len(p);
  const std::size_t total = rd16(&p[2]);
  if (ihl < 20 || total < ihl || total > p.size() || (rd16(&p[6]) & 0x3FFF) != 0) return;
  std::uint8_t* l4 = p.data() + ihl;
  const std::size_t len = total - ihl;
  const std::uint8_t proto = p[9];
  if (proto == 1 && len >= 8) {
    if (len >= 28) fix_ip_checksum_at(l4 + 8, len - 8);  // the quoted header, if any
    wr16(l4 + 2, 0);
    wr16(l4 + 2, ref_checksum(l4, len));
  } else if ((proto == 6 && len >= 20) || (proto == 17 && len >= 8)) {
    const std::size_t off = proto == 6 ? 16 : 6;
    if (proto == 17 && rd16(l4 + off) == 0) return;  // no checksum: keep it that way
    wr16(l4 + off, 0);
    const std::uint32_t sum = rd16(&p[12]) + rd16(&p[14]) + rd16(&p[16]) + rd16(&p[18]) + proto +
                              static_cast<std::uint32_t>(len);
    std::uint16_t c = ref_checksum(l4, len, sum);
    if (proto == 17 && c == 0) c = 0xFFFF;
    wr16(l4 + off, c);
  }
}

// ---- what the input packet was ----

struct Before {
  Bytes bytes;
  bool ok = false;
  PacketView v;              // `ip` points into `bytes`
  bool l4_ok = false;        // TCP/UDP/ICMP checksum verified
  bool udp_zero = false;     // UDP without checksum
  bool inner_ip_ok = false;  // ICMP error: quoted header checksum verified
};

void snapshot(const Bytes& p, Before& b) {
  b.bytes = p;
  b.ok = natgw::net::parse(b.bytes.data(), b.bytes.size(), b.v) == ParseResult::ok;
  if (!b.ok) return;
  const PacketView& v = b.v;
  if (!v.fragment && (v.is_tcp() || v.is_udp() || v.is_icmp())) {
    b.l4_ok = natgw::test::l4_checksum_ok(b.bytes.data());
    b.udp_zero = v.is_udp() && rd16(v.l4() + 6) == 0;
  }
  if (v.icmp_error) b.inner_ip_ok = ref_checksum(v.inner_ip(), v.inner_ihl) == 0;
}

void mark(std::vector<bool>& may, std::size_t off, std::size_t n) {
  for (std::size_t i = off; i < off + n && i < may.size(); ++i) may[i] = true;
}

// Only the bytes a translation rewrites may differ.
void check_changed_bytes(const Before& b, const Bytes& out, Direction dir) {
  const PacketView& v = b.v;
  std::vector<bool> may(out.size(), false);
  const bool outbound = dir == Direction::out;
  mark(may, 8, 1);   // TTL
  mark(may, 10, 2);  // header checksum
  mark(may, outbound ? 12 : 16, 4);
  const std::size_t l4 = v.ihl;
  if (v.icmp_error) {
    const std::size_t in = l4 + 8;
    const std::size_t in_l4 = in + v.inner_ihl;
    mark(may, l4 + 2, 2);   // ICMP checksum
    mark(may, in + 10, 2);  // quoted header checksum
    mark(may, in + (outbound ? 16 : 12), 4);
    mark(may, in_l4 + (outbound ? 2 : 0), 2);
    const std::size_t coff = v.inner_proto == 6 ? 16 : 6;
    if (v.inner_l4_len >= coff + 2) mark(may, in_l4 + coff, 2);
  } else {
    mark(may, l4 + (outbound ? 0 : 2), 2);
    mark(may, l4 + (v.is_tcp() ? 16 : 6), 2);
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!may[i] && out[i] != b.bytes[i]) {
      std::fprintf(stderr, "translate_fuzz: byte %zu changed from 0x%02x to 0x%02x\n", i,
                   b.bytes[i], out[i]);
      fail("only the bytes a translation rewrites change", __LINE__);
    }
  }
}

void check_forward(const Engine& e, const Before& b, Bytes& out, Direction dir,
                   const Verdict& verdict) {
  const std::uint16_t port_min = e.config().limits.port_min;
  FUZZ_CHECK(b.ok);
  const PacketView& in = b.v;
  FUZZ_CHECK(!in.fragment);
  FUZZ_CHECK(in.ttl > 1);
  FUZZ_CHECK(verdict.len == in.total_len);
  PacketView v;
  FUZZ_CHECK(natgw::net::parse(out.data(), out.size(), v) == ParseResult::ok);
  FUZZ_CHECK(v.total_len == in.total_len && v.proto == in.proto && v.ihl == in.ihl);
  FUZZ_CHECK(v.ttl == in.ttl - 1);
  FUZZ_CHECK(natgw::test::ip_checksum_ok(out.data()));
  check_changed_bytes(b, out, dir);
  if (in.is_tcp() || in.is_udp()) {
    if (b.l4_ok) FUZZ_CHECK(natgw::test::l4_checksum_ok(out.data()));
    if (in.is_udp()) FUZZ_CHECK((rd16(v.l4() + 6) == 0) == b.udp_zero);
    if (dir == Direction::out) {
      FUZZ_CHECK(kSubnet.contains(in.src));
      FUZZ_CHECK(is_public(v.src));
      FUZZ_CHECK(v.sport >= port_min);
      FUZZ_CHECK(v.dst == in.dst && v.dport == in.dport);
      FUZZ_CHECK(!(in.is_tcp() && in.dport == 25));
    } else {
      FUZZ_CHECK(is_public(in.dst));
      FUZZ_CHECK(kSubnet.contains(v.dst));
      FUZZ_CHECK(v.src == in.src && v.sport == in.sport);
    }
    return;
  }
  // Only TCP, UDP and ICMP errors about them are forwarded.
  FUZZ_CHECK(in.is_icmp() && in.icmp_error && v.icmp_error);
  if (b.l4_ok) FUZZ_CHECK(ref_checksum(v.l4(), v.l4_len()) == 0);
  if (b.inner_ip_ok) FUZZ_CHECK(ref_checksum(v.inner_ip(), v.inner_ihl) == 0);
  if (dir == Direction::out) {
    FUZZ_CHECK(kSubnet.contains(in.src) && in.inner_dst == in.src);
    FUZZ_CHECK(is_public(v.src) && v.inner_dst == v.src && v.inner_dport >= port_min);
  } else {
    FUZZ_CHECK(is_public(in.dst) && in.inner_src == in.dst);
    FUZZ_CHECK(kSubnet.contains(v.dst) && v.inner_src == v.dst);
  }
}

void check_reply(const Before& b, const Bytes& out, const Verdict& verdict) {
  FUZZ_CHECK(b.ok && b.v.is_tcp() && !b.v.fragment && !(b.v.tcp_flags & natgw::net::kTcpRst));
  FUZZ_CHECK(verdict.len == 40 && out.size() >= 40);
  Bytes rst(out.begin(), out.begin() + 40);
  PacketView v;
  FUZZ_CHECK(natgw::net::parse(rst.data(), rst.size(), v) == ParseResult::ok);
  FUZZ_CHECK(v.is_tcp() && (v.tcp_flags & natgw::net::kTcpRst));
  FUZZ_CHECK(v.src == b.v.dst && v.dst == b.v.src);
  FUZZ_CHECK(v.sport == b.v.dport && v.dport == b.v.sport);
  FUZZ_CHECK(natgw::test::l4_checksum_ok(rst.data()));
}

void check_engine(const Engine& e) {
  FUZZ_CHECK(e.slots_in_use() <= e.flow_capacity());
  const auto& c = e.counters();
  std::uint64_t total = 0;
  for (std::size_t p = 0; p < natgw::nat::kL4Count; ++p) {
    std::uint64_t live = 0, hold = 0;
    for (const auto& pub : e.public_ips()) {
      live += pub.live[p];
      hold += pub.holddown[p];
    }
    FUZZ_CHECK(live == c.active[p]);
    FUZZ_CHECK(hold == c.holddown[p]);
    total += c.active[p] + c.holddown[p];
  }
  FUZZ_CHECK(c.active[0] + c.active[1] <= e.config().limits.max_connections);
  FUZZ_CHECK(total == e.slots_in_use());
}

// The control-plane views agree with the counters.
void check_views(const Engine& e) {
  const auto& c = e.counters();
  const auto& lim = e.config().limits;
  std::size_t flows = 0;
  e.for_each_flow([&](const natgw::nat::FlowInfo& f) {
    ++flows;
    FUZZ_CHECK(f.state != natgw::nat::FlowState::free);
    FUZZ_CHECK(kSubnet.contains(f.inside.addr));
    FUZZ_CHECK(is_public(f.public_endpoint.addr));
    FUZZ_CHECK(f.public_endpoint.port >= lim.port_min);
  });
  FUZZ_CHECK(flows == e.slots_in_use());
  std::array<std::uint64_t, natgw::nat::kL4Count> live{}, hold{};
  for (const auto& d : e.destinations()) {
    const auto p = static_cast<std::size_t>(d.proto);
    FUZZ_CHECK(p < natgw::nat::kL4Count);
    FUZZ_CHECK(d.live <= lim.per_destination);
    live[p] += d.live;
    hold[p] += d.holddown;
  }
  for (std::size_t p = 0; p < natgw::nat::kL4Count; ++p) {
    FUZZ_CHECK(live[p] == c.active[p]);
    FUZZ_CHECK(hold[p] == c.holddown[p]);
  }
}

// NATGW_FUZZ_TRACE=1 prints every verdict (to see what a seed or a crashing input does).
bool trace() {
  static const bool on = std::getenv("NATGW_FUZZ_TRACE") != nullptr;
  return on;
}

// Translates `pkt` (and, with `twice`, a copy of it in the same batch) and checks the verdicts.
Verdict translate_checked(Harness& h, Engine& e, Bytes& pkt, Direction dir, bool twice = false) {
  Before b;
  snapshot(pkt, b);
  const auto now = std::chrono::milliseconds(h.now_ms);
  Bytes copy = pkt;
  std::array<natgw::nat::Packet, 2> batch = {
      natgw::nat::Packet{pkt.data(), static_cast<std::uint32_t>(pkt.size()), {}},
      natgw::nat::Packet{copy.data(), static_cast<std::uint32_t>(copy.size()), {}}};
  if (twice) {
    e.translate_batch(batch, dir, now);
  } else {
    batch[0].verdict = e.translate(pkt.data(), pkt.size(), dir, now);
  }
  for (std::size_t i = 0; i < (twice ? 2u : 1u); ++i) {
    Bytes& out = i == 0 ? pkt : copy;
    const Verdict& verdict = batch[i].verdict;
    if (trace()) {
      const auto reason = natgw::nat::name(verdict.reason);
      std::fprintf(stderr, "t=%lld ms %s %zu bytes: %s%s%.*s\n", static_cast<long long>(h.now_ms),
                   dir == Direction::out ? "out" : "in ", b.bytes.size(),
                   verdict.action == Action::forward ? "forward"
                   : verdict.action == Action::reply ? "reply"
                                                     : "drop",
                   verdict.action == Action::forward ? "" : " ",
                   verdict.action == Action::forward ? 0 : static_cast<int>(reason.size()),
                   reason.data());
    }
    switch (verdict.action) {
      case Action::forward:
        check_forward(e, b, out, dir, verdict);
        break;
      case Action::reply:
        check_reply(b, out, verdict);
        break;
      case Action::drop:
        break;
      case Action::hairpin:
        // Hairpinning is off in fuzz_config (azure's behaviour): the verdict is impossible.
        std::fprintf(stderr, "hairpin verdict with hairpinning off\n");
        std::abort();
    }
  }
  check_engine(e);
  return batch[0].verdict;
}

// The answer of the outside host to a forwarded TCP/UDP packet: addresses and ports swapped
// (which keeps every checksum valid), a fresh TTL, and the chosen TCP flags.
Bytes answer_to(const Bytes& fwd, unsigned flags_mode) {
  Bytes a = fwd;
  const std::size_t ihl = header_len(a);
  for (int i = 0; i < 4; ++i) std::swap(a[12 + i], a[16 + i]);
  for (int i = 0; i < 2; ++i) std::swap(a[ihl + i], a[ihl + 2 + i]);
  a[8] = 64;
  fix_ip_checksum_at(a.data(), a.size());
  if (a[9] == 6 && flags_mode != 0) {
    constexpr std::uint8_t kFlags[] = {0, natgw::net::kTcpSyn | natgw::net::kTcpAck,
                                       natgw::net::kTcpFin | natgw::net::kTcpAck,
                                       natgw::net::kTcpRst};
    const bool was_valid = natgw::test::l4_checksum_ok(a.data());
    a[ihl + 13] = kFlags[flags_mode];
    if (was_valid) fix_transport_checksum(a);
  }
  return a;
}

// A router's ICMP error about a forwarded packet, quoting its header and `quote` bytes of L4.
Bytes error_about(const Bytes& fwd, std::size_t quote, bool time_exceeded) {
  const std::size_t ihl = header_len(fwd);
  const std::size_t n = std::min(fwd.size(), ihl + quote);
  const Bytes quoted(fwd.begin(), fwd.begin() + static_cast<std::ptrdiff_t>(n));
  const Ipv4 to{rd32(&fwd[12])};
  return natgw::test::PacketBuilder()
      .ipv4(kRouter, to)
      .icmp(time_exceeded ? 11 : 3, time_exceeded ? 0 : 4, time_exceeded ? 0 : 1400)
      .payload(quoted)
      .build();
}

// `immediate`: at the time of the forward, so the flow that forwarded it is the one the answer
// finds; later, another inside endpoint may have the same public endpoint by then.
void answers_to(Harness& h, Engine& e, const Bytes& sent, const Bytes& fwd, std::uint8_t ctl0,
                std::uint8_t ctl1, bool immediate) {
  PacketView in;
  Bytes sent_copy = sent;
  if (natgw::net::parse(sent_copy.data(), sent_copy.size(), in) != ParseResult::ok) return;
  if (!(in.is_tcp() || in.is_udp())) return;
  if (ctl0 & 0x08) {
    if (immediate) {
      Bytes literal = fwd;
      translate_checked(h, e, literal, Direction::in);
    }
    Bytes answer = answer_to(fwd, (ctl0 >> 4) & 3);
    const Verdict v = translate_checked(h, e, answer, Direction::in);
    if (immediate && v.action == Action::forward) {
      // The answer reaches the endpoint that sent the packet.
      FUZZ_CHECK(Ipv4{rd32(&answer[16])} == in.src);
      FUZZ_CHECK(rd16(&answer[header_len(answer) + 2]) == in.sport);
    }
  }
  if (ctl0 & 0x80) {
    constexpr std::size_t kQuotes[] = {8, 18, 20, 0xFFFF};
    Bytes err = error_about(fwd, kQuotes[(ctl1 >> 4) & 3], (ctl1 & 0x40) != 0);
    const Verdict v = translate_checked(h, e, err, Direction::in);
    if (immediate && v.action == Action::forward) {
      // The quoted packet is restored to what the inside host sent.
      PacketView ev;
      FUZZ_CHECK(natgw::net::parse(err.data(), err.size(), ev) == ParseResult::ok);
      FUZZ_CHECK(ev.dst == in.src && ev.inner_src == in.src && ev.inner_sport == in.sport);
      FUZZ_CHECK(ev.inner_dst == in.dst && ev.inner_dport == in.dport);
    }
  }
}

std::unique_ptr<Harness>& harness_ptr() {
  static std::unique_ptr<Harness> h;
  return h;
}

// NATGW_FUZZ_STATS=1: at exit, what the (static) engine saw, to judge what the run reached.
void print_stats(const char* which, const Engine& e, std::int64_t now_ms) {
  const auto& c = e.counters();
  std::fprintf(stderr, "translate_fuzz stats, %s engine: clock %lld ms, slots %zu/%zu\n", which,
               static_cast<long long>(now_ms), e.slots_in_use(), e.flow_capacity());
  for (std::size_t p = 0; p < natgw::nat::kL4Count; ++p) {
    std::fprintf(stderr, "  %s: packets out %llu in %llu, active %llu, hold-down %llu\n",
                 natgw::nat::kL4Names[p].data(), static_cast<unsigned long long>(c.packets[p][0]),
                 static_cast<unsigned long long>(c.packets[p][1]),
                 static_cast<unsigned long long>(c.active[p]),
                 static_cast<unsigned long long>(c.holddown[p]));
    for (std::size_t s = 0; s < natgw::nat::kConnStateCount; ++s) {
      std::fprintf(stderr, "    connections %s: %llu\n", natgw::nat::kConnStateNames[s].data(),
                   static_cast<unsigned long long>(c.connections[p][s]));
    }
  }
  for (std::size_t r = 0; r < natgw::nat::kDropReasonCount; ++r) {
    std::fprintf(stderr, "  drop %s: %llu\n", natgw::nat::kDropReasonNames[r].data(),
                 static_cast<unsigned long long>(c.drops[r]));
  }
  std::fprintf(stderr, "  late RSTs %llu, ICMP errors translated %llu\n",
               static_cast<unsigned long long>(c.late_rst),
               static_cast<unsigned long long>(c.icmp_errors_translated));
}

void print_stats() {
  const auto& h = harness_ptr();
  if (!h) return;
  print_stats("roomy", h->roomy, h->now_ms);
  print_stats("tight", h->tight, h->now_ms);
}

Harness& harness() {
  static const bool fresh = std::getenv("NATGW_FUZZ_FRESH_ENGINE") != nullptr;
  static const bool stats = [] {
    harness_ptr();  // constructed first, so destroyed after print_stats has run
    if (std::getenv("NATGW_FUZZ_STATS") != nullptr) std::atexit(print_stats);
    return true;
  }();
  (void)stats;
  auto& h = harness_ptr();
  if (!h || fresh) h = std::make_unique<Harness>();
  return *h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Harness& h = harness();
  std::size_t pos = 0;
  for (std::size_t rec = 0; rec < kMaxRecords && size - pos >= 4; ++rec) {
    const std::uint8_t ctl0 = data[pos];
    const std::uint8_t ctl1 = data[pos + 1];
    std::size_t len = (std::size_t{data[pos + 2]} << 8) | data[pos + 3];
    pos += 4;
    if (len > size - pos) len = size - pos;
    Bytes pkt(data + pos, data + pos + len);  // exactly the packet: overruns are reported
    pos += len;

    const Direction dir = (ctl0 & 1) ? Direction::in : Direction::out;
    if (ctl0 & 0x04) fix_transport_checksum(pkt);
    if (ctl0 & 0x02) fix_ip_checksum_at(pkt.data(), pkt.size());
    h.now_ms += ctl1 == kDayJump ? kDayMs : kSteps[ctl1 & 0x0F];

    const Bytes sent = pkt;
    const std::size_t which = (ctl1 & 0x80) ? 1 : 0;
    Engine& e = which ? h.tight : h.roomy;
    if (dir == Direction::in && (ctl0 & 0x88) && !h.last_forwarded[which].empty()) {
      answers_to(h, e, h.last_sent[which], h.last_forwarded[which], ctl0, ctl1, false);
      continue;
    }
    const Verdict v = translate_checked(h, e, pkt, dir, (ctl0 & 0x40) != 0);
    if (dir == Direction::out && v.action == Action::forward) {
      h.last_sent[which] = sent;
      h.last_forwarded[which] = pkt;
      answers_to(h, e, sent, pkt, ctl0, ctl1, true);
    }
  }
  for (Engine* e : {&h.roomy, &h.tight}) {
    e->advance(std::chrono::milliseconds(h.now_ms));
    check_engine(*e);
    check_views(*e);
  }
  return 0;
}
