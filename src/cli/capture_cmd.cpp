// natgw capture: a pcap of what the datapath saw on both sides, each packet annotated with its
// verdict and the flow it belongs to (in FILE.txt beside the pcap), so "capture on both sides
// and compare" is one command.
#include <pcap/pcap.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "control/config.hpp"
#include "net/packet.hpp"

namespace natgw::cli {
namespace {

struct CaptureOptions {
  std::string api = "127.0.0.1:9490";
  std::string filter;
  long count = 100;
  long seconds = 10;
  long snaplen = 1514;
  std::string file;
};

std::string endpoint(net::Ipv4 a, std::uint16_t p) { return std::string(a.text().view()) + ":" + std::to_string(p); }

// "proto A:p > B:q" of an Ethernet frame carrying IPv4, or a short description.
std::string describe(std::vector<std::uint8_t>& f) {
  if (f.size() < 14 + 20 || f[12] != 0x08 || f[13] != 0x00) return "non-IPv4 frame";
  net::PacketView v;
  if (net::parse(f.data() + 14, f.size() - 14, v) != net::ParseResult::ok) return "IPv4 (unparsable or truncated)";
  if (v.fragment) return "IPv4 fragment " + std::string(v.src.text().view()) + " > " + std::string(v.dst.text().view());
  if (v.is_tcp() || v.is_udp()) {
    std::string s = std::string(v.is_tcp() ? "tcp " : "udp ") + endpoint(v.src, v.sport) + " > " + endpoint(v.dst, v.dport);
    if (v.is_tcp()) {
      s += " [";
      for (auto [bit, c] : {std::pair{net::kTcpSyn, 'S'}, {net::kTcpFin, 'F'}, {net::kTcpRst, 'R'}, {net::kTcpPsh, 'P'}, {net::kTcpAck, '.'}}) {
        if (v.tcp_flags & bit) s += c;
      }
      s += "]";
    }
    return s;
  }
  if (v.is_icmp()) {
    std::string s = "icmp type " + std::to_string(v.icmp_type) + " " + std::string(v.src.text().view()) + " > " +
                    std::string(v.dst.text().view());
    if (v.icmp_error) s += " quoting " + endpoint(v.inner_src, v.inner_sport) + " > " + endpoint(v.inner_dst, v.inner_dport);
    return s;
  }
  return "ip proto " + std::to_string(v.proto) + " " + std::string(v.src.text().view()) + " > " + std::string(v.dst.text().view());
}

std::vector<std::uint8_t> unhex(const std::string& h) {
  auto val = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::vector<std::uint8_t> b(h.size() / 2);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(val(h[2 * i]) * 16 + val(h[2 * i + 1]));
  return b;
}

int run_capture(const CaptureOptions& o) {
  const auto colon = o.api.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "natgw: --api: expected HOST:PORT, got '%s'\n", o.api.c_str());
    return 1;
  }
  httplib::Client cli(o.api.substr(0, colon), std::stoi(o.api.substr(colon + 1)));
  cli.set_connection_timeout(3);
  cli.set_read_timeout(static_cast<time_t>(o.seconds + 30));
  httplib::Params params{{"count", std::to_string(o.count)}, {"seconds", std::to_string(o.seconds)},
                         {"snaplen", std::to_string(o.snaplen)}};
  if (!o.filter.empty()) params.emplace("filter", o.filter);
  const std::string path = "/v1/capture?" + httplib::detail::params_to_query_str(params);
  std::fprintf(stderr, "capturing up to %ld packets for up to %ld s%s%s ...\n", o.count, o.seconds,
               o.filter.empty() ? "" : " matching ", o.filter.c_str());
  auto res = cli.Post(path.c_str());
  if (!res) {
    std::fprintf(stderr, "natgw: cannot reach the gateway API at %s (%s)\n", o.api.c_str(), httplib::to_string(res.error()).c_str());
    return 1;
  }
  const auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 200 || j.is_discarded()) {
    std::fprintf(stderr, "natgw: capture refused (%d): %s\n", res->status,
                 j.is_discarded() ? res->body.c_str() : j.value("error", res->body).c_str());
    return 1;
  }
  const long long mono_now = j["now_monotonic_ns"], unix_now = j["now_unix_ns"];
  std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(DLT_EN10MB, static_cast<int>(o.snaplen)), &pcap_close);
  std::unique_ptr<pcap_dumper_t, decltype(&pcap_dump_close)> dump(pcap_dump_open(dead.get(), o.file.c_str()), &pcap_dump_close);
  if (!dump) {
    std::fprintf(stderr, "natgw: cannot write %s: %s\n", o.file.c_str(), pcap_geterr(dead.get()));
    return 1;
  }
  std::ofstream notes(o.file + ".txt");
  notes << "# natgw capture" << (o.filter.empty() ? "" : " --filter '" + o.filter + "'") << ": packet number in "
        << o.file << ", pair (a received packet and what natgw sent for it), where, verdict, packet, flow\n";
  // The flow of each received/sent pair: inside endpoint, public endpoint, destination.
  struct Ends {
    std::string inside = "?", pub = "?", dest = "?";
  };
  std::map<unsigned long long, Ends> flows;
  for (const auto& f : j["frames"]) {
    auto data = unhex(f["data"].get<std::string>());
    net::PacketView v;
    if (data.size() < 34 || net::parse(data.data() + 14, data.size() - 14, v) != net::ParseResult::ok || v.fragment ||
        !(v.is_tcp() || v.is_udp())) {
      continue;
    }
    Ends& e = flows[f["seq"].get<unsigned long long>()];
    const std::string point = f["point"];
    const std::string src = endpoint(v.src, v.sport), dst = endpoint(v.dst, v.dport);
    if (point == "inside-rx") e.inside = src, e.dest = dst;
    if (point == "outside-tx") e.pub = src, e.dest = dst;
    if (point == "outside-rx") e.dest = src, e.pub = dst;
    if (point == "inside-tx") e.dest = src, e.inside = dst;
  }
  std::size_t n = 0;
  for (const auto& f : j["frames"]) {
    auto data = unhex(f["data"].get<std::string>());
    const long long unix_ns = unix_now - (mono_now - f["time_ns"].get<long long>());
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(unix_ns / 1000000000);
    h.ts.tv_usec = static_cast<suseconds_t>(unix_ns % 1000000000 / 1000);
    h.caplen = static_cast<bpf_u_int32>(data.size());
    h.len = f["len"].get<bpf_u_int32>();
    pcap_dump(reinterpret_cast<u_char*>(dump.get()), &h, data.data());
    ++n;
    const std::string verdict = f["action"].get<std::string>() + (f["reason"].get<std::string>().empty() ? "" : " " + f["reason"].get<std::string>());
    const auto seq = f["seq"].get<unsigned long long>();
    notes << n << "\tpair " << seq << "\t" << f["point"].get<std::string>() << "\t" << verdict << "\t" << describe(data);
    if (const auto it = flows.find(seq); it != flows.end()) {
      notes << "\tflow inside " << it->second.inside << " public " << it->second.pub << " destination " << it->second.dest;
    }
    notes << "\n";
  }
  std::printf("%zu packets written to %s (annotations: %s.txt)%s\n", n, o.file.c_str(), o.file.c_str(),
              j["dropped"].get<unsigned long long>() ? " — some were lost: the capture ring was full" : "");
  return 0;
}

const Registration reg(40, [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<CaptureOptions>();
  auto* cmd = app.add_subcommand("capture", "Capture what the datapath sees on both sides to a pcap, each packet annotated with its verdict and flow");
  cmd->add_option("-w,--write", o->file, "pcap file to write (annotations go to FILE.txt)")->required();
  cmd->add_option("--filter", o->filter, "BPF filter (tcpdump syntax); a packet is kept when it matches before or after translation");
  cmd->add_option("--count", o->count, "Stop after this many received packets (1..100000)")->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Stop after this long (1..600)")->capture_default_str();
  cmd->add_option("--snaplen", o->snaplen, "Bytes kept of each packet (64..2048)")->capture_default_str();
  cmd->add_option("--api", o->api, "Address of the gateway's API")->capture_default_str();
  cmd->footer(
      "Each received packet appears as received (inside-rx / outside-rx) and, when natgw sent something for it, as sent\n"
      "(outside-tx / inside-tx), both with the same pair number in FILE.txt: compare the two sides of the NAT directly.\n"
      "Example: natgw capture --filter 'host 192.0.2.10 and tcp port 443' --count 50 -w /tmp/natgw.pcap; tcpdump -nr /tmp/natgw.pcap");
  cmd->callback([o, &exit_code] { exit_code = run_capture(*o); });
});

}  // namespace
}  // namespace natgw::cli
