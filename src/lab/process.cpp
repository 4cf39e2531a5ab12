#include "lab/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace natgw::lab {

namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int err) {
  return std::strerror(err);
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// posix_spawn attributes and file actions, released on scope exit.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
    // Children start with default signal dispositions and nothing blocked, whatever we ignore or
    // block (a server that inherited SIG_IGN for SIGTERM could not be stopped).
    sigset_t all;
    sigfillset(&all);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setsigmask(&attr_, &none);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  void set_flags(short extra) {
    posix_spawnattr_setflags(
        &attr_, static_cast<short>(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | extra));
  }
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

std::string resolve(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  if (auto p = find_program(name)) return *p;
  throw LabError("cannot run `" + name + "`: not found in PATH or /usr/sbin, /sbin (install it)");
}

pid_t spawn(const Argv& argv, SpawnSetup& setup) {
  if (argv.empty()) throw LabError("internal error: empty command");
  const std::string path = resolve(argv[0]);
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = 0;
  const int rc =
      posix_spawn(&pid, path.c_str(), &setup.actions_, &setup.attr_, cargv.data(), environ);
  if (rc != 0) throw LabError("cannot run `" + format_argv(argv) + "`: " + errno_text(rc));
  return pid;
}

std::string status_text(const CommandResult& r) {
  if (r.timed_out) return "timed out";
  if (r.exit_code < 0) return "was killed by a signal";
  return "exited with " + std::to_string(r.exit_code);
}

}  // namespace

std::string format_argv(const Argv& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    const bool plain =
        !a.empty() && a.find_first_of(" \t\n'\"\\$`;&|<>*?()[]{}") == std::string::npos;
    if (plain) {
      s += a;
      continue;
    }
    s += '\'';
    for (char c : a) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
    s += '\'';
  }
  return s;
}

std::optional<std::string> find_program(const std::string& name) {
  std::string dirs;
  if (const char* path = std::getenv("PATH")) dirs = path;
  dirs += ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::istringstream in(dirs);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

CommandResult run(const Argv& argv, std::chrono::milliseconds timeout) {
  std::array<int, 2> out_pipe{-1, -1};
  std::array<int, 2> err_pipe{-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) throw LabError("pipe: " + errno_text(errno));
  Fd out_r(out_pipe[0]);
  Fd out_w(out_pipe[1]);
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) throw LabError("pipe: " + errno_text(errno));
  Fd err_r(err_pipe[0]);
  Fd err_w(err_pipe[1]);

  SpawnSetup setup;
  setup.set_flags(0);
  posix_spawn_file_actions_addopen(&setup.actions_, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions_, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions_, err_w.get(), 2);
  const pid_t pid = spawn(argv, setup);
  out_w.reset();
  err_w.reset();

  CommandResult result;
  const auto deadline = Clock::now() + timeout;
  std::array<pollfd, 2> fds{pollfd{out_r.get(), POLLIN, 0}, pollfd{err_r.get(), POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open_fds = 2;
  std::array<char, 4096> buf{};
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
      if (got > 0) {
        sinks[i]->append(buf.data(), static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open_fds;
      }
    }
  }
  if (result.timed_out) ::kill(pid, SIGKILL);
  // Both pipes are closed, so the child has exited or is about to; bound the wait all the same
  // (a child that handed its stdout to a grandchild and then hangs).
  int status = 0;
  const auto reap_deadline = Clock::now() + std::chrono::seconds{2};
  while (!reap(pid, &status)) {
    if (Clock::now() > reap_deadline) {
      ::kill(pid, SIGKILL);
      result.timed_out = true;
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

std::string check(const Argv& argv, std::chrono::milliseconds timeout) {
  CommandResult r = run(argv, timeout);
  if (r.ok()) return r.out;
  std::string err = r.err;
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  std::string msg = "`" + format_argv(argv) + "` " + status_text(r);
  if (!err.empty()) msg += ": " + err;
  throw LabError(msg);
}

std::optional<ProcessId> identify(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so skip to the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  std::string state;
  fields >> state;
  if (state == "Z" || state == "X" || state == "x") return std::nullopt;
  std::string skip;
  for (int field = 4; field < 22; ++field) fields >> skip;  // ppid .. itrealvalue
  unsigned long long start = 0;
  if (!(fields >> start)) return std::nullopt;
  return ProcessId{pid, start};
}

bool alive(const ProcessId& p) {
  const auto now = identify(p.pid);
  return now && now->start_time == p.start_time;
}

ProcessId spawn_background(const Argv& argv, const std::string& log_path) {
  SpawnSetup setup;
  setup.set_flags(POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_addopen(&setup.actions_, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&setup.actions_, 1, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&setup.actions_, 1, 2);
  const pid_t pid = spawn(argv, setup);
  // The start time is read while the child surely exists: as our unreaped child it cannot
  // vanish, and exec keeps both pid and start time.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  unsigned long long start = 0;
  if (const auto close = line.rfind(')'); close != std::string::npos) {
    std::istringstream fields(line.substr(close + 1));
    std::string skip;
    for (int field = 3; field < 22; ++field) fields >> skip;
    fields >> start;
  }
  return ProcessId{pid, start};
}

bool reap(pid_t pid, int* status) {
  int st = 0;
  const pid_t r = ::waitpid(pid, &st, WNOHANG);
  if (r == pid) {
    if (status) *status = st;
    return true;
  }
  return r < 0 && errno == ECHILD;  // not our child (any more): nothing to reap
}

std::vector<ProcessId> stop_all(const std::vector<ProcessId>& procs,
                                std::chrono::milliseconds grace) {
  auto still_alive = [&procs] {
    std::vector<ProcessId> left;
    for (const auto& p : procs) {
      reap(p.pid);
      if (alive(p)) left.push_back(p);
    }
    return left;
  };
  auto wait_until_gone = [&](std::chrono::milliseconds bound) {
    const auto deadline = Clock::now() + bound;
    auto left = still_alive();
    while (!left.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
      left = still_alive();
    }
    return left;
  };
  for (const auto& p : still_alive()) ::kill(p.pid, SIGTERM);
  auto left = wait_until_gone(grace);
  if (left.empty()) return left;
  for (const auto& p : left) ::kill(p.pid, SIGKILL);
  return wait_until_gone(std::chrono::seconds{1});
}

std::string tail_file(const std::string& path, int max_lines) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > max_lines) lines.pop_front();
  }
  std::string s;
  for (const auto& l : lines) s += "  | " + l + "\n";
  return s;
}

}  // namespace natgw::lab
