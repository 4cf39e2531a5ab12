// The event loop of `natgw simulate`. Applications (clients with connection pools, retry
// policies, keepalives) are modelled here; everything the gateway does is done by nat::Engine on
// real packets. src/sim/README.md describes the model.
#include "sim/simulator.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "nat/engine.hpp"
#include "nat/flow.hpp"
#include "net/packet.hpp"
#include "sim/flat_map.hpp"
#include "sim/packets.hpp"
#include "sim/random.hpp"
#include "sim/rate.hpp"

namespace natgw::sim {
namespace {

constexpr std::uint32_t kNone = 0xFFFFFFFFu;
constexpr std::uint16_t kEphemeralMin = 1024;  // clients use every port above the well-known ones
constexpr std::uint32_t kEphemeralCount = 65536 - kEphemeralMin;

// Sequence numbers: cosmetic (the engine keeps none), but consistent within a connection.
constexpr std::uint32_t kClientIsn = 1000;
constexpr std::uint32_t kServerIsn = 5000;

enum class Kind : std::uint8_t { arrival, step, keepalive, retry };

struct Event {
  std::int64_t at;    // virtual nanoseconds
  std::uint32_t id;   // stream, connection or request
  std::uint32_t tag;  // generation that makes stale events recognisable
  Kind kind;
};
struct Later {
  bool operator()(const Event& a, const Event& b) const noexcept { return a.at > b.at; }
};

// What a connection is doing (sim side; the engine has its own view).
enum class Phase : std::uint8_t { free, opening, busy, idle, probing, closing };
// The timed step a connection waits for.
enum class Step : std::uint8_t { none, synack, response, fin_in, idle_close };
// Packets, each with its direction and its meaning for the verdict handler.
enum class Pkt : std::uint8_t {
  syn,
  synack,
  ack_data,
  data,
  response,
  fin_out,
  fin_in,
  last_ack,
  rst,
  ka_probe,
  ka_ack,
  udp_first,
  udp_data,
  udp_response,
  udp_ka_out,
  udp_ka_in
};

constexpr bool inbound(Pkt p) noexcept {
  switch (p) {
    case Pkt::synack:
    case Pkt::response:
    case Pkt::fin_in:
    case Pkt::ka_ack:
    case Pkt::udp_response:
    case Pkt::udp_ka_in:
      return true;
    default:
      return false;
  }
}

constexpr bool snat_reason(nat::DropReason r) noexcept {
  return r == nat::DropReason::connection_limit || r == nat::DropReason::snat_exhausted ||
         r == nat::DropReason::flow_table_full || r == nat::DropReason::no_public_ip;
}

struct Conn {
  std::uint32_t client = 0;
  std::uint32_t dest = 0;
  std::uint32_t request = kNone;  // the request it serves
  std::uint32_t pool = kNone;
  std::uint32_t idle_prev = kNone;  // pool's idle list (most recently used first)
  std::uint32_t idle_next = kNone;  // also the free list
  std::uint32_t step_seq = 0;       // bumped whenever a scheduled step becomes stale
  std::uint32_t gen = 0;            // bumped when the slot is freed
  std::int64_t last_activity = 0;   // last packet either way (the keepalive clock)
  net::Endpoint pub;                // the public endpoint the engine assigned
  std::uint16_t port = 0;           // client's ephemeral port
  std::uint16_t stream = 0;
  Phase phase = Phase::free;
  Step step = Step::none;
  bool in_flight = false;  // a packet of it is in the current round
  bool udp = false;
  bool ka_scheduled = false;
};

struct Request {
  std::uint32_t stream = 0;
  std::uint32_t client = 0;
  std::uint32_t dest = 0;
  std::uint32_t attempts = 0;
  std::uint32_t next = kNone;  // pool queue, or free list
  std::uint32_t gen = 0;
  std::int64_t service = 0;  // the server's time for it (drawn when it arrives)
};

struct Pool {
  std::uint32_t conns = 0;  // open or opening
  std::uint32_t idle_head = kNone;
  std::uint32_t queue_head = kNone;
  std::uint32_t queue_tail = kNone;
};

struct Client {
  net::Ipv4 addr;
  std::uint16_t cursor = kEphemeralMin;
};

struct Dest {
  net::Endpoint ep;
  std::int64_t rtt = 0;
  bool udp = false;
};

struct Stream {
  const Traffic* traffic = nullptr;
  RateSchedule rate;
  // Arrivals, clients, destinations and service times of a stream come from its own
  // generator, so two workloads that differ only in policy see the very same requests.
  Random rng;
  std::uint32_t client_first = 0, client_count = 0;
  std::uint32_t dest_first = 0, dest_count = 0;
  double target = 0;
  std::size_t piece = 0;
};

struct Send {
  std::uint32_t conn;
  Pkt what;
};

// The packets of one round at one virtual instant: every connection has at most one packet in
// a round, so a connection's packets keep their order while different connections share batches.
struct Round {
  std::vector<std::array<std::uint8_t, kPacketBuffer>> out_buf, in_buf;
  std::vector<nat::Packet> out, in;
  std::vector<Send> out_meta, in_meta;
  std::size_t n_out = 0, n_in = 0;

  [[nodiscard]] bool empty() const noexcept { return n_out == 0 && n_in == 0; }
  void clear() noexcept { n_out = n_in = 0; }
  std::uint8_t* add(bool in_dir, Send s) {
    auto& buf = in_dir ? in_buf : out_buf;
    auto& meta = in_dir ? in_meta : out_meta;
    std::size_t& n = in_dir ? n_in : n_out;
    if (n == buf.size()) {
      buf.emplace_back();
      meta.emplace_back();
    }
    meta[n] = s;
    return buf[n++].data();
  }
};

std::int64_t ns(Duration d) {
  return d.count();
}

class Sim {
 public:
  Sim(const Workload& w, const RunOptions& o)
      : w_(w), opt_(o), engine_(w.engine_config(o.public_ips)), rng_(w.seed) {
    end_ = ns(w.duration);
    interval_ =
        ns(o.sample_interval.count() > 0 ? o.sample_interval : auto_sample_interval(w.duration));
    std::vector<std::uint32_t> client_first;
    for (const auto& p : w.clients) {
      client_first.push_back(static_cast<std::uint32_t>(clients_.size()));
      for (std::uint32_t i = 0; i < p.count; ++i) {
        Client c;
        c.addr = p.address(i);
        c.cursor = static_cast<std::uint16_t>(kEphemeralMin + rng_.below(kEphemeralCount));
        clients_.push_back(c);
      }
    }
    std::vector<std::uint32_t> dest_first;
    for (const auto& g : w.destinations) {
      dest_first.push_back(static_cast<std::uint32_t>(dests_.size()));
      for (std::uint32_t j = 0; j < g.count; ++j) {
        dests_.push_back({{g.at(j), g.port}, ns(g.rtt), g.protocol == Protocol::udp});
      }
    }
    if (clients_.size() >= (1u << 20) || dests_.size() >= (1u << 24) ||
        w.traffic.size() >= (1u << 16)) {
      throw std::invalid_argument("workload too large: 2^20 clients, 2^24 destinations at most");
    }
    for (const auto& t : w.traffic) {
      const auto index = static_cast<std::uint64_t>(streams_.size());
      Stream s{&t,
               RateSchedule(t.rate, w.duration),
               Random(w.seed ^ (0xA5A5'0000'0000'0000ull + index * 0x9E3779B97F4A7C15ull)),
               client_first[t.from],
               w.clients[t.from].count,
               dest_first[t.to],
               w.destinations[t.to].count,
               0,
               0};
      streams_.push_back(std::move(s));
    }
    for (const auto& ip : engine_.public_ips()) result_.public_ips.push_back(ip.addr);
    result_.sample_interval = Duration{interval_};
  }

  RunResult run() {
    const auto wall_start = std::chrono::steady_clock::now();
    for (std::uint32_t s = 0; s < streams_.size(); ++s) {
      Stream& st = streams_[s];
      st.target = st.traffic->arrivals == Arrivals::even ? 0.5 : st.rng.exponential();
      schedule_arrival(s);
    }
    std::int64_t next_sample = interval_;
    bool stopped = false;
    while (!heap_.empty()) {
      const std::int64_t t = heap_.front().at;
      if (t >= end_) break;
      while (next_sample < t) {
        sample(next_sample);
        next_sample += interval_;
      }
      now_ = t;
      due_.clear();
      while (!heap_.empty() && heap_.front().at == t) {
        std::pop_heap(heap_.begin(), heap_.end(), Later{});
        due_.push_back(heap_.back());
        heap_.pop_back();
      }
      result_.events += due_.size();
      for (const Event& e : due_) dispatch(e);
      flush();
      if (failed_ && opt_.stop_at_first_failure) {
        stopped = true;
        break;
      }
    }
    if (stopped) {
      while (next_sample < now_) {
        sample(next_sample);
        next_sample += interval_;
      }
      sample(now_);
      result_.end = Time{now_};
      result_.stopped_early = true;
    } else {
      while (next_sample < end_) {
        sample(next_sample);
        next_sample += interval_;
      }
      sample(end_);
      result_.end = Time{end_};
    }
    result_.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return std::move(result_);
  }

 private:
  // ---- events ---------------------------------------------------------------------------------

  void push(std::int64_t at, std::uint32_t id, std::uint32_t tag, Kind kind) {
    heap_.push_back({at, id, tag, kind});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }

  void schedule_arrival(std::uint32_t s) {
    Stream& st = streams_[s];
    const double at = st.rate.time_of(st.target, st.piece);
    if (at == RateSchedule::kNever) return;
    const auto t = static_cast<std::int64_t>(std::llround(at * 1e9));
    if (t < end_) push(t, s, 0, Kind::arrival);
  }

  void schedule_step(std::uint32_t c, Step step, std::int64_t at) {
    Conn& k = conns_[c];
    k.step = step;
    ++k.step_seq;
    push(at, c, k.step_seq, Kind::step);
  }

  void schedule_keepalive(std::uint32_t c, std::int64_t at) {
    Conn& k = conns_[c];
    k.ka_scheduled = true;
    push(at, c, k.gen, Kind::keepalive);
  }

  void dispatch(const Event& e) {
    switch (e.kind) {
      case Kind::arrival: {
        Stream& st = streams_[e.id];
        st.target += st.traffic->arrivals == Arrivals::even ? 1.0 : st.rng.exponential();
        schedule_arrival(e.id);
        start_request(e.id);
        break;
      }
      case Kind::retry:
        if (requests_[e.id].gen == e.tag) attempt(e.id);
        break;
      case Kind::step:
        on_step(e);
        break;
      case Kind::keepalive:
        on_keepalive(e);
        break;
    }
  }

  void on_step(const Event& e) {
    const std::uint32_t c = e.id;
    Conn& k = conns_[c];
    if (k.step_seq != e.tag || k.phase == Phase::free) return;
    if (k.in_flight) {  // a keepalive of it is in this instant's rounds: after them
      push(e.at, e.id, e.tag, e.kind);
      return;
    }
    switch (k.step) {
      case Step::synack:
        emit(c, Pkt::synack);
        break;
      case Step::response:
        emit(c, k.udp ? Pkt::udp_response : Pkt::response);
        break;
      case Step::fin_in:
        emit(c, Pkt::fin_in);
        break;
      case Step::idle_close:
        if (k.phase == Phase::idle) {
          leave_pool(c);
          close(c);
        }
        break;
      case Step::none:
        break;
    }
  }

  void on_keepalive(const Event& e) {
    const std::uint32_t c = e.id;
    Conn& k = conns_[c];
    if (k.gen != e.tag || k.phase == Phase::free) return;
    k.ka_scheduled = false;
    if (k.phase != Phase::busy && k.phase != Phase::idle) return;  // closing: no more keepalives
    const std::int64_t interval = ns(*stream_of(k).connections.keepalive);
    if (k.in_flight) {
      schedule_keepalive(c, now_);
      return;
    }
    if (now_ - k.last_activity < interval) {
      schedule_keepalive(c, k.last_activity + interval);
      return;
    }
    if (k.phase == Phase::idle) {
      remove_idle(c);
      k.phase = Phase::probing;
    }
    emit(c, k.udp ? Pkt::udp_ka_out : Pkt::ka_probe);
  }

  // ---- requests -------------------------------------------------------------------------------

  const Traffic& stream_of(const Conn& k) const { return *streams_[k.stream].traffic; }

  void start_request(std::uint32_t s) {
    Stream& st = streams_[s];
    std::uint32_t r = free_requests_;
    if (r != kNone) {
      free_requests_ = requests_[r].next;
    } else {
      r = static_cast<std::uint32_t>(requests_.size());
      requests_.emplace_back();
    }
    Request& q = requests_[r];
    q.stream = s;
    q.client = st.client_first + st.rng.below(st.client_count);
    q.dest = st.dest_first + st.rng.below(st.dest_count);
    q.service = service_time(*st.traffic, st.rng);
    q.attempts = 0;
    q.next = kNone;
    ++app_.requests;
    attempt(r);
  }

  void free_request(std::uint32_t r) {
    Request& q = requests_[r];
    ++q.gen;
    q.next = free_requests_;
    free_requests_ = r;
  }

  void attempt(std::uint32_t r) {
    Request& q = requests_[r];
    if (++q.attempts > 1) ++app_.retries;
    const Traffic& t = *streams_[q.stream].traffic;
    if (t.connections.reuse == Reuse::none) {
      open_connection(r, kNone);
      return;
    }
    const std::uint64_t key =
        (std::uint64_t{q.stream} << 44) | (std::uint64_t{q.client} << 24) | q.dest;
    std::uint32_t p = pool_index_.find(key);
    if (p == FlatMap::kAbsent) {
      p = static_cast<std::uint32_t>(pools_.size());
      pools_.emplace_back();
      pool_index_.put(key, p);
    }
    Pool& pool = pools_[p];
    if (pool.idle_head != kNone) {
      const std::uint32_t c = pool.idle_head;
      remove_idle(c);
      Conn& k = conns_[c];
      k.request = r;
      k.phase = Phase::busy;
      ++k.step_seq;  // the idle-close timer no longer applies
      emit(c, k.udp ? Pkt::udp_data : Pkt::data);
      return;
    }
    if (pool.conns < t.connections.pool_size) {
      ++pool.conns;
      open_connection(r, p);
      return;
    }
    ++app_.queued;
    q.next = kNone;
    if (pool.queue_tail == kNone) {
      pool.queue_head = r;
    } else {
      requests_[pool.queue_tail].next = r;
    }
    pool.queue_tail = r;
  }

  // The attempt of request `r` failed: retry per the policy, or give up.
  void attempt_failed(std::uint32_t r) {
    Request& q = requests_[r];
    const RetryBehaviour& rb = streams_[q.stream].traffic->retry;
    if (q.attempts >= rb.attempts) {
      ++app_.failed;
      free_request(r);
      return;
    }
    std::int64_t delay = 0;
    if (rb.policy == RetryPolicy::immediate) {
      delay = ns(rb.delay);
    } else {
      double d = static_cast<double>(ns(rb.base)) * std::pow(rb.multiplier, q.attempts - 1);
      d = std::min(d, static_cast<double>(ns(rb.max)));
      if (rb.jitter == Jitter::full) {
        d *= rng_.uniform();
      } else if (rb.jitter == Jitter::equal) {
        d = d / 2 + d / 2 * rng_.uniform();
      }
      delay = static_cast<std::int64_t>(d);
    }
    push(now_ + delay, r, q.gen, Kind::retry);
  }

  // ---- connections ----------------------------------------------------------------------------

  std::uint32_t alloc_conn() {
    std::uint32_t c = free_conns_;
    if (c != kNone) {
      free_conns_ = conns_[c].idle_next;
    } else {
      c = static_cast<std::uint32_t>(conns_.size());
      conns_.emplace_back();
    }
    return c;
  }

  std::uint64_t socket_key(std::uint32_t client, std::uint16_t port) const noexcept {
    return (std::uint64_t{client} << 16) | port;
  }

  // A free ephemeral port on the client towards `dest`: not held by one of its open sockets,
  // and, when the stream leaves connections to the idle timer (close: idle, UDP), not a 5-tuple
  // the gateway still holds live from such a connection (the host would still have that socket
  // in its own table; FIN/RST-closed tuples in hold-down may be reused, as hosts do).
  std::uint16_t pick_port(std::uint32_t client, std::uint32_t dest, bool abandons) {
    Client& cl = clients_[client];
    const Dest& d = dests_[dest];
    for (std::uint32_t i = 0; i < kEphemeralCount; ++i) {
      const std::uint16_t p = cl.cursor;
      cl.cursor = cl.cursor == 65535 ? kEphemeralMin : static_cast<std::uint16_t>(cl.cursor + 1);
      if (sockets_.contains(socket_key(client, p))) continue;
      if (abandons) {
        const net::FiveTuple t{d.udp ? net::Proto::udp : net::Proto::tcp, {cl.addr, p}, d.ep};
        if (const auto f = engine_.find_outbound(t); f && nat::is_live(f->state)) continue;
      }
      return p;
    }
    return 0;
  }

  void open_connection(std::uint32_t r, std::uint32_t pool) {
    const Request q = requests_[r];
    const std::uint32_t c = alloc_conn();
    const ConnectionBehaviour& cb = streams_[q.stream].traffic->connections;
    const std::uint16_t port =
        pick_port(q.client, q.dest, dests_[q.dest].udp || cb.close == Close::idle);
    Conn& k = conns_[c];
    k.client = q.client;
    k.dest = q.dest;
    k.stream = static_cast<std::uint16_t>(q.stream);
    k.request = r;
    k.pool = pool;
    k.udp = dests_[q.dest].udp;
    k.phase = Phase::opening;
    k.step = Step::none;
    k.in_flight = false;
    k.ka_scheduled = false;
    k.idle_prev = k.idle_next = kNone;
    k.port = port;
    k.pub = {};
    if (port == 0) {
      ++app_.client_ports;
      k.request = kNone;
      free_conn(c);
      attempt_failed(r);
      return;
    }
    sockets_.put(socket_key(q.client, port), c);
    ++app_.connections;
    emit(c, k.udp ? Pkt::udp_first : Pkt::syn);
  }

  void free_conn(std::uint32_t c) {
    Conn& k = conns_[c];
    if (k.phase == Phase::idle) remove_idle(c);
    if (k.port != 0) sockets_.erase(socket_key(k.client, k.port));
    const std::uint32_t pool = k.pool;
    k.phase = Phase::free;
    k.port = 0;
    k.pool = kNone;
    k.request = kNone;
    ++k.gen;
    ++k.step_seq;
    k.idle_next = free_conns_;
    free_conns_ = c;
    if (pool != kNone) {
      --pools_[pool].conns;
      refill(pool);
    }
  }

  // Queued requests of a pool that lost a connection get a new one.
  void refill(std::uint32_t p) {
    while (pools_[p].queue_head != kNone) {
      const std::uint32_t r = pools_[p].queue_head;
      const std::uint32_t limit = streams_[requests_[r].stream].traffic->connections.pool_size;
      if (pools_[p].conns >= limit) return;
      pools_[p].queue_head = requests_[r].next;
      if (pools_[p].queue_head == kNone) pools_[p].queue_tail = kNone;
      ++pools_[p].conns;
      open_connection(r, p);
    }
  }

  void push_idle(std::uint32_t c) {
    Conn& k = conns_[c];
    Pool& p = pools_[k.pool];
    k.phase = Phase::idle;
    k.idle_prev = kNone;
    k.idle_next = p.idle_head;
    if (p.idle_head != kNone) conns_[p.idle_head].idle_prev = c;
    p.idle_head = c;
  }

  void remove_idle(std::uint32_t c) {
    Conn& k = conns_[c];
    Pool& p = pools_[k.pool];
    if (k.idle_prev != kNone) {
      conns_[k.idle_prev].idle_next = k.idle_next;
    } else {
      p.idle_head = k.idle_next;
    }
    if (k.idle_next != kNone) conns_[k.idle_next].idle_prev = k.idle_prev;
    k.idle_prev = k.idle_next = kNone;
    k.phase = Phase::busy;
  }

  // An idle pooled connection leaves its pool to be closed.
  void leave_pool(std::uint32_t c) {
    remove_idle(c);
    Conn& k = conns_[c];
    --pools_[k.pool].conns;
    k.pool = kNone;
  }

  // Ends a connection as the workload says: FIN, RST, or silently (the gateway's idle timer
  // ends it). UDP has no close.
  void close(std::uint32_t c) {
    Conn& k = conns_[c];
    const Close how = stream_of(k).connections.close;
    if (k.udp || how == Close::idle) {
      free_conn(c);
      return;
    }
    k.phase = Phase::closing;
    emit(c, how == Close::fin ? Pkt::fin_out : Pkt::rst);
  }

  void established(std::uint32_t c) {
    Conn& k = conns_[c];
    const auto& ka = stream_of(k).connections.keepalive;
    if (ka && !k.ka_scheduled) schedule_keepalive(c, now_ + ns(*ka));
  }

  static std::int64_t service_time(const Traffic& t, Random& rng) {
    const Distribution& d = t.duration;
    switch (d.kind) {
      case Distribution::Kind::fixed:
        return ns(d.a);
      case Distribution::Kind::uniform:
        return ns(d.a) +
               static_cast<std::int64_t>(static_cast<double>(ns(d.b - d.a)) * rng.uniform());
      case Distribution::Kind::exponential:
        return static_cast<std::int64_t>(static_cast<double>(ns(d.a)) * rng.exponential());
    }
    return 0;
  }

  // When the response to the request a connection carries arrives.
  std::int64_t response_at(const Conn& k) const {
    const std::int64_t service = k.request != kNone ? requests_[k.request].service : 0;
    return now_ + dests_[k.dest].rtt + service;
  }

  void request_done(std::uint32_t c) {
    Conn& k = conns_[c];
    const std::uint32_t r = k.request;
    k.request = kNone;
    if (r != kNone) {
      ++app_.completed;
      free_request(r);
    }
    after_request(c);
  }

  void after_request(std::uint32_t c) {
    Conn& k = conns_[c];
    if (k.pool == kNone) {
      close(c);
      return;
    }
    Pool& p = pools_[k.pool];
    if (p.queue_head != kNone) {
      const std::uint32_t r = p.queue_head;
      p.queue_head = requests_[r].next;
      if (p.queue_head == kNone) p.queue_tail = kNone;
      k.request = r;
      k.phase = Phase::busy;
      emit(c, k.udp ? Pkt::udp_data : Pkt::data);
      return;
    }
    push_idle(c);
    const auto& idle_close = stream_of(k).connections.idle_close;
    if (idle_close) {
      schedule_step(c, Step::idle_close, now_ + ns(*idle_close));
    } else {
      ++k.step_seq;
      k.step = Step::none;
    }
  }

  void record_failure(std::uint32_t c, nat::DropReason reason) {
    ++app_.snat_failures;
    auto& first = result_.first_by_reason[static_cast<std::size_t>(reason)];
    if (!first) first = Time{now_};
    if (!result_.first_failure) {
      const Conn& k = conns_[c];
      result_.first_failure =
          FailureEvent{Time{now_}, reason, clients_[k.client].addr, dests_[k.dest].ep};
    }
    failed_ = true;
  }

  // The first packet of a connection was not forwarded.
  void refused(std::uint32_t c, nat::DropReason reason) {
    if (snat_reason(reason)) {
      record_failure(c, reason);
    } else {
      ++app_.blocked;
    }
    Conn& k = conns_[c];
    const std::uint32_t r = k.request;
    k.request = kNone;
    free_conn(c);
    if (r != kNone) attempt_failed(r);
  }

  // A packet of an open connection was not forwarded: the gateway no longer has its flow (it
  // answered with an RST, or dropped it), or could not map a UDP socket again.
  void broken(std::uint32_t c, const nat::Verdict& v) {
    if (v.action == nat::Action::drop && snat_reason(v.reason)) {
      record_failure(c, v.reason);
    } else {
      ++app_.resets;
      if (!result_.first_reset) result_.first_reset = Time{now_};
    }
    Conn& k = conns_[c];
    const std::uint32_t r = k.request;
    k.request = kNone;
    free_conn(c);
    if (r != kNone) attempt_failed(r);
  }

  void keepalive_done(std::uint32_t c) {
    Conn& k = conns_[c];
    if (k.phase == Phase::probing) {
      if (k.pool != kNone && pools_[k.pool].queue_head != kNone) {
        after_request(c);  // serves the queue
      } else {
        push_idle(c);
      }
    }
    const auto& ka = stream_of(conns_[c]).connections.keepalive;
    if (ka && !conns_[c].ka_scheduled) schedule_keepalive(c, now_ + ns(*ka));
  }

  void remap_check(Conn& k, const std::uint8_t* pkt) {
    const net::Endpoint src = source_of(pkt);
    if (src != k.pub) {
      ++app_.remapped;
      k.pub = src;
    }
  }

  // ---- packets --------------------------------------------------------------------------------

  void emit(std::uint32_t c, Pkt what) {
    Conn& k = conns_[c];
    const bool in = inbound(what);
    std::uint8_t* b = rounds_[cur_].add(in, {c, what});
    const net::Endpoint client{clients_[k.client].addr, k.port};
    const net::Endpoint server = dests_[k.dest].ep;
    constexpr std::uint8_t A = net::kTcpAck;
    switch (what) {
      case Pkt::syn:
        write_tcp(b, client, server, net::kTcpSyn, kClientIsn, 0, 0);
        break;
      case Pkt::synack:
        write_tcp(b, server, k.pub, net::kTcpSyn | A, kServerIsn, kClientIsn + 1, 0);
        break;
      case Pkt::ack_data:
      case Pkt::data:
        write_tcp(b, client, server, net::kTcpPsh | A, kClientIsn + 1, kServerIsn + 1, kPayload);
        break;
      case Pkt::response:
        write_tcp(b, server, k.pub, net::kTcpPsh | A, kServerIsn + 1, kClientIsn + 1, kPayload);
        break;
      case Pkt::fin_out:
        write_tcp(b, client, server, net::kTcpFin | A, kClientIsn + 1, kServerIsn + 1, 0);
        break;
      case Pkt::fin_in:
        write_tcp(b, server, k.pub, net::kTcpFin | A, kServerIsn + 1, kClientIsn + 2, 0);
        break;
      case Pkt::last_ack:
        write_tcp(b, client, server, A, kClientIsn + 2, kServerIsn + 2, 0);
        break;
      case Pkt::rst:
        write_tcp(b, client, server, net::kTcpRst | A, kClientIsn + 1, kServerIsn + 1, 0);
        break;
      case Pkt::ka_probe:  // RFC 9293 3.8.4: one byte behind, no data
        write_tcp(b, client, server, A, kClientIsn, kServerIsn + 1, 0);
        break;
      case Pkt::ka_ack:
        write_tcp(b, server, k.pub, A, kServerIsn + 1, kClientIsn + 1, 0);
        break;
      case Pkt::udp_first:
      case Pkt::udp_data:
      case Pkt::udp_ka_out:
        write_udp(b, client, server, kPayload);
        break;
      case Pkt::udp_response:
      case Pkt::udp_ka_in:
        write_udp(b, server, k.pub, kPayload);
        break;
    }
    k.in_flight = true;
    k.last_activity = now_;
  }

  void flush() {
    while (!rounds_[cur_].empty()) {
      Round& r = rounds_[cur_];
      cur_ ^= 1;
      rounds_[cur_].clear();
      r.out.resize(r.n_out);
      r.in.resize(r.n_in);
      for (std::size_t i = 0; i < r.n_out; ++i) {
        r.out[i] = nat::Packet{r.out_buf[i].data(), kPacketBuffer, {}};
      }
      for (std::size_t i = 0; i < r.n_in; ++i) {
        r.in[i] = nat::Packet{r.in_buf[i].data(), kPacketBuffer, {}};
      }
      const Time now{now_};
      if (r.n_out) engine_.translate_batch(r.out, nat::Direction::out, now);
      if (r.n_in) engine_.translate_batch(r.in, nat::Direction::in, now);
      result_.packets += r.n_out + r.n_in;
      for (std::size_t i = 0; i < r.n_out; ++i) {
        on_verdict(r.out_meta[i], r.out[i].verdict, r.out_buf[i].data());
      }
      for (std::size_t i = 0; i < r.n_in; ++i) {
        on_verdict(r.in_meta[i], r.in[i].verdict, r.in_buf[i].data());
      }
    }
  }

  void on_verdict(Send s, const nat::Verdict& v, const std::uint8_t* pkt) {
    const std::uint32_t c = s.conn;
    Conn& k = conns_[c];
    k.in_flight = false;
    const bool fwd = v.action == nat::Action::forward;
    const std::int64_t rtt = dests_[k.dest].rtt;
    switch (s.what) {
      case Pkt::syn:
        if (!fwd) return refused(c, v.reason);
        k.pub = source_of(pkt);
        schedule_step(c, Step::synack, now_ + rtt);
        return;
      case Pkt::udp_first:
        if (!fwd) return refused(c, v.reason);
        k.pub = source_of(pkt);
        k.phase = Phase::busy;
        established(c);
        schedule_step(c, Step::response, response_at(conns_[c]));
        return;
      case Pkt::synack:
        if (!fwd) return broken(c, v);
        emit(c, Pkt::ack_data);
        return;
      case Pkt::ack_data:
        if (!fwd) return broken(c, v);
        k.phase = Phase::busy;
        established(c);
        schedule_step(c, Step::response, response_at(conns_[c]));
        return;
      case Pkt::data:
        if (!fwd) return broken(c, v);
        schedule_step(c, Step::response, response_at(k));
        return;
      case Pkt::udp_data:
        if (!fwd) return broken(c, v);
        remap_check(k, pkt);
        schedule_step(c, Step::response, response_at(k));
        return;
      case Pkt::response:
        if (!fwd) return broken(c, v);
        return request_done(c);
      case Pkt::udp_response:
        if (fwd) return request_done(c);
        {
          // The mapping expired while the server was working: the response is lost; the
          // socket stays, and its next datagram gets a new mapping.
          ++app_.lost;
          if (!result_.first_lost) result_.first_lost = Time{now_};
          const std::uint32_t r = k.request;
          k.request = kNone;
          after_request(c);
          if (r != kNone) attempt_failed(r);
        }
        return;
      case Pkt::fin_out:
        if (!fwd) return free_conn(c);
        schedule_step(c, Step::fin_in, now_ + rtt);
        return;
      case Pkt::fin_in:
        if (!fwd) return free_conn(c);
        emit(c, Pkt::last_ack);
        return;
      case Pkt::last_ack:
      case Pkt::rst:
        return free_conn(c);
      case Pkt::ka_probe:
        if (!fwd) return broken(c, v);
        emit(c, Pkt::ka_ack);
        return;
      case Pkt::ka_ack:
        if (!fwd) return broken(c, v);
        return keepalive_done(c);
      case Pkt::udp_ka_out:
        if (fwd) {
          remap_check(k, pkt);
          if (stream_of(k).connections.keepalive_from == KeepaliveFrom::both) {
            emit(c, Pkt::udp_ka_in);
            return;
          }
        } else if (snat_reason(v.reason)) {
          record_failure(c, v.reason);
        }
        return keepalive_done(c);
      case Pkt::udp_ka_in:
        return keepalive_done(c);
    }
  }

  // ---- samples --------------------------------------------------------------------------------

  void sample(std::int64_t at) {
    engine_.advance(Time{at});
    Sample s;
    s.at = Time{at};
    s.counters = engine_.counters();
    const auto pubs = engine_.public_ips();
    for (std::size_t i = 0; i < pubs.size(); ++i) {
      s.ports_live.push_back(pubs[i].live[0] + pubs[i].live[1]);
      s.ports_holddown.push_back(pubs[i].holddown[0] + pubs[i].holddown[1]);
      for (const nat::L4 p : {nat::L4::tcp, nat::L4::udp}) {
        const auto d = engine_.busiest_destination(i, p);
        if (d && (!s.busiest || d->live > s.busiest->live)) {
          s.busiest = BusiestDestination{d->public_ip, d->destination, p, d->live, d->holddown};
        }
      }
    }
    s.app = app_;
    result_.samples.push_back(std::move(s));
  }

  const Workload& w_;
  RunOptions opt_;
  nat::Engine engine_;
  Random rng_;
  std::int64_t end_ = 0;
  std::int64_t interval_ = 0;
  std::int64_t now_ = 0;
  bool failed_ = false;

  std::vector<Event> heap_;
  std::vector<Event> due_;
  std::vector<Client> clients_;
  std::vector<Dest> dests_;
  std::vector<Stream> streams_;
  std::vector<Conn> conns_;
  std::vector<Request> requests_;
  std::vector<Pool> pools_;
  std::uint32_t free_conns_ = kNone;
  std::uint32_t free_requests_ = kNone;
  FlatMap sockets_{4096};
  FlatMap pool_index_{1024};
  std::array<Round, 2> rounds_;
  int cur_ = 0;
  AppCounters app_;
  RunResult result_;
};

}  // namespace

std::uint64_t RunResult::snat_failed() const noexcept {
  if (samples.empty()) return 0;
  const auto& c = samples.back().counters;
  return c.conn(nat::L4::tcp, nat::ConnState::failed) +
         c.conn(nat::L4::udp, nat::ConnState::failed);
}

Duration auto_sample_interval(Duration d) noexcept {
  constexpr std::array<int, 8> steps = {1, 2, 5, 10, 15, 20, 30, 60};
  for (int s : steps) {
    if (d / std::chrono::seconds(s) <= 400) return std::chrono::seconds(s);
  }
  return std::chrono::seconds(60);
}

RunResult run(const Workload& w, const RunOptions& options) {
  Sim sim(w, options);
  return sim.run();
}

}  // namespace natgw::sim
