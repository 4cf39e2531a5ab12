#include "telemetry/flow_log.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "net/types.hpp"

namespace natgw::telemetry {

bool TokenBucket::take(nat::Time now) noexcept {
  if (!started_) {
    started_ = true;
    last_ = now;
  }
  if (now > last_) {
    tokens_ =
        std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::string rfc3339_ms(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000 - (unix_ms % 1000 < 0 ? 1 : 0));
  const auto millis = static_cast<int>(((unix_ms % 1000) + 1000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

namespace {

std::string endpoint(std::uint32_t addr, std::uint16_t port) {
  return fmt::format("{}:{}", net::Ipv4{addr}.text().view(), port);
}

}  // namespace

std::string format_flow_event(const nat::FlowEvent& e, std::int64_t unix_offset_ms) {
  const auto at = [&](std::uint64_t ms) {
    return rfc3339_ms(static_cast<std::int64_t>(ms) + unix_offset_ms);
  };
  const std::string_view proto = nat::kL4Names[static_cast<std::size_t>(e.proto)];
  const std::string inside = endpoint(e.inside_addr, e.inside_port);
  const std::string dest = endpoint(e.dst_addr, e.dst_port);
  // Every value is an address, a number or a name from a fixed list: nothing needs escaping.
  std::string s = fmt::format(
      R"({{"time":"{}","event":"{}","protocol":"{}","inside":{{"src":"{}","dst":"{}"}})",
      at(e.time_ms), nat::name(e.kind), proto, inside, dest);
  if (e.kind == nat::FlowEventKind::failed) {
    s += fmt::format(R"(,"outside":null,"public":null,"reason":"{}")", nat::name(e.reason));
  } else {
    const std::string pub = endpoint(e.public_addr, e.public_port);
    s += fmt::format(R"(,"outside":{{"src":"{}","dst":"{}"}},"public":"{}")", pub, dest, pub);
  }
  if (e.kind == nat::FlowEventKind::ended) {
    s += fmt::format(
        R"(,"end":"{}","start":"{}","duration_ms":{},"bytes_out":{},"bytes_in":{},"packets_out":{},"packets_in":{})",
        nat::name(e.end), at(e.start_ms), e.time_ms - e.start_ms, e.bytes[0], e.bytes[1],
        e.packets[0], e.packets[1]);
  }
  if (e.restored) s += R"(,"restored":true)";
  s += "}\n";
  return s;
}

FlowLogWriter::~FlowLogWriter() {
  if (file_ != nullptr && file_ != stdout) std::fclose(file_);
}

std::string FlowLogWriter::open(const FlowLogOptions& options) {
  std::FILE* f = stdout;
  std::uint64_t size = 0;
  if (options.path != "-") {
    f = std::fopen(options.path.c_str(), "ae");
    if (f == nullptr) return fmt::format("cannot open {}: {}", options.path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fileno(f), &st) == 0) size = static_cast<std::uint64_t>(st.st_size);
  }
  if (file_ != nullptr) {
    std::fflush(file_);
    if (file_ != stdout) std::fclose(file_);
  }
  file_ = f;
  size_ = size;
  const bool new_rate = !opened_ || options.rate_per_second != options_.rate_per_second;
  options_ = options;
  opened_ = true;
  if (new_rate) bucket_ = TokenBucket(options.rate_per_second, options.rate_per_second);
  return {};
}

void FlowLogWriter::rotate() {
  namespace fs = std::filesystem;
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  const std::string& p = options_.path;
  if (options_.keep == 0) {
    fs::remove(p, ec);
  } else {
    for (std::uint32_t i = options_.keep - 1; i >= 1; --i) {
      fs::rename(fmt::format("{}.{}", p, i), fmt::format("{}.{}", p, i + 1), ec);  // may not exist
    }
    fs::rename(p, p + ".1", ec);
  }
  file_ = std::fopen(p.c_str(), "ae");
  size_ = 0;
  counters_.rotations.fetch_add(1, std::memory_order_relaxed);
}

void FlowLogWriter::write(const nat::FlowEvent& e, nat::Time now, std::int64_t unix_offset_ms) {
  counters_.records.fetch_add(1, std::memory_order_relaxed);
  if (!bucket_.take(now)) {
    counters_.rate_limited.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string line = format_flow_event(e, unix_offset_ms);
  if (file_ != nullptr && file_ != stdout && size_ > 0 && size_ + line.size() > options_.max_bytes)
    rotate();
  if (file_ == nullptr || std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
    counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
    if (file_ == nullptr && options_.path != "-")
      file_ = std::fopen(options_.path.c_str(), "ae");  // try again
    return;
  }
  size_ += line.size();
  counters_.written.fetch_add(1, std::memory_order_relaxed);
}

void FlowLogWriter::flush() {
  if (file_ != nullptr) std::fflush(file_);
}

}  // namespace natgw::telemetry
