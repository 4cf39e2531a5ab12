// The "internet" side of the lab: the servers in <name>-inet and the files they serve. Their
// configuration files are written to the lab's state dir, so nothing of the host's
// /etc/nginx or /etc/vsftpd.conf is read or changed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lab/process.hpp"
#include "lab/topology.hpp"

namespace natgw::lab {

inline constexpr const char* kHttpSmallFile = "index.html";
inline constexpr const char* kHttpLargeFile = "10M.bin";
inline constexpr std::size_t kHttpLargeSize = 10u * 1024 * 1024;
inline constexpr const char* kFtpFile = "test.txt";
inline constexpr const char* kFtpLargeFile = "1M.bin";
inline constexpr std::size_t kFtpLargeSize = 1024u * 1024;

// One server process: what to run, and the TCP port on 192.0.2.10 that answers once it is ready.
struct ServerSpec {
  std::string role;
  Argv argv;
  std::uint16_t port = 0;
};

[[nodiscard]] std::string render_nginx_conf(const std::string& dir);
[[nodiscard]] std::string render_vsftpd_conf(const std::string& dir);

// Writes the configuration files and the content (www/, ftp/) under `dir`.
void write_server_files(const std::string& dir);

// The servers of a lab, in start order. `self` is the natgw binary (for the echo service).
[[nodiscard]] std::vector<ServerSpec> server_specs(const LabSpec& spec, const std::string& dir,
                                                   const std::string& self);

}  // namespace natgw::lab
