// GET /v1/drops: the engine's recent dropped packets and active-FTP commands — the evidence
// `natgw doctor` needs to say who was affected, not only how many.
#pragma once

#include <vector>

namespace httplib {
class Server;
}

namespace natgw::datapath {
class Worker;
}

namespace natgw::daemon {

void install_evidence_routes(httplib::Server& srv, const std::vector<datapath::Worker*>& workers);

}  // namespace natgw::daemon
