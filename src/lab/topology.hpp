// What a lab is made of: names and addresses, derived from a few options by pure functions so
// that the summary, the state file, `down` and the tests all agree (README.md has the diagram).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace natgw::lab {

enum class GatewayMode : std::uint8_t {
  natgw,   // `natgw run` in <name>-gw owns gw-in and gw-out; the kernel there does not forward
  kernel,  // the kernel forwards and nftables translates: the baseline for benchmarks
  none,    // topology only
};

[[nodiscard]] std::string_view to_string(GatewayMode m);
[[nodiscard]] std::optional<GatewayMode> parse_gateway_mode(std::string_view s);

inline constexpr int kMaxVms = 200;       // 10.0.0.11 .. 10.0.0.210
inline constexpr int kMaxPublicIps = 16;  // SPEC section 1: 16 public IPs per gateway at most
inline constexpr std::size_t kMaxNameLength = 16;

// Fixed addresses of the topology.
inline constexpr const char* kPrivateSubnet = "10.0.0.0/24";
inline constexpr const char* kGatewayInside = "10.0.0.1";
inline constexpr const char* kGatewayOutside = "198.51.100.1";
inline constexpr const char* kInternetRouter = "198.51.100.2";  // inet0, the natgw next hop
inline constexpr const char* kPublicRange = "203.0.113.0/24";
inline constexpr const char* kServer1 = "192.0.2.10";
inline constexpr const char* kServer2 = "192.0.2.11";
inline constexpr const char* kApiListen = "127.0.0.1:9490";
inline constexpr std::uint16_t kApiPort = 9490;

// Interface names. They exist only inside the lab's own namespaces (veth pairs are created
// with both ends already in their namespaces), so they never collide between labs.
inline constexpr const char* kVmIf = "eth0";
inline constexpr const char* kBridge = "labbr0";  // also the mark of a lab's switch namespace
inline constexpr const char* kSwitchGwPort = "gw";
inline constexpr const char* kGwIn = "gw-in";
inline constexpr const char* kGwOut = "gw-out";
inline constexpr const char* kInetIf = "inet0";

// Server ports.
inline constexpr std::uint16_t kHttpPort = 80;
inline constexpr std::uint16_t kEchoPort = 7;
inline constexpr std::uint16_t kFtpPort = 21;
inline constexpr std::uint16_t kFtpPasvMin = 30000;
inline constexpr std::uint16_t kFtpPasvMax = 30099;
inline constexpr std::uint16_t kIperfBasePort = 5200;  // VM i gets its own server on 5200+i ...
inline constexpr int kMaxIperfServers = 8;             // ... for the first 8 VMs

struct LabSpec {
  std::string name;
  int vms = 2;
  int public_ips = 1;
  GatewayMode gateway = GatewayMode::natgw;
  std::string profile = "azure";  // natgw.yaml's profile (azure, aws, gcp, rfc or custom)
  // --flow-log: flow_logs.path of the gateway's config (flow logs on); empty: flow logs off.
  std::string flow_log{};
  // Leave the veths' offloads as the kernel sets them (checksum offload, TSO/GSO on: senders
  // hand over 64 KiB super-frames with partial checksums). false: off everywhere, MTU frames.
  bool offloads = true;
  int workers = 1;  // natgw's datapath.workers
  std::string backend =
      "af_packet";  // natgw's interfaces' backend (af_packet or af_xdp), both sides
};

// Empty if the spec can be built, else one message per problem naming option, value and range.
[[nodiscard]] std::vector<std::string> validate(const LabSpec& spec);

// "lab" + 4 random hex digits.
[[nodiscard]] std::string random_lab_name();

// Namespace names: <name>-vm1 .. <name>-vmN, <name>-sw, <name>-gw, <name>-inet.
[[nodiscard]] std::string vm_ns(const std::string& lab, int i);
[[nodiscard]] std::string switch_ns(const std::string& lab);
[[nodiscard]] std::string gateway_ns(const std::string& lab);
[[nodiscard]] std::string internet_ns(const std::string& lab);
[[nodiscard]] std::vector<std::string> all_namespaces(const LabSpec& spec);

// If `ns` is one of a lab's namespace names, that lab's name ("x-vm3" -> "x", "x-gw" -> "x").
[[nodiscard]] std::optional<std::string> lab_of_namespace(std::string_view ns);
// True if `ns` is "<lab>-" followed by "vm<i>", "sw", "gw" or "inet".
[[nodiscard]] bool is_namespace_of(std::string_view ns, std::string_view lab);

[[nodiscard]] std::string vm_address(int i);                       // 10.0.0.(10+i)
[[nodiscard]] std::vector<std::string> public_ip_list(int count);  // 203.0.113.10 ..
[[nodiscard]] std::uint16_t iperf_port(int vm);
[[nodiscard]] int iperf_servers(const LabSpec& spec);  // min(vms, kMaxIperfServers)

}  // namespace natgw::lab
