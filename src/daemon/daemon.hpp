// `natgw run`: the gateway process. Loads and checks the configuration and the host, opens the
// interfaces, runs the datapath worker, the HTTP API (/metrics, /v1/status, /v1/flows,
// /v1/metrics/minutes), the health prober, and handles signals: SIGTERM/SIGINT stop cleanly,
// SIGHUP reloads the configuration without dropping open flows.
#pragma once

#include <filesystem>

namespace natgw::daemon {

struct Options {
  std::filesystem::path config;
  // When set: flows and hold-downs are saved here on a clean stop (and on `natgw snapshot`)
  // and restored from here at start.
  std::filesystem::path state_file;
};

// Runs until a stop signal; returns the process exit code (0 after a clean stop, 1 when the
// configuration or the host is not usable).
int run(const Options& options);

}  // namespace natgw::daemon
