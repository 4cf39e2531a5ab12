// GET /v1/drops: the engine's recent dropped packets and active-FTP commands — the evidence
// `natgw doctor` needs to say who was affected, not only how many.
#pragma once

namespace httplib {
class Server;
}

namespace natgw::datapath {
class Worker;
}

namespace natgw::daemon {

void install_evidence_routes(httplib::Server& srv, datapath::Worker& worker);

}  // namespace natgw::daemon
