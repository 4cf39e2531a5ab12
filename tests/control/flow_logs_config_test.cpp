// The `flow_logs:` section of the config: defaults, values, and one test per kind of error, each
// checking the key, the value and the whole message.
#include <gtest/gtest.h>

#include "config_doc.hpp"
#include "control/config.hpp"

namespace natgw::control::test {
namespace {

std::string with(const std::string& flow_logs) {
  return Doc{}.text() + "flow_logs: " + flow_logs + "\n";
}

constexpr const char* kPathAllowed =
    "allowed: an absolute file path, such as /var/log/natgw/flows.jsonl, or - for standard output";

TEST(FlowLogsConfig, OffByDefaultAndTheEngineHasNoFlowLog) {
  const auto r = parse_config(Doc{}.text());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.config().flow_logs.enabled);
  EXPECT_EQ(r.config().flow_logs.path, "-");
  EXPECT_FALSE(r.config().engine().flow_log);
}

TEST(FlowLogsConfig, EveryKeyIsRead) {
  const auto r =
      parse_config(with("{ enabled: true, path: /var/log/natgw/flows.jsonl, max_bytes: 1048576, "
                        "keep: 3, rate_per_second: 50 }"));
  ASSERT_TRUE(r.ok()) << dump(r.errors());
  const FlowLogsConfig& f = r.config().flow_logs;
  EXPECT_TRUE(f.enabled);
  EXPECT_EQ(f.path, "/var/log/natgw/flows.jsonl");
  EXPECT_EQ(f.max_bytes, 1048576u);
  EXPECT_EQ(f.keep, 3u);
  EXPECT_EQ(f.rate_per_second, 50u);
  EXPECT_TRUE(r.config().engine().flow_log);
  EXPECT_TRUE(validate(r.config()).empty());
  const auto stdout_log = parse_config(with("{ enabled: true, path: '-' }"));
  ASSERT_TRUE(stdout_log.ok()) << dump(stdout_log.errors());
  EXPECT_EQ(stdout_log.config().flow_logs.path, "-");
}

TEST(FlowLogsConfig, Errors) {
  EXPECT_CONFIG_ERROR(only_error(with("{ enabled: yes }")), "flow_logs.enabled", "yes",
                      "flow_logs.enabled: yes is not true or false; allowed: true, false");
  EXPECT_CONFIG_ERROR(
      only_error(with("{ path: flows.log }")), "flow_logs.path", "flows.log",
      std::string("flow_logs.path: flows.log is not an absolute path; ") + kPathAllowed);
  EXPECT_CONFIG_ERROR(
      only_error(with("{ path: /var/log/ }")), "flow_logs.path", "/var/log/",
      std::string("flow_logs.path: /var/log/ names a directory, not a file; ") + kPathAllowed);
  EXPECT_CONFIG_ERROR(
      only_error(with("{ max_bytes: 100 }")), "flow_logs.max_bytes", "100",
      "flow_logs.max_bytes: 100 is out of range; allowed: 4096..68719476736 (4 KiB .. 64 GiB)");
  EXPECT_CONFIG_ERROR(
      only_error(with("{ max_bytes: 10M }")), "flow_logs.max_bytes", "10M",
      "flow_logs.max_bytes: 10M is not an integer; allowed: 4096..68719476736 (4 KiB .. 64 GiB)");
  EXPECT_CONFIG_ERROR(only_error(with("{ keep: 101 }")), "flow_logs.keep", "101",
                      "flow_logs.keep: 101 is out of range; allowed: 0..100 (rotated files kept "
                      "besides the current one)");
  EXPECT_CONFIG_ERROR(
      only_error(with("{ rate_per_second: 0 }")), "flow_logs.rate_per_second", "0",
      "flow_logs.rate_per_second: 0 is out of range; allowed: 1..1000000 (records per second)");
  const ConfigError unknown = only_error(with("{ enable: true }"));
  EXPECT_EQ(unknown.key, "flow_logs.enable");
  EXPECT_NE(to_string(unknown).find("enabled"), std::string::npos) << to_string(unknown);
}

TEST(FlowLogsConfig, ValidateABuiltConfig) {
  auto c = parse_config(Doc{}.text()).config();
  c.flow_logs.keep = 1000;
  const auto errors = validate(c);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "flow_logs.keep");
}

}  // namespace
}  // namespace natgw::control::test
