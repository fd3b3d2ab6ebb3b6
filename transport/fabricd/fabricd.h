/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fabricd.h - the lab's fabric server: shared state of its three parts.
 *
 *   fabricd.c   options, the control region, the poll loop, signals
 *   peers.c     the ivshmem-doorbell protocol (docs/lab.md): accepting a
 *               partition, announcing it, forwarding its doorbells
 *   ctl.c       the text control socket (fault injection, stats) and the
 *               client mode `fabricd --ctl SOCKET CMD...`
 *
 * Doorbells pass through fabricd so that it can count and drop them: peer
 * A never holds B's real eventfd.  For every ordered pair (A,B) fabricd
 * makes `vectors` proxy eventfds; A's QEMU receives them as B's vectors and
 * writes to them when A's guest rings B; fabricd reads them and writes the
 * real eventfd that B's QEMU polls (handed to B as its own vectors).  Per
 * pair, so that fabricd knows who rang: `drop-from A` needs the sender.
 * It also lets a partition restart under its old id without its peers'
 * QEMUs noticing (peers.c).
 */
#ifndef FABRICD_H
#define FABRICD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FAB_MAX_PARTS	32	/* ids 0..parts-1 */
#define FAB_MAX_VECTORS	16
#define FAB_MAX_CTL	8	/* concurrent control connections */

struct fab_part {
	int sock;			/* -1: not connected */
	pid_t pid;			/* the client's pid (SO_PEERCRED) */
	uint64_t connects;		/* how many times this id connected */
	int real[FAB_MAX_VECTORS];	/* its own vectors (it polls them) */
	/* proxy[src][v]: rung by partition src towards this one */
	int proxy[FAB_MAX_PARTS][FAB_MAX_VECTORS];
	bool drop_to, drop_from;
	uint64_t rung_by;		/* doorbells it rang (seen by fabricd) */
	uint64_t delivered;		/* doorbells forwarded to it */
	uint64_t dropped;		/* doorbells to or from it dropped */
};

struct fabric {
	unsigned int parts;		/* ids 0..parts-1 */
	unsigned int vectors;
	int shm_fd;
	int next_id;			/* one-shot choice of the next id, -1: none */
	bool announce_disconnects;	/* see peers.c: off for QEMU <= 7.2 */
	struct fab_part p[FAB_MAX_PARTS];
};

void fab_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* peers.c */
void fab_init_parts(struct fabric *f);
void fab_accept(struct fabric *f, int lsock);
void fab_disconnect(struct fabric *f, unsigned int id, const char *why);
void fab_forward(struct fabric *f, unsigned int dst, unsigned int src, unsigned int v);
void fab_close_all(struct fabric *f);

/* ctl.c */
/* Runs one command line; writes the reply (ending "ok\n" or "error: ...\n"). */
void fab_ctl_command(struct fabric *f, char *line, int out);
int fab_ctl_client(const char *path, int argc, char **argv, int timeout_ms);

#endif /* FABRICD_H */
