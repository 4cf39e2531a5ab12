// Running commands from tests: the exit code and what they printed (stdout and stderr).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>

namespace natgw::test {

struct Ran {
  int rc = -1;
  std::string out;
};

// Runs `cmd` with /bin/sh; stderr is merged into the output.
inline Ran sh(const std::string& cmd) {
  Ran r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline bool is_root() { return ::geteuid() == 0; }
inline bool have(const std::string& tool) { return sh("command -v " + tool).rc == 0; }

// Parses a Prometheus text exposition into "name{labels}" -> value.
inline std::map<std::string, double> parse_prometheus(const std::string& text) {
  std::map<std::string, double> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    m[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return m;
}

}  // namespace natgw::test
