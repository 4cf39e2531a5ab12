// Reading `natgw doctor --json` in end-to-end tests: the report, one finding by id, and whether
// a finding's evidence says something.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/lab.hpp"

namespace natgw::test {

// The doctor's report on the lab's running gateway (exit status 0: healthy, 2: warnings, 3: errors).
inline nlohmann::json doctor_report(const LabUnderTest& lab, const std::string& args = "") {
  const Ran r = lab.natgw("doctor --json --config " + lab.config_path() + " " + args);
  EXPECT_TRUE(r.rc == 0 || r.rc == 2 || r.rc == 3) << r.out;
  const auto at = r.out.find('{');  // the API-unreachable notice, if any, comes first
  if (at == std::string::npos) return nlohmann::json::object();
  return nlohmann::json::parse(r.out.substr(at), nullptr, false);
}

// The finding with this id, or an empty object.
inline nlohmann::json finding(const nlohmann::json& report, const std::string& id) {
  if (report.is_object() && report.contains("findings")) {
    for (const auto& f : report["findings"]) {
      if (f.value("id", "") == id) return f;
    }
  }
  return nlohmann::json::object();
}

// The evidence lines of a finding that contain `text`, joined (empty when none does).
inline std::string evidence_with(const nlohmann::json& f, const std::string& text) {
  std::string out;
  if (f.contains("evidence")) {
    for (const auto& line : f["evidence"]) {
      const auto s = line.get<std::string>();
      if (s.find(text) != std::string::npos) out += s + "\n";
    }
  }
  return out;
}

}  // namespace natgw::test
