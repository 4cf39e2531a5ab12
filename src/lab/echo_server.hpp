// The address-echo service of the lab's internet: it tells every client the source address and
// port it sees, which behind a NAT gateway is the public endpoint ("203.0.113.10:1234\n").
//
// TCP: on accept it sends "ADDR:PORT\n" and shuts down its sending side, so a client reading to
// end of file gets the line and EOF at once; the connection is then held (and whatever the
// client sends is discarded) until the client closes it, so tests can keep many connections,
// and with them many NAT ports, open. UDP: every datagram is answered with one such line.
// One thread, epoll, non-blocking sockets; SIGTERM or SIGINT end it with exit status 0.
#pragma once

#include <ostream>
#include <string>

namespace natgw::lab {

// Runs until SIGTERM/SIGINT. `listen` is "ADDR:PORT" (IPv4). Returns the exit status; errors
// (bad address, port in use) are written to `log` and give 1.
int run_echo_server(const std::string& listen, std::ostream& log);

// "ADDR:PORT\n" for a peer (host byte order values).
[[nodiscard]] std::string echo_line(std::uint32_t addr, std::uint16_t port);

}  // namespace natgw::lab
