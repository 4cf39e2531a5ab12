// Manual throughput check for the AF_PACKET backend (not part of the test run):
//   natgw_io_flood [--seconds N] [--size BYTES] [--burst N] [--tx-mode ring|sendmmsg] [--drain]
// Builds a veth between two fresh namespaces (removed on exit), floods frames from one end with
// tx_burst/tx_flush in one thread and counts what rx_burst sees on the other end in another.
// Prints frames/s sent and received, CPU time per frame and the kernel's drop count.
// --drain instead measures rx_burst alone: the sender fills the rx ring while nobody reads, then
// the ring is drained with rx_burst/rx_done and only that is timed (rx capacity, independent of
// how fast one sender can push frames through veth). Needs root and `ip`.
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/af_packet.hpp"
#include "io/netns.hpp"

using namespace natgw;
using namespace std::chrono_literals;

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Namespaces {
  std::string a, b;
  Namespaces() {
    std::random_device rd;
    const std::string base =
        "natgw-f-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
    a = base + "-a";
    b = base + "-b";
    bool ok =
        test::run({"ip", "netns", "add", a}) == 0 && test::run({"ip", "netns", "add", b}) == 0;
    ok = ok && test::run({"ip", "link", "add", "nt0", "netns", a, "type", "veth", "peer", "name",
                          "nt1", "netns", b}) == 0;
    ok = ok && test::run({"ip", "-n", a, "link", "set", "nt0", "up"}) == 0;
    ok = ok && test::run({"ip", "-n", b, "link", "set", "nt1", "up"}) == 0;
    if (!ok) {
      std::fprintf(stderr, "cannot set up namespaces (root and iproute2 needed)\n");
      cleanup();
      std::exit(1);
    }
  }
  ~Namespaces() { cleanup(); }
  void cleanup() const {
    test::run({"ip", "netns", "del", a});
    test::run({"ip", "netns", "del", b});
  }
};

}  // namespace

int main(int argc, char** argv) {
  int seconds = 3;
  std::uint32_t size = 60;
  std::size_t burst = 64;
  io::TxMode mode = io::TxMode::sendmmsg;
  bool drain = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--seconds")
      seconds = std::atoi(next), ++i;
    else if (arg == "--size")
      size = static_cast<std::uint32_t>(std::atoi(next)), ++i;
    else if (arg == "--burst")
      burst = static_cast<std::size_t>(std::atoi(next)), ++i;
    else if (arg == "--tx-mode")
      mode = std::strcmp(next, "sendmmsg") == 0 ? io::TxMode::sendmmsg : io::TxMode::ring, ++i;
    else if (arg == "--drain")
      drain = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--seconds N] [--size BYTES] [--burst N] [--tx-mode ring|sendmmsg] "
                   "[--drain]\n",
                   argv[0]);
      return 2;
    }
  }
  if (size < 60 || size > 1514 || burst == 0 || burst > 256 || seconds <= 0) {
    std::fprintf(stderr, "size 60..1514, burst 1..256, seconds > 0\n");
    return 2;
  }
  Namespaces ns;
  std::unique_ptr<io::Port> rx, tx;
  {
    test::NetnsGuard in(ns.a);
    io::AfPacketOptions o;
    // Draining: blocks must fill up rather than retire every millisecond half empty.
    if (drain) o.rx_block_timeout_ms = 100;
    rx = io::open_af_packet("nt0", o);
  }
  {
    test::NetnsGuard in(ns.b);
    io::AfPacketOptions o;
    o.tx_mode = mode;
    tx = io::open_af_packet("nt1", o);
  }
  std::vector<std::uint8_t> frame(size, 0xAB);
  net::write_eth_header(frame.data(), rx->mac(), tx->mac(), 0x88B5);
  std::vector<io::Frame> frames(burst, io::Frame{frame.data(), size, false});

  std::array<io::Frame, 256> out{};
  if (drain) {
    // Each round: fill the ring (no reader), then time the drain. 32 blocks of 256 KiB hold
    // ~58,000 minimum-size or ~5,400 full-size frames.
    const std::uint64_t kPerRound = size <= 128 ? 30000 : 4000;
    std::uint64_t total = 0;
    double busy = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      for (std::uint64_t sent = 0; sent < kPerRound;) {
        sent +=
            tx->tx_burst(std::span(frames).first(std::min<std::uint64_t>(burst, kPerRound - sent)));
        tx->tx_flush();
      }
      std::this_thread::sleep_for(150ms);  // let the last block retire
      std::uint64_t got = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (std::size_t n; (n = rx->rx_burst(std::span(out).first(burst))) > 0;) {
        got += n;
        rx->rx_done();
      }
      rx->rx_done();
      busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      total += got;
    }
    std::printf(
        "drain: %llu frames of %u bytes in %.3f s of rx_burst: %.0f frames/s (%.0f ns/frame), %llu "
        "kernel drops\n",
        static_cast<unsigned long long>(total), size, busy, static_cast<double>(total) / busy,
        busy * 1e9 / static_cast<double>(total),
        static_cast<unsigned long long>(rx->stats().rx_kernel_drops));
    return 0;
  }

  std::atomic<bool> stop{false};
  double tx_cpu = 0;
  std::thread sender([&] {
    const double cpu0 = thread_cpu_seconds();
    while (!stop.load(std::memory_order_relaxed)) {
      (void)tx->tx_burst(frames);
      tx->tx_flush();
    }
    tx_cpu = thread_cpu_seconds() - cpu0;
  });
  std::uint64_t received = 0;
  const double rx_cpu0 = thread_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{rx->fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    std::size_t n;
    while ((n = rx->rx_burst(std::span(out).first(burst))) > 0) {
      received += n;
      rx->rx_done();
    }
    rx->rx_done();
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rx_cpu = thread_cpu_seconds() - rx_cpu0;
  stop = true;
  sender.join();
  const io::PortStats rs = rx->stats();
  const io::PortStats ts = tx->stats();
  std::printf("tx mode %s, frame %u bytes, burst %zu, %.1f s\n",
              mode == io::TxMode::ring ? "ring" : "sendmmsg", size, burst, elapsed);
  // Thread CPU time per frame is steadier than frames/s on a shared machine. The sender's
  // includes the kernel's whole veth path (its softirq runs in the sender's context).
  std::printf(
      "tx: %.0f frames/s handed to the kernel, %.0f ns CPU/frame (%llu errors, %llu queue full)\n",
      static_cast<double>(ts.tx_frames) / elapsed,
      tx_cpu * 1e9 / static_cast<double>(ts.tx_frames ? ts.tx_frames : 1),
      static_cast<unsigned long long>(ts.tx_errors),
      static_cast<unsigned long long>(ts.tx_queue_full));
  std::printf("rx: %.0f frames/s from rx_burst, %.0f ns CPU/frame (%llu kernel drops)\n",
              static_cast<double>(received) / elapsed,
              rx_cpu * 1e9 / static_cast<double>(received ? received : 1),
              static_cast<unsigned long long>(rs.rx_kernel_drops));
  return 0;
}
