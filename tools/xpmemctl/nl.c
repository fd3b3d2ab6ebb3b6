// SPDX-License-Identifier: GPL-2.0-only
/*
 * nl.c - generic netlink over libmnl: family lookup through nlctrl,
 * requests with extended acks, dumps, and the events group.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "nl.h"
#include "xpmem_netlink.h"

#define BUF_SIZE (MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768)

void nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb, int max)
{
	const struct nlattr *a;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		int type = mnl_attr_get_type(a);

		if (type <= max)
			tb[type] = a;	/* unknown attributes are skipped */
	}
}

uint8_t nl_cmd(const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);

	return g->cmd;
}

static struct nlmsghdr *put_request(struct nl *nl, char *buf, uint16_t type,
				    uint8_t cmd, uint16_t flags,
				    uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

/*
 * mnl_cb_run2 hands the control callbacks the same data pointer as the
 * message callback; the error callback needs struct nl, so replies are
 * routed through this wrapper, which carries both.
 */
struct call {
	struct nl *nl;
	mnl_cb_t cb;
	void *data;
};

/* NLMSG_ERROR: keep the extended ack's message, report the error. */
static int on_error(const struct nlmsghdr *nlh, void *data)
{
	struct nl *nl = ((struct call *)data)->nl;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!err->error)
		return MNL_CB_STOP;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		mnl_attr_for_each(a, nlh, off) {
			if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(nl->ext_ack, sizeof(nl->ext_ack), "%s",
					 mnl_attr_get_str(a));
		}
	}
	errno = -err->error;
	return MNL_CB_ERROR;
}

static int on_noop(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* A dump's end carries the dump's error, if it failed. */
static int on_done(const struct nlmsghdr *nlh, void *data)
{
	int err = 0;

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = on_noop,
	[NLMSG_ERROR] = on_error,
	[NLMSG_DONE] = on_done,
};

static int on_reply(const struct nlmsghdr *nlh, void *data)
{
	struct call *c = data;

	return c->cb ? c->cb(nlh, c->data) : MNL_CB_OK;
}

static int request(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		   void *data)
{
	struct call c = { .nl = nl, .cb = cb, .data = data };
	char buf[BUF_SIZE];
	ssize_t n;
	int ret;

	nl->ext_ack[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run2(buf, n, nlh->nlmsg_seq, nl->portid, on_reply, &c,
				  ctl_cbs, NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR && errno == 0)
			errno = EPROTO;
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

static int on_family(const struct nlmsghdr *nlh, void *data)
{
	struct nl *nl = data;
	const struct nlattr *tb[CTRL_ATTR_MAX + 1], *grp, *a;

	nl_parse(nlh, tb, CTRL_ATTR_MAX);
	if (!tb[CTRL_ATTR_FAMILY_ID])
		return MNL_CB_ERROR;
	nl->family = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return MNL_CB_OK;
	mnl_attr_for_each_nested(grp, tb[CTRL_ATTR_MCAST_GROUPS]) {
		const char *name = NULL;
		uint32_t id = 0;

		mnl_attr_for_each_nested(a, grp) {
			if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME)
				name = mnl_attr_get_str(a);
			else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID)
				id = mnl_attr_get_u32(a);
		}
		if (name && !strcmp(name, XPMEM_GENL_MCGRP_EVENTS))
			nl->events_group = id;
	}
	return MNL_CB_OK;
}

int nl_open(struct nl *nl)
{
	char buf[BUF_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, err;

	memset(nl, 0, sizeof(*nl));
	nl->seq = (uint32_t)time(NULL);
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		nl_close(nl);
		return err;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));

	nlh = put_request(nl, buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, XPMEM_GENL_NAME);
	err = request(nl, nlh, on_family, nl);
	if (!err && !nl->family)
		err = -ENOENT;
	if (err)
		nl_close(nl);
	return err;
}

void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

int nl_call(struct nl *nl, uint8_t cmd, int dump, const struct nl_req *req,
	    mnl_cb_t cb, void *data)
{
	char buf[BUF_SIZE];
	struct nlmsghdr *nlh;

	nlh = put_request(nl, buf, nl->family, cmd,
			  dump ? NLM_F_DUMP : NLM_F_ACK, XPMEM_GENL_VERSION);
	if (req) {
		if (req->segid)
			mnl_attr_put_u64(nlh, XPMEM_A_SEGID, (uint64_t)req->segid);
		if (req->name)
			mnl_attr_put_strz(nlh, XPMEM_A_NAME, req->name);
		if (req->has_value)
			mnl_attr_put_u64(nlh, XPMEM_A_VALUE, req->value);
		if (req->partition >= 0)
			mnl_attr_put_u32(nlh, XPMEM_A_PARTITION,
					 (uint32_t)req->partition);
	}
	return request(nl, nlh, cb, data);
}

int nl_join_events(struct nl *nl)
{
	uint32_t grp = nl->events_group;

	if (!grp)
		return -ENOENT;
	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0)
		return -errno;
	return 0;
}

int nl_recv_events(struct nl *nl, mnl_cb_t cb, void *data)
{
	char buf[BUF_SIZE];
	struct call c = { .nl = nl, .cb = cb, .data = data };
	ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	/* Multicast messages carry sequence 0 and port 0. */
	if (mnl_cb_run2(buf, n, 0, 0, on_reply, &c, ctl_cbs,
			NLMSG_MIN_TYPE) < 0)
		return -errno;
	return 0;
}
