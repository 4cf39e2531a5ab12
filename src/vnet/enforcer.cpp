#include "vnet/enforcer.hpp"

#include <stdexcept>

namespace natgw::vnet {

Enforcer::Enforcer(std::shared_ptr<const Network> network)
    : network_(std::move(network)), denied_(network_ ? network_->rules().size() : 0, 0) {
  if (!network_) throw std::invalid_argument("no network to enforce");
}

nat::Admission Enforcer::admit(const net::PacketView& v, bool /*opens*/) noexcept {
  // The engine asks only about TCP and UDP (it drops every other protocol before).
  const net::FiveTuple t{
      v.is_tcp() ? net::Proto::tcp : net::Proto::udp, {v.src, v.sport}, {v.dst, v.dport}};
  const Decision d = network_->decide(t);
  nat::Admission a;
  switch (d.fate) {
    case Fate::translate:
      a.kind = nat::Admission::Kind::translate;
      break;
    case Fate::forward:
      if (passed_n_ == kMaxPassed) {
        a.kind = nat::Admission::Kind::drop;
        a.reason = nat::DropReason::tx_queue_full;
        break;
      }
      a.kind = nat::Admission::Kind::pass;
      passed_[passed_n_++] = {v.ip, d.tag};
      break;
    case Fate::drop:
      a.kind = nat::Admission::Kind::drop;
      a.reason = d.reason;
      if (d.reason == nat::DropReason::security_rule_denied) {
        const Rule* r = d.inbound_rule != nullptr ? d.inbound_rule : d.outbound_rule;
        if (r != nullptr) ++denied_[r->id];
      }
      break;
    case Fate::elsewhere:  // not through this gateway; the engine lets only attached sources ask
      a.kind = nat::Admission::Kind::drop;
      a.reason = nat::DropReason::source_not_in_subnet;
      break;
  }
  return a;
}

}  // namespace natgw::vnet
