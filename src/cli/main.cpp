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
               "managed cloud NAT gateway",
               "natgw"};
  app.set_version_flag("--version", "natgw " NATGW_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  auto& reg = natgw::cli::registry();
  std::stable_sort(reg.begin(), reg.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, fn] : reg) fn(app, exit_code);
  // The footer is also the man page's EXAMPLES and FILES sections (scripts/man-page.py reads
  // --help). Set after the commands are added: CLI11 subcommands inherit the footer their parent
  // has when they are created.
  app.footer(
      "Examples:\n"
      "  natgw validate --config /etc/natgw/natgw.yaml\n"
      "      Check a configuration: exit 0, or exit 1 with every error.\n"
      "  natgw run --config /etc/natgw/natgw.yaml\n"
      "      Run the gateway in the foreground (as a service: systemctl enable --now natgw).\n"
      "  natgw status\n"
      "      Public IPs, ports in use, busiest destinations, connections and drops of a running gateway.\n"
      "  natgw metrics --prometheus\n"
      "      The Prometheus metrics a running gateway serves at http://127.0.0.1:9490/metrics.\n"
      "  natgw lab up --vms 2\n"
      "      A virtual network of namespaces to try natgw in (as root).\n"
      "\n"
      "Files:\n"
      "  /etc/natgw/natgw.yaml\n"
      "      The configuration natgw.service runs with; systemctl reload natgw re-reads it.\n"
      "  /usr/share/doc/natgw/\n"
      "      Documentation, Prometheus alert rules and a Grafana dashboard.\n"
      "\n"
      "Run natgw COMMAND --help for a command's options and examples.");
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
