#!/usr/bin/env python3
"""Opens many UDP flows through a NAT gateway: sends one small datagram per (source port,
destination port) pair from this host's interface, at line rate, with raw AF_PACKET frames.

  flowgen.py IFACE SRC_IP DST_IP GW_MAC FLOWS [DST_PORTS]

Used by bench/e2e.sh (resident memory with 2,000,000 open flows). Destination ports start at
10000; source ports cycle through 1024..65535. The UDP checksum is 0 (none), the IPv4 header
checksum is computed once (only ports change). Stays on IFACE; run it in a lab namespace."""
import socket
import struct
import sys


def ip_checksum(h: bytes) -> int:
    s = sum(struct.unpack("!10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main() -> int:
    iface, src, dst, gw_mac, flows = sys.argv[1:6]
    dst_ports = int(sys.argv[6]) if len(sys.argv) > 6 else 64
    flows = int(flows)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    my_mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
    eth = bytes.fromhex(gw_mac.replace(":", "")) + my_mac + b"\x08\x00"
    total = 20 + 8 + 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", ip_checksum(hdr)) + hdr[12:]
    prefix = eth + hdr
    per_port = (flows + dst_ports - 1) // dst_ports
    sent = 0
    for d in range(dst_ports):
        dport = 10000 + d
        for i in range(per_port):
            if sent == flows:
                break
            sport = 1024 + i % 64512
            s.send(prefix + struct.pack("!HHHH", sport, dport, 12, 0) + b"flow")
            sent += 1
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
