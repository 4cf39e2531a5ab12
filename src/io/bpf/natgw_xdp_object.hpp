// The compiled XDP program (natgw_xdp.bpf.c), embedded by the build (embed.cmake).
#pragma once

#include <cstddef>

namespace natgw::io::bpf {

extern const unsigned char kXdpObject[];
extern const std::size_t kXdpObjectSize;

}  // namespace natgw::io::bpf
