#include "daemon/evidence_routes.hpp"

#include <httplib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "datapath/worker.hpp"

namespace natgw::daemon {
namespace {

std::string text(const net::Endpoint& e) {
  return std::string(e.addr.text().view()) + ":" + std::to_string(e.port);
}

}  // namespace

// With several workers, their samples are merged by time (oldest first).
void install_evidence_routes(httplib::Server& srv, const std::vector<datapath::Worker*>& workers) {
  srv.Get("/v1/drops", [workers](const httplib::Request&, httplib::Response& res) {
    std::vector<nat::DropSample> drops;
    std::vector<nat::FtpActiveSample> ftp;
    std::uint64_t ftp_total = 0;
    bool ftp_alg = false;
    nat::FtpAlgStats alg;
    nat::Time now{};
    bool ok = true;
    for (datapath::Worker* worker : workers) {
      ok = ok && worker->call(
                     [&](datapath::Worker& w) {
                       const auto d = w.engine().recent_drops();
                       drops.insert(drops.end(), d.begin(), d.end());
                       const auto f = w.engine().recent_ftp_active();
                       ftp.insert(ftp.end(), f.begin(), f.end());
                       ftp_total += w.engine().ftp_active_commands();
                       ftp_alg = w.engine().config().ftp_alg;
                       alg += w.engine().ftp_alg_stats();
                       now = datapath::monotonic_now();
                     },
                     std::chrono::milliseconds(2000));
    }
    std::stable_sort(drops.begin(), drops.end(),
                     [](const auto& a, const auto& b) { return a.time < b.time; });
    std::stable_sort(ftp.begin(), ftp.end(),
                     [](const auto& a, const auto& b) { return a.time < b.time; });
    if (!ok) {
      res.status = 503;
      res.set_content(R"({"error":"the datapath did not answer in time"})", "application/json");
      return;
    }
    auto ago = [&](nat::Time t) { return std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count(); };
    nlohmann::json j;
    j["drops"] = nlohmann::json::array();
    for (const auto& d : drops) {
      j["drops"].push_back({{"ms_ago", ago(d.time)},
                            {"reason", std::string(nat::name(d.reason))},
                            {"direction", d.direction == nat::Direction::out ? "out" : "in"},
                            {"ip_proto", d.ip_proto},
                            {"src", text(d.src)},
                            {"dst", text(d.dst)}});
    }
    j["ftp_active"]["total"] = ftp_total;
    j["ftp_active"]["recent"] = nlohmann::json::array();
    // With the FTP ALG the commands are expected: what it rewrote and what it left alone.
    j["ftp_active"]["alg"] = ftp_alg;
    j["ftp_active"]["rewritten"] = alg.rewritten;
    j["ftp_active"]["not_rewritten"] = alg.not_rewritten;
    for (const auto& f : ftp) {
      j["ftp_active"]["recent"].push_back({{"ms_ago", ago(f.time)}, {"client", text(f.client)}, {"server", text(f.server)}});
    }
    res.set_content(j.dump(2), "application/json");
  });
}

}  // namespace natgw::daemon
