#include "daemon/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>

namespace natgw::daemon {
namespace {

constexpr char kMagic[8] = {'N', 'A', 'T', 'G', 'W', 'S', 'F', '1'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kRecordSize = 32;
constexpr std::size_t kHeaderSize = 8 + 4 + 4 + 8 + 2 + 2 + 8;

std::uint64_t fnv1a(const std::uint8_t* p, std::size_t n) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001B3ull;
  }
  return h;
}

class Out {
 public:
  template <class T>
  void put(T v) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      b.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i)));
    }
  }
  std::vector<std::uint8_t> b;
};

class In {
 public:
  explicit In(const std::uint8_t* p) : p_(p) {}
  template <class T>
  T get() {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= std::uint64_t{p_[pos_ + i]} << (8 * i);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }
  [[nodiscard]] std::size_t pos() const { return pos_; }

 private:
  const std::uint8_t* p_;
  std::size_t pos_ = 0;
};

}  // namespace

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string write_state(const std::filesystem::path& path, const SavedState& s) {
  Out o;
  o.b.insert(o.b.end(), std::begin(kMagic), std::end(kMagic));
  o.put<std::uint32_t>(kVersion);
  o.put<std::uint32_t>(kRecordSize);
  o.put<std::int64_t>(s.saved_unix_ms);
  o.put<std::uint16_t>(s.port_min);
  o.put<std::uint16_t>(s.port_max);
  o.put<std::uint64_t>(s.flows.size());
  for (const auto& f : s.flows) {
    o.put<std::uint8_t>(static_cast<std::uint8_t>(f.proto));
    o.put<std::uint8_t>(static_cast<std::uint8_t>(f.state));
    o.put<std::uint8_t>(f.inside_linked ? 1 : 0);
    o.put<std::uint8_t>(0);
    o.put<std::uint32_t>(f.inside.addr.value());
    o.put<std::uint16_t>(f.inside.port);
    o.put<std::uint16_t>(f.public_endpoint.port);
    o.put<std::uint32_t>(f.public_endpoint.addr.value());
    o.put<std::uint32_t>(f.destination.addr.value());
    o.put<std::uint16_t>(f.destination.port);
    o.put<std::uint16_t>(0);
    o.put<std::uint32_t>(f.age_out_ms);
    o.put<std::uint32_t>(f.age_in_ms);
  }
  o.put<std::uint64_t>(fnv1a(o.b.data(), o.b.size()));

  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot create " + tmp.string() + ": " + std::strerror(errno);
  std::size_t done = 0;
  while (done < o.b.size()) {
    const ssize_t n = ::write(fd, o.b.data() + done, o.b.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return "cannot write " + tmp.string() + ": " + err;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return "cannot flush " + tmp.string() + ": " + std::strerror(errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot rename " + tmp.string() + " to " + path.string() + ": " + err;
  }
  return {};
}

std::variant<SavedState, std::string> read_state(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read " + path.string() + ": " + std::strerror(errno);
  const std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (b.size() < kHeaderSize + 8 || std::memcmp(b.data(), kMagic, 8) != 0) {
    return path.string() + " is not a natgw state file";
  }
  In r(b.data());
  r.get<std::uint64_t>();  // magic
  const auto version = r.get<std::uint32_t>();
  const auto rec = r.get<std::uint32_t>();
  if (version != kVersion || rec != kRecordSize) {
    return path.string() + " has state format " + std::to_string(version) + "; this natgw reads format " +
           std::to_string(kVersion);
  }
  SavedState s;
  s.saved_unix_ms = r.get<std::int64_t>();
  s.port_min = r.get<std::uint16_t>();
  s.port_max = r.get<std::uint16_t>();
  const auto count = r.get<std::uint64_t>();
  if (count > (b.size() - kHeaderSize - 8) / kRecordSize || kHeaderSize + count * kRecordSize + 8 != b.size()) {
    return path.string() + " is truncated or corrupt (its length does not match its flow count)";
  }
  std::uint64_t stored = 0;
  for (std::size_t i = 0; i < 8; ++i) stored |= std::uint64_t{b[b.size() - 8 + i]} << (8 * i);
  if (stored != fnv1a(b.data(), b.size() - 8)) return path.string() + " is corrupt (checksum mismatch)";
  s.flows.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    nat::SavedFlow f;
    const auto proto = r.get<std::uint8_t>();
    const auto state = r.get<std::uint8_t>();
    f.inside_linked = r.get<std::uint8_t>() != 0;
    r.get<std::uint8_t>();
    if (proto >= nat::kL4Count || state == 0 || state >= nat::kFlowStateCount) {
      return path.string() + " is corrupt (flow " + std::to_string(i) + " has an unknown protocol or state)";
    }
    f.proto = static_cast<nat::L4>(proto);
    f.state = static_cast<nat::FlowState>(state);
    f.inside.addr = net::Ipv4{r.get<std::uint32_t>()};
    f.inside.port = r.get<std::uint16_t>();
    f.public_endpoint.port = r.get<std::uint16_t>();
    f.public_endpoint.addr = net::Ipv4{r.get<std::uint32_t>()};
    f.destination.addr = net::Ipv4{r.get<std::uint32_t>()};
    f.destination.port = r.get<std::uint16_t>();
    r.get<std::uint16_t>();
    f.age_out_ms = r.get<std::uint32_t>();
    f.age_in_ms = r.get<std::uint32_t>();
    s.flows.push_back(f);
  }
  return s;
}

}  // namespace natgw::daemon
