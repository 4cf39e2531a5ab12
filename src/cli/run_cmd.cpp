// natgw run --config F
#include "cli/command.hpp"
#include "daemon/daemon.hpp"

namespace natgw::cli {
namespace {

const Registration reg(10, [](CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("run", "Run the gateway in the foreground on the configured interfaces");
  auto opts = std::make_shared<daemon::Options>();
  cmd->add_option("-c,--config", opts->config, "Configuration file (YAML)")->required()->check(CLI::ExistingFile);
  cmd->footer(
      "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the configuration without dropping open flows.\n"
      "Example: natgw run --config /etc/natgw/natgw.yaml");
  cmd->callback([opts, &exit_code] { exit_code = daemon::run(*opts); });
});

}  // namespace
}  // namespace natgw::cli
