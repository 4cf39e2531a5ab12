// Running the host's tools (ip, ethtool, nft, sysctl) and the lab's servers.
//
// Commands are argument vectors handed to posix_spawn: no shell, no quoting. Every wait has a
// bound. A failing command is reported with its command line, exit status and stderr, because
// "RTNETLINK answers: File exists" means nothing without the command that got it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace natgw::lab {

using Argv = std::vector<std::string>;

// The lab's one error type: a message for people, already naming what failed.
class LabError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or by the time-out
  bool timed_out = false;
  std::string out;
  std::string err;
  [[nodiscard]] bool ok() const { return exit_code == 0; }
};

// `ip -n x link add ...`: the argument vector as one line, quoted where a word needs it.
[[nodiscard]] std::string format_argv(const Argv& argv);

// The absolute path of `name` from PATH, then /usr/sbin, /sbin, /usr/bin, /bin (tools such as
// `ip` live in sbin, which a test runner's PATH may lack); nullopt if none is executable.
[[nodiscard]] std::optional<std::string> find_program(const std::string& name);

// Runs argv[0] (resolved with find_program) with stdin from /dev/null and waits at most
// `timeout`, then kills it. Throws LabError only when it cannot be started.
[[nodiscard]] CommandResult run(const Argv& argv,
                                std::chrono::milliseconds timeout = std::chrono::seconds{15});

// run() and throw LabError ("`cmd` exited with N: stderr") unless it exits 0. Returns stdout.
std::string check(const Argv& argv, std::chrono::milliseconds timeout = std::chrono::seconds{15});

// A process that may outlive us: its pid and its start time (field 22 of /proc/PID/stat), so
// that a recycled pid is never taken for the process we started.
struct ProcessId {
  pid_t pid = 0;
  unsigned long long start_time = 0;
  auto operator<=>(const ProcessId&) const = default;
};

// The identity of a running pid; nullopt if there is no such process.
[[nodiscard]] std::optional<ProcessId> identify(pid_t pid);

// Running and not a zombie (a zombie holds no namespace, port or file and cannot be killed
// further; in a container whose init does not reap it may stay forever).
[[nodiscard]] bool alive(const ProcessId& p);

// Starts argv detached from us (own session, stdin /dev/null, stdout and stderr appended to
// `log_path`), for servers that keep running after `natgw lab up` exits.
[[nodiscard]] ProcessId spawn_background(const Argv& argv, const std::string& log_path);

// Reaps `pid` if it is our child and has exited; true if it has (`status` then holds it).
bool reap(pid_t pid, int* status = nullptr);

// SIGTERM to every live process, up to `grace` for them to go, then SIGKILL and up to one more
// second. Returns the processes still alive after that (normally none).
std::vector<ProcessId> stop_all(const std::vector<ProcessId>& procs,
                                std::chrono::milliseconds grace = std::chrono::seconds{3});

// The last `max_lines` lines of a text file ("" if it cannot be read).
[[nodiscard]] std::string tail_file(const std::string& path, int max_lines = 20);

}  // namespace natgw::lab
