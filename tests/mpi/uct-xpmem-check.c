/*
 * uct-xpmem-check: the data check that ucx_perftest does not do.  A client
 * writes into a server's buffer through a UCT transport (put_bcopy), the
 * server checks every byte in its own pages; the server rewrites the buffer,
 * the client reads it back (get_bcopy) and checks every byte; then the
 * client sends active messages (am_bcopy) whose every byte the server's
 * handler checks.  Sizes 8 B .. --max (default 64 MiB) by factors of 4.
 *
 *   uct-xpmem-check server [--port P] [--max BYTES] [--tl xpmem] [--dev memory]
 *   uct-xpmem-check client HOST [--port P] [--max BYTES] [--tl xpmem] [--dev memory]
 *
 * The two exchange their UCT addresses and the server's rkey over a TCP
 * connection (the client retries connecting for 60 s), which also carries
 * the steps.  Both must use the same --max.  Between partitions (the server
 * in one, the client in another) the client's stores must land in the
 * server's pages: that is what the server's check shows.  Prints one line per
 * size (with the client's put bandwidth, MB/s = 10^6 bytes/s, put + flush
 * timed) and "uct-xpmem-check: PASS" at the end; any mismatch names the
 * first bad byte and exits 1.  Built by tests/mpi/build-programs against the
 * rebuilt UCX.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <ucs/async/async_fwd.h>
#include <uct/api/uct.h>
#include <unistd.h>

#define AM_ID 7

static const char *role = "?";

#define DIE(...)                                                 \
	do {                                                     \
		fprintf(stderr, "uct-xpmem-check %s: ", role);  \
		fprintf(stderr, __VA_ARGS__);                    \
		fputc('\n', stderr);                             \
		exit(1);                                         \
	} while (0)
#define UCS_CHECK(expr)                                                               \
	do {                                                                          \
		ucs_status_t s_ = (expr);                                             \
		if (s_ != UCS_OK)                                                     \
			DIE("%s: %s", #expr, ucs_status_string(s_));                  \
	} while (0)

/* ---- patterns (one per size, step and round: a stale buffer fails too) ---- */
static uint64_t seed_of(size_t size, char step, unsigned round)
{
	return ((uint64_t)size * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)step << 56) ^
	       ((uint64_t)round * 0xD1B54A32D192ED03ull);
}

static inline uint8_t byte_at(uint64_t seed, size_t i)
{
	uint64_t x = seed + (i >> 3) * 0xBF58476D1CE4E5B9ull;

	x ^= x >> 31;
	return (uint8_t)(x >> ((i & 7) * 8));
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = byte_at(seed, i);
}

/* -1 if all n bytes match, otherwise the first bad offset. */
static long long first_bad(const uint8_t *p, size_t n, uint64_t seed, size_t base)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != byte_at(seed, base + i))
			return (long long)(base + i);
	return -1;
}

/* ---- the TCP side channel ---------------------------------------------------- */
static void xwrite(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			DIE("write to peer: %s", strerror(errno));
		p += r;
		n -= (size_t)r;
	}
}

static void xread(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			DIE("read from peer: %s", r == 0 ? "peer closed" : strerror(errno));
		p += r;
		n -= (size_t)r;
	}
}

static void send_blob(int fd, const void *p, uint32_t n)
{
	xwrite(fd, &n, sizeof(n));
	xwrite(fd, p, n);
}

static void *recv_blob(int fd)
{
	uint32_t n;
	void *p;

	xread(fd, &n, sizeof(n));
	if (n > (1u << 20))
		DIE("peer sent a blob of %u bytes", n);
	p = malloc(n ? n : 1);
	if (!p)
		DIE("out of memory");
	xread(fd, p, n);
	return p;
}

static int tcp_server(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, l, fd;

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1))
		DIE("listen on port %d: %s", port, strerror(errno));
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		DIE("accept: %s", strerror(errno));
	close(l);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int tcp_client(const char *host, int port)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	char ps[16];
	int one = 1, tries, fd;

	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai))
		DIE("cannot resolve %s", host);
	for (tries = 0; tries < 120; tries++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			freeaddrinfo(ai);
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		close(fd);
		usleep(500000);
	}
	DIE("cannot connect to %s:%d: %s", host, port, strerror(errno));
}

/* ---- UCT ------------------------------------------------------------------------ */
struct uct {
	ucs_async_context_t *async;
	uct_worker_h worker;
	uct_component_h component;
	uct_md_h md;
	uct_md_attr_t md_attr;
	uct_iface_h iface;
	uct_iface_attr_t attr;
};

static void uct_open(struct uct *u, const char *tl, const char *dev)
{
	uct_component_h *comps;
	unsigned ncomps, c, m;
	uct_md_config_t *mdc;
	uct_iface_config_t *ifc;
	uct_iface_params_t params;

	UCS_CHECK(ucs_async_context_create(UCS_ASYNC_MODE_THREAD_SPINLOCK, &u->async));
	UCS_CHECK(uct_worker_create(u->async, UCS_THREAD_MODE_SINGLE, &u->worker));
	UCS_CHECK(uct_query_components(&comps, &ncomps));
	u->md = NULL;
	for (c = 0; c < ncomps && !u->md; c++) {
		uct_component_attr_t ca = { .field_mask = UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT };

		UCS_CHECK(uct_component_query(comps[c], &ca));
		ca.field_mask = UCT_COMPONENT_ATTR_FIELD_MD_RESOURCES;
		ca.md_resources = calloc(ca.md_resource_count + 1, sizeof(*ca.md_resources));
		UCS_CHECK(uct_component_query(comps[c], &ca));
		for (m = 0; m < ca.md_resource_count && !u->md; m++) {
			uct_md_h md;
			uct_tl_resource_desc_t *tls;
			unsigned ntls, t;

			UCS_CHECK(uct_md_config_read(comps[c], NULL, NULL, &mdc));
			if (uct_md_open(comps[c], ca.md_resources[m].md_name, mdc, &md) != UCS_OK) {
				uct_config_release(mdc);
				continue;
			}
			uct_config_release(mdc);
			if (uct_md_query_tl_resources(md, &tls, &ntls) == UCS_OK) {
				for (t = 0; t < ntls; t++)
					if (!strcmp(tls[t].tl_name, tl) && !strcmp(tls[t].dev_name, dev))
						break;
				if (t < ntls) {
					u->md = md;
					u->component = comps[c];
				}
				uct_release_tl_resource_list(tls);
			}
			if (!u->md)
				uct_md_close(md);
		}
		free(ca.md_resources);
	}
	if (!u->md)
		DIE("no UCT transport %s on device %s (is /dev/xpmem there? ucx_info -d)", tl, dev);
	UCS_CHECK(uct_md_query(u->md, &u->md_attr));
	UCS_CHECK(uct_md_iface_config_read(u->md, tl, NULL, NULL, &ifc));
	memset(&params, 0, sizeof(params));
	params.field_mask = UCT_IFACE_PARAM_FIELD_OPEN_MODE | UCT_IFACE_PARAM_FIELD_DEVICE |
			    UCT_IFACE_PARAM_FIELD_STATS_ROOT | UCT_IFACE_PARAM_FIELD_RX_HEADROOM |
			    UCT_IFACE_PARAM_FIELD_CPU_MASK;
	params.open_mode = UCT_IFACE_OPEN_MODE_DEVICE;
	params.mode.device.tl_name = tl;
	params.mode.device.dev_name = dev;
	UCS_CPU_ZERO(&params.cpu_mask);
	UCS_CHECK(uct_iface_open(u->md, u->worker, &params, ifc, &u->iface));
	uct_config_release(ifc);
	UCS_CHECK(uct_iface_query(u->iface, &u->attr));
	uct_iface_progress_enable(u->iface, UCT_PROGRESS_SEND | UCT_PROGRESS_RECV);
}

/* Our addresses, for the peer: device address, then iface address. */
static void send_addresses(int fd, struct uct *u)
{
	void *dev = calloc(1, u->attr.device_addr_len + 1);
	void *ifa = calloc(1, u->attr.iface_addr_len + 1);

	UCS_CHECK(uct_iface_get_device_address(u->iface, dev));
	UCS_CHECK(uct_iface_get_address(u->iface, ifa));
	send_blob(fd, dev, (uint32_t)u->attr.device_addr_len);
	send_blob(fd, ifa, (uint32_t)u->attr.iface_addr_len);
	free(dev);
	free(ifa);
}

/* ---- steps ----------------------------------------------------------------------- */
enum { STEP_PUT = 1, STEP_GET, STEP_AM, STEP_END };
struct step {
	uint32_t kind;
	uint32_t round;
	uint64_t size;
	uint64_t count;
};
struct answer {
	int64_t bad; /* -1: all bytes right */
	uint64_t count;
};

struct am_state {
	uint64_t size, round, got;
	long long bad;
};

static ucs_status_t am_handler(void *arg, void *data, size_t length, unsigned flags)
{
	struct am_state *st = arg;
	uint64_t idx;
	long long bad;

	(void)flags;
	if (length != st->size + sizeof(idx)) {
		if (st->bad < 0)
			st->bad = 1000000000000LL + (long long)length;
		return UCS_OK;
	}
	memcpy(&idx, data, sizeof(idx));
	bad = first_bad((uint8_t *)data + sizeof(idx), st->size,
			seed_of(st->size, 'A', (unsigned)(st->round * 1000003u + idx)), 0);
	if (bad >= 0 && st->bad < 0)
		st->bad = bad;
	st->got++;
	return UCS_OK;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int server(int port, size_t max, const char *tl, const char *dev)
{
	struct uct u;
	struct am_state st = { .bad = -1 };
	uint8_t *buf;
	uct_mem_h memh;
	void *rkey;
	uint64_t addr;
	int fd;

	role = "server";
	uct_open(&u, tl, dev);
	buf = aligned_alloc(4096, (max + 4095) & ~(size_t)4095);
	if (!buf)
		DIE("out of memory");
	memset(buf, 0, max);
	UCS_CHECK(uct_md_mem_reg(u.md, buf, max, UCT_MD_MEM_ACCESS_ALL, &memh));
	rkey = calloc(1, u.md_attr.rkey_packed_size + 1);
	UCS_CHECK(uct_md_mkey_pack(u.md, memh, rkey));
	UCS_CHECK(uct_iface_set_am_handler(u.iface, AM_ID, am_handler, &st, 0));

	fd = tcp_server(port);
	send_addresses(fd, &u);
	send_blob(fd, rkey, (uint32_t)u.md_attr.rkey_packed_size);
	addr = (uintptr_t)buf;
	xwrite(fd, &addr, sizeof(addr));
	for (;;) {
		struct step s;
		struct answer a = { .bad = -1 };
		double deadline;

		xread(fd, &s, sizeof(s));
		if (s.size > max)
			DIE("step of %llu bytes > --max %zu", (unsigned long long)s.size, max);
		switch (s.kind) {
		case STEP_PUT: /* the client wrote: check every byte in our pages */
			a.bad = first_bad(buf, s.size, seed_of(s.size, 'P', s.round), 0);
			break;
		case STEP_GET: /* the client will read this */
			fill(buf, s.size, seed_of(s.size, 'G', s.round));
			break;
		case STEP_AM: /* receive s.count messages, each checked by the handler */
			st.size = s.size;
			st.round = s.round;
			st.got = 0;
			st.bad = -1;
			xwrite(fd, &a, sizeof(a)); /* ready */
			deadline = now() + 120;
			while (st.got < s.count && now() < deadline)
				uct_worker_progress(u.worker);
			a.bad = st.bad;
			a.count = st.got;
			break;
		case STEP_END:
			xwrite(fd, &a, sizeof(a));
			printf("uct-xpmem-check: server PASS\n");
			return 0;
		default:
			DIE("unknown step %u", s.kind);
		}
		xwrite(fd, &a, sizeof(a));
	}
}

struct chunk {
	const uint8_t *src;
	size_t len;
};

static size_t pack_chunk(void *dest, void *arg)
{
	struct chunk *c = arg;

	memcpy(dest, c->src, c->len);
	return c->len;
}

static void unpack_chunk(void *arg, const void *data, size_t length)
{
	memcpy(arg, data, length);
}

static void flush_ep(struct uct *u, uct_ep_h ep)
{
	ucs_status_t s;

	while ((s = uct_ep_flush(ep, 0, NULL)) == UCS_INPROGRESS || s == UCS_ERR_NO_RESOURCE)
		uct_worker_progress(u->worker);
	if (s != UCS_OK)
		DIE("uct_ep_flush: %s", ucs_status_string(s));
}

static int client(const char *host, int port, size_t max, const char *tl, const char *dev)
{
	struct uct u;
	void *sdev, *sifa, *rkey_buf;
	uint64_t raddr;
	uct_rkey_bundle_t rkey;
	uct_ep_params_t ep_params;
	uct_ep_h ep;
	uint8_t *src, *dst;
	size_t size, put_max, get_max, am_max;
	unsigned round = 0;
	int fd;

	role = "client";
	uct_open(&u, tl, dev);
	if (!(u.attr.cap.flags & UCT_IFACE_FLAG_PUT_BCOPY) ||
	    !(u.attr.cap.flags & UCT_IFACE_FLAG_GET_BCOPY) ||
	    !(u.attr.cap.flags & UCT_IFACE_FLAG_AM_BCOPY) ||
	    !(u.attr.cap.flags & UCT_IFACE_FLAG_CONNECT_TO_IFACE))
		DIE("%s lacks put/get/am bcopy or connect-to-iface", tl);
	put_max = u.attr.cap.put.max_bcopy;
	get_max = u.attr.cap.get.max_bcopy;
	am_max = u.attr.cap.am.max_bcopy - sizeof(uint64_t);
	fd = tcp_client(host, port);
	sdev = recv_blob(fd);
	sifa = recv_blob(fd);
	rkey_buf = recv_blob(fd);
	xread(fd, &raddr, sizeof(raddr));
	if (!uct_iface_is_reachable(u.iface, sdev, sifa))
		DIE("the server's %s interface is not reachable from here (another kernel, unpatched UCX?)", tl);
	UCS_CHECK(uct_rkey_unpack(u.component, rkey_buf, &rkey));
	memset(&ep_params, 0, sizeof(ep_params));
	ep_params.field_mask = UCT_EP_PARAM_FIELD_IFACE | UCT_EP_PARAM_FIELD_DEV_ADDR |
			       UCT_EP_PARAM_FIELD_IFACE_ADDR;
	ep_params.iface = u.iface;
	ep_params.dev_addr = sdev;
	ep_params.iface_addr = sifa;
	UCS_CHECK(uct_ep_create(&ep_params, &ep));

	src = aligned_alloc(4096, (max + 4095) & ~(size_t)4095);
	dst = aligned_alloc(4096, (max + 4095) & ~(size_t)4095);
	if (!src || !dst)
		DIE("out of memory");
	printf("%-10s %10s %8s %8s  (put_bcopy chunks of %zu, get_bcopy %zu, am_bcopy %zu)\n",
	       "bytes", "put MB/s", "get", "am msgs", put_max, get_max, am_max);
	for (size = 8;; size = size * 4 > max ? max : size * 4, round++) {
		struct step s = { .round = round, .size = size };
		struct answer a;
		size_t off, n, am_size;
		double t;
		uint64_t i, count;

		/* put: our stores into the server's pages, checked there */
		fill(src, size, seed_of(size, 'P', round));
		t = now();
		for (off = 0; off < size; off += n) {
			struct chunk c;
			ssize_t r;

			n = size - off < put_max ? size - off : put_max;
			c.src = src + off;
			c.len = n;
			while ((r = uct_ep_put_bcopy(ep, pack_chunk, &c, raddr + off, rkey.rkey)) ==
			       UCS_ERR_NO_RESOURCE)
				uct_worker_progress(u.worker);
			if (r < 0)
				DIE("put_bcopy: %s", ucs_status_string((ucs_status_t)r));
		}
		flush_ep(&u, ep);
		t = now() - t;
		s.kind = STEP_PUT;
		xwrite(fd, &s, sizeof(s));
		xread(fd, &a, sizeof(a));
		if (a.bad >= 0)
			DIE("put of %zu bytes: the server's byte %lld is wrong", size, (long long)a.bad);

		/* get: the server's bytes, read and checked here */
		s.kind = STEP_GET;
		xwrite(fd, &s, sizeof(s));
		xread(fd, &a, sizeof(a));
		memset(dst, 0, size);
		for (off = 0; off < size; off += n) {
			uct_completion_t comp = { .count = 1 };
			ucs_status_t st;

			n = size - off < get_max ? size - off : get_max;
			while ((st = uct_ep_get_bcopy(ep, unpack_chunk, dst + off, n, raddr + off,
						      rkey.rkey, &comp)) == UCS_ERR_NO_RESOURCE)
				uct_worker_progress(u.worker);
			if (st == UCS_INPROGRESS)
				while (comp.count > 0)
					uct_worker_progress(u.worker);
			else if (st != UCS_OK)
				DIE("get_bcopy: %s", ucs_status_string(st));
		}
		if (first_bad(dst, size, seed_of(size, 'G', round), 0) >= 0)
			DIE("get of %zu bytes: byte %lld is wrong", size,
			    first_bad(dst, size, seed_of(size, 'G', round), 0));

		/* active messages: each one's payload checked by the server */
		am_size = size < am_max ? size : am_max;
		count = size / am_size < 64 ? size / am_size : 64;
		s.kind = STEP_AM;
		s.size = am_size;
		s.count = count;
		xwrite(fd, &s, sizeof(s));
		xread(fd, &a, sizeof(a)); /* the server progresses from now on */
		for (i = 0; i < count; i++) {
			struct chunk c;
			ssize_t r;

			memcpy(src, &i, sizeof(i));
			fill(src + sizeof(i), am_size, seed_of(am_size, 'A', (unsigned)(round * 1000003u + i)));
			c.src = src;
			c.len = am_size + sizeof(i);
			while ((r = uct_ep_am_bcopy(ep, AM_ID, pack_chunk, &c, 0)) == UCS_ERR_NO_RESOURCE)
				uct_worker_progress(u.worker);
			if (r < 0)
				DIE("am_bcopy: %s", ucs_status_string((ucs_status_t)r));
		}
		flush_ep(&u, ep);
		xread(fd, &a, sizeof(a));
		if (a.bad >= 0 || a.count != count)
			DIE("%llu active messages of %zu bytes: the server got %llu, first bad byte %lld",
			    (unsigned long long)count, am_size, (unsigned long long)a.count,
			    (long long)a.bad);
		printf("%-10zu %10.1f %8s %8llu\n", size, (double)size / t / 1e6, "ok",
		       (unsigned long long)count);
		fflush(stdout);
		if (size == max)
			break;
	}
	{
		struct step s = { .kind = STEP_END };
		struct answer a;

		xwrite(fd, &s, sizeof(s));
		xread(fd, &a, sizeof(a));
	}
	uct_ep_destroy(ep);
	uct_rkey_release(u.component, &rkey);
	printf("uct-xpmem-check: PASS (put, get and active messages, every byte checked)\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *tl = "xpmem", *dev = "memory", *host = NULL;
	size_t max = 64ul << 20;
	int port = 13400, i, is_server;

	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
		goto usage;
	is_server = !strcmp(argv[1], "server");
	i = 2;
	if (!is_server) {
		if (argc < 3)
			goto usage;
		host = argv[i++];
	}
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max") && i + 1 < argc) {
			char *end;

			max = strtoull(argv[++i], &end, 0);
			if (*end == 'K' || *end == 'k')
				max <<= 10;
			else if (*end == 'M' || *end == 'm')
				max <<= 20;
		}
		else if (!strcmp(argv[i], "--tl") && i + 1 < argc)
			tl = argv[++i];
		else if (!strcmp(argv[i], "--dev") && i + 1 < argc)
			dev = argv[++i];
		else
			goto usage;
	}
	if (max < 8)
		goto usage;
	return is_server ? server(port, max, tl, dev) : client(host, port, max, tl, dev);
usage:
	fprintf(stderr, "usage: uct-xpmem-check server|client HOST [--port P] [--max BYTES] [--tl TL] [--dev DEV]\n");
	return 2;
}
