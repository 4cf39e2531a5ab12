// natgw simulate WORKLOAD.yaml [--json] [--chart out.svg] [--quiet] [--no-search]
// natgw simulate --compare A.yaml B.yaml [--json] [--chart out.svg] [--no-search]
// Runs workloads through the real engine on a virtual clock (src/sim/README.md). A bad workload
// file exits 1 with every error, one per line on stderr as "F: key: message".
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "sim/planner.hpp"
#include "sim/report.hpp"
#include "sim/workload.hpp"

namespace natgw::cli {
namespace {

struct SimulateOptions {
  std::string workload;
  std::vector<std::string> compare;
  bool json = false;
  bool quiet = false;
  bool no_search = false;
  std::string chart;
};

bool load(const std::string& path, sim::Report& out) {
  auto result = sim::load_workload(path);
  if (!result) {
    for (const auto& e : result.errors) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), sim::to_string(e).c_str());
    }
    return false;
  }
  out.file = path;
  out.workload = std::move(*result.workload);
  return true;
}

int simulate(const SimulateOptions& o) {
  std::vector<std::string> files;
  if (!o.compare.empty()) {
    if (!o.workload.empty()) {
      std::fprintf(stderr, "natgw simulate: give either WORKLOAD or --compare A B, not both\n");
      return 2;
    }
    files = o.compare;
  } else if (!o.workload.empty()) {
    files = {o.workload};
  } else {
    std::fprintf(stderr, "natgw simulate: a WORKLOAD file (or --compare A B) is required\n");
    return 2;
  }
  std::vector<sim::Report> reports(files.size());
  bool ok = true;
  for (std::size_t i = 0; i < files.size(); ++i) ok = load(files[i], reports[i]) && ok;
  if (!ok) return 1;
  for (auto& r : reports) r.plan = sim::plan(r.workload, sim::PlanOptions{!o.no_search});

  if (!o.chart.empty()) {
    std::vector<const sim::Report*> ptrs;
    for (const auto& r : reports) ptrs.push_back(&r);
    std::ofstream f(o.chart, std::ios::binary | std::ios::trunc);
    f << sim::chart_svg(ptrs);
    if (!f.good()) {
      std::fprintf(stderr, "natgw simulate: cannot write the chart to %s\n", o.chart.c_str());
      return 1;
    }
  }
  std::string out;
  if (o.json) {
    out =
        (reports.size() == 2 ? sim::compare_json(reports[0], reports[1]) : sim::to_json(reports[0]))
            .dump(2) +
        "\n";
  } else if (reports.size() == 2) {
    out = sim::compare_table(reports[0], reports[1]);
  } else {
    out = sim::table(reports[0], o.quiet);
  }
  if (!o.chart.empty() && !o.json) out += "chart: " + o.chart + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

const Registration registration{
    50, [](CLI::App& app, int& exit_code) {
      auto o = std::make_shared<SimulateOptions>();
      auto* cmd = app.add_subcommand(
          "simulate",
          "Run a workload through the engine on a virtual clock: ports, connections and failures "
          "over time, and how many public IPs it needs");
      cmd->add_option("workload", o->workload, "Workload file (YAML, see src/sim/README.md)")
          ->type_name("WORKLOAD.yaml");
      cmd->add_option("--compare", o->compare, "Run two workloads side by side")
          ->expected(2)
          ->type_name("A.yaml B.yaml");
      cmd->add_flag("--json", o->json, "JSON for programs instead of tables");
      cmd->add_option("--chart", o->chart, "Write an SVG chart of ports in use and failures")
          ->type_name("FILE.svg");
      cmd->add_flag("--quiet,-q", o->quiet, "Leave out the per-minute table");
      cmd->add_flag("--no-search", o->no_search,
                    "Skip the search for the number of public IPs the workload needs");
      cmd->footer(
          "Examples:\n"
          "  natgw simulate examples/sim/no-pooling.yaml --chart no-pooling.svg\n"
          "  natgw simulate --compare examples/sim/no-pooling.yaml examples/sim/pooling.yaml");
      cmd->callback([o, &exit_code] { exit_code = simulate(*o); });
    }};

}  // namespace
}  // namespace natgw::cli
