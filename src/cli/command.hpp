// Subcommands register themselves: each src/cli/<name>_cmd.cpp defines one static
// `Registration`, so adding a command never edits a shared file.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace natgw::cli {

// Adds the command's subcommand(s) to `app`; the callback it installs runs the command and sets
// `exit_code`.
using Registrar = std::function<void(CLI::App& app, int& exit_code)>;

struct Registration {
  Registration(int order, Registrar fn);
};

// Registered commands, in `order` (their place in --help).
std::vector<std::pair<int, Registrar>>& registry();

}  // namespace natgw::cli
