#include "daemon/daemon.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>
#include <set>
#include <variant>

#include <httplib.h>
#include <pcap/pcap.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "control/config.hpp"
#include "daemon/evidence_routes.hpp"
#include "daemon/flow_log_pump.hpp"
#include "daemon/host.hpp"
#include "daemon/sd_notify.hpp"
#include "daemon/state_file.hpp"
#include "daemon/views.hpp"
#include "datapath/shard.hpp"
#include "datapath/worker.hpp"
#include "io/af_packet.hpp"
#include "io/af_xdp.hpp"
#include "telemetry/snapshot.hpp"
#include "vnet/explain.hpp"

#ifndef NATGW_VERSION
#define NATGW_VERSION "0.0.0"
#endif

namespace natgw::daemon {
namespace {

using namespace std::chrono_literals;
constexpr auto kCallTimeout = 2000ms;

std::string text(net::Ipv4 a) { return std::string(a.text().view()); }

std::string join(const std::vector<net::Ipv4>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : ", ") + text(a);
  return s.empty() ? "none" : s;
}

datapath::WorkerConfig worker_config(const control::Config& c) {
  datapath::WorkerConfig w;
  w.engine = c.engine();
  w.engine.seed = std::random_device{}();  // the daemon's randomness; the engine stays pure
  w.inside_addresses = interface_addresses(c.interfaces.inside.name);
  w.inside_next_hop = c.interfaces.inside.next_hop;
  w.outside_addresses = interface_addresses(c.interfaces.outside.name);
  w.next_hop = c.interfaces.outside.next_hop.value_or(net::Ipv4{});
  w.network = c.network_model();
  return w;
}

telemetry::FlowLogOptions flow_log_options(const control::Config& c) {
  return {c.flow_logs.path, c.flow_logs.max_bytes, c.flow_logs.keep, c.flow_logs.rate_per_second};
}

std::string flow_log_text(const control::Config& c) {
  const auto& f = c.flow_logs;
  return fmt::format("{}, rotated at {} bytes keeping {} files, at most {} records/s",
                     f.path == "-" ? std::string("standard output") : f.path, f.max_bytes, f.keep,
                     f.rate_per_second);
}

// A flow log on standard output has it to itself: the daemon's own messages move to stderr.
void keep_stdout_for(const control::Config& c) {
  static bool moved = false;
  if (moved || !c.flow_logs.enabled || c.flow_logs.path != "-") return;
  moved = true;
  spdlog::info(
      "flow log on standard output: natgw's own messages go to standard error from now on");
  spdlog::set_default_logger(spdlog::stderr_color_mt("natgw-stderr"));
}

datapath::InsideSteering inside_steering(const control::Config& c) {
  return c.inside_steering() == control::Steering::host ? datapath::InsideSteering::host
                                                        : datapath::InsideSteering::flow;
}

// Everything the API and the prober share.

// Every CPU of datapath.cpus must be one this process may run on; "" when they are.
std::string check_cpus(const std::vector<std::uint32_t>& cpus) {
  if (cpus.empty()) return "";
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return "";
  std::string usable;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) usable += (usable.empty() ? "" : ", ") + std::to_string(c);
  }
  for (std::size_t i = 0; i < cpus.size(); ++i) {
    if (cpus[i] >= CPU_SETSIZE || !CPU_ISSET(cpus[i], &allowed)) {
      return "datapath.cpus[" + std::to_string(i) + "]: CPU " + std::to_string(cpus[i]) +
             " is not available to natgw on this host; allowed: " + usable;
    }
  }
  return "";
}

// Everything the API and the prober share. With several workers (datapath/shard.hpp) every
// question goes to each worker on its own thread, one after the other, and the answers are
// summed or merged here.
class Gateway {
 public:
  Gateway(control::Config config, std::vector<datapath::Worker*> workers)
      : config_(std::move(config)),
        steering_(inside_steering(config_)),
        workers_(std::move(workers)),
        started_(datapath::monotonic_now()) {}

  // A fresh snapshot, collected on the worker threads. nullopt when a worker is stuck.
  std::optional<telemetry::Snapshot> snapshot() {
    telemetry::Snapshot s;
    for (datapath::Worker* worker : workers_) {
      telemetry::Snapshot part;
      if (!worker_snapshot(*worker, part)) return std::nullopt;
      telemetry::accumulate(s, part);
    }
    if (flow_log_ != nullptr) flow_log_->fill(s.flow_log);
    std::lock_guard lk(mu_);
    s.gateway = config_.gateway.name;
    s.profile = std::string(control::name(config_.profile));
    s.version = NATGW_VERSION;
    s.availability_percent = availability_.percent();
    s.uptime_seconds = std::chrono::duration<double>(datapath::monotonic_now() - started_).count();
    return s;
  }

  bool worker_snapshot(datapath::Worker& worker, telemetry::Snapshot& s) {
    return worker.call(
        [&](datapath::Worker& w) {
          telemetry::fill_from_engine(s, w.engine());
          const auto& st = w.stats();
          for (std::size_t r = 0; r < nat::kDropReasonCount; ++r)
            s.counters.drops[r] += st.drops[r];
          s.probes_sent = st.probes_sent;
          s.probes_ok = st.probes_ok;
          s.frames_not_for_gateway = st.not_for_gateway;
          s.checksums_completed = st.csum_completed;
          s.network_modelled = w.network() != nullptr;
          s.forwarded_packets = st.forwarded_packets;
          s.forwarded_bytes = st.forwarded_bytes;
          for (const auto& d : w.security_rule_denials()) {
            s.security_rule_denials.push_back({d.security_group, d.rule, d.packets, d.configured});
          }
          for (auto [role, port] : {std::pair{"inside", &w.inside_port()}, std::pair{"outside", &w.outside_port()}}) {
            const io::PortStats ps = port->stats();
            telemetry::InterfaceReport r;
            r.role = role;
            r.name = std::string(role) == "inside" ? inside_name_ : outside_name_;
            r.rx_frames = ps.rx_frames;
            r.rx_bytes = ps.rx_bytes;
            r.rx_kernel_drops = ps.rx_kernel_drops;
            r.rx_invalid = ps.rx_invalid;
            r.tx_frames = ps.tx_frames;
            r.tx_bytes = ps.tx_bytes;
            r.tx_queue_full = ps.tx_queue_full;
            r.tx_invalid = ps.tx_invalid;
            r.tx_errors = ps.tx_errors;
            s.interfaces.push_back(r);
          }
        },
        kCallTimeout);
  }

  // Once a second: judge the last probe, record the minute's metrics, send the next probe. Every
  // worker sends one (each through its own engine and ports); the datapath is available when all
  // of them crossed.
  void probe_tick() {
    std::uint64_t sent = 0, ok = 0;
    nat::Counters counters;
    bool answered = true;
    for (datapath::Worker* worker : workers_) {
      answered = answered && worker->call(
                                 [&](datapath::Worker& w) {
                                   sent += w.stats().probes_sent;
                                   ok += w.stats().probes_ok;
                                   counters += w.engine().counters();
                                   for (std::size_t r = 0; r < nat::kDropReasonCount; ++r) {
                                     counters.drops[r] += w.stats().drops[r];
                                   }
                                 },
                                 500ms);
    }
    std::lock_guard lk(mu_);
    if (probe_outstanding_) {
      availability_.record(answered && sent > last_sent_ && ok - last_ok_ == sent - last_sent_);
    }
    if (answered) {
      last_sent_ = sent;
      last_ok_ = ok;
      history_.sample(static_cast<std::int64_t>(std::time(nullptr)), counters, availability_.percent());
    }
    for (datapath::Worker* worker : workers_) worker->request_probe();
    probe_outstanding_ = true;
  }

  nlohmann::json history() {
    std::lock_guard lk(mu_);
    return history_.json();
  }

  // The flows of every worker, in worker order, paged as one list.
  std::optional<nlohmann::json> flows(const FlowQuery& q) {
    nlohmann::json rows = nlohmann::json::array();
    std::size_t total = 0;
    for (datapath::Worker* worker : workers_) {
      FlowQuery part = q;
      part.offset = q.offset > total ? q.offset - total : 0;
      part.limit = q.limit > rows.size() ? q.limit - rows.size() : 0;
      nlohmann::json out;
      const bool ok = worker->call(
          [&](datapath::Worker& w) {
            out = flows_json(w.engine(), part, datapath::monotonic_now());
          },
          kCallTimeout);
      if (!ok) return std::nullopt;
      total += out["total"].get<std::size_t>();
      for (auto& f : out["flows"]) rows.push_back(std::move(f));
    }
    return nlohmann::json{
        {"total", total}, {"offset", q.offset}, {"limit", q.limit}, {"flows", rows}};
  }

  // GET /v1/explain: the fate of one flow, from the live network model and engine, read-only
  // (nothing is created to answer).
  // The worker that would own the connection answers (the one the inside fanout would give its
  // packets to).
  std::optional<nlohmann::json> explain(const vnet::ExplainQuery& q) {
    nlohmann::json out;
    const bool ported = q.flow.proto == net::Proto::tcp || q.flow.proto == net::Proto::udp;
    datapath::Worker& owner = *workers_[datapath::owner_of_connection(
        steering_, q.flow.src.addr, q.flow.src.port, ported, workers_.size())];
    const bool ok = owner.call(
        [&](datapath::Worker& w) {
          out = vnet::to_json(vnet::explain_live(w.network().get(), w.engine(), q));
        },
        kCallTimeout);
    if (!ok) return std::nullopt;
    return out;
  }

  // SIGHUP: load, validate, apply what can change at run time.
  void reload(const std::filesystem::path& path) {
    auto result = control::load_config(path);
    if (!result) {
      spdlog::error("reload refused: {} has {} error(s); the running configuration stays", path.string(), result.errors().size());
      for (const auto& e : result.errors()) spdlog::error("  {}", control::to_string(e));
      return;
    }
    control::Config next = std::move(result).config();
    control::Config current;
    {
      std::lock_guard lk(mu_);
      current = config_;
    }
    if (current.datapath.workers > 1 && next.inside_steering() != current.inside_steering()) {
      spdlog::error(
          "reload refused: with this engine the inside would be steered by {} instead of {} "
          "(datapath.steering {}), which changes only with a restart; the running configuration "
          "stays",
          control::name(next.inside_steering()), control::name(current.inside_steering()),
          control::name(next.datapath.steering));
      return;
    }
    if (!(next.interfaces == current.interfaces) || !(next.api == current.api) ||
        !(next.datapath == current.datapath)) {
      spdlog::error(
          "reload refused: interfaces, api.listen and datapath change only with a restart; the "
          "running "
          "configuration stays");
      return;
    }
    if (next.flow_logs.enabled != current.flow_logs.enabled) {
      spdlog::error(
          "reload refused: flow_logs.enabled changes only with a restart (the engine sizes its "
          "flow counters at start); the running configuration stays");
      return;
    }
    std::string err;
    nat::EngineConfig engine = next.engine();
    std::shared_ptr<const vnet::Network> network;
    try {
      network = next.network_model();
    } catch (const std::exception& e) {
      spdlog::error("reload refused: network: {}; the running configuration stays", e.what());
      return;
    }
    // New network rules apply to new connections; open flows keep the fate they had. Each worker
    // takes its shard of the new configuration; the first refusal stops the reload (workers that
    // took it already keep it: a refusal comes from the engine's checks, the same on every shard,
    // so it is the first worker that refuses).
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      const nat::EngineConfig shard = datapath::shard_config(engine, i, workers_.size());
      const bool answered = workers_[i]->call(
          [&](datapath::Worker& w) { err = w.reconfigure(shard, network); }, kCallTimeout);
      if (!answered) {
        spdlog::error(
            "reload failed: datapath worker {} did not answer; the running configuration stays", i);
        return;
      }
      if (!err.empty()) {
        spdlog::error("reload refused: {}; the running configuration stays", err);
        return;
      }
    }
    if (flow_log_ != nullptr) {
      // Reopened on every reload, so that a file moved away by log rotation is created again;
      // path, max_bytes, keep and rate_per_second apply at once.
      keep_stdout_for(next);
      if (auto ferr = flow_log_->open(flow_log_options(next)); !ferr.empty()) {
        spdlog::error("flow log: {}; it goes on as before: {}", ferr, flow_log_text(current));
        next.flow_logs = current.flow_logs;
      } else if (!(next.flow_logs == current.flow_logs)) {
        spdlog::info("flow log: {}", flow_log_text(next));
      }
    }
    spdlog::info("reloaded {}: {}", path.string(), control::summary(next));
    std::lock_guard lk(mu_);
    config_ = std::move(next);
  }

  control::Config config() {
    std::lock_guard lk(mu_);
    return config_;
  }

  // Writes the flow table to the state file; returns the number of flows, or the error.
  std::variant<std::size_t, std::string> snapshot_to(const std::filesystem::path& path) {
    SavedState st;
    const auto whole = config().engine().limits;  // the state file holds the whole port range
    st.port_min = whole.port_min;
    st.port_max = whole.port_max;
    for (datapath::Worker* worker : workers_) {
      std::vector<nat::SavedFlow> part;
      const bool ok =
          worker->call([&](datapath::Worker& w) { part = w.engine().save_flows(); }, kCallTimeout);
      if (!ok) return std::string("the datapath did not answer in time");
      st.flows.insert(st.flows.end(), part.begin(), part.end());
    }
    st.saved_unix_ms = unix_ms_now();
    if (auto err = write_state(path, st); !err.empty()) return err;
    return st.flows.size();
  }

  std::string inside_name_, outside_name_;
  FlowLogPump* flow_log_ = nullptr;  // null when flow logs are off

 private:
  std::mutex mu_;
  control::Config config_;
  datapath::InsideSteering steering_;  // fixed at start: a reload that changes it is refused
  std::vector<datapath::Worker*> workers_;
  nat::Time started_;
  telemetry::Availability availability_;
  MetricsHistory history_;
  std::uint64_t last_sent_ = 0, last_ok_ = 0;
  bool probe_outstanding_ = false;
};

// POST /v1/capture: attaches a capture session to the worker until `count` frames matched or
// `seconds` passed, then returns them. One capture at a time.
// With several workers each gets a session of its own (a session has one writer); their frames
// are merged by time, and sequence numbers are made unique per worker.
void capture_route(httplib::Server& srv, const std::vector<datapath::Worker*>& workers) {
  static std::mutex busy;
  srv.Post("/v1/capture", [workers](const httplib::Request& req, httplib::Response& res) {
    auto fail = [&res](int status, const std::string& msg) {
      res.status = status;
      res.set_content(nlohmann::json{{"error", msg}}.dump(), "application/json");
    };
    std::unique_lock one(busy, std::try_to_lock);
    if (!one.owns_lock()) return fail(409, "a capture is already running");
    auto num = [&req](const char* k, long dflt, long lo, long hi, long& out) {
      out = dflt;
      if (!req.has_param(k)) return true;
      try {
        std::size_t used = 0;
        out = std::stol(req.get_param_value(k), &used);
        return used == req.get_param_value(k).size() && out >= lo && out <= hi;
      } catch (...) {
        return false;
      }
    };
    long count = 0, seconds = 0, snaplen = 0;
    if (!num("count", 100, 1, 100000, count)) return fail(400, "count: expected 1..100000");
    if (!num("seconds", 10, 1, 600, seconds)) return fail(400, "seconds: expected 1..600");
    if (!num("snaplen", 1514, 64, datapath::kCaptureMaxSnap, snaplen))
      return fail(400, "snaplen: expected 64..2048");
    const std::string expr = req.has_param("filter") ? req.get_param_value("filter") : "";
    // The filter: a BPF program compiled by libpcap for Ethernet frames.
    std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(DLT_EN10MB, static_cast<int>(snaplen)), &pcap_close);
    auto prog = std::make_shared<bpf_program>();
    if (pcap_compile(dead.get(), prog.get(), expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return fail(400, "filter: " + std::string(pcap_geterr(dead.get())));
    }
    std::shared_ptr<bpf_program> guard(prog.get(), [prog](bpf_program* p) { pcap_freecode(p); });
    std::vector<std::unique_ptr<datapath::CaptureSession>> owned;
    std::size_t attached = 0;
    for (datapath::Worker* worker : workers) {
      owned.push_back(std::make_unique<datapath::CaptureSession>(
          65536, static_cast<std::uint32_t>(snaplen),
          [p = prog.get()](const std::uint8_t* f, std::uint32_t len) {
            pcap_pkthdr h{};
            h.caplen = len;
            h.len = len;
            return pcap_offline_filter(p, &h, f) != 0;
          }));
      datapath::CaptureSession* session = owned.back().get();
      if (!worker->call([&](datapath::Worker& w) { w.attach_capture(session); }, kCallTimeout))
        break;
      ++attached;
    }
    std::vector<datapath::CapturedFrame> frames;
    // Worker i's sequence numbers in their own range, so that frames of two workers never pair.
    const auto drain_all = [&] {
      for (std::size_t i = 0; i < attached; ++i) {
        const std::size_t from = frames.size();
        owned[i]->drain(frames);
        for (std::size_t k = from; k < frames.size(); ++k) frames[k].seq |= std::uint64_t{i} << 48;
      }
    };
    std::set<std::uint64_t> seqs;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (attached == workers.size() && std::chrono::steady_clock::now() < until) {
      drain_all();
      for (const auto& f : frames) seqs.insert(f.seq);
      if (static_cast<long>(seqs.size()) >= count) break;
      std::this_thread::sleep_for(20ms);
    }
    // Detach on each worker; it must never touch its session after this returns. A worker that
    // never answers keeps the session (and its filter) for good rather than write into freed
    // memory.
    bool all_detached = true;
    for (std::size_t i = 0; i < attached; ++i) {
      bool detached = false;
      for (int k = 0; k < 30 && !detached; ++k) {
        detached =
            workers[i]->call([](datapath::Worker& w) { w.attach_capture(nullptr); }, kCallTimeout);
      }
      if (!detached) {
        spdlog::error(
            "capture: datapath worker {} does not answer; its capture session stays attached", i);
        (void)owned[i].release();
        all_detached = false;
      }
    }
    if (!all_detached) (void)new std::shared_ptr<bpf_program>(guard);
    if (attached != workers.size() || !all_detached)
      return fail(503, "the datapath did not answer in time");
    drain_all();
    std::stable_sort(frames.begin(), frames.end(),
                     [](const datapath::CapturedFrame& a, const datapath::CapturedFrame& b) {
                       return a.time < b.time;
                     });
    std::uint64_t dropped = 0;
    for (const auto& o : owned) dropped += o->dropped();
    nlohmann::json out;
    out["filter"] = expr;
    out["dropped"] = dropped;
    out["now_monotonic_ns"] = datapath::monotonic_now().count();
    out["now_unix_ns"] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    out["frames"] = nlohmann::json::array();
    static constexpr char kHex[] = "0123456789abcdef";
    std::set<std::uint64_t> kept;
    for (const auto& f : frames) {
      if (!kept.count(f.seq) && static_cast<long>(kept.size()) >= count)
        continue;  // count received frames
      kept.insert(f.seq);
      std::string hex;
      hex.reserve(f.data.size() * 2);
      for (std::uint8_t b : f.data) {
        hex += kHex[b >> 4];
        hex += kHex[b & 15];
      }
      out["frames"].push_back({{"seq", f.seq},
                               {"time_ns", f.time.count()},
                               {"point", datapath::name(f.point)},
                               {"action", f.action == nat::Action::forward ? "forward" : f.action == nat::Action::reply ? "reply" : f.action == nat::Action::hairpin ? "hairpin" : "drop"},
                               {"reason", f.action == nat::Action::drop || f.action == nat::Action::reply ? std::string(nat::name(f.reason)) : ""},
                               {"len", f.len},
                               {"data", hex}});
    }
    res.set_content(out.dump(), "application/json");
  });
}

void install_routes(httplib::Server& srv, Gateway& gw, const std::filesystem::path& state_file) {
  auto unavailable = [](httplib::Response& res) {
    res.status = 503;
    res.set_content(R"({"error":"the datapath did not answer in time"})", "application/json");
  };
  srv.Get("/metrics", [&gw, unavailable](const httplib::Request&, httplib::Response& res) {
    const auto s = gw.snapshot();
    if (!s) return unavailable(res);
    res.set_content(telemetry::render_prometheus(*s), "text/plain; version=0.0.4");
  });
  srv.Get("/v1/status", [&gw, unavailable](const httplib::Request&, httplib::Response& res) {
    const auto s = gw.snapshot();
    if (!s) return unavailable(res);
    res.set_content(status_json(*s, gw.config()).dump(2), "application/json");
  });
  srv.Get("/v1/flows", [&gw, unavailable](const httplib::Request& req, httplib::Response& res) {
    std::multimap<std::string, std::string> params(req.params.begin(), req.params.end());
    auto q = parse_flow_query(params);
    if (auto* err = std::get_if<std::string>(&q)) {
      res.status = 400;
      res.set_content(nlohmann::json{{"error", *err}}.dump(), "application/json");
      return;
    }
    const auto out = gw.flows(std::get<FlowQuery>(q));
    if (!out) return unavailable(res);
    res.set_content(out->dump(2), "application/json");
  });
  srv.Get("/v1/explain", [&gw, unavailable](const httplib::Request& req, httplib::Response& res) {
    std::string error;
    const auto q = vnet::parse_query(req.get_param_value("from"), req.get_param_value("to"), error);
    if (!req.has_param("from") || !req.has_param("to") || !q) {
      res.status = 400;
      res.set_content(nlohmann::json{{"error", req.has_param("from") && req.has_param("to")
                                                   ? error
                                                   : "expected from=ADDR[:PORT]&to=ADDR:PORT/PROTO"}}
                          .dump(),
                      "application/json");
      return;
    }
    vnet::ExplainQuery query = *q;
    query.opened_before_nat = req.get_param_value("opened_before_nat") == "true";
    const auto out = gw.explain(query);
    if (!out) return unavailable(res);
    res.set_content(out->dump(2), "application/json");
  });
  srv.Get("/v1/metrics/minutes", [&gw](const httplib::Request&, httplib::Response& res) {
    res.set_content(gw.history().dump(2), "application/json");
  });
  srv.Post("/v1/snapshot", [&gw, state_file](const httplib::Request&, httplib::Response& res) {
    if (state_file.empty()) {
      res.status = 400;
      res.set_content(R"({"error":"natgw run was started without --state-file: there is nowhere to save"})",
                      "application/json");
      return;
    }
    const auto r = gw.snapshot_to(state_file);
    if (const auto* err = std::get_if<std::string>(&r)) {
      res.status = 500;
      res.set_content(nlohmann::json{{"error", *err}}.dump(), "application/json");
      return;
    }
    spdlog::info("snapshot: saved {} flows to {}", std::get<std::size_t>(r), state_file.string());
    res.set_content(nlohmann::json{{"saved_flows", std::get<std::size_t>(r)}, {"path", state_file.string()}}.dump(),
                    "application/json");
  });
  srv.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404) {
      res.set_content(nlohmann::json{{"error", "no such endpoint: " + req.path + "; see /metrics, /v1/status, /v1/flows, /v1/explain, /v1/metrics/minutes, POST /v1/snapshot, POST /v1/capture"}}.dump(),
                      "application/json");
    }
  });
}

// Restores the flows of a previous run, if its state file is usable; never fatal.
// Each flow goes to the worker that owns its public port (datapath/shard.hpp).
void restore(const std::vector<datapath::Worker*>& workers, datapath::InsideSteering steering,
             const nat::Limits& whole, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    spdlog::info("no state file at {}: starting with an empty flow table", path.string());
    return;
  }
  auto loaded = read_state(path);
  if (const auto* err = std::get_if<std::string>(&loaded)) {
    spdlog::error("refusing the state file: {}; starting with an empty flow table", *err);
    return;
  }
  const SavedState& st = std::get<SavedState>(loaded);
  const auto& lim = whole;
  if (st.port_min != lim.port_min || st.port_max != lim.port_max) {
    spdlog::error("refusing the state file {}: it was written with SNAT ports {}..{}, this configuration uses {}..{}; "
                  "starting with an empty flow table",
                  path.string(), st.port_min, st.port_max, lim.port_min, lim.port_max);
    return;
  }
  const auto down = std::chrono::milliseconds(std::max<std::int64_t>(unix_ms_now() - st.saved_unix_ms, 0));
  std::vector<std::vector<nat::SavedFlow>> parts(workers.size());
  std::size_t moved = 0;
  for (const auto& f : st.flows) {
    const std::size_t owner =
        datapath::owner_of_port(f.public_endpoint.port, lim.port_min, lim.port_max, workers.size());
    // A flow saved by a gateway with other workers or another steering: its outbound packets
    // would now reach a worker that does not hold it (which would map them anew).
    if (f.inside_linked &&
        datapath::owner_of_connection(steering, f.inside.addr, f.inside.port,
                                      f.proto != nat::L4::icmp, workers.size()) != owner) {
      ++moved;
      continue;
    }
    parts[owner].push_back(f);
  }
  nat::RestoreReport r;
  if (moved != 0) {
    r.dropped
        ["its packets now reach another datapath worker (datapath.workers or steering changed)"] =
        moved;
  }
  const nat::Time now = datapath::monotonic_now();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const nat::RestoreReport part = workers[i]->engine().restore_flows(parts[i], down, now);
    r.restored_live += part.restored_live;
    r.restored_holddown += part.restored_holddown;
    r.expired += part.expired;
    for (const auto& [why, n] : part.dropped) r.dropped[why] += n;
  }
  std::string dropped;
  for (const auto& [why, n] : r.dropped) dropped += (dropped.empty() ? "" : "; ") + std::to_string(n) + " because " + why;
  spdlog::info("restored {} flows and {} ports in hold-down from {} (saved {:.1f} s ago); {} expired while natgw was down; "
               "dropped {}",
               r.restored_live, r.restored_holddown, path.string(), std::chrono::duration<double>(down).count(),
               r.expired, dropped.empty() ? "none" : dropped);
  // Consumed: a later start must not bring back flows that have ended since.
  std::filesystem::remove(path, ec);
}

std::size_t rx_queue_count(const std::string& ifname) {
  std::error_code ec;
  std::size_t n = 0;
  for (const auto& e :
       std::filesystem::directory_iterator("/sys/class/net/" + ifname + "/queues", ec)) {
    if (e.path().filename().string().starts_with("rx-")) ++n;
  }
  return n;
}

// Opens one interface with the backend its configuration asks for. af_xdp falls back to af_packet,
// with a warning that names the reason: not built, or the kernel's refusal (permission, driver).
// One datapath worker (several: the caller uses AF_PACKET fanout groups).
std::unique_ptr<io::Port> open_port(const std::string& name, control::Backend backend,
                                    const std::vector<net::Ipv4>& local_addresses) {
  if (backend == control::Backend::af_xdp) {
    std::string why;
    if (!io::af_xdp_built()) {
      why =
          "this natgw was built without AF_XDP (libxdp-dev, libbpf-dev and clang were not all "
          "found)";
    } else {
      try {
        io::AfXdpOptions o;
        o.local_addresses = local_addresses;
        auto port = io::open_af_xdp(name, o);
        spdlog::info("{}: backend af_xdp, {} mode, XDP program in {} mode on queue {}", name,
                     port->zero_copy() ? "zero-copy" : "copy",
                     port->native() ? "native" : "generic (skb)", o.queue);
        if (!port->native()) {
          spdlog::warn(
              "{}: generic XDP sees GRO/TSO frames larger than the MTU and drops them; turn "
              "offloads off on "
              "the senders or use af_packet",
              name);
        }
        if (const std::size_t q = rx_queue_count(name); q > 1) {
          spdlog::warn(
              "{}: {} receive queues, AF_XDP reads queue 0 only: frames the NIC puts on the others "
              "are lost "
              "(ethtool -L {} combined 1)",
              name, q, name);
        }
        return port;
      } catch (const std::system_error& e) {
        why = e.what();
      }
    }
    spdlog::warn("backend af_xdp on {}: {}; using af_packet", name, why);
  }
  return io::open_af_packet(name);
}

}  // namespace

int run(const Options& options) {
  auto loaded = control::load_config(options.config);
  if (!loaded) {
    for (const auto& e : loaded.errors()) {
      spdlog::error("{}: {}", options.config.string(), control::to_string(e));
    }
    return 1;
  }
  control::Config config = std::move(loaded).config();
  const auto& in_name = config.interfaces.inside.name;
  const auto& out_name = config.interfaces.outside.name;
  const HostCheck host = check_host(in_name, out_name);
  for (const auto& w : host.warnings) spdlog::warn("{}", w);
  if (!host.errors.empty()) {
    for (const auto& e : host.errors) spdlog::error("{}", e);
    return 1;
  }
  // Signals are handled by this thread alone (sigwait); every thread started below inherits
  // the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  const std::size_t nworkers = config.datapath.workers;
  if (const std::string err = check_cpus(config.datapath.cpus); !err.empty()) {
    spdlog::error("{}", err);
    return 1;
  }
  std::vector<std::unique_ptr<datapath::Worker>> owned_workers;
  std::vector<datapath::Worker*> workers;
  try {
    const auto base = worker_config(config);
    std::vector<std::unique_ptr<io::Port>> inside, outside;
    std::vector<net::Ipv4> local = base.inside_addresses;
    local.insert(local.end(), base.outside_addresses.begin(), base.outside_addresses.end());
    if (nworkers == 1) {
      inside.push_back(open_port(in_name, config.interfaces.inside.backend, local));
      outside.push_back(open_port(out_name, config.interfaces.outside.backend, local));
    } else {
      for (const auto* i : {&config.interfaces.inside, &config.interfaces.outside}) {
        if (i->backend == control::Backend::af_xdp) {
          spdlog::warn(
              "backend af_xdp on {}: AF_XDP runs with one datapath worker in this version "
              "(datapath.workers "
              "is {}); using af_packet",
              i->name, nworkers);
        }
      }
      // One fanout group per side: the kernel steers each frame to the worker that owns it.
      const auto& lim = base.engine.limits;
      inside = io::open_af_packet_group(in_name, {}, nworkers,
                                        datapath::inside_steering_program(inside_steering(config)));
      outside = io::open_af_packet_group(
          out_name, {}, nworkers,
          datapath::outside_steering_program(lim.port_min, lim.port_max, nworkers));
    }
    for (const auto& [name, port] :
         {std::pair{in_name, inside[0].get()}, std::pair{out_name, outside[0].get()}}) {
      if (dynamic_cast<io::AfXdpPort*>(port) != nullptr) continue;  // no offloads, by design
      if (auto w = offload_warning(name, port->offloads())) spdlog::warn("{}", *w);
    }
    spdlog::info(
        "inside {} ({}), addresses {}; outside {} ({}), addresses {}, next hop {}; {} datapath "
        "worker{}{}",
        in_name, inside[0]->mac().text().view(), join(base.inside_addresses), out_name,
        outside[0]->mac().text().view(), join(base.outside_addresses), text(base.next_hop),
        nworkers, nworkers == 1 ? "" : "s",
        nworkers == 1
            ? ""
            : fmt::format(", the inside steered by {}", control::name(config.inside_steering())));
    for (std::size_t i = 0; i < nworkers; ++i) {
      auto wc = base;
      wc.engine = datapath::shard_config(base.engine, i, nworkers);
      wc.primary = i == 0;
      if (nworkers > 1) {
        spdlog::info(
            "worker {}: SNAT ports {}..{}, {} connections, {} per public IP and destination", i,
            wc.engine.limits.port_min, wc.engine.limits.port_max, wc.engine.limits.max_connections,
            wc.engine.limits.per_destination);
      }
      auto w = std::make_unique<datapath::Worker>(std::move(wc), std::move(inside[i]),
                                                  std::move(outside[i]));
      if (i > 0) {  // ARP goes to the primary alone: the others read copies to learn neighbours
        io::AfPacketOptions arp;
        arp.ether_type = 0x0806;
        arp.rx_block_size = 1u << 16;
        arp.rx_block_count = 2;
        arp.tx_frame_count = 4;
        arp.offloads = false;
        w->set_arp_taps(io::open_af_packet(in_name, arp), io::open_af_packet(out_name, arp));
      }
      workers.push_back(w.get());
      owned_workers.push_back(std::move(w));
    }
  } catch (const std::exception& e) {
    spdlog::error("cannot start the datapath: {}", e.what());
    return 1;
  }

  // The kernel's own copy of the frames natgw translates is dropped at ingress (host.hpp).
  const std::string discard = run_nft(ingress_discard_ruleset(
      in_name, out_name, interface_addresses(in_name), config.engine().public_ips));
  if (discard.empty()) {
    spdlog::info(
        "the kernel's copy of translated frames is dropped at ingress (nftables table netdev "
        "natgw)");
  } else {
    spdlog::warn(
        "{}: the kernel also routes (and drops) every frame natgw translates, which costs CPU",
        discard);
  }
  struct RemoveDiscard {  // on every way out of run()
    bool installed;
    ~RemoveDiscard() {
      if (installed) (void)run_nft(kIngressDiscardRemove);
    }
  } remove_discard{discard.empty()};

  // Flow logs: started before the restore, which reports restored flows as opened.
  std::unique_ptr<FlowLogPump> flow_log;
  if (config.flow_logs.enabled) {
    keep_stdout_for(config);
    std::vector<nat::FlowEventRing*> rings;
    for (datapath::Worker* w : workers) rings.push_back(w->engine().flow_events());
    flow_log = std::make_unique<FlowLogPump>(std::move(rings));
    if (auto err = flow_log->open(flow_log_options(config)); !err.empty()) {
      spdlog::error("flow_logs.path: {}", err);
      return 1;
    }
    flow_log->start();
    spdlog::info("flow log: {}", flow_log_text(config));
  }

  if (!options.state_file.empty()) {
    restore(workers, inside_steering(config), config.engine().limits, options.state_file);
  }

  Gateway gw(config, workers);
  gw.inside_name_ = in_name;
  gw.outside_name_ = out_name;
  gw.flow_log_ = flow_log.get();
  httplib::Server srv;
  install_routes(srv, gw, options.state_file);
  capture_route(srv, workers);
  install_evidence_routes(srv, workers);
  const std::string host_addr = text(config.api.listen.addr);
  if (!srv.bind_to_port(host_addr, config.api.listen.port)) {
    spdlog::error("cannot listen on {}:{} for the API (in use, or not an address of this host)", host_addr,
                  config.api.listen.port);
    return 1;
  }

  for (datapath::Worker* w : workers) w->announce(datapath::monotonic_now());
  std::vector<std::thread> datapath_threads;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    datapath_threads.emplace_back([w = workers[i]] { w->run(); });
    if (!config.datapath.cpus.empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(config.datapath.cpus[i], &set);
      if (const int rc =
              pthread_setaffinity_np(datapath_threads.back().native_handle(), sizeof set, &set);
          rc != 0) {
        spdlog::warn("worker {}: cannot pin to CPU {}: {}", i, config.datapath.cpus[i],
                     std::strerror(rc));
      }
    }
  }
  std::thread api_thread([&] { srv.listen_after_bind(); });
  std::atomic<bool> stopping{false};
  std::thread prober([&] {
    while (!stopping.load()) {
      gw.probe_tick();
      for (int i = 0; i < 10 && !stopping.load(); ++i) std::this_thread::sleep_for(100ms);
    }
  });
  spdlog::info("natgw {} running: {}; profile {}; API http://{}:{}", NATGW_VERSION, control::summary(config),
               control::name(config.profile), host_addr, config.api.listen.port);
  notify_status("running: " + control::summary(config));
  notify_ready();

  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading {}", options.config.string());
      notify_reloading();
      gw.reload(options.config);
      notify_status("running: " + control::summary(gw.config()));
      notify_ready();
      continue;
    }
    spdlog::info("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    notify_stopping();
    break;
  }
  stopping = true;
  srv.stop();
  for (datapath::Worker* w : workers) w->stop();
  prober.join();
  api_thread.join();
  for (auto& t : datapath_threads) t.join();
  if (flow_log && options.state_file.empty()) {
    // No state file: the open flows end here. Written in ring-sized steps, drained between.
    for (datapath::Worker* w : workers) {
      nat::Engine& engine = w->engine();
      const std::size_t step = engine.flow_events()->capacity() / 2;
      std::size_t next = 0;
      do {
        next = engine.log_stopped_flows(datapath::monotonic_now(), next, step);
        flow_log->drain();
      } while (next != 0);
    }
  }
  if (flow_log) flow_log->stop();  // the datapath has stopped: this drains every record
  if (!options.state_file.empty()) {
    SavedState st;
    st.saved_unix_ms = unix_ms_now();
    for (datapath::Worker* w : workers) {
      const auto part = w->engine().save_flows();
      st.flows.insert(st.flows.end(), part.begin(), part.end());
    }
    const auto whole = gw.config().engine().limits;
    st.port_min = whole.port_min;
    st.port_max = whole.port_max;
    if (auto err = write_state(options.state_file, st); !err.empty()) {
      spdlog::error("could not save the flow table: {}", err);
    } else {
      spdlog::info("saved {} flows and hold-downs to {}", st.flows.size(), options.state_file.string());
    }
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace natgw::daemon
