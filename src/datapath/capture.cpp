#include "datapath/capture.hpp"

#include <algorithm>
#include <cstring>

namespace natgw::datapath {

const char* name(CapturePoint p) noexcept {
  switch (p) {
    case CapturePoint::inside_rx: return "inside-rx";
    case CapturePoint::outside_tx: return "outside-tx";
    case CapturePoint::outside_rx: return "outside-rx";
    case CapturePoint::inside_tx: return "inside-tx";
  }
  return "?";
}

CaptureSession::CaptureSession(std::size_t capacity, std::uint32_t snaplen, Filter filter)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      snaplen_(std::clamp<std::uint32_t>(snaplen, 64, kCaptureMaxSnap)),
      filter_(std::move(filter)),
      slots_(capacity_),
      bytes_(capacity_ * snaplen_),
      scratch_(kScratchFrames * snaplen_) {}

void CaptureSession::push(std::uint64_t seq, nat::Time t, CapturePoint p, const nat::Verdict& v,
                          const std::uint8_t* frame, std::uint32_t len) noexcept {
  const std::uint64_t w = written_.load(std::memory_order_relaxed);
  if (w - read_.load(std::memory_order_acquire) >= capacity_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::size_t i = w % capacity_;
  const std::uint32_t keep = std::min(len, snaplen_);
  std::memcpy(bytes_.data() + i * snaplen_, frame, keep);
  slots_[i] = Slot{seq, t, p, v, len, keep};
  written_.store(w + 1, std::memory_order_release);
}

void CaptureSession::drain(std::vector<CapturedFrame>& out) {
  const std::uint64_t w = written_.load(std::memory_order_acquire);
  std::uint64_t r = read_.load(std::memory_order_relaxed);
  for (; r < w; ++r) {
    const std::size_t i = r % capacity_;
    const Slot& s = slots_[i];
    CapturedFrame f;
    f.seq = s.seq;
    f.time = s.time;
    f.point = s.point;
    f.action = s.verdict.action;
    f.reason = s.verdict.reason;
    f.len = s.len;
    f.caplen = s.caplen;
    const std::uint8_t* b = bytes_.data() + i * snaplen_;
    f.data.assign(b, b + s.caplen);
    out.push_back(std::move(f));
  }
  read_.store(r, std::memory_order_release);
}

}  // namespace natgw::datapath
