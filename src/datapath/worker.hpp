// A datapath worker: owns the inside and outside ports, the engine and the neighbour tables,
// and moves frames between them: rx batch -> classify -> engine -> L2 rewrite -> tx batch.
//
// The worker thread is the only one that touches the engine. Other threads reach it through
// call(), which runs a function on the worker thread between two batches (the packet path
// pays one relaxed atomic load per loop for this).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "datapath/capture.hpp"
#include "datapath/neighbor.hpp"
#include "io/port.hpp"
#include "nat/engine.hpp"
#include "net/ethernet.hpp"
#include "vnet/enforcer.hpp"

namespace natgw::datapath {

// The monotonic clock the daemon runs the engine on.
[[nodiscard]] nat::Time monotonic_now() noexcept;

struct WorkerConfig {
  nat::EngineConfig engine;
  // Inside interface: its own addresses (frames to them are the kernel's) and, when the
  // subnets are not on-link, the router that reaches them.
  std::vector<net::Ipv4> inside_addresses;
  std::optional<net::Ipv4> inside_next_hop;
  // Outside interface: its own addresses and the next hop toward the internet.
  std::vector<net::Ipv4> outside_addresses;
  net::Ipv4 next_hop;
  std::size_t neighbor_capacity = 65536;
  // The network around the gateway (routes, security rules), enforced on new connections; null:
  // none (no `network:` section).
  std::shared_ptr<const vnet::Network> network;
  // One of several workers (shard.hpp): only the primary answers ARP for the public IPs and
  // announces them; the others learn neighbours from ARP through their taps (set_arp_taps).
  bool primary = true;
};

// Datapath-level counters (the engine has its own).
struct WorkerStats {
  std::uint64_t loops = 0;
  std::uint64_t frames_in = 0;      // received from both ports
  std::uint64_t not_for_gateway = 0;  // frames left to the kernel (ARP aside)
  std::uint64_t csum_completed = 0;   // partial checksums computed before translation
  std::uint64_t ftp_copied = 0;       // FTP control frames translated in a copy (the FTP ALG)
  std::array<std::uint64_t, nat::kDropReasonCount> drops{};  // datapath reasons only
  std::uint64_t probes_sent = 0;    // availability probes injected
  std::uint64_t probes_ok = 0;      // ... that crossed the engine and were transmitted
  std::uint64_t probe_replies = 0;  // answers to probes that came back through the datapath
  // Packets and bytes routed past the NAT by the network model, forwarded untranslated, per next
  // hop type (virtual_appliance, virtual_network, virtual_network_gateway, service_endpoint).
  std::array<std::uint64_t, vnet::kNextHopTypeCount> forwarded_packets{};
  std::array<std::uint64_t, vnet::kNextHopTypeCount> forwarded_bytes{};
};

// Packets a security rule denied, since start (a rule that a reload removed keeps its count).
struct RuleDenials {
  std::string security_group;
  std::string rule;
  std::uint64_t packets = 0;
  bool configured = true;  // false: no longer in the configuration
};

class Worker {
 public:
  // Throws std::invalid_argument for an unusable configuration.
  Worker(WorkerConfig config, std::unique_ptr<io::Port> inside, std::unique_ptr<io::Port> outside);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs the loop on the calling thread until stop() (or `stop_flag`) is set.
  void run();
  void stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  // One iteration with the given time: receive, translate, transmit, timers, calls. Returns
  // the number of frames received. run() calls it; tests call it directly.
  std::size_t poll_once(nat::Time now) noexcept;

  // Runs `fn` on the worker thread between batches and waits for it. Returns false when the
  // worker did not get to it within `timeout` (then `fn` is discarded and never runs).
  bool call(const std::function<void(Worker&)>& fn, std::chrono::milliseconds timeout);

  // Asks the worker to send one availability probe on its next iteration.
  void request_probe() noexcept { probe_requested_.store(true, std::memory_order_relaxed); }

  // Owned by the worker thread: use from call() or before run() / after it returned.
  [[nodiscard]] nat::Engine& engine() noexcept { return engine_; }
  [[nodiscard]] const WorkerStats& stats() const noexcept { return stats_; }
  [[nodiscard]] const NeighborTable& inside_neighbors() const noexcept { return nb_in_; }
  [[nodiscard]] const NeighborTable& outside_neighbors() const noexcept { return nb_out_; }
  [[nodiscard]] io::Port& inside_port() noexcept { return *in_; }
  [[nodiscard]] io::Port& outside_port() noexcept { return *out_; }
  // Announces the public IPs on the outside link (gratuitous ARP) and asks for the next hop.
  void announce(nat::Time now) noexcept;
  // Applies a new engine configuration (see Engine::reconfigure) and the ARP answers with it.
  [[nodiscard]] std::string reconfigure(const nat::EngineConfig& next);
  // The same, and a new network model (null: none) for new connections from now on; open flows
  // keep the fate they had. Nothing changes when the engine refuses the configuration.
  [[nodiscard]] std::string reconfigure(const nat::EngineConfig& next,
                                        std::shared_ptr<const vnet::Network> network);
  // The network model in force (null: none), and the denial counts of every deny rule.
  [[nodiscard]] const std::shared_ptr<const vnet::Network>& network() const noexcept { return cfg_.network; }
  [[nodiscard]] std::vector<RuleDenials> security_rule_denials() const;

  // With several workers, the fanout group gives every ARP frame to the primary worker alone;
  // another worker reads a copy of each from these ports (bound to ARP only) to learn its
  // neighbours (the next hop's answer to its own request, for one). Before run().
  void set_arp_taps(std::unique_ptr<io::Port> inside, std::unique_ptr<io::Port> outside) {
    tap_in_ = std::move(inside);
    tap_out_ = std::move(outside);
  }

  // Attaches (or with nullptr detaches) a capture session. Worker thread only: use call().
  void attach_capture(CaptureSession* session) noexcept { capture_ = session; }

  // The probe 5-tuple's fixed parts, for tests and the doctor.
  [[nodiscard]] net::Ipv4 probe_source() const noexcept { return probe_src_; }
  static constexpr std::uint16_t kProbePort = 33434;
  static constexpr std::uint16_t kProbeSourcePort = 49152;

 private:
  static constexpr std::size_t kBurst = 64;
  static constexpr std::size_t kFrameBuf = 2048;
  // FTP ALG staging: frames up to an IP length of 1,500 bytes are copied, each into a slot with
  // room for the ALG's growth.
  static constexpr std::size_t kFtpCopyMax = net::kEthHeader + 1500;
  static constexpr std::size_t kFtpSlot = kFtpCopyMax + nat::Engine::kFtpAlgGrowth;

  void process_inside(std::span<io::Frame> frames, nat::Time now) noexcept;
  // Capture: copies the batch as received, then records each entry with its outcome.
  void tap_received(std::size_t n) noexcept;
  // Frame i of the batch had no neighbour to go to: counted, and shown to a capture.
  void drop_no_neighbor(std::size_t i, nat::Time now, CapturePoint from, CapturePoint to) noexcept;
  void tap(std::size_t i, nat::Time now, CapturePoint rx, CapturePoint tx, const nat::Verdict& outcome,
           const std::uint8_t* sent, std::uint32_t sent_len) noexcept;
  void process_outside(std::span<io::Frame> frames, nat::Time now) noexcept;
  // A packet the network model routed past the NAT (to `target`, an index of its targets).
  void forward_untranslated(std::size_t i, const nat::Verdict& v, std::uint16_t target,
                            nat::Time now) noexcept;
  void install_network(std::shared_ptr<const vnet::Network> network);
  void send_probe(nat::Time now) noexcept;
  // `offload`: the received frame's offload state (super-frame, partial checksum), passed on;
  // frames natgw builds or rewrites whole (ARP, RST replies, probes) go without.
  // `borrowed`: `frame` stays valid until both ports' tx_flush (a received frame; see poll_once).
  void transmit(io::Port& port, std::uint8_t* frame, std::uint32_t len,
                const io::Offload& offload = {}, bool borrowed = false) noexcept;
  bool prepare_offload(io::Frame& f, std::uint8_t* ip, const io::Port& tx_port) noexcept;
  void housekeeping(nat::Time now) noexcept;
  void learn_from_taps(nat::Time now) noexcept;
  void run_calls() noexcept;
  [[nodiscard]] bool is_local(const std::vector<net::Ipv4>& addrs, net::Ipv4 a) const noexcept;
  [[nodiscard]] std::optional<net::MacAddress> next_hop_mac(nat::Time now) noexcept;
  [[nodiscard]] std::optional<net::MacAddress> inside_mac(net::Ipv4 dst, nat::Time now) noexcept;
  // An address on the inside link itself (an appliance), never through inside_next_hop.
  [[nodiscard]] std::optional<net::MacAddress> on_link_mac(net::Ipv4 addr, nat::Time now) noexcept;

  WorkerConfig cfg_;
  std::unique_ptr<io::Port> in_;
  std::unique_ptr<io::Port> out_;
  std::unique_ptr<io::Port> tap_in_;  // ARP copies, non-primary workers only
  std::unique_ptr<io::Port> tap_out_;
  nat::Engine engine_;
  NeighborTable nb_in_;
  NeighborTable nb_out_;
  WorkerStats stats_;
  net::Ipv4 probe_src_;
  std::unique_ptr<vnet::Enforcer> enforcer_;  // installed in engine_ as its admission policy
  std::vector<RuleDenials> retired_denials_;  // counts of rules from earlier network models

  std::array<io::Frame, kBurst> rx_{};
  std::array<nat::Packet, kBurst> batch_{};
  std::array<std::uint8_t*, kBurst> batch_frames_{};
  std::array<std::uint32_t, kBurst> batch_lens_{};  // frame lengths as received
  std::array<io::Offload, kBurst> batch_offload_{};
  CaptureSession* capture_ = nullptr;
  std::array<std::uint8_t, kFrameBuf> scratch_{};  // ARP replies/requests, probes
  // kBurst slots of kFtpSlot bytes when the engine runs the FTP ALG, else empty. A copy lives
  // until the next batch from the inside (after both ports' tx_flush), so it is sent borrowed.
  std::vector<std::uint8_t> ftp_staging_;
  nat::Time last_advance_{};
  nat::Time last_expire_{};

  std::atomic<bool> stop_{false};
  std::atomic<bool> probe_requested_{false};
  std::atomic<bool> call_pending_{false};
  std::mutex call_mu_;
  std::condition_variable call_cv_;
  const std::function<void(Worker&)>* call_fn_ = nullptr;
  bool call_done_ = false;
};

}  // namespace natgw::datapath
