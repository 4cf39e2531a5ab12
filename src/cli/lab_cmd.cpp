// `natgw lab up / down / status / exec` (and the hidden `lab echo-server`, the lab's
// address-echo service): argument parsing only; the work is in src/lab/.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "lab/echo_server.hpp"
#include "lab/lab.hpp"

namespace natgw::cli {
namespace {

std::optional<std::string> optional_name(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

void add_up(CLI::App& lab, int& exit_code) {
  struct Args {
    int vms = 2;
    int public_ips = 1;
    std::string name;
    std::string gateway = "natgw";
    std::string profile = "azure";
    std::string config_out;
    std::string flow_log;
    bool keep = false;
    std::string offloads = "on";
    int workers = 1;
    std::string backend = "af_packet";
  };
  auto a = std::make_shared<Args>();
  auto* up =
      lab.add_subcommand("up", "Build a lab: VMs behind a gateway, an internet with servers");
  up->add_option("--vms", a->vms, "Number of VMs (namespaces <name>-vm1..N)")
      ->capture_default_str();
  up->add_option("--public-ips", a->public_ips, "Public IPs 203.0.113.10 .. (9+K)")
      ->capture_default_str();
  up->add_option("--name", a->name, "Lab name, in every namespace name (default: lab + 4 hex)");
  up->add_option("--gateway", a->gateway,
                 "natgw: natgw run; kernel: kernel forwarding + nftables SNAT; none: no gateway")
      ->check(CLI::IsMember({"natgw", "kernel", "none"}))
      ->capture_default_str();
  up->add_option("--profile", a->profile, "The profile natgw.yaml gives natgw (--gateway natgw)")
      ->check(CLI::IsMember({"azure", "aws", "gcp", "rfc", "custom"}))
      ->capture_default_str();
  up->add_option("--offloads", a->offloads,
                 "on: the veths keep the kernel's offloads (TSO/GSO, checksum offload); off: "
                 "turned off, every frame MTU-sized with a full checksum")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  up->add_option("--workers", a->workers,
                 "natgw's datapath workers (datapath.workers in its config)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  up->add_option("--backend", a->backend,
                 "natgw's packet I/O backend on both interfaces (af_xdp falls back to af_packet "
                 "when unavailable; the gateway's log says why)")
      ->check(CLI::IsMember({"af_packet", "af_xdp"}))
      ->capture_default_str();
  up->add_option("--config-out", a->config_out, "Also write the lab's natgw config to this file");
  up->add_option("--flow-log", a->flow_log,
                 "Turn the gateway's flow logs on, written to this absolute path (- : its log)");
  up->add_flag("--keep-on-error", a->keep, "Leave a half-built lab in place for inspection");
  up->footer(
      "Needs root. Prints the lab's name, namespaces and addresses.\n"
      "Example: natgw lab up --vms 2 --public-ips 2\n"
      "Example: natgw lab up --gateway kernel   (the same network with Linux SNAT, to compare)");
  up->callback([a, &exit_code] {
    lab::UpOptions o;
    o.spec.name = a->name;
    o.spec.vms = a->vms;
    o.spec.public_ips = a->public_ips;
    o.spec.gateway = *lab::parse_gateway_mode(a->gateway);
    o.spec.profile = a->profile;
    o.spec.flow_log = a->flow_log;
    o.spec.offloads = a->offloads == "on";
    o.spec.workers = a->workers;
    o.spec.backend = a->backend;
    o.config_out = optional_name(a->config_out);
    o.keep_on_error = a->keep;
    exit_code = lab::lab_up(o, std::cout, std::cerr);
  });
}

void add_down(CLI::App& lab, int& exit_code) {
  struct Args {
    std::string name;
    bool all = false;
  };
  auto a = std::make_shared<Args>();
  auto* down = lab.add_subcommand("down", "Remove a lab: its processes, namespaces and state");
  auto* name = down->add_option("--name", a->name, "The lab (default: the only one)");
  down->add_flag("--all", a->all, "Every lab on this host")->excludes(name);
  down->footer("Example: natgw lab down\nExample: natgw lab down --all");
  down->callback([a, &exit_code] {
    exit_code = lab::lab_down(optional_name(a->name), a->all, std::cout, std::cerr);
  });
}

void add_status(CLI::App& lab, int& exit_code) {
  auto name = std::make_shared<std::string>();
  auto* status = lab.add_subcommand("status", "List labs: namespaces, addresses, processes");
  status->add_option("--name", *name, "Only this lab");
  status->footer("Example: natgw lab status");
  status->callback([name, &exit_code] {
    exit_code = lab::lab_status(optional_name(*name), std::cout, std::cerr);
  });
}

void add_exec(CLI::App& lab, int& exit_code) {
  struct Args {
    std::string name;
    std::string target;
    std::vector<std::string> command;
  };
  auto a = std::make_shared<Args>();
  auto* ex = lab.add_subcommand("exec", "Run a command in a lab namespace: exec VM -- CMD...");
  ex->add_option("--name", a->name, "The lab (default: the only one)");
  ex->add_option("target", a->target, "vm1..vmN, gw, inet or sw")->required();
  ex->add_option("command", a->command, "The command and its arguments (after --)")->required();
  ex->footer(
      "Example: natgw lab exec vm1 -- curl -s http://192.0.2.10/\n"
      "Example: natgw lab exec gw -- natgw status");
  ex->callback([a, &exit_code] {
    exit_code = lab::lab_exec(optional_name(a->name), a->target, a->command, std::cerr);
  });
}

void add_echo_server(CLI::App& lab, int& exit_code) {
  auto listen = std::make_shared<std::string>("0.0.0.0:7");
  auto* echo = lab.add_subcommand("echo-server", "The lab's address-echo service (TCP and UDP)");
  echo->group("");  // hidden: the lab starts it
  echo->add_option("--listen", *listen, "IPV4:PORT")->capture_default_str();
  echo->callback([listen, &exit_code] { exit_code = lab::run_echo_server(*listen, std::cerr); });
}

const Registration kLab{
    80, [](CLI::App& app, int& exit_code) {
      auto* lab = app.add_subcommand(
          "lab", "A virtual network of namespaces with natgw (or the kernel) as its NAT gateway");
      lab->require_subcommand(1);
      add_up(*lab, exit_code);
      add_down(*lab, exit_code);
      add_status(*lab, exit_code);
      add_exec(*lab, exit_code);
      add_echo_server(*lab, exit_code);
      // After the commands: CLI11 subcommands inherit their parent's footer at creation.
      lab->footer(
          "Example: natgw lab up --vms 2 && natgw lab exec vm1 -- ip -br addr && natgw lab down\n"
          "Run natgw lab COMMAND --help for a command's options.");
    }};

}  // namespace
}  // namespace natgw::cli
