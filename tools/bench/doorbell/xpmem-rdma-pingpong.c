// SPDX-License-Identifier: GPL-2.0-only
/*
 * xpmem-rdma-pingpong - the user-space reference for RDMA doorbells: the
 * round trip of a zero-length RDMA_WRITE_WITH_IMM (or, with --send, the
 * SEND_WITH_IMM xpmem_rdma.ko rings) on an RC queue pair set up with
 * librdmacm, waiting for completions through the completion channel (an
 * interrupt, as the kernel's softirq handler does) or, with --busy, by
 * polling the CQ.
 *
 *   xpmem-rdma-pingpong server [--port P] [-n N] [--send] [--busy]
 *   xpmem-rdma-pingpong client HOST [--port P] [-n N] [--send] [--busy]
 *
 * The server answers N (and 10 warm-up) doorbells with one each, then
 * exits; both sides must be given the same N.  The client times N round
 * trips (after 10 unrecorded ones) and prints
 *   rtt_us median M p90 Q min L max H n N op write_imm|send_imm wait event|busy
 * Exit status 0 on success, 1 on any error (said on stderr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <rdma/rdma_cma.h>
#include <rdma/rdma_verbs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEPTH	16
#define WARMUP	10

static int use_send, busy, server;

static void die(const char *what, int err)
{
	fprintf(stderr, "xpmem-rdma-pingpong: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void post_recv(struct rdma_cm_id *id)
{
	struct ibv_recv_wr wr = { .num_sge = 0 }, *bad;

	if (ibv_post_recv(id->qp, &wr, &bad))
		die("ibv_post_recv", errno);
}

static void ring(struct rdma_cm_id *id, uint32_t imm)
{
	struct ibv_send_wr wr = { .num_sge = 0, .send_flags = IBV_SEND_SIGNALED }, *bad;

	/* Zero length: the target checks neither address nor rkey. */
	wr.opcode = use_send ? IBV_WR_SEND_WITH_IMM : IBV_WR_RDMA_WRITE_WITH_IMM;
	wr.imm_data = htonl(imm);
	if (ibv_post_send(id->qp, &wr, &bad))
		die("ibv_post_send", errno);
}

/* One completion of @cq: busy polling, or armed and woken by its channel. */
static void wait_comp(struct rdma_cm_id *id, struct ibv_cq *cq, int recv)
{
	struct ibv_wc wc;
	int n;

	if (busy) {
		while ((n = ibv_poll_cq(cq, 1, &wc)) == 0)
			;
	} else {
		n = recv ? rdma_get_recv_comp(id, &wc) : rdma_get_send_comp(id, &wc);
	}
	if (n < 0)
		die("completion", errno);
	if (wc.status != IBV_WC_SUCCESS) {
		fprintf(stderr, "xpmem-rdma-pingpong: work completion: %s\n",
			ibv_wc_status_str(wc.status));
		exit(1);
	}
}

static struct rdma_cm_id *endpoint(const char *host, const char *port, int passive)
{
	struct rdma_addrinfo hints = { .ai_port_space = RDMA_PS_TCP }, *res;
	struct ibv_qp_init_attr attr = {
		.cap = { .max_send_wr = DEPTH, .max_recv_wr = DEPTH,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 1,
	};
	struct rdma_cm_id *id;
	int err;

	if (passive)
		hints.ai_flags = RAI_PASSIVE;
	err = rdma_getaddrinfo(host, port, &hints, &res);
	if (err)
		die("rdma_getaddrinfo", errno);
	if (rdma_create_ep(&id, res, NULL, passive ? NULL : &attr))
		die("rdma_create_ep", errno);
	rdma_freeaddrinfo(res);
	if (passive) {
		struct rdma_cm_id *conn;

		if (rdma_listen(id, 1))
			die("rdma_listen", errno);
		printf("listening\n");
		fflush(stdout);
		if (rdma_get_request(id, &conn))
			die("rdma_get_request", errno);
		if (rdma_create_qp(conn, NULL, &attr))
			die("rdma_create_qp", errno);
		return conn;
	}
	return id;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *port = "7472", *host = NULL;
	int i, n = 1000;
	struct rdma_cm_id *id;
	uint64_t *rtt;

	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: xpmem-rdma-pingpong server|client [HOST] [--port P] [-n N] [--send] [--busy]\n");
		return 2;
	}
	server = !strcmp(argv[1], "server");
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = argv[++i];
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--send"))
			use_send = 1;
		else if (!strcmp(argv[i], "--busy"))
			busy = 1;
		else if (!server && !host)
			host = argv[i];
		else {
			fprintf(stderr, "xpmem-rdma-pingpong: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if ((!server && !host) || n < 1)
		return fprintf(stderr, "xpmem-rdma-pingpong: client HOST, -n >= 1\n"), 2;

	id = endpoint(host, port, server);
	for (i = 0; i < DEPTH; i++)
		post_recv(id);
	if (server ? rdma_accept(id, NULL) : rdma_connect(id, NULL))
		die(server ? "rdma_accept" : "rdma_connect", errno);

	if (server) {
		/* Answer the client's -n round trips (and its warm-up), then go. */
		for (i = -WARMUP; i < n; i++) {
			wait_comp(id, id->recv_cq, 1);
			post_recv(id);
			ring(id, 1);
			wait_comp(id, id->send_cq, 0);
		}
		printf("answered %d\n", n + WARMUP);
		rdma_disconnect(id);
		rdma_destroy_ep(id);
		return 0;
	}
	rtt = calloc(n, sizeof(*rtt));
	if (!rtt)
		die("calloc", ENOMEM);
	for (i = -WARMUP; i < n; i++) {
		uint64_t t0 = now_ns();

		ring(id, 0);
		wait_comp(id, id->recv_cq, 1);
		if (i >= 0)
			rtt[i] = now_ns() - t0;
		wait_comp(id, id->send_cq, 0);
		post_recv(id);
	}
	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	printf("rtt_us median %.1f p90 %.1f min %.1f max %.1f n %d op %s wait %s\n",
	       rtt[n / 2] / 1e3, rtt[n * 9 / 10] / 1e3, rtt[0] / 1e3, rtt[n - 1] / 1e3, n,
	       use_send ? "send_imm" : "write_imm", busy ? "busy" : "event");
	rdma_disconnect(id);
	rdma_destroy_ep(id);
	free(rtt);
	return 0;
}
