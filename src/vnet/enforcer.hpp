// The network model on the datapath: a nat::AdmissionPolicy that the engine asks about packets
// without a flow (new connections, and traffic that is never translated). It applies the
// security rules and routes of vnet::Network and counts denials per rule.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "nat/engine.hpp"
#include "vnet/network.hpp"

namespace natgw::vnet {

class Enforcer final : public nat::AdmissionPolicy {
 public:
  explicit Enforcer(std::shared_ptr<const Network> network);

  // Packet path: no allocation, no lock.
  [[nodiscard]] nat::Admission admit(const net::PacketView& v, bool opens) noexcept override;

  [[nodiscard]] const Network& network() const noexcept { return *network_; }
  [[nodiscard]] const std::shared_ptr<const Network>& shared_network() const noexcept {
    return network_;
  }
  // The packets passed untranslated since clear_passed(), in the order the engine asked about
  // them: the engine's verdict for them is Action::forward, and this says where they go. The
  // datapath clears it before each batch; a batch may pass at most kMaxPassed packets (more are
  // dropped, tx_queue_full).
  struct Passed {
    const std::uint8_t* ip = nullptr;  // the packet (PacketView::ip)
    std::uint16_t tag = 0;             // its target: network().targets()[tag]
  };
  static constexpr std::size_t kMaxPassed = 256;
  [[nodiscard]] std::span<const Passed> passed() const noexcept {
    return {passed_.data(), passed_n_};
  }
  void clear_passed() noexcept { passed_n_ = 0; }
  [[nodiscard]] const ForwardTarget& target(std::uint16_t tag) const noexcept {
    return network_->targets()[tag];
  }
  // Packets denied, per rule (index: Rule::id).
  [[nodiscard]] std::span<const std::uint64_t> denied() const noexcept { return denied_; }

 private:
  std::shared_ptr<const Network> network_;
  std::vector<std::uint64_t> denied_;
  std::array<Passed, kMaxPassed> passed_{};
  std::size_t passed_n_ = 0;
};

}  // namespace natgw::vnet
