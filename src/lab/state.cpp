#include "lab/state.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace natgw::lab {

namespace fs = std::filesystem;

std::string state_dir(const std::string& lab) {
  return std::string(kStateRoot) + "/" + lab;
}
std::string state_file(const std::string& lab) {
  return state_dir(lab) + "/state";
}

std::string render_state(const LabState& s) {
  std::ostringstream out;
  out << "# natgw lab state: written by `natgw lab up`, read by `natgw lab status` and `down`\n";
  out << "name " << s.spec.name << "\n";
  out << "vms " << s.spec.vms << "\n";
  out << "public_ips " << s.spec.public_ips << "\n";
  out << "gateway " << to_string(s.spec.gateway) << "\n";
  out << "created " << s.created << "\n";
  out << "phase " << s.phase << "\n";
  for (const auto& p : s.processes) {
    out << "process " << p.role << " " << p.ns << " " << p.id.pid << " " << p.id.start_time << " "
        << p.log << "\n";
  }
  return out.str();
}

namespace {

template <typename T>
bool parse_number(const std::string& s, T& v) {
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  return ec == std::errc{} && p == end;
}

}  // namespace

std::optional<LabState> parse_state(std::string_view text, std::string* error) {
  LabState s;
  bool have_name = false;
  bool have_vms = false;
  bool have_ips = false;
  bool have_gateway = false;
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  auto fail = [&](const std::string& why) -> std::optional<LabState> {
    if (error) *error = "line " + std::to_string(line_no) + ": " + why;
    return std::nullopt;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string key;
    words >> key;
    std::string value;
    if (key == "name") {
      if (!(words >> s.spec.name)) return fail("name without a value");
      have_name = true;
    } else if (key == "vms") {
      if (!(words >> value) || !parse_number(value, s.spec.vms)) return fail("bad vms");
      have_vms = true;
    } else if (key == "public_ips") {
      if (!(words >> value) || !parse_number(value, s.spec.public_ips)) {
        return fail("bad public_ips");
      }
      have_ips = true;
    } else if (key == "gateway") {
      words >> value;
      const auto mode = parse_gateway_mode(value);
      if (!mode) return fail("bad gateway '" + value + "'");
      s.spec.gateway = *mode;
      have_gateway = true;
    } else if (key == "created") {
      words >> s.created;
    } else if (key == "phase") {
      words >> s.phase;
    } else if (key == "process") {
      ProcessRecord p;
      std::string pid;
      std::string start;
      if (!(words >> p.role >> p.ns >> pid >> start) || !parse_number(pid, p.id.pid) ||
          !parse_number(start, p.id.start_time)) {
        return fail("bad process record");
      }
      std::getline(words >> std::ws, p.log);
      s.processes.push_back(std::move(p));
    }
    // Unknown keys are skipped: a newer natgw may record more.
  }
  if (!have_name || !have_vms || !have_ips || !have_gateway) {
    line_no = 0;
    return fail("name, vms, public_ips and gateway are all required");
  }
  return s;
}

void write_state(const LabState& s) {
  const std::string dir = state_dir(s.spec.name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw LabError("cannot create " + dir + ": " + ec.message());
  // Explicit modes, whatever the umask: nginx and vsftpd read files below the state dir.
  for (const std::string& d : {std::string("/run/natgw"), std::string(kStateRoot), dir}) {
    ::chmod(d.c_str(), 0755);
  }
  const std::string path = state_file(s.spec.name);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << render_state(s);
    out.flush();
    if (!out) throw LabError("cannot write " + tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) throw LabError("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

std::optional<LabState> read_state(const std::string& lab) {
  std::ifstream in(state_file(lab));
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  auto s = parse_state(text.str(), &error);
  if (!s) throw LabError(state_file(lab) + ": " + error);
  return s;
}

std::vector<std::string> labs_with_state() {
  std::vector<std::string> labs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kStateRoot, ec)) {
    if (entry.is_directory(ec)) labs.push_back(entry.path().filename().string());
  }
  std::sort(labs.begin(), labs.end());
  return labs;
}

std::string utc_now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

}  // namespace natgw::lab
