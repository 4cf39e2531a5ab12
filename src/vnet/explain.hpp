// The fate of one flow through the network model and the real NAT engine: which security rule
// matched, which route was chosen and where it leads, the outbound method and the public IP it
// gets, or the drop and why. `natgw explain` prints it; `natgw doctor` calls it on sample flows.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nat/engine.hpp"
#include "vnet/network.hpp"

namespace natgw::vnet {

struct ExplainQuery {
  net::FiveTuple flow;  // from the inside host to the destination
  // The flow was opened before the NAT gateway was attached to its subnet (Azure keeps such
  // flows on their old outbound method until they end).
  bool opened_before_nat = false;
};

// The source port used when --from names none.
inline constexpr std::uint16_t kDefaultSourcePort = 50000;

// Parses `from` (ADDR or ADDR:PORT) and `to` (ADDR:PORT/PROTO, PROTO tcp, udp or icmp; icmp
// takes no port: ADDR/icmp). nullopt with `error` set to what is wrong.
[[nodiscard]] std::optional<ExplainQuery> parse_query(std::string_view from, std::string_view to,
                                                      std::string& error);

struct RuleMatch {
  std::string security_group;
  std::string rule;
  std::uint16_t priority = 0;
  Access access = Access::allow;
  RuleDirection direction = RuleDirection::outbound;
  bool platform_default = false;
};

struct RouteMatch {
  std::string table;  // empty: a system route
  std::string name;
  net::Prefix prefix;
  NextHopType next_hop = NextHopType::internet;
  std::optional<net::Ipv4> next_hop_address;
};

struct Explanation {
  ExplainQuery query;
  bool modelled = false;  // the config has a `network:` section (else no routes or rules apply)

  // The network model.
  std::optional<net::Prefix> source_subnet;       // the listed subnet of the source, if any
  bool source_attached = false;                   // ... attached to the NAT gateway
  std::optional<RuleMatch> outbound_rule;         // null: no security group on the source subnet
  std::optional<net::Prefix> destination_subnet;  // virtual_network: the destination's subnet
  std::optional<RuleMatch> inbound_rule;          // ... and its security group's rule
  std::optional<RouteMatch> route;
  Method method = Method::none;
  std::string method_detail;          // instance, load balancer rule, endpoint or service named
  std::vector<net::Ipv4> public_ips;  // the addresses the method leaves with

  // The verdict on the flow's first packet.
  Fate fate = Fate::drop;
  std::optional<nat::DropReason> drop_reason;
  std::optional<net::Ipv4> forward_to;  // forward: the next hop on the inside link
  std::string forward_via;              // forward: "inside" or "outside"

  // The engine.
  std::string engine_mode;                     // "dry_run" or "live"
  std::string engine_verdict;                  // dry run: what the engine did with the first packet
  std::optional<nat::FlowInfo> existing_flow;  // live: the flow this 5-tuple already has
  std::optional<net::Endpoint> public_endpoint;  // translated: what the flow leaves as
  std::vector<nat::DestinationLoad> room;        // live, new connection: public IPs with room
  bool host_ip_first = false;  // room[0] is the host's own public IP (per_host selection)
  std::uint32_t per_destination_limit = 0;

  std::vector<std::string> notes;
  std::string summary;  // one sentence
};

// Against a running engine, read-only: an existing flow is reported as it is; otherwise what a
// new connection would meet (Engine::would_open), without creating it. `network` may be null
// (no `network:` section).
[[nodiscard]] Explanation explain_live(const Network* network, const nat::Engine& engine,
                                       const ExplainQuery& q);

// Through `engine` for real: a synthetic first packet (TCP SYN, UDP datagram or ICMP echo)
// built in memory goes through the engine with the network's Enforcer installed. The engine
// is changed (it may open a flow): pass a scratch engine built from the config.
[[nodiscard]] Explanation explain_dry_run(const std::shared_ptr<const Network>& network,
                                          nat::Engine& engine, const ExplainQuery& q,
                                          nat::Time now);

// The explanation as JSON (the API's and `--json`'s document) and as lines for people (from the
// JSON, so that the CLI prints an API answer the same way).
[[nodiscard]] nlohmann::json to_json(const Explanation& e);
[[nodiscard]] std::string to_text(const nlohmann::json& j);

}  // namespace natgw::vnet
