// natgw run --config F
#include "cli/command.hpp"
#include "daemon/daemon.hpp"

namespace natgw::cli {
namespace {

const Registration reg(10, [](CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("run", "Run the gateway in the foreground on the configured interfaces");
  auto opts = std::make_shared<daemon::Options>();
  cmd->add_option("-c,--config", opts->config, "Configuration file (YAML)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--state-file", opts->state_file,
                  "Save open flows and port hold-downs here on a clean stop (and on `natgw snapshot`), and restore "
                  "them from here at start");
  cmd->footer(
      "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the configuration without dropping open flows.\n"
      "Restart without losing flows: natgw run --config F --state-file /var/lib/natgw/flows.state\n"
      "Example: natgw run --config /etc/natgw/natgw.yaml");
  cmd->callback([opts, &exit_code] { exit_code = daemon::run(*opts); });
});

}  // namespace
}  // namespace natgw::cli
