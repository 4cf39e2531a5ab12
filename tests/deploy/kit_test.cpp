// The operator's kit in deploy/ and the help it relies on:
//  - the Prometheus alert rules pass `promtool check rules` and their unit tests
//    (`promtool test rules`), and query only metrics and labels natgw exports;
//  - the Grafana dashboard is valid JSON, queries only metrics and labels natgw exports, shows
//    what the issue asks for, and every query parses (promtool);
//  - the exposition natgw serves passes `promtool check metrics`;
//  - the systemd unit passes `systemd-analyze verify` and has the settings the daemon relies on;
//  - every command's --help has a description and an example, and the man page has them all.
// "What natgw exports" is the output of telemetry::render_prometheus, the function behind
// GET /metrics, for a snapshot with a public IP and an interface (so that every family has
// samples and labels). Tools that are missing skip their checks.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/shell.hpp"
#include "telemetry/snapshot.hpp"

namespace natgw::deploy::test {
namespace {

namespace fs = std::filesystem;
using natgw::test::have;
using natgw::test::sh;
using nlohmann::json;

const fs::path kSource = NATGW_SOURCE_DIR;
const fs::path kDeploy = kSource / "deploy";
const std::string kBin = NATGW_BIN;
const fs::path kManPage = NATGW_MAN_PAGE;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "natgw-deploy-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// --- What natgw exports -----------------------------------------------------------------------

std::string exposition() {
  telemetry::Snapshot s;
  s.gateway = "natgw-test";
  s.profile = "azure";
  s.version = "0.0.0";
  s.per_destination_limit = 50000;
  s.port_inventory = 64512;
  s.flow_capacity = 2000000;
  telemetry::PublicIpReport ip;
  ip.addr = net::Ipv4(203, 0, 113, 10);
  s.public_ips.push_back(ip);
  telemetry::InterfaceReport in;
  in.role = "inside";
  in.name = "gw-in";
  s.interfaces.push_back(in);
  return telemetry::render_prometheus(s);
}

// Metric family -> its label names.
std::map<std::string, std::set<std::string>> exported() {
  std::map<std::string, std::set<std::string>> m;
  std::istringstream in(exposition());
  std::string line;
  const std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) )");
  const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)=")re");
  while (std::getline(in, line)) {
    std::smatch mt;
    if (std::regex_search(line, mt, type_line)) {
      m[mt[1]];
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const auto end = line.find_first_of("{ ");
    auto& labels = m[line.substr(0, end)];
    if (end != std::string::npos && line[end] == '{') {
      const std::string body = line.substr(end + 1, line.find('}') - end - 1);
      for (std::sregex_iterator it(body.begin(), body.end(), label), e; it != e; ++it) labels.insert((*it)[1]);
    }
  }
  return m;
}

// Labels Prometheus adds to every scraped series.
const std::set<std::string> kTargetLabels = {"instance", "job"};

std::set<std::string> metric_names(const std::string& text) {
  std::set<std::string> out;
  const std::regex name(R"(\bnatgw_[a-z0-9_]+)");
  for (std::sregex_iterator it(text.begin(), text.end(), name), e; it != e; ++it) out.insert(it->str());
  return out;
}

// Problems with one PromQL expression: metrics natgw does not export, selector labels a metric
// does not have, grouping labels (by, without, on, ignoring, group_left/right) and legend
// placeholders that none of the expression's metrics have.
std::vector<std::string> check_query(const std::string& expr, const std::string& legend,
                                     const std::map<std::string, std::set<std::string>>& families) {
  std::vector<std::string> problems;
  std::set<std::string> all_labels = kTargetLabels;
  for (const auto& name : metric_names(expr)) {
    const auto f = families.find(name);
    if (f == families.end()) {
      problems.push_back("'" + name + "' is not a metric natgw exports (in: " + expr + ")");
      continue;
    }
    all_labels.insert(f->second.begin(), f->second.end());
  }
  const std::regex selector(R"((natgw_[a-z0-9_]+)\s*\{([^}]*)\})");
  const std::regex matcher(R"(([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=))");
  for (std::sregex_iterator it(expr.begin(), expr.end(), selector), e; it != e; ++it) {
    const std::string name = (*it)[1];
    const std::string body = (*it)[2];
    const auto f = families.find(name);
    if (f == families.end()) continue;
    for (std::sregex_iterator m(body.begin(), body.end(), matcher), me; m != me; ++m) {
      const std::string l = (*m)[1];
      if (!f->second.count(l) && !kTargetLabels.count(l)) {
        problems.push_back(name + " has no label '" + l + "' (in: " + expr + ")");
      }
    }
  }
  const std::regex grouping(R"(\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\))");
  const std::regex word(R"([a-zA-Z_][a-zA-Z0-9_]*)");
  for (std::sregex_iterator it(expr.begin(), expr.end(), grouping), e; it != e; ++it) {
    const std::string list = (*it)[2];
    for (std::sregex_iterator w(list.begin(), list.end(), word), we; w != we; ++w) {
      if (!all_labels.count(w->str())) {
        problems.push_back("no metric of the query has label '" + w->str() + "' (" + (*it)[1].str() + " in: " + expr + ")");
      }
    }
  }
  const std::regex placeholder(R"(\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\})");
  for (std::sregex_iterator it(legend.begin(), legend.end(), placeholder), e; it != e; ++it) {
    if (!all_labels.count((*it)[1])) {
      problems.push_back("legend '" + legend + "' uses label '" + (*it)[1].str() + "' that the query does not have (" + expr + ")");
    }
  }
  return problems;
}

// --- Prometheus rules ------------------------------------------------------------------------

TEST(PrometheusRules, PromtoolCheckRules) {
  if (!have("promtool")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const auto r = sh("promtool check rules " + quote((kDeploy / "prometheus/natgw-alerts.yml").string()));
  EXPECT_EQ(r.rc, 0) << r.out;
}

TEST(PrometheusRules, PromtoolUnitTests) {
  if (!have("promtool")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const auto r = sh("cd " + quote((kDeploy / "prometheus").string()) + " && promtool test rules natgw-alerts.test.yml");
  EXPECT_EQ(r.rc, 0) << r.out;
}

TEST(PrometheusRules, QueryOnlyExportedMetricsAndLabels) {
  const auto families = exported();
  const YAML::Node doc = YAML::LoadFile((kDeploy / "prometheus/natgw-alerts.yml").string());
  std::set<std::string> alerts;
  int exprs = 0;
  for (const auto& group : doc["groups"]) {
    for (const auto& rule : group["rules"]) {
      const auto expr = rule["expr"].as<std::string>();
      ++exprs;
      if (rule["alert"]) alerts.insert(rule["alert"].as<std::string>());
      for (const auto& p : check_query(expr, "", families)) ADD_FAILURE() << p;
      ASSERT_TRUE(rule["labels"] && rule["labels"]["severity"]) << "alert without a severity: " << expr;
    }
  }
  EXPECT_GE(exprs, 4);
  // SPEC.md section 4's recommended alerts, and the issue's port usage alert.
  for (const char* a : {"NatgwDatapathAvailabilityLow", "NatgwSnatConnectionFailures", "NatgwDestinationPortUsageHigh"}) {
    EXPECT_TRUE(alerts.count(a)) << "missing alert " << a;
  }
  // Metrics named in the annotations exist too.
  for (const auto& name : metric_names(slurp(kDeploy / "prometheus/natgw-alerts.yml"))) {
    EXPECT_TRUE(families.count(name)) << name << " is mentioned in natgw-alerts.yml but not exported";
  }
}

// --- Grafana dashboard -------------------------------------------------------------------------

struct Query {
  std::string panel;
  std::string expr;
  std::string legend;
};

void collect(const json& panels, std::vector<Query>& out, std::set<int>& ids, std::vector<std::string>& problems) {
  for (const auto& p : panels) {
    const std::string title = p.value("title", "");
    if (!p.contains("id") || !ids.insert(p["id"].get<int>()).second) problems.push_back("panel '" + title + "': missing or duplicate id");
    if (!p.contains("gridPos")) {
      problems.push_back("panel '" + title + "': no gridPos");
    } else {
      const auto& g = p["gridPos"];
      if (g["x"].get<int>() + g["w"].get<int>() > 24) problems.push_back("panel '" + title + "' is wider than the 24 columns");
    }
    if (p.value("type", "") != "row" && p.value("targets", json::array()).empty()) {
      problems.push_back("panel '" + title + "' has no query");
    }
    for (const auto& t : p.value("targets", json::array())) {
      if (t.value("datasource", json::object()).value("uid", "") != "${datasource}") {
        problems.push_back("panel '" + title + "': a query does not use the ${datasource} variable");
      }
      out.push_back({title, t.at("expr").get<std::string>(), t.value("legendFormat", "")});
    }
    if (p.contains("panels")) collect(p["panels"], out, ids, problems);
  }
}

class GrafanaDashboard : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text = slurp(kDeploy / "grafana/natgw-dashboard.json");
    ASSERT_FALSE(text.empty());
    ASSERT_NO_THROW(dash_ = json::parse(text)) << "natgw-dashboard.json is not valid JSON";
    std::set<int> ids;
    collect(dash_.at("panels"), queries_, ids, structure_);
    for (const auto& v : dash_.at("templating").at("list")) {
      if (v.value("type", "") == "query") {
        const auto& q = v.at("query");
        queries_.push_back({"variable " + v.value("name", ""), q.is_string() ? q.get<std::string>() : q.at("query").get<std::string>(), ""});
      }
    }
  }
  json dash_;
  std::vector<Query> queries_;
  std::vector<std::string> structure_;
};

TEST_F(GrafanaDashboard, Structure) {
  for (const auto& p : structure_) ADD_FAILURE() << p;
  EXPECT_FALSE(dash_.value("uid", "").empty());
  EXPECT_FALSE(dash_.value("title", "").empty());
  bool datasource_variable = false;
  for (const auto& v : dash_["templating"]["list"]) {
    if (v.value("type", "") == "datasource" && v.value("name", "") == "datasource" && v.value("query", "") == "prometheus") {
      datasource_variable = true;
    }
  }
  EXPECT_TRUE(datasource_variable) << "no Prometheus data source variable named datasource";
  EXPECT_GE(queries_.size(), 10u);
}

TEST_F(GrafanaDashboard, QueriesOnlyExportedMetricsAndLabels) {
  const auto families = exported();
  for (const auto& q : queries_) {
    for (const auto& p : check_query(q.expr, q.legend, families)) ADD_FAILURE() << "panel '" << q.panel << "': " << p;
  }
}

TEST_F(GrafanaDashboard, ShowsWhatTheIssueAsksFor) {
  std::set<std::string> used;
  bool drops_by_reason = false, ports_per_ip = false;
  for (const auto& q : queries_) {
    const auto names = metric_names(q.expr);
    used.insert(names.begin(), names.end());
    if (names.count("natgw_dropped_packets_total") && std::regex_search(q.expr, std::regex(R"(by\s*\(\s*reason\s*\))"))) {
      drops_by_reason = true;
    }
    if (names.count("natgw_snat_ports_in_use") && q.legend.find("{{public_ip}}") != std::string::npos) ports_per_ip = true;
  }
  // The Azure metrics (SPEC.md section 4), ports per IP, the busiest destination and its limit.
  for (const char* m : {"natgw_bytes_total", "natgw_packets_total", "natgw_dropped_packets_total",
                        "natgw_snat_connections_total", "natgw_snat_connections_active",
                        "natgw_datapath_availability_percent", "natgw_snat_ports_in_use",
                        "natgw_destination_connections_max", "natgw_destination_connections_limit"}) {
    EXPECT_TRUE(used.count(m)) << "the dashboard does not show " << m;
  }
  EXPECT_TRUE(drops_by_reason) << "no panel shows drops by reason";
  EXPECT_TRUE(ports_per_ip) << "no panel shows ports in use per public IP";
}

TEST_F(GrafanaDashboard, EveryQueryParses) {
  if (!have("promtool")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  // Each query becomes a recording rule, Grafana's variables replaced by what they stand for.
  TempDir dir;
  std::ofstream rules(dir.path() / "dashboard.yml");
  rules << "groups:\n  - name: dashboard\n    rules:\n";
  int n = 0;
  for (const auto& q : queries_) {
    if (q.expr.rfind("label_values(", 0) == 0) continue;  // a Grafana function, not PromQL
    std::string e = q.expr;
    for (const auto& [var, value] : std::vector<std::pair<std::string, std::string>>{
             {"$__rate_interval", "1m"}, {"$__interval", "1m"}, {"$__range", "1h"}, {"$instance", ".*"}, {"$public_ip", ".*"}}) {
      for (auto pos = e.find(var); pos != std::string::npos; pos = e.find(var, pos)) e.replace(pos, var.size(), value);
    }
    EXPECT_EQ(e.find('$'), std::string::npos) << "unknown variable in: " << q.expr;
    rules << "      - record: dashboard:query" << n++ << "\n        expr: " << json(e).dump() << "\n";
  }
  rules.close();
  const auto r = sh("promtool check rules " + quote((dir.path() / "dashboard.yml").string()));
  EXPECT_EQ(r.rc, 0) << r.out;
}

// --- The exposition -----------------------------------------------------------------------------

TEST(Metrics, ExpositionPassesPromtoolLint) {
  if (!have("promtool")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  TempDir dir;
  std::ofstream(dir.path() / "metrics.txt") << exposition();
  const auto r = sh("promtool check metrics < " + quote((dir.path() / "metrics.txt").string()));
  EXPECT_EQ(r.rc, 0) << r.out;
}

// Every natgw_* metric the documentation names is one natgw exports (a family, or a family's
// _bucket/_sum/_count series).
TEST(Metrics, EveryMetricTheDocsNameIsExported) {
  const auto families = exported();
  std::vector<fs::path> docs = {kSource / "README.md"};
  for (const fs::path& dir : {kSource / "docs", kSource / "src"}) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.path().extension() == ".md") docs.push_back(e.path());
    }
  }
  std::size_t named = 0;
  for (const auto& doc : docs) {
    std::ifstream in(doc);
    std::stringstream text;
    text << in.rdbuf();
    const std::string t = text.str();
    // Names, not file names (natgw_xdp.bpf.c, natgw_0.1.0_amd64.deb).
    const std::regex metric(R"(\bnatgw_[a-z][a-z0-9_]*(?![a-z0-9_.]))");
    for (std::sregex_iterator it(t.begin(), t.end(), metric), e; it != e; ++it) {
      const std::string name = it->str();
      ++named;
      if (name.ends_with("_")) continue;  // a prefix, as in natgw_snat_*
      bool found = families.count(name) != 0;
      for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (name.ends_with(suffix) && families.count(name.substr(0, name.size() - suffix.size())))
          found = true;
      }
      EXPECT_TRUE(found) << doc.string() << " names " << name << ", which natgw does not export";
    }
  }
  EXPECT_GE(named, 5u) << "the docs name natgw's metrics";
}

// --- systemd unit ------------------------------------------------------------------------------

TEST(SystemdUnit, HasWhatTheDaemonNeeds) {
  const std::string unit = slurp(kDeploy / "systemd/natgw.service");
  for (const char* line : {"Type=notify", "NotifyAccess=main", "ExecStart=/usr/bin/natgw run --config /etc/natgw/natgw.yaml",
                           "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "NoNewPrivileges=yes",
                           "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "MemoryDenyWriteExecute=yes",
                           "SystemCallArchitectures=native", "LockPersonality=yes", "ProtectKernelModules=yes",
                           "WantedBy=multi-user.target"}) {
    EXPECT_NE(unit.find(std::string("\n") + line + "\n"), std::string::npos) << "natgw.service lacks " << line;
  }
  // AF_PACKET needs CAP_NET_RAW and the AF_PACKET family; the API AF_INET; rtnetlink AF_NETLINK;
  // NOTIFY_SOCKET AF_UNIX.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(unit, m, std::regex(R"(\nRestrictAddressFamilies=([^\n]*)\n)")));
  for (const char* af : {"AF_UNIX", "AF_INET", "AF_PACKET", "AF_NETLINK"}) {
    EXPECT_NE(m[1].str().find(af), std::string::npos) << "RestrictAddressFamilies= lacks " << af;
  }
  ASSERT_TRUE(std::regex_search(unit, m, std::regex(R"(\nCapabilityBoundingSet=([^\n]*)\n)")));
  EXPECT_NE(m[1].str().find("CAP_NET_RAW"), std::string::npos);
  ASSERT_TRUE(std::regex_search(unit, m, std::regex(R"(\nAmbientCapabilities=([^\n]*)\n)")));
  EXPECT_NE(m[1].str().find("CAP_NET_RAW"), std::string::npos);
  // Capabilities in a user namespace do not reach the host's interfaces.
  EXPECT_EQ(unit.find("\nPrivateUsers=yes"), std::string::npos);
  EXPECT_EQ(unit.find("\nPrivateNetwork=yes"), std::string::npos);
}

TEST(SystemdUnit, Verifies) {
  if (!have("systemd-analyze")) GTEST_SKIP() << "systemd-analyze not installed";
  // The unit as installed, with ExecStart= pointing at the binary just built (verify checks
  // that it exists).
  TempDir dir;
  std::string unit = slurp(kDeploy / "systemd/natgw.service");
  for (auto pos = unit.find("/usr/bin/natgw"); pos != std::string::npos; pos = unit.find("/usr/bin/natgw", pos + kBin.size())) {
    unit.replace(pos, std::string("/usr/bin/natgw").size(), kBin);
  }
  std::ofstream(dir.path() / "natgw.service") << unit;
  const auto verify = sh("systemd-analyze verify --man=no " + quote((dir.path() / "natgw.service").string()));
  EXPECT_EQ(verify.rc, 0) << verify.out;
  EXPECT_EQ(verify.out, "") << "systemd-analyze verify has warnings";
  // The exposure score, 0..100 (shown as 0.0..10.0): 18 when written; fail if it regresses past 30.
  const auto security =
      sh("systemd-analyze security --offline=true --threshold=30 " + quote((dir.path() / "natgw.service").string()));
  EXPECT_EQ(security.rc, 0) << security.out;
}

// --- Help and man page ---------------------------------------------------------------------------

// Every command path under natgw, from the "Subcommands:" lists of --help (hidden commands are
// not listed).
std::vector<std::vector<std::string>> commands(const std::vector<std::string>& path = {}) {
  std::string cmd = kBin;
  for (const auto& p : path) cmd += " " + p;
  const auto r = sh(cmd + " --help");
  std::vector<std::vector<std::string>> out{path};
  std::istringstream in(r.out);
  std::string line;
  bool listing = false;
  while (std::getline(in, line)) {
    if (line == "Subcommands:") {
      listing = true;
      continue;
    }
    if (listing) {
      if (line.empty() || line[0] != ' ') break;
      std::istringstream words(line);
      std::string name;
      words >> name;
      auto child = path;
      child.push_back(name);
      for (auto& c : commands(child)) out.push_back(c);
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& path) {
  std::string s = "natgw";
  for (const auto& p : path) s += " " + p;
  return s;
}

TEST(Help, EveryCommandHasADescriptionAndAnExample) {
  const auto all = commands();
  ASSERT_GT(all.size(), 5u);
  for (const auto& path : all) {
    std::string cmd = kBin;
    for (const auto& p : path) cmd += " " + p;
    const auto r = sh(cmd + " --help");
    EXPECT_EQ(r.rc, 0) << joined(path) << " --help: " << r.out;
    EXPECT_NE(r.out.rfind("Usage:", 0), 0u) << joined(path) << " --help has no description";
    EXPECT_NE(r.out.find("Example"), std::string::npos) << joined(path) << " --help has no example";
  }
}

TEST(Help, ManPageDescribesEveryCommand) {
  if (kManPage.empty() || !fs::exists(kManPage)) GTEST_SKIP() << "no man page in this build (python3 or gzip missing)";
  const std::string page = slurp(kManPage);
  for (const auto& path : commands()) {
    if (path.empty()) continue;
    std::string title;
    for (char c : joined(path)) title += c == '-' ? std::string("\\-") : std::string(1, c);
    EXPECT_NE(page.find(".SS \"" + title + "\""), std::string::npos) << "the man page has no section for " << joined(path);
  }
  EXPECT_NE(page.find(".SH EXAMPLES"), std::string::npos);
  if (have("groff")) {
    const auto r = sh("groff -man -ww -z -Tutf8 " + quote(kManPage.string()));
    EXPECT_EQ(r.rc, 0);
    EXPECT_EQ(r.out, "") << "roff warnings in the man page";
  }
}

}  // namespace
}  // namespace natgw::deploy::test
