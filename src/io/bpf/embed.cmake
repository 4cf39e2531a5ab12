# cmake -DINPUT=<file> -DOUTPUT=<file.cpp> -P embed.cmake: writes the bytes of INPUT as
# natgw::io::bpf::kXdpObject (natgw_xdp_object.hpp).
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by embed.cmake.\n#include \"io/bpf/natgw_xdp_object.hpp\"\n\nnamespace natgw::io::bpf {\n\nalignas(8) const unsigned char kXdpObject[] = {\n${bytes}\n};\nconst std::size_t kXdpObjectSize = ${size};\n\n}  // namespace natgw::io::bpf\n")
