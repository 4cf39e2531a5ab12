// Engine throughput and memory, per core: packets of established flows (outbound and return
// traffic, at 1,000 and 1,000,000 flows), new connections with the table half full, the full
// connection lifecycle, and bytes per live flow at 2,000,000 flows. Baselines measured in the
// same run (restoring the packet bytes; restoring and parsing them) give the ratios meaning:
// the NAT's own cost per packet is translate minus restore. bench/README.md explains each
// benchmark and records the latest figures.
//
// The engine runs on a virtual clock, as everywhere: the benchmark passes `now`, and advances
// it slowly enough that no idle timer fires during the established-traffic loops.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nat/config.hpp"
#include "nat/engine.hpp"
#include "net/packet.hpp"
#include "net/types.hpp"
#include "support/packets.hpp"

namespace natgw::bench {
namespace {

using namespace std::chrono_literals;
using nat::Direction;

constexpr std::size_t kBatch = 32;  // packets per translate_batch call: one rx burst
constexpr std::size_t kPayload = 24;
constexpr std::uint32_t kDataBytes = 64;  // IPv4 20 + TCP 20 + 24 payload: a small segment
constexpr std::uint32_t kHosts = 65536;   // inside hosts 10.1.0.0 .. 10.1.255.255
constexpr std::uint32_t kDestinations = 4096;  // servers 198.18.0.0 .. 198.18.15.255 (RFC 2544)
constexpr std::uint16_t kServerPort = 443;
constexpr std::uint8_t kPublicIps = 16;  // 203.0.113.0/28
constexpr nat::Time kStart = 1s;
constexpr nat::Duration kBatchStep = 1us;  // virtual time per batch of established traffic
// Established flows idle out 4 minutes after their last packet; a set whose clock has run this
// far past its start is rebuilt (between runs, untimed) so that no timer ever fires in a loop.
constexpr nat::Duration kClockBudget = 200s;

// One packet buffer. A cache line, so that restoring a packet touches exactly one line.
struct alignas(64) Frame {
  std::uint8_t b[kDataBytes];
};

nat::EngineConfig bench_config() {
  nat::EngineConfig c = nat::azure_profile();
  for (std::uint8_t i = 0; i < kPublicIps; ++i) c.public_ips.push_back(net::Ipv4{203, 0, 113, i});
  c.subnets.push_back(net::Prefix{net::Ipv4{10, 0, 0, 0}, 8});
  return c;
}

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Flow number k: its inside host, port and server. Distinct for every k below 65536 * 64512.
struct Tuple {
  net::Ipv4 inside;
  std::uint16_t inside_port;
  net::Ipv4 server;
};

Tuple flow_tuple(std::uint64_t k) {
  const auto host = static_cast<std::uint32_t>(k % kHosts);
  const auto port = static_cast<std::uint16_t>(1024 + (k / kHosts) % 64512);
  const auto dest = static_cast<std::uint32_t>(splitmix(k) % kDestinations);
  return {net::Ipv4{(10u << 24) | (1u << 16) | host}, port,
          net::Ipv4{(198u << 24) | (18u << 16) | dest}};
}

// Writes a TCP segment with `payload` zero bytes and correct checksums; returns its length.
// Field for field what test::PacketBuilder writes (main() checks it), without allocating.
std::uint32_t write_tcp(Frame& f, net::Ipv4 src, std::uint16_t sport, net::Ipv4 dst,
                        std::uint16_t dport, std::uint8_t flags, std::uint32_t seq,
                        std::uint32_t ack, std::size_t payload = 0) {
  std::uint8_t* p = f.b;
  const std::size_t len = 40 + payload;
  std::memset(p, 0, len);
  p[0] = 0x45;
  test::wr16(p + 2, static_cast<std::uint16_t>(len));
  test::wr16(p + 4, 0x1234);
  p[8] = 64;
  p[9] = 6;
  test::wr32(p + 12, src.value());
  test::wr32(p + 16, dst.value());
  test::wr16(p + 10, test::ref_checksum(p, 20));
  std::uint8_t* t = p + 20;
  test::wr16(t, sport);
  test::wr16(t + 2, dport);
  test::wr32(t + 4, seq);
  test::wr32(t + 8, ack);
  t[12] = 5 << 4;
  t[13] = flags;
  test::wr16(t + 14, 65535);
  const std::uint32_t pseudo = (src.value() >> 16) + (src.value() & 0xFFFF) + (dst.value() >> 16) +
                               (dst.value() & 0xFFFF) + 6 + static_cast<std::uint32_t>(len - 20);
  test::wr16(t + 16, test::ref_checksum(t, len - 20, pseudo));
  return static_cast<std::uint32_t>(len);
}

bool writer_matches_reference() {
  const net::Ipv4 a{10, 1, 2, 3};
  const net::Ipv4 b{198, 18, 0, 7};
  Frame f;
  const std::uint32_t len =
      write_tcp(f, a, 40000, b, kServerPort, test::kAck | test::kPsh, 1001, 5001, kPayload);
  const test::Bytes ref = test::PacketBuilder()
                              .ipv4(a, b)
                              .tcp(40000, kServerPort, test::kAck | test::kPsh, 1001, 5001)
                              .payload(test::Bytes(kPayload, 0))
                              .build();
  return ref.size() == len && std::memcmp(ref.data(), f.b, len) == 0;
}

// The handshake and teardown of flows first .. first+n-1, one segment per frame.
void write_syns(Frame* f, std::uint64_t first, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const Tuple t = flow_tuple(first + i);
    write_tcp(f[i], t.inside, t.inside_port, t.server, kServerPort, test::kSyn, 1000, 0);
  }
}
// Turns each translated SYN (its source is now the public endpoint) into the server's SYN+ACK.
void write_syn_acks(Frame* f, std::uint64_t first, std::size_t n, net::Endpoint* pub) {
  for (std::size_t i = 0; i < n; ++i) {
    const net::Endpoint p{net::Ipv4{test::rd32(f[i].b + 12)}, test::rd16(f[i].b + 20)};
    if (pub != nullptr) pub[i] = p;
    write_tcp(f[i], flow_tuple(first + i).server, kServerPort, p.addr, p.port,
              test::kSyn | test::kAck, 5000, 1001);
  }
}
void write_acks(Frame* f, std::uint64_t first, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const Tuple t = flow_tuple(first + i);
    write_tcp(f[i], t.inside, t.inside_port, t.server, kServerPort, test::kAck, 1001, 5001);
  }
}
void write_rsts(Frame* f, std::uint64_t first, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const Tuple t = flow_tuple(first + i);
    write_tcp(f[i], t.inside, t.inside_port, t.server, kServerPort, test::kRst | test::kAck, 1001,
              5001);
  }
}

std::size_t forwarded(std::span<const nat::Packet> batch) {
  std::size_t n = 0;
  for (const nat::Packet& p : batch) n += p.verdict.action == nat::Action::forward ? 1 : 0;
  return n;
}

// Runs n 40-byte segments held in consecutive frames through the engine in batches; returns
// how many were forwarded.
std::size_t translate_frames(nat::Engine& e, Frame* f, std::size_t n, Direction dir,
                             nat::Time now) {
  std::array<nat::Packet, kBatch> batch;
  std::size_t ok = 0;
  for (std::size_t base = 0; base < n; base += kBatch) {
    const std::size_t m = std::min(kBatch, n - base);
    for (std::size_t i = 0; i < m; ++i) batch[i] = nat::Packet{f[base + i].b, 40, {}};
    e.translate_batch({batch.data(), m}, dir, now);
    ok += forwarded({batch.data(), m});
  }
  return ok;
}

// Opens flows first .. first+n-1 at `now` with a full handshake (SYN out, SYN+ACK in, ACK
// out); their public endpoints go to `pub` if given. Returns how many did not all pass.
std::size_t open_flows(nat::Engine& e, std::uint64_t first, std::size_t n, nat::Time now,
                       net::Endpoint* pub) {
  std::array<Frame, kBatch> f;
  std::size_t ok = 0;
  for (std::size_t base = 0; base < n; base += kBatch) {
    const std::size_t m = std::min(kBatch, n - base);
    const std::uint64_t k = first + base;
    write_syns(f.data(), k, m);
    ok += translate_frames(e, f.data(), m, Direction::out, now);
    write_syn_acks(f.data(), k, m, pub != nullptr ? pub + base : nullptr);
    ok += translate_frames(e, f.data(), m, Direction::in, now);
    write_acks(f.data(), k, m);
    ok += translate_frames(e, f.data(), m, Direction::out, now);
  }
  return 3 * n - ok;
}

std::size_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0;
  unsigned long resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// ---------------------------------------------------------------------------------------------
// Established traffic

// An engine holding `flows` established connections, and the traffic it will see: a trace of
// data segments from pseudo-randomly chosen flows (precomputed), in each direction. Each trace
// entry is a pristine packet that the benchmark copies into the batch buffers before the engine
// rewrites it, as a NIC writes fresh packets into a datapath's receive ring: read in order (so
// the copy streams), while the flows they belong to are random (so with a million flows each
// lookup misses the cache, as in a gateway).
struct Established {
  std::size_t flows = 0;
  std::unique_ptr<nat::Engine> engine;
  std::vector<Frame> out;  // from the inside host to the server
  std::vector<Frame> in;   // from the server to the flow's public endpoint
  nat::Time now{};
  bool ok = false;
};

// flow_log: with EngineConfig::flow_log (per-flow counters; the events of the opening fill the
// ring, which nobody drains here, so later events are counted as lost: the engine's cost only).
std::unique_ptr<Established> make_established(std::size_t flows, bool flow_log) {
  auto s = std::make_unique<Established>();
  s->flows = flows;
  nat::EngineConfig config = bench_config();
  config.flow_log = flow_log;
  s->engine = std::make_unique<nat::Engine>(config);
  std::vector<net::Endpoint> pub(flows);
  if (open_flows(*s->engine, 0, flows, kStart, pub.data()) != 0) return s;
  // 32,768 packets (2 MB) at least, so that the trace is not a handful of batches replayed;
  // 1,048,576 at most (64 MB a direction).
  const std::size_t len = std::clamp<std::size_t>(std::bit_ceil(flows), std::size_t{1} << 15,
                                                  std::size_t{1} << 20);
  s->out.resize(len);
  s->in.resize(len);
  std::uint64_t r = 42;
  for (std::size_t j = 0; j < len; ++j) {
    r = splitmix(r);
    const std::size_t k = static_cast<std::size_t>(((r >> 32) * flows) >> 32);
    const Tuple t = flow_tuple(k);
    write_tcp(s->out[j], t.inside, t.inside_port, t.server, kServerPort,
              test::kAck | test::kPsh, 1001, 5001, kPayload);
    write_tcp(s->in[j], t.server, kServerPort, pub[k].addr, pub[k].port,
              test::kAck | test::kPsh, 5001, 1025, kPayload);
  }
  // Every flow sits on the timer wheel at its half-open deadline (start + 30 s). Moving past it
  // here re-files them at their idle deadline, outside the timed loops.
  s->now = kStart + 31s;
  s->engine->advance(s->now);
  s->ok = true;
  return s;
}

std::map<std::size_t, std::unique_ptr<Established>>& established_sets() {
  static std::map<std::size_t, std::unique_ptr<Established>> sets;
  return sets;
}

Established* established(benchmark::State& state, bool flow_log = false) {
  const auto flows = static_cast<std::size_t>(state.range(0));
  auto& s = established_sets()[flows * 2 + (flow_log ? 1 : 0)];
  if (!s || s->now > kStart + kClockBudget) {
    s.reset();
    s = make_established(flows, flow_log);
  }
  if (!s->ok) {
    state.SkipWithError("could not establish the flows");
    return nullptr;
  }
  return s.get();
}

// The datapath's receive step: fresh packets in the batch buffers, the next 32 of a trace.
class Feeder {
 public:
  explicit Feeder(const std::vector<Frame>& trace)
      : trace_(trace.data()), mask_(trace.size() - 1) {}

  std::span<nat::Packet> next() noexcept {
    for (std::size_t i = 0; i < kBatch; ++i) {
      std::memcpy(buf_[i].b, trace_[pos_ + i].b, kDataBytes);
      batch_[i] = nat::Packet{buf_[i].b, kDataBytes, {}};
    }
    pos_ = (pos_ + kBatch) & mask_;  // the trace's length is a power of two
    return batch_;
  }

 private:
  const Frame* trace_;
  std::size_t mask_;
  std::size_t pos_ = 0;
  std::array<Frame, kBatch> buf_;
  std::array<nat::Packet, kBatch> batch_;
};

void report_packets(benchmark::State& state, std::size_t flows, std::uint64_t passed) {
  const auto packets = static_cast<std::uint64_t>(state.iterations()) * kBatch;
  if (passed != packets) state.SkipWithError("a packet was not forwarded (or did not parse)");
  state.SetItemsProcessed(static_cast<std::int64_t>(packets));
  state.counters["flows"] = static_cast<double>(flows);
  state.counters["per_packet"] = benchmark::Counter(
      static_cast<double>(packets), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Baseline: only the restore (memcpy of the next 32 trace packets into the batch buffers).
void BM_MemcpyBaseline(benchmark::State& state) {
  Established* s = established(state);
  if (s == nullptr) return;
  Feeder feed(s->out);
  for (auto _ : state) {
    std::span<nat::Packet> batch = feed.next();
    benchmark::DoNotOptimize(batch.data());
    benchmark::ClobberMemory();
  }
  report_packets(state, s->flows, static_cast<std::uint64_t>(state.iterations()) * kBatch);
}

// Baseline: restore, then net::parse of every packet (validation included), no NAT.
void BM_ParseOnly(benchmark::State& state) {
  Established* s = established(state);
  if (s == nullptr) return;
  Feeder feed(s->out);
  std::uint64_t ok = 0;
  for (auto _ : state) {
    for (nat::Packet& p : feed.next()) {
      net::PacketView v;
      ok += net::parse(p.data, p.len, v) == net::ParseResult::ok ? 1 : 0;
      benchmark::DoNotOptimize(v.sport);
    }
  }
  report_packets(state, s->flows, ok);
}

// Restore, then translate_batch: a datapath worker's rx burst of data segments.
void translate_established(benchmark::State& state, Direction dir, bool flow_log = false) {
  Established* s = established(state, flow_log);
  if (s == nullptr) return;
  Feeder feed(dir == Direction::out ? s->out : s->in);
  nat::Engine& engine = *s->engine;
  std::uint64_t ok = 0;
  for (auto _ : state) {
    std::span<nat::Packet> batch = feed.next();
    s->now += kBatchStep;
    engine.translate_batch(batch, dir, s->now);
    ok += forwarded(batch);
  }
  report_packets(state, s->flows, ok);
}

void BM_TranslateEstablished(benchmark::State& state) {
  translate_established(state, Direction::out);
}
void BM_TranslateEstablishedInbound(benchmark::State& state) {
  translate_established(state, Direction::in);
}
// The same with flow logs on: each packet also counts into its flow's FlowStats.
void BM_TranslateEstablishedFlowLog(benchmark::State& state) {
  translate_established(state, Direction::out, true);
}

// ---------------------------------------------------------------------------------------------
// Connection churn

constexpr std::size_t kFill = 1'000'000;  // live connections: half of max_connections
constexpr std::size_t kChunk = 32768;     // connections per iteration
// Virtual time per chunk: 32 new connections per millisecond, so that a connection lives about
// 30 s (1,000,000 / 32 per ms) before it is reset, and 16 s of RST hold-down keep about 512,000
// slots busy: the steady state of a gateway whose connections are short-lived.
constexpr nat::Duration kChunkStep = 1024ms;
constexpr std::size_t kWarmupChunks = 40;  // past the 16 s hold-down and 30 s half-open timers

// An engine with kFill live connections, opened in order: the oldest is flow `oldest`, the
// newest `next - 1`. New connections are opened with fresh tuples, the oldest are reset.
struct Churn {
  std::unique_ptr<nat::Engine> engine;
  std::vector<Frame> frames = std::vector<Frame>(kChunk);
  std::uint64_t next = 0;
  std::uint64_t oldest = 0;
  std::size_t pending = 0;  // the newest connections have sent their SYN only
  std::size_t failed = 0;   // segments of the handshake or teardown not forwarded
  nat::Time now = kStart;

  [[nodiscard]] std::size_t live() const { return static_cast<std::size_t>(next - oldest); }

  void finish_handshakes() {
    if (pending == 0) return;
    const std::uint64_t first = next - pending;
    write_syn_acks(frames.data(), first, pending, nullptr);
    failed += pending - translate_frames(*engine, frames.data(), pending, Direction::in, now);
    write_acks(frames.data(), first, pending);
    failed += pending - translate_frames(*engine, frames.data(), pending, Direction::out, now);
    pending = 0;
  }
  void reset_oldest(std::size_t n) {
    while (n > 0) {
      const std::size_t m = std::min(n, kChunk);
      write_rsts(frames.data(), oldest, m);
      failed += m - translate_frames(*engine, frames.data(), m, Direction::out, now);
      oldest += m;
      n -= m;
    }
  }
  // Resets the oldest connections until at most `target` are live.
  void trim_to(std::size_t target) {
    if (live() > target) reset_oldest(live() - target);
  }
  // One chunk of the whole lifecycle: the oldest kChunk connections reset, as many opened.
  void cycle() {
    now += kChunkStep;
    reset_oldest(kChunk);
    write_syns(frames.data(), next, kChunk);
    failed += kChunk - translate_frames(*engine, frames.data(), kChunk, Direction::out, now);
    next += kChunk;
    pending = kChunk;
    finish_handshakes();
  }
};

std::unique_ptr<Churn>& churn_set() {
  static std::unique_ptr<Churn> c;
  return c;
}

Churn* churn(benchmark::State& state) {
  auto& c = churn_set();
  if (!c) {
    established_sets().clear();  // not needed any more; keeps the process small
    c = std::make_unique<Churn>();
    c->engine = std::make_unique<nat::Engine>(bench_config());
    c->engine->prefault();  // as the daemon does at start: no page faults on the packet path
    c->failed = open_flows(*c->engine, 0, kFill, c->now, nullptr);
    c->next = kFill;
    for (std::size_t i = 0; i < kWarmupChunks; ++i) c->cycle();
  }
  if (c->failed != 0) {
    state.SkipWithError("a handshake or reset segment was not forwarded");
    return nullptr;
  }
  return c.get();
}

void report_connections(benchmark::State& state, const Churn& c, std::size_t opened) {
  if (opened != static_cast<std::size_t>(state.iterations()) * kChunk || c.failed != 0) {
    state.SkipWithError("a connection was not opened");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kChunk));
  state.counters["live"] = static_cast<double>(c.engine->counters().active[0]);
  state.counters["holddown"] = static_cast<double>(c.engine->counters().holddown[0]);
}

// SYNs opening new flows (port and public IP chosen, slot taken, both hash chains, the wheel,
// the destination record), with about 1,000,000 live connections (50 % of max_connections) and
// about 512,000 ports in hold-down. Timed: only the translate_batch calls of the SYNs. Untimed,
// in chunks of 32,768: completing the previous chunk's handshakes, resetting as many of the
// oldest connections, moving the clock on (hold-downs end) and writing the next SYNs.
void BM_NewConnection(benchmark::State& state) {
  Churn* c = churn(state);
  if (c == nullptr) return;
  std::size_t opened = 0;
  for (auto _ : state) {
    state.PauseTiming();
    c->finish_handshakes();
    c->now += kChunkStep;
    c->engine->advance(c->now);
    // Live connections swing from kFill - kChunk/2 to kFill + kChunk/2 over a chunk.
    c->trim_to(kFill - kChunk / 2);
    write_syns(c->frames.data(), c->next, kChunk);
    state.ResumeTiming();
    opened += translate_frames(*c->engine, c->frames.data(), kChunk, Direction::out, c->now);
    c->next += kChunk;
    c->pending = kChunk;
  }
  report_connections(state, *c, opened);
}

// The whole lifecycle of a short connection in steady state: SYN out, SYN+ACK in, ACK out, RST
// out, and the timers that end its hold-down 16 s later. Items are connections (4 packets
// each); the live count stays at about 1,000,000. Timed: the translate_batch calls (the clock
// step, and so the timer wheel, runs in the first one). Untimed: writing the segments.
void BM_ConnectionChurn(benchmark::State& state) {
  Churn* c = churn(state);
  if (c == nullptr) return;
  c->finish_handshakes();
  c->trim_to(kFill);
  Frame* f = c->frames.data();
  nat::Engine& e = *c->engine;
  std::size_t opened = 0;
  std::size_t passed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    write_rsts(f, c->oldest, kChunk);
    state.ResumeTiming();
    c->now += kChunkStep;
    passed += translate_frames(e, f, kChunk, Direction::out, c->now);
    c->oldest += kChunk;

    state.PauseTiming();
    write_syns(f, c->next, kChunk);
    state.ResumeTiming();
    opened += translate_frames(e, f, kChunk, Direction::out, c->now);

    state.PauseTiming();
    write_syn_acks(f, c->next, kChunk, nullptr);
    state.ResumeTiming();
    passed += translate_frames(e, f, kChunk, Direction::in, c->now);

    state.PauseTiming();
    write_acks(f, c->next, kChunk);
    state.ResumeTiming();
    passed += translate_frames(e, f, kChunk, Direction::out, c->now);
    c->next += kChunk;
  }
  c->failed += 3 * static_cast<std::size_t>(state.iterations()) * kChunk - passed;
  report_connections(state, *c, opened);
  state.counters["packets_per_second"] = benchmark::Counter(
      4.0 * static_cast<double>(state.iterations()) * kChunk, benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------------------------------------
// Memory

// An engine with max_connections (2,000,000) established flows. bytes_per_flow: the engine's
// tables (memory_bytes(), all allocated at construction) per flow. rss_bytes_per_flow: what the
// process's resident set grew by while the engine was built and filled, per flow (the tables
// come from calloc as untouched zero pages, so this is the memory the flows really touch).
void BM_BytesPerFlow(benchmark::State& state) {
  constexpr std::size_t kFlows = 2'000'000;
  established_sets().clear();
  churn_set().reset();
  for (auto _ : state) {
    const std::size_t rss_before = rss_bytes();
    auto e = std::make_unique<nat::Engine>(bench_config());
    const std::size_t failed = open_flows(*e, 0, kFlows, kStart, nullptr);
    const std::size_t rss_after = rss_bytes();
    if (failed != 0) state.SkipWithError("could not establish the flows");
    state.counters["flows"] = static_cast<double>(e->counters().active[0]);
    state.counters["bytes_per_flow"] =
        static_cast<double>(e->memory_bytes()) / static_cast<double>(kFlows);
    state.counters["rss_bytes_per_flow"] =
        static_cast<double>(rss_after - rss_before) / static_cast<double>(kFlows);
    state.counters["memory_MB"] = static_cast<double>(e->memory_bytes()) / 1e6;
    state.PauseTiming();
    e.reset();
    state.ResumeTiming();
  }
}

// First, in a fresh process: once large blocks have been freed, glibc raises its mmap threshold
// and serves later tables from heap pages that are already resident, which would hide them from
// the RSS measurement.
// Memory is deterministic: one fill (a few seconds) is enough whatever the repetitions.
BENCHMARK(BM_BytesPerFlow)->Iterations(1)->Repetitions(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemcpyBaseline)->Arg(1000)->Arg(1'000'000);
BENCHMARK(BM_ParseOnly)->Arg(1000)->Arg(1'000'000);
BENCHMARK(BM_TranslateEstablished)->Arg(1000)->Arg(1'000'000);
BENCHMARK(BM_TranslateEstablishedInbound)->Arg(1000)->Arg(1'000'000);
BENCHMARK(BM_TranslateEstablishedFlowLog)->Arg(1000)->Arg(1'000'000);
BENCHMARK(BM_NewConnection);
BENCHMARK(BM_ConnectionChurn);

}  // namespace
}  // namespace natgw::bench

int main(int argc, char** argv) {
  if (!natgw::bench::writer_matches_reference()) {
    std::fprintf(stderr, "engine_bench: the packet writer disagrees with test::PacketBuilder\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("engine", "azure_profile(), 16 public IPs 203.0.113.0/28, "
                                        "subnet 10.0.0.0/8, max_connections 2000000");
  benchmark::AddCustomContext("traffic", "TCP; batches of 32; data segments 64 bytes; 65536 "
                                         "inside hosts; 4096 servers, port 443");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
