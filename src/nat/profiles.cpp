// The engine presets of SPEC section 3. nat/README.md "Profiles" gives the source of each figure
// and every choice made where the clouds' documentation is silent.
#include <chrono>

#include "nat/config.hpp"

namespace natgw::nat {

using std::chrono::minutes;
using std::chrono::seconds;

EngineConfig aws_profile() {
  EngineConfig e;
  e.limits.per_destination = 55'000;  // per public IP per unique destination
  e.timers.tcp_idle = seconds(350);   // fixed, TCP and UDP (and ICMP echo)
  e.timers.udp_idle = seconds(350);
  e.timers.icmp_idle = seconds(350);
  e.timers.udp_refresh_each_direction = false;
  e.behaviour.icmp_echo = true;
  e.behaviour.udp_fragments = true;             // TCP and ICMP fragments stay dropped
  e.behaviour.late_rst = LateRst::inside_only;  // RST to the inside host that goes on
  return e;
}

EngineConfig gcp_profile() {
  EngineConfig e;
  e.limits.per_destination = 65'535;     // no such limit: the per-VM allowance is what binds
  e.timers.tcp_idle = seconds(1200);     // TCP established
  e.timers.tcp_half_open = seconds(30);  // TCP transitory ...
  e.timers.tcp_closing = seconds(30);    // ... both ends of a connection
  e.timers.holddown_fin = seconds(120);  // TCP TIME_WAIT
  e.timers.udp_idle = seconds(30);
  e.timers.icmp_idle = seconds(30);
  e.timers.udp_refresh_each_direction = false;
  e.behaviour.mapping = Mapping::endpoint_independent;
  e.behaviour.filtering = Filtering::endpoint_dependent;  // no unsolicited inbound: README
  e.behaviour.icmp_echo = true;
  e.behaviour.ports_per_host_min = 32;      // dynamic port allocation: 32, doubling ...
  e.behaviour.ports_per_host_max = 65'536;  // ... up to GCP's largest maximum
  return e;
}

EngineConfig rfc_profile() {
  EngineConfig e;
  e.limits.per_destination = 65'535;
  e.timers.udp_idle = minutes(5);       // RFC 4787 REQ-5: at least 2 min, 5 recommended
  e.timers.tcp_idle = minutes(124);     // RFC 5382 REQ-5: at least 2 h 4 min
  e.timers.tcp_half_open = minutes(4);  // RFC 5382 REQ-5: transitory 4 min
  e.timers.tcp_closing = minutes(4);
  e.timers.holddown_fin = minutes(4);                       // 2 MSL
  e.timers.icmp_idle = seconds(60);                         // RFC 5508 REQ-2: at least 60 s
  e.timers.udp_refresh_each_direction = false;              // RFC 4787 REQ-6: outbound refreshes
  e.behaviour.mapping = Mapping::endpoint_independent;      // RFC 4787 REQ-1, RFC 5382 REQ-1
  e.behaviour.filtering = Filtering::endpoint_independent;  // RFC 4787 REQ-8, RFC 5382 REQ-3
  e.behaviour.icmp_echo = true;                             // RFC 5508 REQ-1
  e.behaviour.udp_fragments = true;                         // RFC 4787 REQ-14 (in order)
  e.behaviour.hairpinning = true;                           // RFC 4787 REQ-9, RFC 5382 REQ-8
  e.block_smtp = false;                                     // no RFC blocks a port
  e.ftp_alg = true;  // active FTP through the NAT, as Linux's nf_nat_ftp (nat/README.md)
  return e;
}

}  // namespace natgw::nat
