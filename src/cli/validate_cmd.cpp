// natgw validate --config F: checks a config (SPEC section 6). Exit 0 with a one-line summary, or
// exit 1 with every error, one per line on stderr as "F: key: message".
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.hpp"
#include "control/config.hpp"

namespace natgw::cli {
namespace {

int validate(const std::string& path) {
  const auto result = control::load_config(path);
  if (!result) {
    for (const auto& e : result.errors()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), control::to_string(e).c_str());
    }
    return 1;
  }
  std::printf("config %s is valid: %s\n", path.c_str(), control::summary(result.config()).c_str());
  return 0;
}

const Registration registration{
    20, [](CLI::App& app, int& exit_code) {
      auto path = std::make_shared<std::string>();
      auto* cmd =
          app.add_subcommand("validate", "Check a config file; exit 0, or exit 1 with every error");
      cmd->add_option("--config,-c", *path, "Config file (YAML)")->required()->type_name("FILE");
      cmd->footer(
          "Exit status: 0 and a one-line summary when the file is valid, else 1 and every error.\n"
          "Errors go to stderr, one per line: FILE: KEY: MESSAGE (the value and what is allowed).\n"
          "Example: natgw validate --config /etc/natgw/natgw.yaml\n"
          "Example: natgw validate -c new.yaml && systemctl reload natgw");
      cmd->callback([path, &exit_code] { exit_code = validate(*path); });
    }};

}  // namespace
}  // namespace natgw::cli
