// The troubleshooting guide as rules: each looks for the evidence of one scenario and, only when
// it finds it, reports the scenario, its cause, the evidence with numbers, and the fix in the
// guide's order. Rules and thresholds are documented in src/doctor/README.md.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doctor/evidence.hpp"

namespace natgw::doctor {

enum class Severity { error, warning, info };

struct Finding {
  int scenario = 0;      // the section 5 scenario group: 1..8
  std::string id;        // stable, for programs: "snat_exhaustion", "smtp_blocked", ...
  std::string title;
  Severity severity = Severity::warning;
  std::string cause;
  std::vector<std::string> evidence;
  std::vector<std::string> fix;  // in the order to try them
};

struct Report {
  std::string source;
  std::string gateway;
  std::vector<Finding> findings;     // most severe first
  std::vector<std::string> checked;  // what was looked at, with the key numbers (for a clean report)
};

[[nodiscard]] Report diagnose(const Evidence& e);

[[nodiscard]] std::string render_text(const Report& r);
[[nodiscard]] nlohmann::json render_json(const Report& r);
[[nodiscard]] const char* name(Severity s);

}  // namespace natgw::doctor
