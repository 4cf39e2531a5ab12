// Tables for people and JSON for programs (the chart is in chart.cpp).
#include "sim/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "nat/drop_reason.hpp"

namespace natgw::sim {
namespace {

using nat::ConnState;
using nat::L4;

std::uint64_t conn_sum(const nat::Counters& c, ConnState s) {
  return c.conn(L4::tcp, s) + c.conn(L4::udp, s);
}

std::string num(std::uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

double seconds(Time t) {
  return static_cast<double>(t.count()) / 1e9;
}

std::string ip_text(net::Ipv4 a) {
  return std::string{a.text().view()};
}
std::string ep_text(const net::Endpoint& e) {
  return fmt::format("{}:{}", ip_text(e.addr), e.port);
}

std::string minutes_text(Duration d) {
  const double m = static_cast<double>(d.count()) / 60e9;
  if (std::abs(m - std::round(m)) < 1e-9)
    return fmt::format("{} min", static_cast<long long>(std::llround(m)));
  return fmt::format("{:.1f} min", m);
}

AppCounters minus(const AppCounters& a, const AppCounters& b) {
  return {a.requests - b.requests,
          a.completed - b.completed,
          a.failed - b.failed,
          a.retries - b.retries,
          a.snat_failures - b.snat_failures,
          a.resets - b.resets,
          a.lost - b.lost,
          a.remapped - b.remapped,
          a.blocked - b.blocked,
          a.client_ports - b.client_ports,
          a.queued - b.queued,
          a.connections - b.connections};
}

std::uint64_t peak_taken(const RunResult& r) {
  std::uint64_t best = 0;
  for (const auto& s : r.samples) {
    for (std::size_t i = 0; i < s.ports_live.size(); ++i) {
      best = std::max<std::uint64_t>(best, std::uint64_t{s.ports_live[i]} + s.ports_holddown[i]);
    }
  }
  return best;
}

std::optional<BusiestDestination> peak_busiest(const RunResult& r) {
  std::optional<BusiestDestination> best;
  for (const auto& s : r.samples) {
    if (s.busiest && (!best || s.busiest->live > best->live)) best = s.busiest;
  }
  return best;
}

std::uint64_t peak_active(const RunResult& r) {
  std::uint64_t best = 0;
  for (const auto& s : r.samples)
    best = std::max(best, s.counters.active[0] + s.counters.active[1]);
  return best;
}

// Right-aligned text columns (the first one left-aligned when asked).
class Columns {
 public:
  explicit Columns(bool left_first = false) : left_first_(left_first) {}
  void header(std::vector<std::string> h) { rows_.insert(rows_.begin(), std::move(h)); }
  void row(std::vector<std::string> r) { rows_.push_back(std::move(r)); }
  [[nodiscard]] std::string text() const {
    std::vector<std::size_t> w;
    for (const auto& r : rows_) {
      if (w.size() < r.size()) w.resize(r.size(), 0);
      for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    }
    std::string out;
    for (const auto& r : rows_) {
      std::string line;
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (i) line += "  ";
        const std::string pad(w[i] - r[i].size(), ' ');
        line += i == 0 && left_first_ ? r[i] + pad : pad + r[i];
      }
      out += line + "\n";
    }
    return out;
  }

 private:
  bool left_first_;
  std::vector<std::vector<std::string>> rows_;
};

std::string reason_text(nat::DropReason r) {
  return std::string{nat::name(r)};
}

std::string failure_line(const RunResult& r) {
  if (!r.first_failure) return "none";
  const auto& f = *r.first_failure;
  return fmt::format("{}  {} ({} to {}: {})", clock_text(f.at), reason_text(f.reason),
                     ip_text(f.client), ep_text(f.destination),
                     nat::kDropReasonDescriptions[static_cast<std::size_t>(f.reason)]);
}

std::string search_text(const Plan& p, Duration run) {
  if (!p.searched) return "";
  std::string out;
  for (const auto& s : p.steps) {
    if (!out.empty()) out += "; ";
    const std::string ips = fmt::format("{} IP{}", s.public_ips, s.public_ips == 1 ? "" : "s");
    if (s.ok) {
      out += fmt::format("{}: no failure in {}", ips, minutes_text(run));
    } else if (s.first_failure) {
      out += fmt::format("{}: fails at {} ({})", ips, clock_text(s.first_failure->at),
                         reason_text(s.first_failure->reason));
    } else {
      out += fmt::format("{}: fails", ips);
    }
  }
  return out;
}

// Evidence-based advice, in the guide's terms.
std::vector<std::string> advice(const Report& rep) {
  std::vector<std::string> out;
  const RunResult& r = rep.plan.run;
  const AppCounters& a = r.last().app;
  const auto& w = rep.workload;
  if (a.resets > 0) {
    out.push_back(fmt::format(
        "{} connections were found expired by the gateway (RST or drop on reuse): send keepalives "
        "more often than the {}-minute TCP idle timeout, or close idle pooled connections sooner; "
        "more public IPs do not help",
        num(a.resets), w.gateway.idle_timeout_minutes));
  }
  if (a.lost > 0 || a.remapped > 0) {
    out.push_back(fmt::format(
        "UDP: {} responses lost and {} sockets remapped after the 4-minute UDP idle timeout: send "
        "keepalives in both directions",
        num(a.lost), num(a.remapped)));
  }
  if (a.blocked > 0) {
    std::string reasons;
    for (std::size_t i = 0; i < nat::kDropReasonCount; ++i) {
      const auto reason = static_cast<nat::DropReason>(i);
      if (reason == nat::DropReason::smtp_blocked ||
          reason == nat::DropReason::source_not_in_subnet) {
        if (const auto n = r.last().counters.drops[i]) {
          reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", num(n), nat::name(reason));
        }
      }
    }
    out.push_back(
        fmt::format("{} connection attempts were dropped for reasons more IPs do not fix "
                    "({})",
                    num(a.blocked), reasons));
  }
  if (a.client_ports > 0) {
    out.push_back(fmt::format("{} attempts found no free ephemeral port on their client",
                              num(a.client_ports)));
  }
  return out;
}

}  // namespace

std::string clock_text(Time t) {
  const auto ms = t.count() / 1'000'000;
  return fmt::format("{}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60,
                     ms % 1000);
}

std::string ips_needed_text(const Plan& p) {
  if (!p.searched) return "not searched";
  if (p.ips_needed) return std::to_string(*p.ips_needed);
  return "more than 16: this workload cannot run on one gateway";
}

std::vector<MinuteRow> minutes(const RunResult& r) {
  std::vector<MinuteRow> rows;
  const std::int64_t minute_ns = 60'000'000'000;
  const Sample* prev = nullptr;
  for (const auto& s : r.samples) {
    const auto m = static_cast<std::size_t>((s.at.count() - 1) / minute_ns);
    if (rows.empty() || rows.back().minute != m) {
      MinuteRow row;
      row.minute = m;
      row.start = Time{static_cast<std::int64_t>(m) * minute_ns};
      row.live_peak.assign(s.ports_live.size(), 0);
      row.taken_peak.assign(s.ports_live.size(), 0);
      rows.push_back(std::move(row));
    }
    MinuteRow& row = rows.back();
    row.end = s.at;
    const nat::Counters zero{};
    const nat::Counters& before = prev ? prev->counters : zero;
    const auto delta = [&](ConnState st) {
      return conn_sum(s.counters, st) - conn_sum(before, st);
    };
    row.attempted += delta(ConnState::attempted);
    row.failed += delta(ConnState::failed);
    row.established += delta(ConnState::established);
    row.closed += delta(ConnState::closed);
    row.timed_out += delta(ConnState::timed_out);
    row.dropped += s.counters.total_drops() - before.total_drops();
    row.active_peak = std::max(row.active_peak, s.counters.active[0] + s.counters.active[1]);
    for (std::size_t i = 0; i < s.ports_live.size(); ++i) {
      row.live_peak[i] = std::max(row.live_peak[i], s.ports_live[i]);
      row.taken_peak[i] = std::max(row.taken_peak[i], s.ports_live[i] + s.ports_holddown[i]);
    }
    if (s.busiest && (!row.busiest || s.busiest->live > row.busiest->live)) row.busiest = s.busiest;
    const AppCounters d = minus(s.app, prev ? prev->app : AppCounters{});
    AppCounters& a = row.app;
    a = {a.requests + d.requests,
         a.completed + d.completed,
         a.failed + d.failed,
         a.retries + d.retries,
         a.snat_failures + d.snat_failures,
         a.resets + d.resets,
         a.lost + d.lost,
         a.remapped + d.remapped,
         a.blocked + d.blocked,
         a.client_ports + d.client_ports,
         a.queued + d.queued,
         a.connections + d.connections};
    prev = &s;
  }
  return rows;
}

std::string table(const Report& rep, bool quiet) {
  const RunResult& r = rep.plan.run;
  const Workload& w = rep.workload;
  std::string out;
  std::string ips;
  for (const auto& a : r.public_ips) ips += (ips.empty() ? "" : ", ") + ip_text(a);
  out += fmt::format("natgw simulate: {} ({})\n", w.name, rep.file);
  if (!w.description.empty()) out += fmt::format("  {}\n", w.description);
  out += fmt::format(
      "  gateway: {} public IP{} ({}), TCP idle timeout {} min, profile azure; {} "
      "simulated, seed {}\n\n",
      r.public_ips.size(), r.public_ips.size() == 1 ? "" : "s", ips, w.gateway.idle_timeout_minutes,
      minutes_text(w.duration), w.seed);
  if (!quiet) {
    Columns t;
    const bool per_ip = r.public_ips.size() <= 4;
    std::vector<std::string> h = {"min",       "attempted", "failed",  "established", "closed",
                                  "timed_out", "active",    "dropped", "req.failed"};
    if (per_ip) {
      for (const auto& a : r.public_ips) h.push_back(ip_text(a) + " live+held");
    } else {
      h.push_back("ports/IP max live+held");
    }
    h.push_back("busiest dst (of 50,000)");
    for (const auto& m : minutes(r)) {
      std::vector<std::string> row = {
          std::to_string(m.minute), num(m.attempted), num(m.failed),
          num(m.established),       num(m.closed),    num(m.timed_out),
          num(m.active_peak),       num(m.dropped),   num(m.app.failed)};
      if (per_ip) {
        for (std::size_t i = 0; i < m.live_peak.size(); ++i) {
          row.push_back(
              fmt::format("{}+{}", num(m.live_peak[i]), num(m.taken_peak[i] - m.live_peak[i])));
        }
      } else {
        std::size_t best = 0;
        for (std::size_t i = 1; i < m.taken_peak.size(); ++i) {
          if (m.taken_peak[i] > m.taken_peak[best]) best = i;
        }
        row.push_back(fmt::format("{}+{}", num(m.live_peak[best]),
                                  num(m.taken_peak[best] - m.live_peak[best])));
      }
      row.push_back(m.busiest ? num(m.busiest->live) : "0");
      t.row(std::move(row));
    }
    t.header(std::move(h));
    out += t.text() + "\n";
  }
  out += fmt::format("first failure      {}\n", failure_line(r));
  std::vector<std::pair<Time, std::size_t>> firsts;
  for (std::size_t i = 0; i < nat::kDropReasonCount; ++i) {
    if (r.first_by_reason[i]) firsts.emplace_back(*r.first_by_reason[i], i);
  }
  std::sort(firsts.begin(), firsts.end());
  std::string by_reason;
  for (const auto& [at, i] : firsts) {
    by_reason += fmt::format("{}{} at {}", by_reason.empty() ? "" : ", ",
                             nat::name(static_cast<nat::DropReason>(i)), clock_text(at));
  }
  if (!by_reason.empty()) out += fmt::format("  by reason        {}\n", by_reason);
  out += fmt::format(
      "first reset        {}\n",
      r.first_reset ? clock_text(*r.first_reset) + " (a connection the gateway had expired idle)"
                    : "none");
  if (r.first_lost) out += fmt::format("first UDP loss     {}\n", clock_text(*r.first_lost));

  const Sample& last = r.last();
  const AppCounters& a = last.app;
  out += "\nsummary\n";
  out += fmt::format(
      "  requests         {} started, {} answered, {} failed ({} attempts refused at "
      "SNAT, {} resets, {} UDP lost), {} retries, {} waited for a pooled connection\n",
      num(a.requests), num(a.completed), num(a.failed), num(a.snat_failures), num(a.resets),
      num(a.lost), num(a.retries), num(a.queued));
  out += fmt::format(
      "  SNAT connections {} attempted, {} failed, {} established, {} closed, {} "
      "timed out; peak {} active\n",
      num(conn_sum(last.counters, ConnState::attempted)),
      num(conn_sum(last.counters, ConnState::failed)),
      num(conn_sum(last.counters, ConnState::established)),
      num(conn_sum(last.counters, ConnState::closed)),
      num(conn_sum(last.counters, ConnState::timed_out)), num(peak_active(r)));
  if (const auto b = peak_busiest(r)) {
    out += fmt::format(
        "  busiest          {} ({}) via {}: peak {} connections of 50,000 "
        "({} ports in hold-down then); peak ports taken on one IP {} (all "
        "destinations; at most 64,512 for each)\n",
        ep_text(b->destination), nat::kL4Names[static_cast<std::size_t>(b->proto)],
        ip_text(b->public_ip), num(b->live), num(b->holddown), num(peak_taken(r)));
  }
  std::string drops;
  for (std::size_t i = 0; i < nat::kDropReasonCount; ++i) {
    if (const auto n = last.counters.drops[i]) {
      drops += fmt::format("{}{} {}", drops.empty() ? "" : ", ", num(n),
                           nat::name(static_cast<nat::DropReason>(i)));
    }
  }
  out += fmt::format("  dropped packets  {}\n", drops.empty() ? "none" : drops);
  if (rep.plan.searched) {
    out += fmt::format("  public IPs needed for no failed SNAT connection: {}\n",
                       ips_needed_text(rep.plan));
    out += fmt::format("    ({})\n", search_text(rep.plan, w.duration));
  }
  for (const auto& line : advice(rep)) out += fmt::format("  note: {}\n", line);
  out += fmt::format(
      "  speed            {} simulated in {:.2f} s ({} requests, {} packets through "
      "the engine){}\n",
      minutes_text(Duration{r.end}), r.wall_seconds, num(a.requests), num(r.packets),
      rep.plan.searched ? fmt::format("; IP search {:.2f} s", rep.plan.search_wall_seconds) : "");
  return out;
}

nlohmann::json to_json(const Report& rep) {
  using nlohmann::json;
  const RunResult& r = rep.plan.run;
  const Workload& w = rep.workload;
  json j;
  json ips = json::array();
  for (const auto& a : r.public_ips) ips.push_back(ip_text(a));
  j["workload"] = {{"name", w.name},
                   {"file", rep.file},
                   {"duration_seconds", seconds(w.duration)},
                   {"seed", w.seed},
                   {"public_ips", ips},
                   {"idle_timeout_minutes", w.gateway.idle_timeout_minutes},
                   {"profile", "azure"}};
  json rows = json::array();
  for (const auto& m : minutes(r)) {
    json row;
    row["minute"] = m.minute;
    row["start_seconds"] = seconds(m.start);
    row["end_seconds"] = seconds(m.end);
    row["snat_connections"] = {{"attempted", m.attempted},
                               {"failed", m.failed},
                               {"established", m.established},
                               {"closed", m.closed},
                               {"timed_out", m.timed_out}};
    row["total_snat_connections_peak"] = m.active_peak;
    row["dropped_packets"] = m.dropped;
    json per_ip = json::array();
    for (std::size_t i = 0; i < m.live_peak.size(); ++i) {
      per_ip.push_back({{"address", ip_text(r.public_ips[i])},
                        {"ports_in_use_peak", m.live_peak[i]},
                        {"ports_taken_peak", m.taken_peak[i]}});
    }
    row["public_ips"] = per_ip;
    if (m.busiest) {
      row["busiest_destination"] = {
          {"public_ip", ip_text(m.busiest->public_ip)},
          {"destination", ep_text(m.busiest->destination)},
          {"protocol", nat::kL4Names[static_cast<std::size_t>(m.busiest->proto)]},
          {"connections", m.busiest->live},
          {"holddown", m.busiest->holddown},
          {"limit", 50000}};
    } else {
      row["busiest_destination"] = nullptr;
    }
    row["requests"] = {{"started", m.app.requests},
                       {"answered", m.app.completed},
                       {"failed", m.app.failed},
                       {"retries", m.app.retries},
                       {"resets", m.app.resets}};
    rows.push_back(std::move(row));
  }
  j["minutes"] = rows;
  if (r.first_failure) {
    const auto& f = *r.first_failure;
    j["first_failure"] = {{"seconds", seconds(f.at)},
                          {"time", clock_text(f.at)},
                          {"reason", nat::name(f.reason)},
                          {"client", ip_text(f.client)},
                          {"destination", ep_text(f.destination)}};
  } else {
    j["first_failure"] = nullptr;
  }
  json by_reason = json::object();
  for (std::size_t i = 0; i < nat::kDropReasonCount; ++i) {
    if (r.first_by_reason[i]) {
      by_reason[std::string{nat::name(static_cast<nat::DropReason>(i))}] =
          seconds(*r.first_by_reason[i]);
    }
  }
  j["first_failure_by_reason_seconds"] = by_reason;
  j["first_reset_seconds"] = r.first_reset ? json(seconds(*r.first_reset)) : json(nullptr);
  j["first_udp_loss_seconds"] = r.first_lost ? json(seconds(*r.first_lost)) : json(nullptr);
  const Sample& last = r.last();
  json conns = json::object();
  for (std::size_t s = 0; s < nat::kConnStateCount; ++s) {
    conns[std::string{nat::kConnStateNames[s]}] =
        conn_sum(last.counters, static_cast<ConnState>(s));
  }
  json drops = json::object();
  for (std::size_t i = 0; i < nat::kDropReasonCount; ++i) {
    drops[std::string{nat::kDropReasonNames[i]}] = last.counters.drops[i];
  }
  const AppCounters& a = last.app;
  j["totals"] = {{"snat_connections", conns},
                 {"total_snat_connections_peak", peak_active(r)},
                 {"ports_taken_peak_per_ip", peak_taken(r)},
                 {"dropped_packets", drops},
                 {"late_rst", last.counters.late_rst},
                 {"requests",
                  {{"started", a.requests},
                   {"answered", a.completed},
                   {"failed", a.failed},
                   {"retries", a.retries},
                   {"refused_at_snat", a.snat_failures},
                   {"resets", a.resets},
                   {"udp_lost", a.lost},
                   {"udp_remapped", a.remapped},
                   {"blocked", a.blocked},
                   {"client_ports_exhausted", a.client_ports},
                   {"queued", a.queued},
                   {"connection_attempts", a.connections}}}};
  if (const auto b = peak_busiest(r)) {
    j["totals"]["busiest_destination_peak"] = {
        {"public_ip", ip_text(b->public_ip)},
        {"destination", ep_text(b->destination)},
        {"protocol", nat::kL4Names[static_cast<std::size_t>(b->proto)]},
        {"connections", b->live}};
  }
  json summary;
  summary["searched"] = rep.plan.searched;
  summary["public_ips_needed"] = rep.plan.ips_needed ? json(*rep.plan.ips_needed) : json(nullptr);
  summary["answer"] = ips_needed_text(rep.plan);
  json steps = json::array();
  for (const auto& s : rep.plan.steps) {
    json step = {{"public_ips", s.public_ips}, {"failures", !s.ok}};
    if (s.first_failure) {
      step["first_failure_seconds"] = seconds(s.first_failure->at);
      step["reason"] = nat::name(s.first_failure->reason);
    }
    steps.push_back(step);
  }
  summary["search"] = steps;
  json notes = json::array();
  for (const auto& n : advice(rep)) notes.push_back(n);
  summary["notes"] = notes;
  j["summary"] = summary;
  j["run"] = {{"simulated_seconds", seconds(r.end)},
              {"stopped_early", r.stopped_early},
              {"wall_seconds", r.wall_seconds},
              {"search_wall_seconds", rep.plan.search_wall_seconds},
              {"packets", r.packets},
              {"events", r.events},
              {"sample_interval_seconds", seconds(Time{r.sample_interval})}};
  return j;
}

std::string compare_table(const Report& a, const Report& b) {
  const RunResult& ra = a.plan.run;
  const RunResult& rb = b.plan.run;
  std::string out = fmt::format("natgw simulate --compare\n  A: {} ({})\n  B: {} ({})\n\n",
                                a.workload.name, a.file, b.workload.name, b.file);
  Columns t(true);
  const auto both = [&](std::string label, auto fa, auto fb) { t.row({std::move(label), fa, fb}); };
  const auto& la = ra.last();
  const auto& lb = rb.last();
  both("public IPs", std::to_string(ra.public_ips.size()), std::to_string(rb.public_ips.size()));
  both("requests started", num(la.app.requests), num(lb.app.requests));
  both("requests answered", num(la.app.completed), num(lb.app.completed));
  both("requests failed", num(la.app.failed), num(lb.app.failed));
  both("retries", num(la.app.retries), num(lb.app.retries));
  both("resets (expired idle)", num(la.app.resets), num(lb.app.resets));
  both("SNAT attempted", num(conn_sum(la.counters, ConnState::attempted)),
       num(conn_sum(lb.counters, ConnState::attempted)));
  both("SNAT failed", num(conn_sum(la.counters, ConnState::failed)),
       num(conn_sum(lb.counters, ConnState::failed)));
  both("dropped packets", num(la.counters.total_drops()), num(lb.counters.total_drops()));
  both("peak active connections", num(peak_active(ra)), num(peak_active(rb)));
  both("peak ports taken on one IP", num(peak_taken(ra)), num(peak_taken(rb)));
  const auto busiest = [](const RunResult& r) {
    const auto x = peak_busiest(r);
    return x ? num(x->live) : std::string{"0"};
  };
  both("peak busiest destination", busiest(ra), busiest(rb));
  const auto first = [](const RunResult& r) {
    return r.first_failure ? fmt::format("{} {}", clock_text(r.first_failure->at),
                                         nat::name(r.first_failure->reason))
                           : std::string{"none"};
  };
  both("first failure", first(ra), first(rb));
  both("public IPs needed", ips_needed_text(a.plan), ips_needed_text(b.plan));
  t.header({"", "A: " + a.workload.name, "B: " + b.workload.name});
  out += t.text() + "\n";

  Columns m;
  const auto ma = minutes(ra);
  const auto mb = minutes(rb);
  const auto taken = [](const MinuteRow& r) {
    std::uint64_t best = 0;
    for (auto v : r.taken_peak) best = std::max<std::uint64_t>(best, v);
    return best;
  };
  for (std::size_t i = 0; i < std::max(ma.size(), mb.size()); ++i) {
    const auto cell = [&](const std::vector<MinuteRow>& rows, auto f) {
      return i < rows.size() ? f(rows[i]) : std::string{"-"};
    };
    m.row({std::to_string(i), cell(ma, [](const MinuteRow& r) { return num(r.attempted); }),
           cell(mb, [](const MinuteRow& r) { return num(r.attempted); }),
           cell(ma, [](const MinuteRow& r) { return num(r.failed); }),
           cell(mb, [](const MinuteRow& r) { return num(r.failed); }),
           cell(ma, [&](const MinuteRow& r) { return num(taken(r)); }),
           cell(mb, [&](const MinuteRow& r) { return num(taken(r)); }),
           cell(ma, [](const MinuteRow& r) { return num(r.app.failed); }),
           cell(mb, [](const MinuteRow& r) { return num(r.app.failed); })});
  }
  m.header({"min", "A attempted", "B attempted", "A failed", "B failed", "A ports/IP", "B ports/IP",
            "A req.failed", "B req.failed"});
  out += m.text();
  return out;
}

nlohmann::json compare_json(const Report& a, const Report& b) {
  nlohmann::json j;
  j["a"] = to_json(a);
  j["b"] = to_json(b);
  return j;
}

}  // namespace natgw::sim
