#include "datapath/shard.hpp"

#include <linux/filter.h>

#include <algorithm>
#include <stdexcept>

namespace natgw::datapath {
namespace {

constexpr std::uint32_t kHashMultiplier = 0x9E3779B1u;  // Fibonacci hashing
constexpr std::uint32_t kPortMultiplier = 0x85EBCA6Bu;  // spreads the port over the word
constexpr std::uint32_t kProtocol = static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL);

std::uint32_t share(std::uint32_t total, std::size_t index, std::size_t count) {
  const auto n = static_cast<std::uint32_t>(count);
  const std::uint32_t s = total / n + (index < total % n ? 1u : 0u);
  return std::max<std::uint32_t>(s, 1);
}

// A tiny assembler: jumps name a label; offsets are resolved at the end.
class Program {
 public:
  void stmt(std::uint16_t code, std::uint32_t k) { code_.push_back({code, 0, 0, k}); }
  // Conditional jump on A `op` k to label `t` (true) / `f` (false); -1 = the next instruction.
  void jump(std::uint16_t op, std::uint32_t k, int t, int f) {
    fix_.push_back({code_.size(), t, f});
    code_.push_back({static_cast<std::uint16_t>(BPF_JMP | op | BPF_K), 0, 0, k});
  }
  // Unconditional jump to label `l`.
  void go(int l) {
    fix_.push_back({code_.size(), l, -1, true});
    code_.push_back({static_cast<std::uint16_t>(BPF_JMP | BPF_JA), 0, 0, 0});
  }
  int label() { return next_label_++; }
  void place(int l) {
    if (static_cast<std::size_t>(l) >= at_.size()) at_.resize(static_cast<std::size_t>(l) + 1);
    at_[static_cast<std::size_t>(l)] = code_.size();
  }
  std::vector<io::BpfInstruction> done() {
    for (const auto& f : fix_) {
      auto rel = [&](int l) -> std::uint8_t {
        if (l < 0) return 0;
        return static_cast<std::uint8_t>(at_[static_cast<std::size_t>(l)] - f.at - 1);
      };
      if (f.ja) {
        code_[f.at].k = static_cast<std::uint32_t>(at_[static_cast<std::size_t>(f.t)] - f.at - 1);
        continue;
      }
      code_[f.at].jt = rel(f.t);
      code_[f.at].jf = rel(f.f);
    }
    return code_;
  }

 private:
  struct Fix {
    std::size_t at;
    int t, f;
    bool ja = false;
  };
  std::vector<io::BpfInstruction> code_;
  std::vector<Fix> fix_;
  std::vector<std::size_t> at_;
  int next_label_ = 0;
};

}  // namespace

std::uint32_t port_slice(std::uint16_t port_min, std::uint16_t port_max,
                         std::size_t count) noexcept {
  const std::uint32_t range = std::uint32_t{port_max} - port_min + 1;
  const auto n = static_cast<std::uint32_t>(count);
  return (range + n - 1) / n;
}

nat::EngineConfig shard_config(const nat::EngineConfig& whole, std::size_t index,
                               std::size_t count) {
  const auto& lim = whole.limits;
  if (count == 0 || index >= count || lim.port_min > lim.port_max ||
      count > std::size_t{lim.port_max} - lim.port_min + 1u) {
    throw std::invalid_argument("datapath: cannot cut the SNAT port range into that many workers");
  }
  if (count == 1) return whole;
  nat::EngineConfig c = whole;
  const std::uint32_t slice = port_slice(lim.port_min, lim.port_max, count);
  const std::uint32_t lo = lim.port_min + slice * static_cast<std::uint32_t>(index);
  c.limits.port_min = static_cast<std::uint16_t>(lo);
  c.limits.port_max =
      static_cast<std::uint16_t>(std::min<std::uint32_t>(lo + slice - 1, lim.port_max));
  c.limits.max_connections = share(lim.max_connections, index, count);
  c.limits.per_destination = share(lim.per_destination, index, count);
  if (lim.holddown_reserve != 0)
    c.limits.holddown_reserve = share(lim.holddown_reserve, index, count);
  c.seed = whole.seed + 0x9E3779B97F4A7C15ull * index;
  return c;
}

std::size_t owner_of_port(std::uint16_t port, std::uint16_t port_min, std::uint16_t port_max,
                          std::size_t count) noexcept {
  if (count <= 1 || port < port_min) return 0;
  const std::size_t i = (std::uint32_t{port} - port_min) / port_slice(port_min, port_max, count);
  return std::min(i, count - 1);
}

std::size_t owner_of_inside(net::Ipv4 source, std::uint16_t source_port,
                            std::size_t count) noexcept {
  if (count <= 1) return 0;
  const std::uint32_t key = source.value() ^ (std::uint32_t{source_port} * kPortMultiplier);
  return ((key * kHashMultiplier) >> 16) % count;  // the kernel takes the modulo
}

std::size_t owner_of_connection(InsideSteering steering, net::Ipv4 source,
                                std::uint16_t source_port, bool ported,
                                std::size_t count) noexcept {
  const bool by_port = steering == InsideSteering::flow && ported;
  return owner_of_inside(source, by_port ? source_port : std::uint16_t{0}, count);
}

std::vector<io::BpfInstruction> inside_steering_program(InsideSteering steering) {
  Program p;
  const int ret0 = p.label(), address = p.label(), hash = p.label();
  p.stmt(BPF_LD | BPF_H | BPF_ABS, kProtocol);
  p.jump(BPF_JEQ, 0x0800, -1, ret0);
  if (steering == InsideSteering::flow) {
    const int ports = p.label(), icmp = p.label(), error = p.label(), quoted = p.label(),
              mix = p.label();
    p.stmt(BPF_LD | BPF_H | BPF_ABS, 6);    // offsets from the network header
    p.jump(BPF_JSET, 0x3FFF, address, -1);  // a fragment (MF or an offset): port 0
    p.stmt(BPF_LD | BPF_B | BPF_ABS, 9);
    p.jump(BPF_JEQ, 6, ports, -1);
    p.jump(BPF_JEQ, 17, ports, -1);
    p.jump(BPF_JEQ, 1, icmp, address);
    p.place(ports);
    p.stmt(BPF_LDX | BPF_B | BPF_MSH, 0);  // X = IPv4 header length
    p.stmt(BPF_LD | BPF_H | BPF_IND, 0);   // source port
    p.go(mix);
    // An ICMP error from the host about a TCP/UDP packet it received through natgw: the quoted
    // packet's destination port is the host's port of that flow.
    p.place(icmp);
    p.stmt(BPF_LD | BPF_B | BPF_ABS, 0);
    p.jump(BPF_JEQ, 0x45, -1, address);  // outer header without options
    p.stmt(BPF_LD | BPF_B | BPF_ABS, 20);
    p.jump(BPF_JEQ, 3, error, -1);
    p.jump(BPF_JEQ, 11, error, -1);
    p.jump(BPF_JEQ, 12, error, address);
    p.place(error);
    p.stmt(BPF_LD | BPF_B | BPF_ABS, 28 + 9);  // quoted protocol
    p.jump(BPF_JEQ, 6, quoted, -1);
    p.jump(BPF_JEQ, 17, quoted, address);
    p.place(quoted);
    p.stmt(BPF_LDX | BPF_B | BPF_MSH, 28);  // X = quoted header length
    p.stmt(BPF_LD | BPF_H | BPF_IND, 28 + 2);
    p.place(mix);
    p.stmt(BPF_ALU | BPF_MUL | BPF_K, kPortMultiplier);
    p.stmt(BPF_MISC | BPF_TAX, 0);
    p.stmt(BPF_LD | BPF_W | BPF_ABS, 12);  // source address
    p.stmt(BPF_ALU | BPF_XOR | BPF_X, 0);
    p.go(hash);
  }
  p.place(address);
  p.stmt(BPF_LD | BPF_W | BPF_ABS, 12);  // source address, port 0
  p.place(hash);
  p.stmt(BPF_ALU | BPF_MUL | BPF_K, kHashMultiplier);
  p.stmt(BPF_ALU | BPF_RSH | BPF_K, 16);
  p.stmt(BPF_RET | BPF_A, 0);
  p.place(ret0);
  p.stmt(BPF_RET | BPF_K, 0);
  return p.done();
}

std::vector<io::BpfInstruction> outside_steering_program(std::uint16_t port_min,
                                                         std::uint16_t port_max,
                                                         std::size_t count) {
  Program p;
  const int ret0 = p.label(), ports = p.label(), icmp = p.label(), slice = p.label(),
            last = p.label();
  p.stmt(BPF_LD | BPF_H | BPF_ABS, kProtocol);
  p.jump(BPF_JEQ, 0x0800, -1, ret0);
  p.stmt(BPF_LD | BPF_H | BPF_ABS, 6);  // fragment offset: no ports in a later fragment
  p.jump(BPF_JSET, 0x1FFF, ret0, -1);
  p.stmt(BPF_LD | BPF_B | BPF_ABS, 9);  // protocol
  p.jump(BPF_JEQ, 6, ports, -1);
  p.jump(BPF_JEQ, 17, ports, -1);
  p.jump(BPF_JEQ, 1, icmp, ret0);
  p.place(ports);
  p.stmt(BPF_LDX | BPF_B | BPF_MSH, 0);  // X = IPv4 header length
  p.stmt(BPF_LD | BPF_H | BPF_IND, 2);   // destination port: the public port
  p.go(slice);
  p.place(icmp);
  const int error = p.label(), echo = p.label();
  p.stmt(BPF_LDX | BPF_B | BPF_MSH, 0);  // X = IPv4 header length
  p.stmt(BPF_LD | BPF_B | BPF_IND, 0);   // ICMP type
  p.jump(BPF_JEQ, 0, echo, -1);          // echo reply: the identifier is the public port
  p.jump(BPF_JEQ, 3, error, -1);         // errors that quote a packet
  p.jump(BPF_JEQ, 11, error, -1);
  p.jump(BPF_JEQ, 12, error, ret0);
  p.place(echo);
  p.stmt(BPF_LD | BPF_H | BPF_IND, 4);
  p.go(slice);
  p.place(error);
  const int quoted_echo = p.label();
  p.stmt(BPF_LD | BPF_B | BPF_ABS, 0);
  p.jump(BPF_JEQ, 0x45, -1, ret0);        // outer header without options
  p.stmt(BPF_LDX | BPF_B | BPF_MSH, 28);  // X = quoted header length
  p.stmt(BPF_LD | BPF_B | BPF_ABS, 28 + 9);
  p.jump(BPF_JEQ, 1, quoted_echo, -1);   // about an echo request: its identifier
  p.stmt(BPF_LD | BPF_H | BPF_IND, 28);  // quoted source port: the public port
  p.go(slice);
  p.place(quoted_echo);
  p.stmt(BPF_LD | BPF_H | BPF_IND, 28 + 4);
  p.place(slice);
  p.jump(BPF_JGE, port_min, -1, ret0);
  p.stmt(BPF_ALU | BPF_SUB | BPF_K, port_min);
  p.stmt(BPF_ALU | BPF_DIV | BPF_K, port_slice(port_min, port_max, count));
  p.jump(BPF_JGE, static_cast<std::uint32_t>(count), last, -1);
  p.stmt(BPF_RET | BPF_A, 0);
  p.place(last);
  p.stmt(BPF_RET | BPF_K, static_cast<std::uint32_t>(count - 1));
  p.place(ret0);
  p.stmt(BPF_RET | BPF_K, 0);
  return p.done();
}

}  // namespace natgw::datapath
