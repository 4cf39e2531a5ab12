// The NAT engine: decides, for every packet, what a NAT gateway does with it, and keeps the
// flow table, port inventory, timers and counters that decision needs.
//
// One engine is single-threaded state (a datapath worker owns one). It never reads a clock or
// a random source of its own: `now` is passed to every call and randomness comes from
// EngineConfig::seed, so the same inputs always give the same outputs. The packet path does not
// allocate, lock, throw or log; every table is sized at construction from the limits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "nat/config.hpp"
#include "nat/counters.hpp"
#include "nat/drop_reason.hpp"
#include "nat/flow.hpp"
#include "nat/flow_events.hpp"
#include "net/packet.hpp"
#include "net/types.hpp"

namespace natgw::nat {

enum class Action : std::uint8_t {
  forward,  // rewritten in place; send out of the other interface
  reply,    // overwritten with an answer (a TCP RST) of `len` bytes; send back where it came from
  drop,     // not sent; `reason` says why
  hairpin,  // translated out and back in (behaviour.hairpinning): send out of the inside interface
};

struct Verdict {
  Action action = Action::drop;
  DropReason reason = DropReason::malformed;
  std::uint16_t len = 0;  // packet length after translation (forward, reply)
};

// What an admission policy decides about a packet from the inside that has no flow.
struct Admission {
  enum class Kind : std::uint8_t {
    translate,  // the engine goes on as without a policy (new connection, or no_flow)
    pass,       // forwarded untranslated, TTL decremented: Action::forward, the packet as it came
    drop,       // dropped and counted with `reason`
  };
  Kind kind = Kind::translate;
  DropReason reason = DropReason::malformed;
};

// The network in front of the NAT (src/vnet: routes, security rules), as the engine sees it.
// The engine asks it about every TCP/UDP packet from an attached subnet that belongs to no flow,
// after its own checks (source, fragment, protocol, TTL, port 25) and before it opens a
// connection or drops the packet as no_flow. Packets of existing flows never reach it, so a
// policy costs established traffic nothing; a policy that changes applies to new connections.
// `opens` says whether the packet would open a connection (a TCP SYN, any UDP datagram).
// A packet it passes is forwarded untranslated; the verdict does not say so (Verdict stays 4
// bytes: a larger one cost established traffic 7 ns per packet), the policy knows which packets
// it passed (v.ip) and where they go. admit() runs on the packet path: it must not allocate,
// lock, throw or block.
class AdmissionPolicy {
 public:
  virtual ~AdmissionPolicy() = default;
  [[nodiscard]] virtual Admission admit(const net::PacketView& v, bool opens) noexcept = 0;
};


// One packet of a batch: an IPv4 packet (starting at its IP header) in a mutable buffer.
struct Packet {
  std::uint8_t* data = nullptr;
  std::uint32_t len = 0;
  Verdict verdict;
  // The TCP/UDP checksum holds only the pseudo-header sum (offloaded; see net::PacketView).
  bool csum_partial = false;
  // A GSO super-packet: the payload bytes of each wire segment it stands for (0: one packet).
  // Counters count the wire packets and bytes (net::wire_size).
  std::uint16_t gso_size = 0;
};

struct PublicIp {
  net::Ipv4 addr;
  bool accepting = true;  // false while draining after removal from the config
  std::array<std::uint32_t, kL4Count> live{};      // connections using this address now
  std::array<std::uint32_t, kL4Count> holddown{};  // ports of ended connections in hold-down
  std::array<std::uint32_t, kL4Count> mappings{};  // endpoint-independent mappings on it
};

struct FlowInfo {
  L4 proto = L4::tcp;
  FlowState state = FlowState::free;
  net::Endpoint inside;
  net::Endpoint public_endpoint;
  net::Endpoint destination;
  Time last_out{};  // last packet from the inside (hold-down: when it began)
  Time last_in{};   // last packet from the outside
  Time deadline{};  // when the current timer runs out
};

// Connections from one public IP to one destination (address, port, protocol).
struct DestinationLoad {
  net::Ipv4 public_ip;
  L4 proto = L4::tcp;
  net::Endpoint destination;
  std::uint32_t live = 0;
  std::uint32_t holddown = 0;
};

// What a new connection would meet now (Engine::would_open): the reason its first packet would
// be dropped, or the public IPs it would pick one from at random, each with its load for the
// destination (`holddown` here counts the ports of ended connections still held for it).
struct NewConnectionOutlook {
  std::optional<DropReason> refused;
  std::vector<DestinationLoad> room;  // the accepting public IPs with room, in table order
  // IpSelection::per_host and the host's own public IP has room: it is room[0], and the others
  // are used only when it has none.
  bool host_ip_first = false;
};

// A flow as carried across a restart (Engine::save_flows / restore_flows). Times are ages at
// the moment of saving, so the state does not depend on either process's clock.
struct SavedFlow {
  L4 proto = L4::tcp;
  FlowState state = FlowState::free;
  bool inside_linked = true;  // reachable by its inside 5-tuple (see flow.hpp)
  net::Endpoint inside;
  net::Endpoint public_endpoint;
  net::Endpoint destination;
  std::uint32_t age_out_ms = 0;  // since the last packet from the inside (hold-down: its start)
  std::uint32_t age_in_ms = 0;   // since the last packet from the outside
};

struct RestoreReport {
  std::size_t restored_live = 0;
  std::size_t restored_holddown = 0;
  std::size_t expired = 0;  // their timers ran out while natgw was down
  std::map<std::string, std::size_t> dropped;  // why -> how many
};

// One dropped packet, kept for diagnosis (the doctor's evidence of who was dropped and why).
struct DropSample {
  std::uint64_t seq = 0;  // order of the drops, across reasons
  Time time{};
  DropReason reason = DropReason::malformed;
  std::uint8_t ip_proto = 0;
  net::Endpoint src;
  net::Endpoint dst;
  Direction direction = Direction::out;
};

// A PORT or EPRT command seen on an FTP control connection (active FTP), for diagnosis.
struct FtpActiveSample {
  Time time{};
  net::Endpoint client;  // the inside host
  net::Endpoint server;
};

class Engine {
 public:
  // Throws std::invalid_argument for a configuration the engine cannot run (control-plane
  // validation reports errors to people before this point).
  explicit Engine(EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Translates one packet in place.
  [[nodiscard]] Verdict translate(std::uint8_t* data, std::size_t len, Direction dir,
                                  Time now) noexcept;
  // Translates a batch; each packet's verdict is written into it. Lookups are prefetched across
  // the batch, so this is the fast way for a datapath.
  void translate_batch(std::span<Packet> batch, Direction dir, Time now) noexcept;

  // Runs the timers up to `now`: ends idle flows, frees ports whose hold-down is over; afterwards
  // every timer due by `now` has fired. translate_batch() runs them too, but only up to the
  // last whole 16 ms tick, so counters may lag by that much between advance() calls; packets
  // always see exact deadlines.
  void advance(Time now) noexcept;

  // Applies a new configuration without dropping open flows: public IPs added take new
  // connections at once; removed ones drain (their flows continue, no new ones); subnets
  // removed keep their open flows; timers apply to every flow from now on. Table sizes and the
  // port range need a restart. Returns an empty string, or why nothing was changed.
  [[nodiscard]] std::string reconfigure(const EngineConfig& next);

  [[nodiscard]] const Counters& counters() const noexcept { return counters_; }
  [[nodiscard]] std::span<const PublicIp> public_ips() const noexcept {
    return {pubs_.data(), pub_count_};
  }
  [[nodiscard]] const EngineConfig& config() const noexcept { return config_; }

  // Flow slots (live connections and ports in hold-down) and how many are used.
  [[nodiscard]] std::size_t flow_capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t slots_in_use() const noexcept { return slots_in_use_; }
  // Bytes of memory the engine's tables take, all of it allocated at construction.
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  // Touches every table page now, so that the packet path never page-faults.
  void prefault() noexcept;

  // Control-plane views (allocate; never called on the packet path).
  void for_each_flow(const std::function<void(const FlowInfo&)>& fn) const;
  [[nodiscard]] std::vector<DestinationLoad> destinations() const;
  // The destination with the most live connections on one public IP and protocol.
  [[nodiscard]] std::optional<DestinationLoad> busiest_destination(std::size_t public_idx,
                                                                   L4 proto) const;
  // Every flow and hold-down, for a restart. `restore_flows` re-creates them with their timers
  // advanced by `downtime` (the time between saving and now); it keeps a flow only where this
  // configuration allows it (its public IP is configured, its port in range, limits not
  // exceeded, no duplicate), and reports what it kept and why it dropped the rest. Call it on
  // an engine that has no flows yet.
  [[nodiscard]] std::vector<SavedFlow> save_flows() const;
  [[nodiscard]] RestoreReport restore_flows(std::span<const SavedFlow> flows, Duration downtime,
                                            Time now);

  // The last kRecentDrops dropped packets of each reason, oldest first (so that a flood of one
  // reason does not hide the few examples of another).
  [[nodiscard]] std::vector<DropSample> recent_drops() const;
  // Active FTP commands seen (PORT/EPRT from the inside to port 21), newest last, and how many.
  [[nodiscard]] std::vector<FtpActiveSample> recent_ftp_active() const;
  [[nodiscard]] std::uint64_t ftp_active_commands() const noexcept { return ftp_active_total_; }
  static constexpr std::size_t kRecentDrops = 16;
  static constexpr std::size_t kRecentFtp = 32;

  // The flow a packet from the inside with this 5-tuple would use, if one exists.
  [[nodiscard]] std::optional<FlowInfo> find_outbound(const net::FiveTuple& t) const;
  // What a new connection with this 5-tuple (from the inside) would meet now, without opening it
  // and without consulting the admission policy: the engine's own checks and limits, in the
  // order the packet path applies them. For explain and the doctor; allocates.
  [[nodiscard]] NewConnectionOutlook would_open(const net::FiveTuple& t) const;

  // Flow events (EngineConfig::flow_log): the ring the engine writes connection events into, for
  // one consumer thread to drain; nullptr when flow logs are off. The ring is the one part of
  // the engine another thread may touch (its consumer side) while the engine runs.
  [[nodiscard]] FlowEventRing* flow_events() noexcept { return flow_events_.get(); }
  // At a stop that hands no flows over (no state file): runs the timers to `now`, then writes
  // an `ended` (stopped) event for each live flow in slots `from` on, `max` at most, so that a
  // consumer can drain the ring between calls. Returns the slot to continue from, 0 when done.
  // The flows themselves stay as they are. Nothing happens without flow logs.
  [[nodiscard]] std::size_t log_stopped_flows(Time now, std::size_t from, std::size_t max) noexcept;

  // FTP ALG (EngineConfig::ftp_alg). A rewritten command may grow a packet by this many bytes
  // at most; the caller's buffer must have that room past the packet's length.
  static constexpr std::size_t kFtpAlgGrowth = 16;
  static constexpr std::size_t kFtpControlConnections = 1024;  // with a sequence offset at once
  static constexpr std::size_t kFtpExpectations = 256;         // data connections awaited at once
  [[nodiscard]] const FtpAlgStats& ftp_alg_stats() const noexcept { return ftp_stats_; }

  // Installs (or with nullptr removes) the admission policy; the engine does not own it.
  void set_admission(AdmissionPolicy* policy) noexcept { admission_ = policy; }
  [[nodiscard]] AdmissionPolicy* admission() const noexcept { return admission_; }

 private:
  struct Dest;
  struct Prepared;
  struct MapRec;
  struct HostRec;
  struct FragRec;

  void prepare(Prepared& p, Packet& pkt, Direction dir) const noexcept;
  // Position in candidates[0..n) (indices of accepting public IPs) of inside_addr's own IP.
  [[nodiscard]] std::size_t host_ip(std::uint32_t inside_addr, const std::uint8_t* candidates,
                                    std::size_t n) const noexcept;
  Verdict process(Prepared& p, Direction dir) noexcept;
  Verdict outbound(Prepared& p) noexcept;
  Verdict inbound(Prepared& p) noexcept;
  // Inlined into outbound() / inbound(): the common case of every packet.
  [[gnu::always_inline]] inline Verdict outbound_flow(Prepared& p, L4 l4, bool attached) noexcept;
  [[gnu::always_inline]] inline Verdict inbound_flow(Prepared& p, L4 l4) noexcept;
  // Profiles beyond azure (nat/README.md "Profiles").
  Verdict inbound_open(Prepared& p, L4 l4) noexcept;
  Verdict hairpin(Prepared& p, std::size_t idx) noexcept;
  Verdict later_fragment(net::PacketView& v, Direction dir) noexcept;
  void note_fragment(std::uint32_t src, std::uint32_t dst, std::uint16_t id, Direction dir,
                     std::uint32_t new_addr) noexcept;
  bool eim_allocate(Prepared& p, L4 l4, SlotIndex& out, DropReason& why) noexcept;
  SlotIndex take_slot(std::uint32_t in_addr, std::uint16_t in_port, std::uint32_t dst,
                      std::uint16_t dport, std::size_t idx, std::uint16_t port,
                      FlowState state) noexcept;
  SlotIndex install(std::uint32_t in_addr, std::uint16_t in_port, std::uint32_t dst,
                    std::uint16_t dport, std::size_t idx, std::uint16_t port, L4 l4,
                    FlowState state) noexcept;
  [[nodiscard]] bool eim(L4 l4) const noexcept { return eim_ && l4 != L4::icmp; }
  MapRec* map_find_in(L4 l4, std::uint32_t in_addr, std::uint16_t in_port) const noexcept;
  MapRec* map_find_out(L4 l4, std::size_t idx, std::uint16_t port) const noexcept;
  MapRec* map_add(L4 l4, std::uint32_t in_addr, std::uint16_t in_port, std::size_t idx,
                  std::uint16_t port) noexcept;
  void map_unref(const Flow& f, bool was_live, bool ends) noexcept;
  HostRec* host_find(L4 l4, std::uint32_t addr) const noexcept;
  bool host_take(L4 l4, std::uint32_t addr, bool enforce_pool) noexcept;
  void host_give(L4 l4, std::uint32_t addr) noexcept;
  [[nodiscard]] bool port_blocked(std::uint16_t port) const noexcept {
    return (blocked_[port >> 6] >> (port & 63)) & 1;
  }
  void apply_behaviour(const Behaviour& b);
  Verdict outbound_icmp_error(net::PacketView& v) noexcept;
  Verdict inbound_icmp_error(net::PacketView& v, std::size_t idx) noexcept;
  Verdict new_connection(Prepared& p, L4 l4, SlotIndex superseded) noexcept;
  bool try_allocate(Prepared& p, L4 l4, SlotIndex& out, DropReason& why) noexcept;
  // The indices of the public IPs that take new connections, in table order; how many.
  std::size_t accepting_ips(std::array<std::uint8_t, kMaxPublicIps>& order) const noexcept;
  // The order in which order[0..n) is tried: with per_host selection the host's own IP first
  // (host_first moves it there and returns 1, else 0), the rest in a random permutation drawn
  // as the loop goes (draw_ip gives the k-th), so the common case draws once.
  std::size_t host_first(std::array<std::uint8_t, kMaxPublicIps>& order, std::size_t n,
                         std::uint32_t inside_addr) const noexcept;
  std::size_t draw_ip(std::array<std::uint8_t, kMaxPublicIps>& order, std::size_t k,
                      std::size_t n, std::size_t fixed) noexcept;
  std::uint16_t pick_port(std::size_t idx, std::uint32_t dst, std::uint16_t dport,
                          L4 l4) noexcept;
  bool port_free(std::size_t idx, std::uint16_t port, std::uint32_t dst, std::uint16_t dport,
                 L4 l4) noexcept;
  Verdict forward_out(net::PacketView& v, Flow& f, L4 l4) noexcept;
  Verdict forward_in(net::PacketView& v, Flow& f, L4 l4) noexcept;
  Verdict late_segment(net::PacketView& v, Direction dir) noexcept;
  Verdict pass(net::PacketView& v) noexcept;
  Verdict drop(DropReason r) noexcept;
  void note_ftp_command(const net::PacketView& v) noexcept;
  // Flow events (engine_flow_log.cpp); called only when flow_stats_ is set.
  void flow_opened(SlotIndex s, bool restored) noexcept;
  void flow_ended(SlotIndex s, FlowEnd how, std::uint32_t when) noexcept;
  void flow_failed(const net::PacketView& v, L4 l4, DropReason why) noexcept;
  // FTP ALG (ftp_alg.cpp); called only when ftp_seq_ is set.
  struct FtpSeq;
  struct FtpExpect;
  Verdict ftp_out(net::PacketView& v, SlotIndex s, Verdict r) noexcept;
  void ftp_in(net::PacketView& v, SlotIndex s) noexcept;
  // A pure SYN from the outside that matches no flow: the data connection of a PORT/EPRT, or
  // nullopt when none awaits it (then it is any other unsolicited SYN).
  std::optional<Verdict> ftp_expected(net::PacketView& v, std::size_t idx) noexcept;
  // Live connections and ports taken (live + hold-down) for a destination on a public IP.
  [[nodiscard]] std::pair<std::uint32_t, std::uint32_t> dest_load(std::size_t idx,
                                                                  std::uint32_t dst,
                                                                  std::uint16_t dport,
                                                                  L4 l4) const noexcept;
  FtpSeq* ftp_seq(SlotIndex s, bool create) noexcept;
  bool ftp_rewrite(net::PacketView& v, SlotIndex s) noexcept;
  void flow_count(const Flow& f, std::size_t dir, net::WireSize w) noexcept {
    FlowStats& st = flow_stats_[static_cast<std::size_t>(&f - slots_.get())];
    st.bytes[dir] += w.bytes;
    st.packets[dir] += w.packets;
  }

  void tcp_outbound(SlotIndex s, std::uint8_t flags) noexcept;
  void tcp_inbound(SlotIndex s, std::uint8_t flags) noexcept;
  void end_connection(SlotIndex s, FlowState holddown_state, ConnState how,
                      std::uint32_t since) noexcept;
  // Applies the timer of `s` if it has run out; true if the slot was freed.
  bool expire_if_due(SlotIndex s) noexcept;
  void release(SlotIndex s) noexcept;
  void sweep_current_tick() noexcept;
  void flush_all() noexcept;
  void set_now(Time now) noexcept;

  [[nodiscard]] std::uint32_t deadline(const Flow& f) const noexcept;
  [[nodiscard]] bool due(const Flow& f) const noexcept;
  [[nodiscard]] Time to_time(std::uint32_t ms) const noexcept;
  [[nodiscard]] FlowInfo info(const Flow& f) const;

  [[nodiscard]] SlotIndex find_in(std::uint64_t h, std::uint32_t in_addr, std::uint16_t in_port,
                                  std::uint32_t dst, std::uint16_t dport, L4 l4) const noexcept;
  [[nodiscard]] SlotIndex find_out(std::uint64_t h, std::size_t idx, std::uint16_t pub_port,
                                   std::uint32_t dst, std::uint16_t dport, L4 l4) const noexcept;
  [[nodiscard]] std::uint64_t hash_in(std::uint32_t in_addr, std::uint16_t in_port,
                                      std::uint32_t dst, std::uint16_t dport, L4 l4) const noexcept;
  [[nodiscard]] std::uint64_t hash_out(std::size_t idx, std::uint16_t pub_port, std::uint32_t dst,
                                       std::uint16_t dport, L4 l4) const noexcept;
  void link_in2out(SlotIndex s) noexcept;
  void unlink_in2out(SlotIndex s) noexcept;
  void link_out2in(SlotIndex s) noexcept;
  void unlink_out2in(SlotIndex s) noexcept;
  void wheel_insert(SlotIndex s) noexcept;
  void wheel_unlink(SlotIndex s) noexcept;
  void wheel_process(std::uint64_t tick) noexcept;

  Dest* find_dest(std::size_t idx, std::uint32_t dst, std::uint16_t dport, L4 l4) const noexcept;
  Dest* find_or_add_dest(std::size_t idx, std::uint32_t dst, std::uint16_t dport, L4 l4) noexcept;
  void dest_release(std::size_t idx, std::uint32_t dst, std::uint16_t dport, L4 l4,
                    bool was_live) noexcept;
  [[nodiscard]] std::uint32_t random32() noexcept;
  [[nodiscard]] bool in_subnet(net::Ipv4 a) const noexcept;
  [[nodiscard]] bool in_detached_subnet(net::Ipv4 a) const noexcept;
  void apply_timers(const Timers& t);
  [[nodiscard]] int public_index(net::Ipv4 a) const noexcept;

  struct FreeDeleter {
    void operator()(void* p) const noexcept;
  };
  template <class T>
  using Table = std::unique_ptr<T[], FreeDeleter>;

  EngineConfig config_;
  Counters counters_;
  std::vector<net::Prefix> detached_subnets_;
  std::array<PublicIp, kMaxPublicIps> pubs_{};
  std::array<std::uint32_t, kMaxPublicIps> pub_addrs_{};  // pubs_[i].addr, packed for lookup
  std::size_t pub_count_ = 0;

  // Timers in milliseconds.
  std::uint32_t tcp_idle_ms_ = 0, half_open_ms_ = 0, udp_idle_ms_ = 0;
  std::uint32_t hold_fin_ms_ = 0, hold_rst_ms_ = 0, hold_udp_ms_ = 0, hold_idle_ms_ = 0;
  std::uint32_t port_range_ = 0;
  // Profiles beyond azure (nat/README.md "Profiles"): read on the packet path, so kept here
  // with the other timers rather than with their tables at the end.
  std::uint32_t tcp_closing_ms_ = 0, icmp_idle_ms_ = 0, hold_icmp_ms_ = 0;
  bool udp_each_direction_ = true;
  bool eim_ = false;  // endpoint-independent mapping
  bool eif_ = false;  // endpoint-independent filtering
  bool icmp_echo_ = false;
  bool udp_fragments_ = false;
  bool hairpin_ = false;
  bool any_blocked_ = false;
  LateRst late_rst_ = LateRst::sender;
  std::uint32_t host_min_ = 0, host_max_ = 0;

  std::size_t capacity_ = 0;      // flow slots, index 1..capacity_
  std::size_t slots_in_use_ = 0;
  std::size_t slot_hwm_ = 1;      // slots below this have been used at least once
  SlotIndex free_slots_ = kNoSlot;
  std::uint64_t live_total_ = 0;
  Table<Flow> slots_;
  Table<SlotIndex> in2out_;
  Table<SlotIndex> out2in_;
  std::uint64_t bucket_mask_ = 0;

  std::size_t dest_capacity_ = 0;
  std::size_t dest_hwm_ = 1;
  std::uint32_t free_dests_ = 0;
  Table<Dest> dests_;
  Table<std::uint32_t> dest_buckets_;
  std::uint64_t dest_mask_ = 0;

  Table<SlotIndex> wheel_;
  std::uint64_t next_tick_ = 0;   // ticks below this have been processed
  std::uint64_t now_ms_ = 0;      // engine clock, milliseconds
  std::uint32_t now32_ = 0;       // the same, modulo 2^32, as flows store it
  std::uint64_t last_sweep_ms_ = ~std::uint64_t{0};
  bool started_ = false;

  // Diagnosis rings: written on drops and FTP commands only.
  const net::PacketView* current_ = nullptr;  // the packet being decided
  Direction current_dir_ = Direction::out;
  std::array<std::array<DropSample, kRecentDrops>, kDropReasonCount> drops_ring_{};
  std::uint64_t drop_seq_ = 0;
  std::array<FtpActiveSample, kRecentFtp> ftp_ring_{};
  std::uint64_t ftp_active_total_ = 0;

  std::uint64_t rng_state_ = 0;
  std::uint64_t hash_seed_ = 0;
  AdmissionPolicy* admission_ = nullptr;  // the network in front of the NAT, if any

  // Profiles beyond azure (nat/README.md "Profiles"); tables sized at construction, empty when
  // the behaviour does not use them.
  std::array<std::uint64_t, 1024> blocked_{};  // destination ports, one bit each
  std::size_t map_capacity_ = 0;
  std::size_t map_hwm_ = 1;
  std::uint32_t free_maps_ = 0;
  std::uint64_t map_mask_ = 0;
  Table<MapRec> maps_;
  Table<std::uint32_t> map_in_;   // buckets by (proto, inside addr:port)
  Table<std::uint32_t> map_out_;  // buckets by (proto, public IP index, public port)
  std::size_t host_hwm_ = 1;
  std::uint32_t free_hosts_ = 0;
  Table<HostRec> hosts_;
  Table<std::uint32_t> host_buckets_;
  std::array<std::uint64_t, kL4Count> reserved_{};  // ports promised to hosts, per protocol
  Table<FragRec> frags_;
  std::uint64_t frag_mask_ = 0;
  // Flow logs: per-slot counters and the event ring; both null when EngineConfig::flow_log is off.
  Table<FlowStats> flow_stats_;
  std::unique_ptr<FlowEventRing> flow_events_;

  // FTP ALG: sequence offsets per control connection, awaited data connections; null when off.
  Table<FtpSeq> ftp_seq_;
  Table<FtpExpect> ftp_expect_;
  std::uint32_t ftp_timeout_ms_ = 0;
  FtpAlgStats ftp_stats_;
};

}  // namespace natgw::nat
