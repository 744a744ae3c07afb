//go:build ignore

// sk_msg program of package bpf: redirects each message sent on a socket in
// the sockhash to the receive queue of its peer, when the peer is in the
// sockhash too. Rebuild with `go generate ./bpf/` (see gen.go).

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char __license[] SEC("license") = "Dual BSD/GPL";

// sock_key is one end's view of a TCP/IPv4 connection. Addresses are in
// network byte order as the kernel stores them; ports are in host order.
struct sock_key {
	__u32 local_ip4;
	__u32 remote_ip4;
	__u32 local_port;
	__u32 remote_port;
};

// stats counts the messages redirected and their bytes.
struct stats {
	__u64 msgs;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct sock_key);
	__type(value, __u64); // a socket fd on update, the socket cookie on lookup
} sock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} redirect_stats SEC(".maps");

SEC("sk_msg")
int redirect_peer(struct sk_msg_md *msg)
{
	// The peer's key is this socket's tuple reversed. remote_port holds the
	// port in network order in its upper 16 bits (on either endianness,
	// bpf_ntohl brings it to host order); local_port is in host order.
	struct sock_key peer = {
		.local_ip4 = msg->remote_ip4,
		.remote_ip4 = msg->local_ip4,
		.local_port = bpf_ntohl(msg->remote_port),
		.remote_port = msg->local_port,
	};
	__u32 size = msg->size;

	// A miss returns SK_DROP without redirecting: pass the message to TCP
	// instead, so that a socket whose peer is not in the map still works.
	if (bpf_msg_redirect_hash(msg, &sock_hash, &peer, BPF_F_INGRESS) != SK_PASS)
		return SK_PASS;

	__u32 zero = 0;
	struct stats *s = bpf_map_lookup_elem(&redirect_stats, &zero);
	if (s) {
		s->msgs++;
		s->bytes += size;
	}
	return SK_PASS;
}
