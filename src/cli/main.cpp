// natgw: one binary, one subcommand per job (ARCHITECTURE.md).
#include <algorithm>
#include <cstdio>
#include <exception>

#include "cli/command.hpp"

namespace natgw::cli {

std::vector<std::pair<int, Registrar>>& registry() {
  static std::vector<std::pair<int, Registrar>> r;
  return r;
}

Registration::Registration(int order, Registrar fn) { registry().emplace_back(order, std::move(fn)); }

}  // namespace natgw::cli

#ifndef NATGW_VERSION
#define NATGW_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  CLI::App app{"natgw: a software NAT gateway with the behaviour, limits and observability of a "
               "managed cloud NAT gateway"};
  app.set_version_flag("--version", "natgw " NATGW_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  auto& reg = natgw::cli::registry();
  std::stable_sort(reg.begin(), reg.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, fn] : reg) fn(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "natgw: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
