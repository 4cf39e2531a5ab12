#include "io/memory_port.hpp"

#include <algorithm>
#include <cstring>

namespace natgw::io {

MemoryPort::MemoryPort(const MemoryPortOptions& options)
    : opt_(options),
      rx_mem_(options.rx_capacity * options.slot_size),
      rx_slots_(options.rx_capacity),
      tx_mem_(options.tx_capacity * options.slot_size),
      tx_len_(options.tx_capacity),
      tx_offload_(options.tx_capacity) {}

std::uint32_t MemoryPort::max_frame() const noexcept {
  return std::min<std::uint32_t>(opt_.mtu + static_cast<std::uint32_t>(net::kEthHeader),
                                 opt_.slot_size);
}

std::uint32_t MemoryPort::max_gso_frame() const noexcept {
  return opt_.offloads ? std::min<std::uint32_t>(
                             65535 + static_cast<std::uint32_t>(net::kEthHeader), opt_.slot_size)
                       : max_frame();
}

bool MemoryPort::inject(std::span<const std::uint8_t> frame, bool csum_partial) {
  return inject_slot(frame, Slot{static_cast<std::uint32_t>(frame.size()), csum_partial, {}});
}

bool MemoryPort::inject(std::span<const std::uint8_t> frame, const Offload& offload) {
  return inject_slot(frame, Slot{static_cast<std::uint32_t>(frame.size()), offload.needs_csum(),
                                 opt_.offloads ? offload : Offload{}});
}

bool MemoryPort::inject_slot(std::span<const std::uint8_t> frame, const Slot& slot) {
  const std::size_t cap = rx_slots_.size();
  if (rx_held_ + rx_waiting_ == cap || frame.size() > opt_.slot_size) return false;
  const std::size_t i = (rx_head_ + rx_held_ + rx_waiting_) % cap;
  std::memcpy(rx_data(i), frame.data(), frame.size());
  rx_slots_[i] = slot;
  ++rx_waiting_;
  return true;
}

std::size_t MemoryPort::rx_burst(std::span<Frame> out) noexcept {
  const std::size_t n = std::min(out.size(), rx_waiting_);
  const std::size_t cap = rx_slots_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (rx_head_ + rx_held_ + k) % cap;
    out[k] = Frame{rx_data(i), rx_slots_[i].len, rx_slots_[i].csum_partial, rx_slots_[i].offload};
    ++stats_.rx_frames;
    stats_.rx_bytes += rx_slots_[i].len;
  }
  rx_held_ += n;
  rx_waiting_ -= n;
  return n;
}

void MemoryPort::rx_done() noexcept {
  if (!rx_slots_.empty()) rx_head_ = (rx_head_ + rx_held_) % rx_slots_.size();
  rx_held_ = 0;
}

std::size_t MemoryPort::tx_burst(std::span<const Frame> frames) noexcept {
  std::size_t k = 0;
  for (; k < frames.size(); ++k) {
    const Frame& f = frames[k];
    const bool gso = f.offload.gso();
    if (f.len < net::kEthHeader || f.len > (gso ? max_gso_frame() : max_frame()) ||
        (gso && !opt_.offloads)) {
      ++stats_.tx_invalid;
      continue;
    }
    if (tx_count_ == tx_len_.size()) break;
    std::memcpy(tx_data(tx_count_), f.data, f.len);
    tx_offload_[tx_count_] = opt_.offloads ? f.offload : Offload{};
    tx_len_[tx_count_++] = f.len;
  }
  stats_.tx_queue_full += frames.size() - k;
  return k;
}

void MemoryPort::tx_flush() noexcept {
  ++flush_calls_;
  for (std::size_t i = tx_flushed_; i < tx_count_; ++i) {
    ++stats_.tx_frames;
    stats_.tx_bytes += tx_len_[i];
  }
  tx_flushed_ = tx_count_;
}

std::vector<std::vector<std::uint8_t>> MemoryPort::take_sent() {
  std::vector<std::vector<std::uint8_t>> sent;
  for (auto& f : take_sent_frames()) sent.push_back(std::move(f.bytes));
  return sent;
}

std::vector<SentFrame> MemoryPort::take_sent_frames() {
  std::vector<SentFrame> sent;
  sent.reserve(tx_flushed_);
  for (std::size_t i = 0; i < tx_flushed_; ++i)
    sent.push_back({{tx_data(i), tx_data(i) + tx_len_[i]}, tx_offload_[i]});
  // Move the queued, unflushed frames to the front.
  for (std::size_t i = tx_flushed_; i < tx_count_; ++i) {
    std::memmove(tx_data(i - tx_flushed_), tx_data(i), tx_len_[i]);
    tx_len_[i - tx_flushed_] = tx_len_[i];
    tx_offload_[i - tx_flushed_] = tx_offload_[i];
  }
  tx_count_ -= tx_flushed_;
  tx_flushed_ = 0;
  return sent;
}

}  // namespace natgw::io
