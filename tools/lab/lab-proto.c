// SPDX-License-Identifier: GPL-2.0-only
/* lab-proto.c - framing helpers shared by the guest agent and the host client. */
#include "lab-proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint16_t lab_hdr_check(const struct lab_hdr *h)
{
	uint32_t x = h->magic ^ h->type ^ h->len ^ h->reserved ^
		     (uint32_t)h->id ^ (uint32_t)(h->id >> 32);

	return (uint16_t)~(x ^ (x >> 16));
}

void lab_hdr_init(struct lab_hdr *h, uint16_t type, uint32_t len, uint64_t id)
{
	memset(h, 0, sizeof(*h));
	h->magic = LAB_MAGIC;
	h->type = type;
	h->len = len;
	h->id = id;
	h->check = lab_hdr_check(h);
}

size_t lab_buf_len(const struct lab_buf *b)
{
	return b->tail - b->head;
}

void lab_buf_append(struct lab_buf *b, const void *p, size_t n)
{
	if (b->head == b->tail)
		b->head = b->tail = 0;
	if (b->tail + n > b->cap && b->head > 0) {
		/* Slide the live bytes down before growing. */
		memmove(b->data, b->data + b->head, b->tail - b->head);
		b->tail -= b->head;
		b->head = 0;
	}
	if (b->tail + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->tail + n)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (!b->data) {
			perror("lab-agent: realloc");
			_exit(255);
		}
		b->cap = cap;
	}
	memcpy(b->data + b->tail, p, n);
	b->tail += n;
}

void lab_buf_consume(struct lab_buf *b, size_t n)
{
	b->head += n;
	if (b->head >= b->tail)
		b->head = b->tail = 0;
}

void lab_buf_reset(struct lab_buf *b)
{
	b->head = b->tail = 0;
}

void lab_buf_frame(struct lab_buf *b, uint16_t type, uint64_t id,
		   const void *payload, uint32_t len)
{
	struct lab_hdr h;

	lab_hdr_init(&h, type, len, id);
	lab_buf_append(b, &h, sizeof(h));
	if (len)
		lab_buf_append(b, payload, len);
}

int lab_buf_next_frame(struct lab_buf *b, struct lab_hdr *h, const char **payload)
{
	while (lab_buf_len(b) >= sizeof(*h)) {
		memcpy(h, b->data + b->head, sizeof(*h));
		if (h->magic != LAB_MAGIC || h->check != lab_hdr_check(h) ||
		    h->len > LAB_MAX_PAYLOAD) {
			/* Not a frame start: resync one byte further on. */
			lab_buf_consume(b, 1);
			continue;
		}
		if (lab_buf_len(b) < sizeof(*h) + h->len)
			return 0;
		*payload = b->data + b->head + sizeof(*h);
		return 1;
	}
	return 0;
}

int lab_buf_flush(struct lab_buf *b, int fd)
{
	while (lab_buf_len(b)) {
		ssize_t n = write(fd, b->data + b->head, lab_buf_len(b));

		if (n > 0) {
			lab_buf_consume(b, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return -1;
	}
	return 0;
}

uint64_t lab_random_id(void)
{
	uint64_t id = 0;

	/* A clash only mixes up leftovers of a dead client: time is enough of a fallback. */
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
		id = lab_now_ms() ^ ((uint64_t)getpid() << 40);
	return id;
}

uint64_t lab_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
