// natgw doctor: the troubleshooting guide run against a gateway, from a running gateway's API or
// from a saved configuration and evidence bundle.
#include <fstream>
#include <optional>
#include <iostream>
#include <sstream>

#include "cli/command.hpp"
#include "doctor/diagnose.hpp"

namespace natgw::cli {
namespace {

struct DoctorOptions {
  std::string api;
  std::string config;
  std::string evidence;
  std::string save;
  bool json = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

int run_doctor(const DoctorOptions& o) {
  try {
    doctor::Evidence ev;
    std::string config_text;
    std::optional<control::Config> config;
    if (!o.config.empty()) {
      config_text = read_file(o.config);
      if (auto r = control::parse_config(config_text)) config = std::move(r).config();
    }
    if (!o.evidence.empty()) {
      ev = doctor::from_bundle(nlohmann::json::parse(read_file(o.evidence)));
      ev.source = o.evidence;
    } else {
      // The API: --api, else the configuration's api.listen, else the default.
      std::string api = o.api;
      if (api.empty() && config) {
        api = std::string(config->api.listen.addr.text().view()) + ":" + std::to_string(config->api.listen.port);
      }
      if (api.empty()) api = "127.0.0.1:9490";
      const auto colon = api.rfind(':');
      if (colon == std::string::npos) throw std::runtime_error("--api: expected HOST:PORT, got '" + api + "'");
      try {
        ev = doctor::collect(api.substr(0, colon), std::stoi(api.substr(colon + 1)));
      } catch (const std::exception& e) {
        if (o.config.empty()) throw;
        // A configuration alone can still be checked.
        std::cerr << "natgw doctor: " << e.what() << "; checking the configuration only\n";
        ev.source = o.config;
      }
    }
    if (!config_text.empty()) {
      auto r = control::parse_config(config_text);
      ev.config_errors.clear();
      ev.config.reset();
      if (r) ev.config = std::move(r).config();
      else ev.config_errors = r.errors();
    }
    if (!o.save.empty()) {
      std::ofstream(o.save) << doctor::to_bundle(ev, config_text).dump(1) << "\n";
      std::cerr << "evidence saved to " << o.save << " (diagnose it later with: natgw doctor"
                << (o.config.empty() ? "" : " --config " + o.config) << " --evidence " << o.save << ")\n";
    }
    const doctor::Report report = doctor::diagnose(ev);
    if (o.json) std::cout << doctor::render_json(report).dump(2) << "\n";
    else std::cout << doctor::render_text(report);
    // Exit status for scripts: 0 healthy or only information, 2 warnings, 3 errors.
    int worst = 0;
    for (const auto& f : report.findings) {
      worst = std::max(worst, f.severity == doctor::Severity::error ? 3 : f.severity == doctor::Severity::warning ? 2 : 0);
    }
    return worst;
  } catch (const std::exception& e) {
    std::cerr << "natgw doctor: " << e.what() << "\n";
    return 1;
  }
}

const Registration reg(35, [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DoctorOptions>();
  auto* cmd = app.add_subcommand("doctor", "Diagnose a gateway: the troubleshooting guide's scenarios, from evidence, with the fix");
  cmd->add_option("--api", o->api, "A running gateway's API (default: api.listen of --config, else 127.0.0.1:9490)");
  cmd->add_option("-c,--config", o->config, "The gateway's configuration file (checked too)");
  cmd->add_option("--evidence", o->evidence, "Diagnose a saved evidence bundle instead of a running gateway");
  cmd->add_option("--save", o->save, "Also save the evidence collected to this bundle, for later or for a support case");
  cmd->add_flag("--json", o->json, "Findings as JSON");
  cmd->footer(
      "Exit status: 0 no problem found (or information only), 2 warnings, 3 errors, 1 the doctor could not run.\n"
      "Examples:\n"
      "  natgw doctor --api 127.0.0.1:9490 --config /etc/natgw/natgw.yaml\n"
      "  natgw doctor --api 127.0.0.1:9490 --save case-1234.json\n"
      "  natgw doctor --config natgw.yaml --evidence case-1234.json");
  cmd->callback([o, &exit_code] { exit_code = run_doctor(*o); });
});

}  // namespace
}  // namespace natgw::cli
