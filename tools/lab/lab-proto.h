/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lab-proto.h - the wire format between the lab's host client and its guest
 * agent.
 *
 * The channel is one virtio-serial port: a byte stream with no message
 * boundaries, which survives host clients that come and go.  Everything on it
 * is a frame: a fixed header followed by at most LAB_MAX_PAYLOAD bytes.  Both
 * ends are the same x86_64 binary, so fields are in native byte order.
 *
 * A stream can hold leftovers of an earlier client (a client killed half-way
 * through a frame, output of a command nobody waits for any more).  Two
 * things make that harmless:
 *   - the header carries a magic and a checksum, and a reader that meets a
 *     bad header drops one byte and searches for the next magic (resync);
 *   - every request carries a random 64-bit id, every reply repeats it, and a
 *     client ignores frames whose id is not its own.
 *
 * Requests (host -> guest): PING, EXEC, POWEROFF.
 * Replies (guest -> host): PONG, OUT, ERR, EXIT, ACK.
 *
 * EXEC payload: u32 timeout_s, u32 argc, u32 envc, then NUL-terminated
 * strings: cwd, argv[0..argc), env[0..envc).
 * EXIT payload: u32 kind (enum lab_exit_kind), i32 value.
 */
#ifndef LAB_PROTO_H
#define LAB_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define LAB_MAGIC 0x4d42414cu /* "LABM" */
#define LAB_MAX_PAYLOAD (64u * 1024u)
#define LAB_PORT_NAME "org.xpmem.lab.agent"

enum lab_type {
	LAB_PING = 1,
	LAB_EXEC = 2,
	LAB_POWEROFF = 3,
	LAB_PONG = 0x81,
	LAB_OUT = 0x82,
	LAB_ERR = 0x83,
	LAB_EXIT = 0x84,
	LAB_ACK = 0x85,
};

enum lab_exit_kind {
	LAB_EXITED = 0,   /* value: exit code */
	LAB_SIGNALED = 1, /* value: signal number */
	LAB_TIMEDOUT = 2, /* value: unused; the command was killed */
};

struct lab_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t check; /* lab_hdr_check() of the other fields */
	uint32_t len;   /* payload bytes that follow */
	uint32_t reserved;
	uint64_t id;
};

_Static_assert(sizeof(struct lab_hdr) == 24, "lab_hdr is 24 bytes on the wire");

/* A growable byte buffer: frames are queued at the tail, consumed at the head. */
struct lab_buf {
	char *data;
	size_t head, tail, cap;
};

uint16_t lab_hdr_check(const struct lab_hdr *h);
void lab_hdr_init(struct lab_hdr *h, uint16_t type, uint32_t len, uint64_t id);

size_t lab_buf_len(const struct lab_buf *b);
void lab_buf_append(struct lab_buf *b, const void *p, size_t n);
void lab_buf_consume(struct lab_buf *b, size_t n);
void lab_buf_reset(struct lab_buf *b);
void lab_buf_frame(struct lab_buf *b, uint16_t type, uint64_t id,
		   const void *payload, uint32_t len);

/*
 * Find the next complete, valid frame at the head of @b, dropping garbage
 * before it.  Returns 1 and fills @h / @payload (pointing into @b, valid until
 * the next change of @b) when one is there, 0 when more bytes are needed.
 * The caller consumes sizeof(*h) + h->len bytes once done with it.
 */
int lab_buf_next_frame(struct lab_buf *b, struct lab_hdr *h, const char **payload);

/* Write as much of @b's head as @fd takes without blocking; -1 on a hard error. */
int lab_buf_flush(struct lab_buf *b, int fd);

uint64_t lab_random_id(void);
uint64_t lab_now_ms(void);

#endif
