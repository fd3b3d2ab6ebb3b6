/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nl.h - talking to the "xpmem" generic-netlink family with libmnl.
 * Every function returns >= 0 or -errno; only the command edge prints.
 */
#ifndef XPMEMCTL_NL_H
#define XPMEMCTL_NL_H

#include <stdint.h>

#include <libmnl/libmnl.h>

struct nl {
	struct mnl_socket *sock;
	uint32_t portid, seq;
	uint16_t family;
	uint32_t events_group;	/* 0 if the family has none */
	char ext_ack[256];	/* the kernel's explanation of the last error */
};

/* Opens a socket and resolves the family: -ENOENT when the module is out. */
int nl_open(struct nl *nl);
void nl_close(struct nl *nl);

/* Attributes of a request; any of them may be absent. */
struct nl_req {
	int64_t segid;		/* XPMEM_A_SEGID if nonzero */
	const char *name;	/* XPMEM_A_NAME */
	uint64_t value;		/* XPMEM_A_VALUE if has_value */
	int has_value;
	int64_t partition;	/* XPMEM_A_PARTITION if >= 0 */
};
#define NL_REQ_INIT { .partition = -1 }

/*
 * Sends cmd (as a dump if dump is set) and calls cb for every reply
 * message with the genetlink payload's attributes; waits for the end.
 */
int nl_call(struct nl *nl, uint8_t cmd, int dump, const struct nl_req *req,
	    mnl_cb_t cb, void *data);

/* Joins the "events" group; then nl_recv_events() delivers to cb. */
int nl_join_events(struct nl *nl);
int nl_recv_events(struct nl *nl, mnl_cb_t cb, void *data);

/* Parses a message's top-level attributes into tb[0..max] (NULL if none). */
void nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb, int max);
/* The genetlink command of a message. */
uint8_t nl_cmd(const struct nlmsghdr *nlh);

static inline uint64_t nl_u64(const struct nlattr *a)
{
	return a ? mnl_attr_get_u64(a) : 0;
}
static inline uint32_t nl_u32(const struct nlattr *a)
{
	return a ? mnl_attr_get_u32(a) : 0;
}
static inline uint8_t nl_u8(const struct nlattr *a)
{
	return a ? mnl_attr_get_u8(a) : 0;
}

#endif
