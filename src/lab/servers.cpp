#include "lab/servers.hpp"

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace natgw::lab {

namespace fs = std::filesystem;

std::string render_nginx_conf(const std::string& dir) {
  std::ostringstream c;
  c << "# natgw lab: HTTP server of the internet namespace (written by `natgw lab up`)\n"
    << "daemon off;\n"
    << "master_process on;\n"
    << "worker_processes 1;\n"
    // Root workers: the lab's files live under /run/natgw, and the worker needs to read them and
    // write its temporary files there; the process is confined to the lab's namespace anyway.
    << "user root;\n"
    << "pid " << dir << "/nginx.pid;\n"
    << "error_log " << dir << "/nginx-error.log warn;\n"
    << "events { worker_connections 4096; }\n"
    << "http {\n"
    << "  access_log " << dir << "/nginx-access.log combined buffer=64k flush=1s;\n"
    << "  client_body_temp_path " << dir << "/nginx/body;\n"
    << "  proxy_temp_path " << dir << "/nginx/proxy;\n"
    << "  fastcgi_temp_path " << dir << "/nginx/fastcgi;\n"
    << "  uwsgi_temp_path " << dir << "/nginx/uwsgi;\n"
    << "  scgi_temp_path " << dir << "/nginx/scgi;\n"
    << "  types { text/html html; text/plain txt; application/octet-stream bin; }\n"
    << "  default_type application/octet-stream;\n"
    << "  sendfile on;\n"
    << "  keepalive_timeout 65;\n"
    << "  keepalive_requests 100000;\n"
    << "  server {\n"
    << "    listen " << kHttpPort << " default_server backlog=4096;\n"
    << "    server_name _;\n"
    << "    root " << dir << "/www;\n"
    << "    location / { }\n"
    << "  }\n"
    << "}\n";
  return c.str();
}

std::string render_vsftpd_conf(const std::string& dir) {
  std::ostringstream c;
  c << "# natgw lab: passive-mode FTP server of the internet namespace (written by `natgw lab "
       "up`)\n"
    << "listen=YES\n"
    << "listen_ipv6=NO\n"
    << "listen_port=" << kFtpPort << "\n"
    << "background=NO\n"
    << "anonymous_enable=YES\n"
    << "no_anon_password=YES\n"
    << "anon_root=" << dir
    << "/ftp\n"
    // The anonymous user: vsftpd changes into its home before anon_root, so it needs one that
    // exists; Debian's vsftpd package creates `ftp` with home /srv/ftp.
    << "ftp_username=ftp\n"
    << "nopriv_user=nobody\n"
    << "local_enable=NO\n"
    << "write_enable=NO\n"
    << "anon_upload_enable=NO\n"
    << "anon_mkdir_write_enable=NO\n"
    << "pasv_enable=YES\n"
    << "pasv_min_port=" << kFtpPasvMin << "\n"
    << "pasv_max_port=" << kFtpPasvMax
    << "\n"
    // Left at its default on purpose: vsftpd refuses a data connection from another address
    // than the control connection's, which is what a NAT gateway with several public IPs
    // triggers (SPEC section 5, FTP).
    << "pasv_promiscuous=NO\n"
    << "connect_from_port_20=NO\n"
    << "max_clients=0\n"
    << "max_per_ip=0\n"
    << "secure_chroot_dir=" << dir << "/vsftpd-empty\n"
    << "seccomp_sandbox=NO\n"
    << "hide_ids=YES\n"
    << "xferlog_enable=YES\n"
    << "xferlog_std_format=NO\n"
    << "vsftpd_log_file=" << dir << "/vsftpd-transfers.log\n";
  return c.str();
}

namespace {

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.flush();
  if (!out) throw LabError("cannot write " + path.string());
  ::chmod(path.c_str(), 0644);
}

void make_dir(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw LabError("cannot create " + path.string() + ": " + ec.message());
  ::chmod(path.c_str(), 0755);
}

// Incompressible, deterministic bytes (xorshift), so transfers measure the network rather than
// a compressor and a corrupted byte is noticed by a checksum.
std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x & 0xFF);
  }
  return s;
}

}  // namespace

void write_server_files(const std::string& dir) {
  const fs::path d(dir);
  make_dir(d / "www");
  make_dir(d / "ftp");
  make_dir(d / "nginx");
  make_dir(d / "vsftpd-empty");
  write_file(d / "nginx.conf", render_nginx_conf(dir));
  write_file(d / "vsftpd.conf", render_vsftpd_conf(dir));
  write_file(d / "www" / kHttpSmallFile,
             "<!doctype html>\n<html><head><title>natgw lab</title></head>\n"
             "<body><h1>natgw lab</h1><p>Served from the lab's internet namespace.</p></body>"
             "</html>\n");
  write_file(d / "www" / kHttpLargeFile, pattern(kHttpLargeSize));
  write_file(d / "ftp" / kFtpFile, "natgw lab: passive FTP works\n");
  write_file(d / "ftp" / kFtpLargeFile, pattern(kFtpLargeSize));
}

std::vector<ServerSpec> server_specs(const LabSpec& spec, const std::string& dir,
                                     const std::string& self) {
  std::vector<ServerSpec> s;
  s.push_back(
      {"nginx",
       {"nginx", "-p", dir + "/nginx/", "-c", dir + "/nginx.conf", "-e", dir + "/nginx-error.log"},
       kHttpPort});
  s.push_back({"vsftpd", {"vsftpd", dir + "/vsftpd.conf"}, kFtpPort});
  s.push_back({"echo",
               {self, "lab", "echo-server", "--listen", "0.0.0.0:" + std::to_string(kEchoPort)},
               kEchoPort});
  for (int i = 1; i <= iperf_servers(spec); ++i) {
    const std::string port = std::to_string(iperf_port(i));
    s.push_back({"iperf3-" + port, {"iperf3", "-s", "-B", kServer1, "-p", port}, iperf_port(i)});
  }
  return s;
}

}  // namespace natgw::lab
