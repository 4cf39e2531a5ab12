// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
// The XDP program of the AF_XDP backend (io/af_xdp.hpp): sends the gateway's frames to the AF_XDP
// socket of the receive queue and leaves everything else to the kernel.
//
// A frame goes to the socket when it is IPv4 (no VLAN tag), addressed to the interface's own MAC
// (unicast) and not addressed to one of the host's own IPv4 addresses: what natgw translates on
// either side (inside: from the attached subnets to anywhere; outside: to the public IPs, which
// natgw answers ARP for with this MAC). Everything else passes (XDP_PASS): ARP, IPv6, broadcast
// and multicast, and the host's own traffic (SSH to the gateway, the API). This is the same set of
// frames the AF_PACKET backend has the kernel drop at ingress (daemon/host.hpp), so both backends
// translate the same traffic. A queue without a socket, or a socket that cannot take the frame,
// passes it too.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>

#include <bpf/bpf_helpers.h>

struct natgw_xdp_config {
  unsigned char mac[6];
  unsigned char pad[2];
};

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} natgw_xsks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct natgw_xdp_config);
} natgw_config SEC(".maps");

// The host's own IPv4 addresses (network byte order): frames to them are the kernel's.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, __u8);
} natgw_local SEC(".maps");

// Frames redirected, passed: index 0 and 1 (per CPU).
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} natgw_counts SEC(".maps");

static __always_inline int pass(void) {
  __u32 k = 1;
  __u64* c = bpf_map_lookup_elem(&natgw_counts, &k);
  if (c) *c += 1;
  return XDP_PASS;
}

SEC("xdp")
int natgw_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return pass();
  if (eth->h_proto != __builtin_bswap16(ETH_P_IP)) return pass();
  __u32 zero = 0;
  struct natgw_xdp_config* cfg = bpf_map_lookup_elem(&natgw_config, &zero);
  if (!cfg) return pass();
  if (eth->h_dest[0] != cfg->mac[0] || eth->h_dest[1] != cfg->mac[1] ||
      eth->h_dest[2] != cfg->mac[2] || eth->h_dest[3] != cfg->mac[3] ||
      eth->h_dest[4] != cfg->mac[4] || eth->h_dest[5] != cfg->mac[5]) {
    return pass();
  }
  struct iphdr* ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > data_end) return pass();
  __u32 dst = ip->daddr;
  if (bpf_map_lookup_elem(&natgw_local, &dst)) return pass();
  __u32 queue = ctx->rx_queue_index;
  if (!bpf_map_lookup_elem(&natgw_xsks, &queue)) return pass();
  __u64* c = bpf_map_lookup_elem(&natgw_counts, &zero);
  if (c) *c += 1;
  return bpf_redirect_map(&natgw_xsks, queue, XDP_PASS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
