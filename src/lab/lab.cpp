#include "lab/lab.hpp"

#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

#include "lab/gateway.hpp"
#include "lab/netns.hpp"
#include "lab/process.hpp"
#include "lab/servers.hpp"
#include "lab/state.hpp"

namespace natgw::lab {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw LabError("cannot read /proc/self/exe: " + ec.message());
  return p.string();
}

namespace {

constexpr auto kReadyTimeout = std::chrono::seconds{10};
constexpr auto kPollInterval = std::chrono::milliseconds{50};

struct Tool {
  const char* program;
  const char* package;
};

// What `up` needs from the host, with the Debian package that has it.
std::vector<std::string> missing_tools(GatewayMode mode) {
  std::vector<Tool> tools{{"ip", "iproute2"}, {"ethtool", "ethtool"}, {"sysctl", "procps"},
                          {"nginx", "nginx"}, {"vsftpd", "vsftpd"},   {"iperf3", "iperf3"}};
  if (mode == GatewayMode::kernel) tools.push_back({"nft", "nftables"});
  std::vector<std::string> missing;
  for (const auto& t : tools) {
    if (!find_program(t.program)) {
      missing.push_back(std::string(t.program) + " (package " + t.package + ")");
    }
  }
  if (::getpwnam("ftp") == nullptr) missing.push_back("user ftp (package vsftpd creates it)");
  return missing;
}

bool lab_exists(const std::string& name) {
  if (fs::exists(state_dir(name))) return true;
  const auto all = list_netns();
  return std::any_of(all.begin(), all.end(),
                     [&](const std::string& ns) { return is_namespace_of(ns, name); });
}

// Builds a lab step by step, recording every process it starts before starting the next.
class Builder {
 public:
  explicit Builder(LabState& state)
      : s_(state), dir_(state_dir(state.spec.name)), self_(self_exe()) {}

  void build(const UpOptions& options) {
    make_namespaces();
    make_switch_and_vms();
    make_gateway_links();
    make_internet();
    set_offloads();
    start_servers();
    const std::string config = render_natgw_config(s_.spec);
    write_text(dir_ + "/natgw.yaml", config);
    if (options.config_out) write_text(*options.config_out, config);
    switch (s_.spec.gateway) {
      case GatewayMode::kernel:
        start_kernel_nat();
        break;
      case GatewayMode::natgw:
        start_natgw();
        break;
      case GatewayMode::none:
        break;
    }
  }

 private:
  const std::string& name() const { return s_.spec.name; }

  // `ip -n NS args...`
  void ip(const std::string& ns, Argv args) {
    Argv full{"ip", "-n", ns};
    full.insert(full.end(), args.begin(), args.end());
    check(full);
  }

  void sysctl(const std::string& ns, const std::vector<std::string>& settings) {
    Argv a{"sysctl", "-q", "-w"};
    a.insert(a.end(), settings.begin(), settings.end());
    check(in_netns(ns, a));
  }

  void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
    f.flush();
    if (!f) throw LabError("cannot write " + path);
  }

  void make_namespaces() {
    // IPv6 off everywhere, before any interface exists: no router solicitations, DAD or MLD
    // frames for natgw's packet sockets to see; the lab is an IPv4 network.
    const bool v6 = fs::exists("/proc/sys/net/ipv6");
    for (const auto& ns : all_namespaces(s_.spec)) {
      check({"ip", "netns", "add", ns});
      if (v6) {
        sysctl(ns, {"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"});
      }
      ip(ns, {"link", "set", "lo", "up"});
    }
  }

  void make_switch_and_vms() {
    const std::string sw = switch_ns(name());
    ip(sw, {"link", "add", "name", kBridge, "type", "bridge", "stp_state", "0"});
    ip(sw, {"link", "set", kBridge, "up"});
    for (int i = 1; i <= s_.spec.vms; ++i) {
      const std::string vm = vm_ns(name(), i);
      const std::string port = "vm" + std::to_string(i);
      ip(sw, {"link", "add", "name", port, "type", "veth", "peer", "name", kVmIf, "netns", vm});
      ip(sw, {"link", "set", port, "master", kBridge, "up"});
      ip(vm, {"addr", "add", vm_address(i) + "/24", "dev", kVmIf});
      ip(vm, {"link", "set", kVmIf, "up"});
      ip(vm, {"route", "add", "default", "via", kGatewayInside});
    }
  }

  void make_gateway_links() {
    const std::string sw = switch_ns(name());
    const std::string gw = gateway_ns(name());
    const std::string inet = internet_ns(name());
    ip(sw,
       {"link", "add", "name", kSwitchGwPort, "type", "veth", "peer", "name", kGwIn, "netns", gw});
    ip(sw, {"link", "set", kSwitchGwPort, "master", kBridge, "up"});
    ip(gw, {"link", "add", "name", kGwOut, "type", "veth", "peer", "name", kInetIf, "netns", inet});
    sysctl(gw, gateway_sysctls(s_.spec.gateway));
    ip(gw, {"addr", "add", std::string(kGatewayInside) + "/24", "dev", kGwIn});
    ip(gw, {"addr", "add", std::string(kGatewayOutside) + "/24", "dev", kGwOut});
    ip(gw, {"link", "set", kGwIn, "up"});
    ip(gw, {"link", "set", kGwOut, "up"});
    // For the kernel gateway; natgw takes its next hop from its config, and with forwarding off
    // the kernel uses this route only for the gateway's own traffic.
    ip(gw, {"route", "add", "default", "via", kInternetRouter});
  }

  void make_internet() {
    const std::string inet = internet_ns(name());
    ip(inet, {"addr", "add", std::string(kInternetRouter) + "/24", "dev", kInetIf});
    ip(inet, {"link", "set", kInetIf, "up"});
    // Server addresses on lo: the host kernel may lack the dummy driver; lo serves as well.
    ip(inet, {"addr", "add", std::string(kServer1) + "/32", "dev", "lo"});
    ip(inet, {"addr", "add", std::string(kServer2) + "/32", "dev", "lo"});
    // 192.0.2.10 as the source of what the internet sends to the public IPs: a UDP server
    // bound to 0.0.0.0 that connects its socket to a client (iperf3 does) answers from that
    // address, not from inet0's, which a client's connected socket would not accept.
    ip(inet, {"route", "add", kPublicRange, "via", kGatewayOutside, "src", kServer1});
  }

  // With --offloads off, every frame is MTU-sized with a full checksum: no partial checksums
  // (tx checksum offload), no 64 KiB super-frames (TSO/GSO on the senders, GRO on the gateway's
  // receiving ends). The default leaves the kernel's settings. README.md explains.
  void set_offloads() {
    if (s_.spec.offloads) return;
    for (int i = 1; i <= s_.spec.vms; ++i) {
      check(in_netns(vm_ns(name(), i),
                     {"ethtool", "-K", kVmIf, "tx", "off", "tso", "off", "gso", "off"}));
    }
    check(in_netns(internet_ns(name()),
                   {"ethtool", "-K", kInetIf, "tx", "off", "tso", "off", "gso", "off"}));
    for (const char* dev : {kGwIn, kGwOut}) {
      check(in_netns(gateway_ns(name()), {"ethtool", "-K", dev, "gro", "off"}));
    }
  }

  ProcessId start(const std::string& role, const std::string& ns, const Argv& argv) {
    const std::string log = dir_ + "/" + role + ".log";
    const ProcessId id = spawn_background(in_netns(ns, argv), log);
    s_.processes.push_back({role, ns, id, log});
    write_state(s_);
    return id;
  }

  [[noreturn]] void fail_process(const ProcessRecord& p, const std::string& what) {
    std::string msg = p.role + " (" + format_argv({p.log}) + ") " + what;
    const std::string tail = tail_file(p.log);
    if (!tail.empty()) msg += "; last lines of its log:\n" + tail;
    if (p.role == "nginx") {
      const std::string more = tail_file(dir_ + "/nginx-error.log");
      if (!more.empty()) msg += "nginx-error.log:\n" + more;
    }
    throw LabError(msg);
  }

  // Waits until every process answers on its TCP port inside `ns`; a process that exits first
  // fails the build with its log.
  void wait_ready(const std::string& ns, const std::string& addr,
                  const std::vector<std::pair<std::size_t, std::uint16_t>>& pending_in) {
    auto pending = pending_in;  // (index in s_.processes, port)
    const auto deadline = Clock::now() + kReadyTimeout;
    while (!pending.empty()) {
      for (auto it = pending.begin(); it != pending.end();) {
        const ProcessRecord& p = s_.processes[it->first];
        int status = 0;
        if (reap(p.id.pid, &status) || !alive(p.id)) {
          fail_process(p, WIFEXITED(status)
                              ? "exited with status " + std::to_string(WEXITSTATUS(status)) +
                                    " before it was ready"
                              : "died before it was ready");
        }
        it = tcp_connects(ns, addr, it->second, std::chrono::milliseconds{200}) ? pending.erase(it)
                                                                                : it + 1;
      }
      if (pending.empty()) break;
      if (Clock::now() > deadline) {
        fail_process(s_.processes[pending.front().first],
                     "did not accept connections on " + addr + ":" +
                         std::to_string(pending.front().second) + " within " +
                         std::to_string(kReadyTimeout.count()) + " s");
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  void start_servers() {
    write_server_files(dir_);
    const std::string inet = internet_ns(name());
    std::vector<std::pair<std::size_t, std::uint16_t>> pending;
    for (const auto& srv : server_specs(s_.spec, dir_, self_)) {
      start(srv.role, inet, srv.argv);
      pending.emplace_back(s_.processes.size() - 1, srv.port);
    }
    wait_ready(inet, kServer1, pending);
  }

  void start_kernel_nat() {
    const std::string gw = gateway_ns(name());
    // The public IPs as the gateway's own addresses: the internet can then ping them, as it
    // could a cloud NAT gateway's.
    for (const auto& pip : public_ip_list(s_.spec.public_ips)) {
      ip(gw, {"addr", "add", pip + "/32", "dev", kGwOut});
    }
    const std::string rules = dir_ + "/kernel-nat.nft";
    write_text(rules, render_nft_ruleset(s_.spec));
    check(in_netns(gw, {"nft", "-f", rules}));
  }

  void start_natgw() {
    const std::string gw = gateway_ns(name());
    start("natgw", gw,
          {self_, "run", "--config", dir_ + "/natgw.yaml", "--state-file", dir_ + "/flows.state"});
    wait_ready(gw, "127.0.0.1", {{s_.processes.size() - 1, kApiPort}});
  }

  LabState& s_;
  std::string dir_;
  std::string self_;
};

void print_summary(const LabState& s, std::ostream& out) {
  const std::string& n = s.spec.name;
  const auto pips = public_ip_list(s.spec.public_ips);
  std::string pip_text;
  for (const auto& p : pips) pip_text += (pip_text.empty() ? "" : ", ") + p;
  const int w = static_cast<int>(n.size()) + 7;
  auto row = [&](const std::string& ns, const std::string& dev, const std::string& addr,
                 const std::string& note) {
    std::ostringstream line;
    line << "  " << std::left << std::setw(w) << ns << std::setw(9) << dev << std::setw(17) << addr
         << note;
    std::string text = line.str();
    text.erase(text.find_last_not_of(' ') + 1);
    out << text << "\n";
  };
  out << "lab " << n << " is up: " << s.spec.vms << " VM" << (s.spec.vms > 1 ? "s" : "")
      << ", gateway " << to_string(s.spec.gateway);
  switch (s.spec.gateway) {
    case GatewayMode::natgw:
      out << " (natgw run)";
      break;
    case GatewayMode::kernel:
      out << " (kernel forwarding + nftables SNAT)";
      break;
    case GatewayMode::none:
      out << " (none: nothing forwards between gw-in and gw-out)";
      break;
  }
  out << "\nstate, configs and logs: " << state_dir(n) << "\n\n";
  row("namespace", "iface", "address", "");
  for (int i = 1; i <= s.spec.vms; ++i) {
    row(vm_ns(n, i), kVmIf, vm_address(i) + "/24", std::string("default via ") + kGatewayInside);
  }
  row(switch_ns(n), kBridge, "", "bridge: vm1..vm" + std::to_string(s.spec.vms) + ", gw");
  row(gateway_ns(n), kGwIn, std::string(kGatewayInside) + "/24", "inside");
  row("", kGwOut, std::string(kGatewayOutside) + "/24",
      std::string("outside, next hop ") + kInternetRouter);
  row(internet_ns(n), kInetIf, std::string(kInternetRouter) + "/24",
      std::string("route ") + kPublicRange + " via " + kGatewayOutside + " src " + kServer1);
  row("", "lo", std::string(kServer1) + "/32", std::string("servers, and ") + kServer2 + "/32");
  out << "  public IPs: " << pip_text << "\n\n";

  out << "servers in " << internet_ns(n) << " (on " << kServer1 << " and " << kServer2 << "):\n"
      << "  http    tcp/" << kHttpPort << "       nginx: /" << kHttpSmallFile << ", /"
      << kHttpLargeFile << " (10 MiB)\n"
      << "  echo    tcp+udp/" << kEchoPort << "    answers \"ADDR:PORT\" of the source it sees\n"
      << "  ftp     tcp/" << kFtpPort << "       vsftpd, anonymous, passive ports " << kFtpPasvMin
      << "-" << kFtpPasvMax << ": /" << kFtpFile << ", /" << kFtpLargeFile << "\n"
      << "  iperf3  tcp+udp/";
  for (int i = 1; i <= iperf_servers(s.spec); ++i) {
    out << (i > 1 ? ", " : "") << iperf_port(i) << " (vm" << i << ")";
  }
  out << ", on " << kServer1 << " only\n";
  for (const auto& p : s.processes) {
    if (p.role == "natgw") {
      out << "\nnatgw run: pid " << p.id.pid << ", config " << state_dir(n) << "/natgw.yaml, log "
          << p.log << ", API " << kApiListen << " inside " << gateway_ns(n) << "\n";
    }
  }
  const std::string ex = "natgw lab exec --name " + n + " ";
  out << "\ntry:\n"
      << "  " << ex << "vm1 -- curl -s http://" << kServer1 << "/\n"
      << "  " << ex << "vm1 -- bash -c 'exec 3<>/dev/tcp/" << kServer1 << "/" << kEchoPort
      << "; cat <&3'\n"
      << "  " << ex << "vm1 -- curl -s ftp://" << kServer1 << "/" << kFtpFile << "\n"
      << "  " << ex << "vm1 -- iperf3 -c " << kServer1 << " -p " << iperf_port(1) << " -t 5\n";
  if (s.spec.gateway == GatewayMode::natgw) out << "  " << ex << "gw -- natgw status\n";
  out << "  natgw lab down --name " << n << "\n";
}

struct TeardownResult {
  int processes = 0;
  int namespaces = 0;
  std::vector<std::string> errors;
  bool found = false;
};

TeardownResult teardown(const std::string& name) {
  TeardownResult r;
  std::optional<LabState> state;
  try {
    state = read_state(name);
  } catch (const LabError& e) {
    r.errors.push_back(std::string(e.what()) + " (ignored; cleaning up by namespace names)");
  }
  r.found = state.has_value() || fs::exists(state_dir(name));

  // 1. The processes we started, by identity (a recycled pid is left alone).
  std::vector<ProcessId> procs;
  if (state) {
    for (const auto& p : state->processes) {
      if (alive(p.id)) procs.push_back(p.id);
    }
  }
  r.processes += static_cast<int>(procs.size());
  for (const auto& p : stop_all(procs)) {
    r.errors.push_back("pid " + std::to_string(p.pid) + " survived SIGKILL");
  }

  // 2. Anything else still running in the lab's namespaces (`natgw lab exec` sessions, nginx
  // workers, processes of a crashed `up` that never reached the state file).
  std::vector<std::string> namespaces;
  for (const auto& ns : list_netns()) {
    if (is_namespace_of(ns, name)) namespaces.push_back(ns);
  }
  r.found = r.found || !namespaces.empty();
  for (int round = 0; round < 3; ++round) {
    std::vector<ProcessId> rest;
    for (const auto& ns : namespaces) {
      for (pid_t pid : netns_pids(ns)) {
        if (auto id = identify(pid)) rest.push_back(*id);
      }
    }
    if (rest.empty()) break;
    r.processes += static_cast<int>(rest.size());
    stop_all(rest, std::chrono::seconds{2});
  }

  // 3. The namespaces; their veth pairs and bridge go with them. The switch goes last: it marks
  // an orphaned lab for `down --all` until everything else is gone.
  std::stable_partition(namespaces.begin(), namespaces.end(),
                        [&](const std::string& ns) { return ns != switch_ns(name); });
  for (const auto& ns : namespaces) {
    const CommandResult del = run({"ip", "netns", "del", ns}, std::chrono::seconds{10});
    if (del.ok() || !netns_exists(ns)) {
      ++r.namespaces;
    } else {
      r.errors.push_back("`ip netns del " + ns + "`: " + del.err);
    }
  }

  // 4. The state dir, once nothing it describes is left.
  if (r.errors.empty() || !state) {
    std::error_code ec;
    fs::remove_all(state_dir(name), ec);
    if (ec) r.errors.push_back("cannot remove " + state_dir(name) + ": " + ec.message());
  }
  return r;
}

std::string resolve_lab(const std::optional<std::string>& name) {
  if (name) {
    if (!lab_exists(*name)) throw LabError("no lab named " + *name + " (natgw lab status)");
    return *name;
  }
  const auto labs = find_labs();
  if (labs.empty()) throw LabError("no lab is up (start one with natgw lab up)");
  if (labs.size() > 1) {
    std::string list;
    for (const auto& l : labs) list += (list.empty() ? "" : ", ") + l;
    throw LabError("several labs are up (" + list + "): choose one with --name");
  }
  return labs.front();
}

}  // namespace

std::vector<std::string> find_labs() {
  auto labs = labs_with_state();
  std::set<std::string> seen(labs.begin(), labs.end());
  for (const auto& ns : list_netns()) {
    const auto lab = lab_of_namespace(ns);
    if (!lab || seen.count(*lab) || ns != switch_ns(*lab)) continue;
    if (run({"ip", "-n", ns, "link", "show", kBridge}, std::chrono::seconds{5}).ok()) {
      labs.push_back(*lab);
      seen.insert(*lab);
    }
  }
  std::sort(labs.begin(), labs.end());
  return labs;
}

int lab_up(const UpOptions& options, std::ostream& out, std::ostream& err) {
  LabState state;
  state.spec = options.spec;
  const bool random_name = state.spec.name.empty();
  if (random_name) state.spec.name = random_lab_name();
  if (const auto errors = validate(state.spec); !errors.empty()) {
    for (const auto& e : errors) err << "natgw lab up: " << e << "\n";
    return 2;
  }
  if (::geteuid() != 0) {
    err << "natgw lab up: needs root (network namespaces, veth pairs, nftables)\n";
    return 1;
  }
  if (const auto missing = missing_tools(state.spec.gateway); !missing.empty()) {
    err << "natgw lab up: missing tools:";
    for (const auto& m : missing) err << " " << m << ";";
    err << " install them (apt-get install ...)\n";
    return 1;
  }
  for (int attempt = 0; lab_exists(state.spec.name); ++attempt) {
    if (!random_name || attempt == 16) {
      err << "natgw lab up: lab " << state.spec.name
          << " exists (natgw lab status; natgw lab down --name " << state.spec.name << ")\n";
      return 1;
    }
    state.spec.name = random_lab_name();
  }
  state.created = utc_now_iso8601();
  try {
    write_state(state);  // first, so that a crash from here on leaves a record
    Builder(state).build(options);
    state.phase = "up";
    write_state(state);
  } catch (const std::exception& e) {
    err << "natgw lab up: " << e.what() << "\n";
    if (options.keep_on_error) {
      state.phase = "failed";
      try {
        write_state(state);
      } catch (const std::exception&) {
      }
      err << "natgw lab up: the partial lab is kept for inspection; remove it with natgw lab down "
             "--name "
          << state.spec.name << "\n";
    } else {
      const auto r = teardown(state.spec.name);
      err << "natgw lab up: removed the partial lab " << state.spec.name << "\n";
      for (const auto& e2 : r.errors) err << "natgw lab up: cleanup: " << e2 << "\n";
    }
    return 1;
  }
  print_summary(state, out);
  return 0;
}

int lab_down(const std::optional<std::string>& name, bool all, std::ostream& out,
             std::ostream& err) {
  if (::geteuid() != 0) {
    err << "natgw lab down: needs root\n";
    return 1;
  }
  std::vector<std::string> labs;
  if (all) {
    labs = find_labs();
    if (labs.empty()) out << "no labs\n";
  } else if (name) {
    labs.push_back(*name);
  } else {
    try {
      labs.push_back(resolve_lab(std::nullopt));
    } catch (const LabError& e) {
      err << "natgw lab down: " << e.what() << "\n";
      return 1;
    }
  }
  int status = 0;
  for (const auto& lab : labs) {
    const auto r = teardown(lab);
    for (const auto& e : r.errors) err << "natgw lab down: " << lab << ": " << e << "\n";
    if (!r.found) {
      out << "lab " << lab << ": nothing to remove\n";
    } else {
      out << "lab " << lab << " removed: " << r.processes << " process"
          << (r.processes == 1 ? "" : "es") << " stopped, " << r.namespaces << " namespace"
          << (r.namespaces == 1 ? "" : "s") << " deleted\n";
    }
    if (!r.errors.empty()) status = 1;
  }
  return status;
}

int lab_status(const std::optional<std::string>& name, std::ostream& out, std::ostream& err) {
  std::vector<std::string> labs;
  if (name) {
    if (!lab_exists(*name)) {
      err << "natgw lab status: no lab named " << *name << "\n";
      return 1;
    }
    labs.push_back(*name);
  } else {
    labs = find_labs();
    if (labs.empty()) {
      out << "no labs (start one with natgw lab up)\n";
      return 0;
    }
  }
  const auto present = list_netns();
  for (const auto& lab : labs) {
    std::optional<LabState> state;
    try {
      state = read_state(lab);
    } catch (const LabError& e) {
      err << "natgw lab status: " << e.what() << "\n";
    }
    out << "lab " << lab;
    if (state) {
      out << ": " << state->spec.vms << " VMs, " << state->spec.public_ips << " public IP"
          << (state->spec.public_ips > 1 ? "s" : "") << ", gateway "
          << to_string(state->spec.gateway) << ", " << state->phase << " since " << state->created
          << "\n  state: " << state_dir(lab) << "\n";
    } else {
      out << ": no state dir (left over; remove with natgw lab down --name " << lab << ")\n";
    }
    std::vector<std::string> expected;
    if (state) expected = all_namespaces(state->spec);
    for (const auto& ns : present) {
      if (is_namespace_of(ns, lab) &&
          std::find(expected.begin(), expected.end(), ns) == expected.end()) {
        expected.push_back(ns);
      }
    }
    out << "  namespaces:\n";
    for (const auto& ns : expected) {
      if (!netns_exists(ns)) {
        out << "    " << ns << "  MISSING\n";
        continue;
      }
      const CommandResult r =
          run({"ip", "-n", ns, "-4", "-br", "addr", "show"}, std::chrono::seconds{5});
      std::istringstream lines(r.out);
      std::string line;
      std::string addrs;
      while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string dev;
        std::string oper;
        words >> dev >> oper;
        dev = dev.substr(0, dev.find('@'));  // "eth0@if3": the peer's index is noise here
        std::string a;
        while (words >> a) {
          if (a != "127.0.0.1/8") addrs += (addrs.empty() ? "" : ", ") + dev + " " + a;
        }
      }
      out << "    " << std::left << std::setw(static_cast<int>(lab.size()) + 7) << ns
          << (addrs.empty() ? "-" : addrs) << "\n";
    }
    if (state && !state->processes.empty()) {
      out << "  processes:\n";
      for (const auto& p : state->processes) {
        out << "    " << std::left << std::setw(13) << p.role
            << std::setw(static_cast<int>(lab.size()) + 7) << p.ns << "pid " << std::setw(8)
            << p.id.pid << std::setw(13) << (alive(p.id) ? "alive" : "NOT RUNNING") << p.log
            << "\n";
      }
    }
  }
  return 0;
}

int lab_exec(const std::optional<std::string>& name, const std::string& target,
             const std::vector<std::string>& command, std::ostream& err) {
  try {
    const std::string lab = resolve_lab(name);
    std::string ns = target;
    if (!is_namespace_of(target, lab)) ns = lab + "-" + target;
    if (!is_namespace_of(ns, lab) || !netns_exists(ns)) {
      throw LabError("lab " + lab + " has no namespace " + ns +
                     " (targets: vm1..vmN, sw, gw, inet; natgw lab status --name " + lab + ")");
    }
    if (command.empty()) throw LabError("no command (natgw lab exec VM -- CMD ...)");
    const auto ip = find_program("ip");
    if (!ip) throw LabError("ip not found (install iproute2)");
    std::vector<std::string> argv{*ip, "netns", "exec", ns};
    argv.insert(argv.end(), command.begin(), command.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::fflush(nullptr);
    ::execv(ip->c_str(), cargv.data());
    throw LabError("cannot run " + *ip + ": " + std::strerror(errno));
  } catch (const LabError& e) {
    err << "natgw lab exec: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace natgw::lab
