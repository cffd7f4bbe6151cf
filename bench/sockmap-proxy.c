/*
 * A reference TCP proxy whose bytes never reach user space: each accepted
 * connection and its upstream connection go into a BPF sockhash, and a
 * stream verdict program redirects what either socket receives to the
 * other one's send side. The proxy itself only accepts, connects and
 * closes. bench/localcloud-dataplane.sh runs it as the "sockmap" path, to
 * measure whether forwarding in the kernel would let a proxy in front of
 * an instance meet the data plane's speed goals.
 *
 * usage: sockmap-proxy LISTEN_PORT UPSTREAM_PORT
 *
 * It prints "ready" once it listens on 127.0.0.1:LISTEN_PORT, and exits
 * with 3 when the kernel refuses the map or the program (it needs
 * CAP_BPF and CAP_NET_ADMIN, and a kernel with CONFIG_BPF_STREAM_PARSER).
 */
#define _GNU_SOURCE		/* accept4 */

#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <linux/bpf.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define MAX_CONNS	4096	/* sockhash entries: two per connection */
#define MAX_FD		65536
#define EXIT_NO_BPF	3

/*
 * The sockhash key: the addresses of the socket that received the bytes,
 * as the verdict program reads them from struct __sk_buff. local_port is
 * in host order. remote_port is the port in network order shifted
 * left by 16 bits, which is what the kernel loads for that field on a
 * little-endian machine.
 */
struct flow_key {
	uint32_t	local_ip4;
	uint32_t	remote_ip4;
	uint32_t	local_port;
	uint32_t	remote_port;
};

/* Instruction builders, named after the kernel's own. */
#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), \
	.dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV64_REG(d, s)		INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_IMM(d, i)		INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD64_IMM(d, i)		INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define LDX_W(d, s, o)		INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define STX_W(d, s, o)		INSN(BPF_STX | BPF_MEM | BPF_W, d, s, o, 0)
#define CALL(f)			INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT_INSN()		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define SKB_FIELD(f)		((int16_t)offsetof(struct __sk_buff, f))
#define KEY_AT(f)		((int16_t)(-16 + offsetof(struct flow_key, f)))

static int map_fd = -1;
static int peer_of[MAX_FD];

/*
 * Loads the stream verdict program: it copies the receiving socket's
 * addresses into a flow_key on the stack and redirects the bytes to the
 * socket stored under that key. It always returns SK_PASS: after a
 * redirect that means "redirect", and when no socket is stored (the
 * instant between the two map updates) the bytes stay on the receiving
 * socket, where this proxy reads and forwards them itself.
 */
static int
load_verdict(void)
{
	struct bpf_insn prog[] = {
		MOV64_REG(BPF_REG_6, BPF_REG_1),
		LDX_W(BPF_REG_2, BPF_REG_6, SKB_FIELD(local_ip4)),
		STX_W(BPF_REG_10, BPF_REG_2, KEY_AT(local_ip4)),
		LDX_W(BPF_REG_2, BPF_REG_6, SKB_FIELD(remote_ip4)),
		STX_W(BPF_REG_10, BPF_REG_2, KEY_AT(remote_ip4)),
		LDX_W(BPF_REG_2, BPF_REG_6, SKB_FIELD(local_port)),
		STX_W(BPF_REG_10, BPF_REG_2, KEY_AT(local_port)),
		LDX_W(BPF_REG_2, BPF_REG_6, SKB_FIELD(remote_port)),
		STX_W(BPF_REG_10, BPF_REG_2, KEY_AT(remote_port)),
		MOV64_REG(BPF_REG_1, BPF_REG_6),
		/* A 64-bit load of the map: two instructions. */
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_2, BPF_PSEUDO_MAP_FD,
		    0, map_fd),
		INSN(0, 0, 0, 0, 0),
		MOV64_REG(BPF_REG_3, BPF_REG_10),
		ADD64_IMM(BPF_REG_3, -16),
		MOV64_IMM(BPF_REG_4, 0),	/* to the socket's send side */
		CALL(BPF_FUNC_sk_redirect_hash),
		MOV64_IMM(BPF_REG_0, SK_PASS),
		EXIT_INSN(),
	};
	static char verifier_log[16384];
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
	    .log_buf = verifier_log,
	    .log_size = sizeof(verifier_log),
	    .log_level = 1);
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_SK_SKB, "sockmap_proxy", "none",
	    prog, sizeof(prog) / sizeof(prog[0]), &opts);
	if (fd < 0) {
		fprintf(stderr, "sockmap-proxy: loading the verdict program "
		    "failed: %s\n%s", strerror(-fd), verifier_log);
		return -1;
	}
	return fd;
}

static void
flow_key_of(int fd, struct flow_key *key)
{
	struct sockaddr_in local, remote;
	socklen_t len;

	memset(&local, 0, sizeof(local));
	memset(&remote, 0, sizeof(remote));
	len = sizeof(local);
	(void)getsockname(fd, (struct sockaddr *)&local, &len);
	len = sizeof(remote);
	(void)getpeername(fd, (struct sockaddr *)&remote, &len);
	key->local_ip4 = local.sin_addr.s_addr;
	key->remote_ip4 = remote.sin_addr.s_addr;
	key->local_port = ntohs(local.sin_port);
	key->remote_port = (uint32_t)remote.sin_port << 16;
}

/* Stores `to` as the socket that bytes received on `from` go to. */
static int
route(int from, int to)
{
	struct flow_key key;
	uint32_t value = (uint32_t)to;

	flow_key_of(from, &key);
	return bpf_map_update_elem(map_fd, &key, &value, BPF_NOEXIST);
}

static void
set_nodelay(int fd)
{
	int enable = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &enable,
	    sizeof(enable));
}

static void
loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void
close_pair(int ep, int fd)
{
	int peer = peer_of[fd];

	(void)epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	(void)epoll_ctl(ep, EPOLL_CTL_DEL, peer, NULL);
	close(fd);
	close(peer);
	peer_of[fd] = peer_of[peer] = -1;
}

/* Forwards bytes in user space, or closes the pair at an end of file. The
 * read does not block, because a routed socket may look readable when
 * its bytes have gone. */
static void
readable(int ep, int fd)
{
	char buf[16384];
	ssize_t n, off, w;

	/* Its pair was closed earlier in the same batch of events. */
	if (peer_of[fd] == -1)
		return;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_pair(ep, fd);
		return;
	}
	for (off = 0; off < n; off += w) {
		if ((w = write(peer_of[fd], buf + off, (size_t)(n - off))) <= 0) {
			close_pair(ep, fd);
			return;
		}
	}
}

/* Accepts one client, connects it upstream and routes both ways. The
 * upstream connect blocks: the instance is local and already listening. */
static void
accept_one(int ep, int lfd, int upstream_port)
{
	struct epoll_event ev;
	struct sockaddr_in sin;
	int cfd, ufd, routed;

	if ((cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd >= MAX_FD || ufd == -1 || ufd >= MAX_FD) {
		fprintf(stderr, "sockmap-proxy: out of descriptors (at most "
		    "%d); closing a client\n", MAX_FD);
		if (ufd != -1)
			close(ufd);
		close(cfd);
		return;
	}
	set_nodelay(cfd);
	set_nodelay(ufd);
	loopback(&sin, upstream_port);
	if (connect(ufd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		fprintf(stderr, "sockmap-proxy: cannot connect to port %d: %s "
		    "(is the instance listening?)\n", upstream_port,
		    strerror(errno));
		close(ufd);
		close(cfd);
		return;
	}
	peer_of[cfd] = ufd;
	peer_of[ufd] = cfd;
	/* The sockhash rejects a client that closed before it was accepted. */
	routed = route(cfd, ufd) == 0 && route(ufd, cfd) == 0;
	/*
	 * The kernel wakes a socket's readers after each verdict, even when
	 * the bytes were redirected, so a reader watching for input would
	 * wake per message. A routed pair only waits for its end of file.
	 * A pair the sockhash rejected forwards in user space.
	 */
	ev.events = routed ? EPOLLRDHUP : EPOLLIN;
	ev.data.fd = cfd;
	(void)epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
	ev.data.fd = ufd;
	(void)epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &ev);

	/*
	 * A request that came before the route stays queued on the client's
	 * socket, and the program runs on it only when more bytes come. Sent
	 * on here, it cannot overtake later bytes: a client waits for its
	 * response before it sends more.
	 */
	if (routed)
		readable(ep, cfd);
}

int
main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_map_create_opts, map_opts);
	struct epoll_event events[64], ev = { .events = EPOLLIN };
	struct sockaddr_in sin;
	int listen_port, upstream_port, prog_fd, lfd, ep, n, i, enable = 1;

	if (argc != 3 || (listen_port = atoi(argv[1])) <= 0 ||
	    listen_port > 65535 || (upstream_port = atoi(argv[2])) <= 0 ||
	    upstream_port > 65535) {
		fprintf(stderr, "usage: sockmap-proxy LISTEN_PORT "
		    "UPSTREAM_PORT (ports 1 to 65535)\n");
		return 2;
	}

	map_fd = bpf_map_create(BPF_MAP_TYPE_SOCKHASH, "sockmap_proxy",
	    sizeof(struct flow_key), sizeof(uint32_t), 2 * MAX_CONNS,
	    &map_opts);
	if (map_fd < 0) {
		fprintf(stderr, "sockmap-proxy: creating the sockhash failed: "
		    "%s (it needs CAP_BPF and CAP_NET_ADMIN: run it as root)\n",
		    strerror(-map_fd));
		return EXIT_NO_BPF;
	}
	if ((prog_fd = load_verdict()) < 0)
		return EXIT_NO_BPF;
	if ((n = bpf_prog_attach(prog_fd, map_fd, BPF_SK_SKB_STREAM_VERDICT,
	    0)) != 0) {
		fprintf(stderr, "sockmap-proxy: attaching the verdict "
		    "program failed: %s\n", strerror(-n));
		return EXIT_NO_BPF;
	}

	loopback(&sin, listen_port);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &enable,
	    sizeof(enable)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1024) == -1) {
		fprintf(stderr, "sockmap-proxy: cannot listen on 127.0.0.1:%d: "
		    "%s\n", listen_port, strerror(errno));
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 1;
	for (i = 0; i < MAX_FD; i++)
		peer_of[i] = -1;
	ev.data.fd = lfd;
	(void)epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		if ((n = epoll_wait(ep, events, 64, -1)) == -1) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (events[i].data.fd == lfd)
				accept_one(ep, lfd, upstream_port);
			else
				readable(ep, events[i].data.fd);
		}
	}
}
