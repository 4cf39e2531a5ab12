// Flow logs (telemetry/flow_log.hpp): the JSON lines, the token bucket, size-based rotation.
// Time is an input: no test reads a clock.
#include "telemetry/flow_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace natgw::telemetry {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// 2026-11-27T08:00:00.000Z, as Unix ms, minus an engine clock that starts at 1 h.
constexpr std::int64_t kUnix0 = 1795766400000;
constexpr std::int64_t kOffset = kUnix0 - 3'600'000;

nat::FlowEvent ended() {
  nat::FlowEvent e;
  e.kind = nat::FlowEventKind::ended;
  e.end = nat::FlowEnd::closed;
  e.proto = nat::L4::tcp;
  e.start_ms = 3'600'000;
  e.time_ms = 3'602'500;
  e.inside_addr = net::Ipv4{10, 0, 0, 11}.value();
  e.inside_port = 40000;
  e.dst_addr = net::Ipv4{192, 0, 2, 10}.value();
  e.dst_port = 80;
  e.public_addr = net::Ipv4{203, 0, 113, 10}.value();
  e.public_port = 31000;
  e.bytes = {500, 1200};
  e.packets = {6, 5};
  return e;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class FlowLogFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("natgw-flowlog-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(FlowLogFormat, Rfc3339WithMilliseconds) {
  EXPECT_EQ(rfc3339_ms(kUnix0), "2026-11-27T08:00:00.000Z");
  EXPECT_EQ(rfc3339_ms(kUnix0 + 61'007), "2026-11-27T08:01:01.007Z");
  EXPECT_EQ(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
}

TEST(FlowLogFormat, EndedRecordHasBothTuplesCountersDurationAndHowItEnded) {
  const std::string line = format_flow_event(ended(), kOffset);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(
      line,
      R"({"time":"2026-11-27T08:00:02.500Z","event":"ended","protocol":"tcp",)"
      R"("inside":{"src":"10.0.0.11:40000","dst":"192.0.2.10:80"},)"
      R"("outside":{"src":"203.0.113.10:31000","dst":"192.0.2.10:80"},"public":"203.0.113.10:31000",)"
      R"("end":"closed","start":"2026-11-27T08:00:00.000Z","duration_ms":2500,)"
      R"("bytes_out":500,"bytes_in":1200,"packets_out":6,"packets_in":5})"
      "\n");
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["duration_ms"], 2500);
}

TEST(FlowLogFormat, OpenedFailedAndRestoredRecords) {
  nat::FlowEvent o = ended();
  o.kind = nat::FlowEventKind::opened;
  o.time_ms = o.start_ms;
  o.proto = nat::L4::udp;
  o.restored = true;
  const auto jo = nlohmann::json::parse(format_flow_event(o, kOffset));
  EXPECT_EQ(jo["event"], "opened");
  EXPECT_EQ(jo["protocol"], "udp");
  EXPECT_EQ(jo["public"], "203.0.113.10:31000");
  EXPECT_EQ(jo["restored"], true);
  EXPECT_FALSE(jo.contains("bytes_out"));
  nat::FlowEvent f = ended();
  f.kind = nat::FlowEventKind::failed;
  f.reason = nat::DropReason::snat_exhausted;
  f.public_addr = 0;
  f.public_port = 0;
  const auto jf = nlohmann::json::parse(format_flow_event(f, kOffset));
  EXPECT_EQ(jf["event"], "failed");
  EXPECT_EQ(jf["reason"], "snat_exhausted");
  EXPECT_TRUE(jf["public"].is_null());
  EXPECT_TRUE(jf["outside"].is_null());
  EXPECT_EQ(jf["inside"]["src"], "10.0.0.11:40000");
  EXPECT_FALSE(jf.contains("restored"));
}

TEST(TokenBucketTest, BurstThenRate) {
  TokenBucket b(10, 10);
  const nat::Time t0 = 5s;
  int taken = 0;
  for (int i = 0; i < 20; ++i) taken += b.take(t0) ? 1 : 0;
  EXPECT_EQ(taken, 10);
  EXPECT_FALSE(b.take(t0 + 50ms));  // half a token
  EXPECT_TRUE(b.take(t0 + 100ms));
  EXPECT_FALSE(b.take(t0 + 100ms));
  // A long pause refills up to the burst only.
  taken = 0;
  for (int i = 0; i < 30; ++i) taken += b.take(t0 + 60s) ? 1 : 0;
  EXPECT_EQ(taken, 10);
}

TEST_F(FlowLogFile, RateLimitLeavesRecordsOutAndCountsThem) {
  FlowLogWriter w;
  ASSERT_EQ(w.open({(dir_ / "f.log").string(), 1 << 20, 2, 5}), "");
  for (int i = 0; i < 8; ++i) w.write(ended(), 10s, kOffset);
  w.write(ended(), 11s, kOffset);  // one second later: 5 more tokens
  w.flush();
  EXPECT_EQ(w.counters().records, 9u);
  EXPECT_EQ(w.counters().written, 6u);
  EXPECT_EQ(w.counters().rate_limited, 3u);
  const std::string text = read(dir_ / "f.log");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 6);
}

TEST_F(FlowLogFile, RotatesBySizeAndKeepsNFiles) {
  const std::size_t line = format_flow_event(ended(), kOffset).size();
  FlowLogWriter w;
  // Room for 3 lines per file, 2 rotated files kept.
  ASSERT_EQ(w.open({(dir_ / "f.log").string(), 3 * line + 1, 2, 1000}), "");
  for (int i = 0; i < 10; ++i) {
    nat::FlowEvent e = ended();
    e.inside_port = static_cast<std::uint16_t>(40000 + i);
    w.write(e, 1s, kOffset);
  }
  w.flush();
  EXPECT_EQ(w.counters().written, 10u);
  EXPECT_EQ(w.counters().rotations, 3u);
  // Lines 0-2, 3-5, 6-8 filled files; 9 is in the current one. The oldest file was removed.
  EXPECT_EQ(read(dir_ / "f.log").size(), line);
  EXPECT_NE(read(dir_ / "f.log").find(":40009\""), std::string::npos);
  EXPECT_NE(read(dir_ / "f.log.1").find(":40006\""), std::string::npos);
  EXPECT_NE(read(dir_ / "f.log.2").find(":40003\""), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "f.log.3"));
  for (const auto& p : {"f.log", "f.log.1", "f.log.2"})
    EXPECT_LE(fs::file_size(dir_ / p), 3 * line + 1) << p;
}

TEST_F(FlowLogFile, AppendsToAnExistingFileAndCountsItsSize) {
  const std::size_t line = format_flow_event(ended(), kOffset).size();
  std::ofstream(dir_ / "f.log") << std::string(line * 2, 'x');
  FlowLogWriter w;
  ASSERT_EQ(w.open({(dir_ / "f.log").string(), 3 * line, 1, 1000}), "");
  w.write(ended(), 1s, kOffset);  // fits: 3 lines
  w.write(ended(), 1s, kOffset);  // would not: rotate first
  w.flush();
  EXPECT_EQ(fs::file_size(dir_ / "f.log.1"), 3 * line);
  EXPECT_EQ(fs::file_size(dir_ / "f.log"), line);
}

TEST_F(FlowLogFile, AFileThatCannotBeOpenedIsAnErrorAndTheOldOutputStays) {
  FlowLogWriter w;
  ASSERT_EQ(w.open({(dir_ / "f.log").string(), 1 << 20, 1, 1000}), "");
  const std::string err = w.open({(dir_ / "no" / "such" / "f.log").string(), 1 << 20, 1, 1000});
  EXPECT_NE(err.find("cannot open"), std::string::npos) << err;
  w.write(ended(), 1s, kOffset);
  w.flush();
  EXPECT_EQ(w.counters().written, 1u);
  EXPECT_FALSE(read(dir_ / "f.log").empty());
}

TEST_F(FlowLogFile, ReopeningCreatesAFileMovedAwayAndKeepsTheRateLimit) {
  const auto path = (dir_ / "f.log").string();
  FlowLogWriter w;
  ASSERT_EQ(w.open({path, 1 << 20, 1, 2}), "");
  w.write(ended(), 1s, kOffset);
  w.flush();
  fs::rename(path, path + ".rotated");  // what logrotate does before it sends SIGHUP
  ASSERT_EQ(w.open({path, 1 << 20, 1, 2}), "");
  w.write(ended(), 1s, kOffset);  // the second token of the same bucket
  w.write(ended(), 1s, kOffset);  // none left
  w.flush();
  const std::string now_text = read(path);
  EXPECT_EQ(std::count(now_text.begin(), now_text.end(), '\n'), 1);
  EXPECT_EQ(w.counters().rate_limited, 1u);
  EXPECT_FALSE(read(path + ".rotated").empty());
}

}  // namespace
}  // namespace natgw::telemetry
