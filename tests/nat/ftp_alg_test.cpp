// The FTP ALG (EngineConfig::ftp_alg), packet by packet on the virtual clock: PORT and EPRT
// rewritten byte for byte, checksums valid, sequence and acknowledgement numbers adjusted both
// ways, SACK-permitted removed, and the server's data connection let in to the inside host.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

namespace natgw::test {
namespace {

const net::Endpoint kClient{kHostA, 40000};
const net::Endpoint kFtp{kServer, 21};

nat::EngineConfig alg(nat::EngineConfig c = small_config()) {
  c.ftp_alg = true;
  return c;
}

std::string payload_of(const Result& r) {
  const std::size_t doff = std::size_t(r.packet[r.ihl() + 12] >> 4) * 4;
  return {r.packet.begin() + static_cast<std::ptrdiff_t>(r.ihl() + doff), r.packet.end()};
}
std::uint32_t seq_of(const Result& r) {
  return rd32(&r.packet[r.ihl() + 4]);
}
std::uint32_t ack_of(const Result& r) {
  return rd32(&r.packet[r.ihl() + 8]);
}

bool checksums_ok(const Result& r) {
  return ip_checksum_ok(r.packet.data()) && l4_checksum_ok(r.packet.data()) &&
         rd16(&r.packet[2]) == r.packet.size();
}

// Room past the packet, as EngineConfig::ftp_alg requires of the caller.
Result send_with_room(Harness& h, Bytes p, Direction d) {
  const std::size_t len = p.size();
  p.resize(len + nat::Engine::kFtpAlgGrowth);
  Result r;
  r.verdict = h.engine.translate(p.data(), len, d, h.now);
  p.resize(r.verdict.action == Action::drop ? len : r.verdict.len);
  r.packet = std::move(p);
  return r;
}

Bytes data_out(net::Endpoint from, net::Endpoint to, std::uint32_t seq, std::uint32_t ack,
               const std::string& text) {
  return PacketBuilder()
      .ipv4(from.addr, to.addr)
      .tcp(from.port, to.port, kAck | kPsh, seq, ack)
      .payload(text)
      .build();
}

// A SYN with SACK-permitted (kind 4, length 2) and two NOPs: data offset 6.
Bytes syn_with_sack(net::Endpoint from, net::Endpoint to, std::uint8_t flags, std::uint32_t seq,
                    std::uint32_t ack) {
  Bytes p = PacketBuilder()
                .ipv4(from.addr, to.addr)
                .tcp(from.port, to.port, flags, seq, ack)
                .payload(Bytes{1, 1, 4, 2})
                .build();
  p[20 + 12] = 6 << 4;
  wr16(&p[20 + 16], 0);
  std::uint32_t sum = rd16(&p[12]) + rd16(&p[14]) + rd16(&p[16]) + rd16(&p[18]) + 6 + 24;
  wr16(&p[20 + 16], ref_checksum(&p[20], 24, sum));
  return p;
}

struct Control {
  net::Endpoint pub;
  std::uint32_t seq = 1001;  // the client's next sequence number (its own numbering)
  std::uint32_t srv = 5001;  // the server's next sequence number
};

Control open_control(Harness& h) {
  Control c;
  const Result syn = send_with_room(h, syn_with_sack(kClient, kFtp, kSyn, 1000, 0), Direction::out);
  EXPECT_TRUE(syn.forwarded());
  EXPECT_TRUE(checksums_ok(syn));
  c.pub = syn.source();
  EXPECT_TRUE(h.tcp_in(kFtp, c.pub, kSyn | kAck, 5000, 1001).forwarded());
  EXPECT_TRUE(h.tcp_out(kClient, kFtp, kAck, 1001, 5001).forwarded());
  return c;
}

// The public port a rewritten "PORT 203,0,113,10,p1,p2\r\n" names.
std::uint16_t port_in(const std::string& port_command) {
  const std::string tail = port_command.substr(18, port_command.size() - 20);
  const auto comma = tail.find(',');
  return static_cast<std::uint16_t>(std::stoi(tail.substr(0, comma)) * 256 +
                                    std::stoi(tail.substr(comma + 1)));
}

std::string port_args(net::Endpoint e) {
  const std::uint32_t a = e.addr.value();
  return std::to_string(a >> 24) + "," + std::to_string((a >> 16) & 255) + "," +
         std::to_string((a >> 8) & 255) + "," + std::to_string(a & 255) + "," +
         std::to_string(e.port >> 8) + "," + std::to_string(e.port & 255);
}

TEST(FtpAlg, OffByDefaultPortIsForwardedAsItIs) {
  Harness h;
  const net::Endpoint pub = h.establish(kClient, kFtp);
  (void)pub;
  const std::string cmd = "PORT 10,0,0,4,195,80\r\n";
  const Result r = send_with_room(h, data_out(kClient, kFtp, 1001, 5001, cmd), Direction::out);
  ASSERT_TRUE(r.forwarded());
  EXPECT_EQ(payload_of(r), cmd);
  EXPECT_EQ(h.engine.ftp_active_commands(), 1u);
}

TEST(FtpAlg, SackPermittedIsRemovedFromTheControlConnectionsHandshake) {
  Harness h(alg());
  const Result syn = send_with_room(h, syn_with_sack(kClient, kFtp, kSyn, 1000, 0), Direction::out);
  ASSERT_TRUE(syn.forwarded());
  EXPECT_TRUE(checksums_ok(syn));
  EXPECT_EQ(payload_of(syn), "");  // data offset 6: options only
  EXPECT_EQ(Bytes(syn.packet.begin() + 40, syn.packet.end()), (Bytes{1, 1, 1, 1}))
      << "NOPs instead";
  const Result synack =
      send_with_room(h, syn_with_sack(kFtp, syn.source(), kSyn | kAck, 5000, 1001), Direction::in);
  ASSERT_TRUE(synack.forwarded());
  EXPECT_TRUE(checksums_ok(synack));
  EXPECT_EQ(Bytes(synack.packet.begin() + 40, synack.packet.end()), (Bytes{1, 1, 1, 1}));
  // Other connections keep their options.
  const Result other =
      send_with_room(h, syn_with_sack({kHostA, 40001}, {kServer, 22}, kSyn, 1, 0), Direction::out);
  EXPECT_EQ(Bytes(other.packet.begin() + 40, other.packet.end()), (Bytes{1, 1, 4, 2}));
}

TEST(FtpAlg, PortIsRewrittenSequenceNumbersFollowAndTheDataConnectionComesIn) {
  Harness h(alg());
  Control c = open_control(h);
  const std::string cmd = "PORT 10,0,0,4,195,80\r\n";  // 10.0.0.4:50000
  const Result r = send_with_room(h, data_out(kClient, kFtp, c.seq, c.srv, cmd), Direction::out);
  ASSERT_TRUE(r.forwarded());
  EXPECT_TRUE(checksums_ok(r));
  EXPECT_EQ(r.source(), c.pub);
  EXPECT_EQ(seq_of(r), c.seq) << "the rewritten segment itself keeps its sequence number";
  const std::string out = payload_of(r);
  ASSERT_EQ(out.rfind("PORT 203,0,113,10,", 0), 0u) << out;
  ASSERT_EQ(out.substr(out.size() - 2), "\r\n");
  // The public port it names, and the command byte for byte.
  const auto data_port = port_in(out);
  EXPECT_GE(data_port, 1024);
  EXPECT_EQ(out, "PORT " + port_args({kPub1, data_port}) + "\r\n");
  const auto delta = static_cast<std::int32_t>(out.size()) - static_cast<std::int32_t>(cmd.size());
  EXPECT_EQ(delta, 3);  // "10,0,0,4" -> "203,0,113,10"; the port's text length may differ
  EXPECT_EQ(h.engine.ftp_alg_stats().rewritten, 1u);
  c.seq += static_cast<std::uint32_t>(cmd.size());

  // The server acknowledges the bytes it got: translated back to the client's numbering.
  const Result ack =
      h.tcp_in(kFtp, c.pub, kAck | kPsh, c.srv, c.seq + static_cast<std::uint32_t>(delta));
  ASSERT_TRUE(ack.forwarded());
  EXPECT_TRUE(checksums_ok(ack));
  EXPECT_EQ(ack_of(ack), c.seq);
  // The client's next segment is shifted into the server's numbering.
  const Result list =
      send_with_room(h, data_out(kClient, kFtp, c.seq, c.srv, "RETR f\r\n"), Direction::out);
  ASSERT_TRUE(list.forwarded());
  EXPECT_TRUE(checksums_ok(list));
  EXPECT_EQ(seq_of(list), c.seq + static_cast<std::uint32_t>(delta));
  EXPECT_EQ(payload_of(list), "RETR f\r\n");
  // A retransmission of the PORT segment: rewritten the same way, its sequence number kept.
  const Result again = send_with_room(
      h, data_out(kClient, kFtp, c.seq - static_cast<std::uint32_t>(cmd.size()), c.srv, cmd),
      Direction::out);
  EXPECT_EQ(seq_of(again), c.seq - static_cast<std::uint32_t>(cmd.size()));
  EXPECT_TRUE(checksums_ok(again));

  // The server opens the data connection from port 20 to the public port: to 10.0.0.4:50000.
  const net::Endpoint data_srv{kServer, 20};
  const Result dsyn = h.tcp_in(data_srv, {kPub1, data_port}, kSyn, 7000);
  ASSERT_TRUE(dsyn.forwarded()) << nat::name(dsyn.verdict.reason);
  EXPECT_TRUE(checksums_ok(dsyn));
  EXPECT_EQ(dsyn.dst(), kHostA);
  EXPECT_EQ(dsyn.dport(), 50000);
  EXPECT_EQ(dsyn.src(), kServer);
  EXPECT_EQ(dsyn.sport(), 20);
  // The client answers from its data port: it leaves from the public port.
  const Result dsynack = h.tcp_out({kHostA, 50000}, data_srv, kSyn | kAck, 9000, 7001);
  ASSERT_TRUE(dsynack.forwarded());
  EXPECT_EQ(dsynack.source(), (net::Endpoint{kPub1, data_port}));
  EXPECT_TRUE(h.tcp_in(data_srv, {kPub1, data_port}, kAck, 7001, 9001).forwarded());
  const Result file = h.in(PacketBuilder()
                               .ipv4(kServer, kPub1)
                               .tcp(20, data_port, kAck | kPsh, 7001, 9001)
                               .payload("file")
                               .build());
  ASSERT_TRUE(file.forwarded());
  EXPECT_TRUE(h.tcp_out({kHostA, 50000}, data_srv, kAck, 9001, 7005).forwarded());
  const auto flow = h.engine.find_outbound({net::Proto::tcp, {kHostA, 50000}, data_srv});
  ASSERT_TRUE(flow);
  EXPECT_EQ(flow->state, nat::FlowState::tcp_established);
  EXPECT_EQ(h.engine.ftp_alg_stats().data_connections, 1u);
  // Let in once only.
  h.now += 1s;
  EXPECT_EQ(h.tcp_in({kServer, 2020}, {kPub1, data_port}, kSyn, 1).verdict.reason,
            DropReason::unsolicited_inbound);
}

TEST(FtpAlg, EprtIsRewrittenToo) {
  Harness h(alg());
  Control c = open_control(h);
  const std::string cmd = "EPRT |1|10.0.0.4|50001|\r\n";
  const Result r = send_with_room(h, data_out(kClient, kFtp, c.seq, c.srv, cmd), Direction::out);
  ASSERT_TRUE(r.forwarded());
  EXPECT_TRUE(checksums_ok(r));
  const std::string out = payload_of(r);
  ASSERT_EQ(out.rfind("EPRT |1|203.0.113.10|", 0), 0u) << out;
  const auto port = static_cast<std::uint16_t>(std::stoi(out.substr(21)));
  EXPECT_EQ(out, "EPRT |1|203.0.113.10|" + std::to_string(port) + "|\r\n");
  const Result dsyn = h.tcp_in({kServer, 20}, {kPub1, port}, kSyn, 7000);
  ASSERT_TRUE(dsyn.forwarded());
  EXPECT_EQ(dsyn.dport(), 50001);
}

TEST(FtpAlg, TheDataConnectionIsAwaitedForTheTimeoutOnly) {
  Harness h(alg());
  Control c = open_control(h);
  const Result r = send_with_room(
      h, data_out(kClient, kFtp, c.seq, c.srv, "PORT 10,0,0,4,195,80\r\n"), Direction::out);
  const auto port = port_in(payload_of(r));
  h.advance(5min + 1s);
  EXPECT_EQ(h.tcp_in({kServer, 20}, {kPub1, port}, kSyn, 7000).verdict.reason,
            DropReason::unsolicited_inbound);
  // Only the server of the control connection is let in.
  Harness h2(alg());
  Control c2 = open_control(h2);
  const Result r2 = send_with_room(
      h2, data_out(kClient, kFtp, c2.seq, c2.srv, "PORT 10,0,0,4,195,80\r\n"), Direction::out);
  const auto port2 = port_in(payload_of(r2));
  EXPECT_EQ(h2.tcp_in({kServer2, 20}, {kPub1, port2}, kSyn, 7000).verdict.reason,
            DropReason::unsolicited_inbound);
}

TEST(FtpAlg, ThirdPartyAddressesAndOtherCommandsAreLeftAlone) {
  Harness h(alg());
  Control c = open_control(h);
  for (const std::string cmd :
       {"PORT 10,0,0,5,195,80\r\n", "PORT 10,0,0,4,195\r\n", "PASV\r\n", "PORT 10,0,0,4,195,80"}) {
    const Result r = send_with_room(h, data_out(kClient, kFtp, c.seq, c.srv, cmd), Direction::out);
    ASSERT_TRUE(r.forwarded());
    EXPECT_EQ(payload_of(r), cmd);
    EXPECT_EQ(seq_of(r), c.seq);
    EXPECT_TRUE(checksums_ok(r));
    c.seq += static_cast<std::uint32_t>(cmd.size());
  }
  EXPECT_EQ(h.engine.ftp_alg_stats().rewritten, 0u);
  EXPECT_EQ(h.engine.ftp_alg_stats().not_rewritten, 3u);
}

// With endpoint-independent mapping and filtering (profile rfc): the data connection joins the
// inside endpoint's mapping (made for it), and a SYN no command announced is still let in to a
// live mapping by the filtering, as without the ALG.
TEST(FtpAlg, EndpointIndependentMappingAndFilteringWithTheAlg) {
  nat::EngineConfig cfg = small_config();
  cfg.behaviour.mapping = nat::Mapping::endpoint_independent;
  cfg.behaviour.filtering = nat::Filtering::endpoint_independent;
  Harness h(alg(cfg));
  Control c = open_control(h);
  const Result r = send_with_room(
      h, data_out(kClient, kFtp, c.seq, c.srv, "PORT 10,0,0,4,195,80\r\n"), Direction::out);
  ASSERT_TRUE(r.forwarded());
  const auto data_port = port_in(payload_of(r));
  ASSERT_EQ(h.engine.ftp_alg_stats().rewritten, 1u);
  const Result data = h.tcp_in({kServer, 20}, {kPub1, data_port}, kSyn, 700, 0);
  ASSERT_TRUE(data.forwarded());
  EXPECT_EQ(data.dst(), kHostA);
  EXPECT_EQ(data.dport(), 50000);
  EXPECT_EQ(h.engine.ftp_alg_stats().data_connections, 1u);
  // 10.0.0.4:50000 now has a mapping: its next connection leaves from the same public port.
  const Result next = h.tcp_out({kHostA, 50000}, {kServer2, 443}, kSyn);
  ASSERT_TRUE(next.forwarded());
  EXPECT_EQ(next.source(), (net::Endpoint{kPub1, data_port}));
  // Endpoint-independent filtering: another server reaches the control connection's mapping.
  EXPECT_TRUE(h.tcp_in({kServer2, 5555}, c.pub, kSyn, 1, 0).forwarded());
  EXPECT_EQ(h.engine.counters().total_drops(), 0u);
}

}  // namespace
}  // namespace natgw::test
