// SPDX-License-Identifier: GPL-2.0-only
/*
 * netlink.c - the "xpmem" generic-netlink family: dumps of segments,
 * permits, attachments, partitions, counters, histograms and tunables,
 * setting tunables, releasing a quarantine, and the "events" group.
 * uapi/xpmem_netlink.h is the protocol's documentation.
 *
 * Dumps keep their position in cb->ctx (struct dump_state), which the core
 * zeroes when a dump starts; the start callback records who is asking (the
 * sender's credentials decide what a dump shows, whichever process later
 * reads the socket) and, for the dumps that need it, takes the attachment
 * census that the done callback frees.  The family is parallel_ops: nothing
 * here needs the genetlink mutex, and a slow census must not hold up other
 * families.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/uidgid.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "census.h"
#include "doorbell.h"
#include "fabric.h"
#include "histogram.h"
#include "netlink.h"
#include "partition.h"
#include "remote.h"
#include "region.h"
#include "xpmem_internal.h"

static struct genl_family xpmem_genl_family;

/* Who asks: admins see everything, others what their effective uid owns. */
struct viewer {
	bool admin;
	kuid_t uid;
};

struct dump_state {
	s64 pos;			/* next segment or permit id */
	unsigned int idx;		/* next census range / table entry */
	struct viewer viewer;
	s64 only_segid;			/* GET_ATTACHMENTS filter, 0: none */
	struct xpmem_census *census;
};
static_assert(sizeof(struct dump_state) <=
	      sizeof_field(struct netlink_callback, ctx));

static struct dump_state *dump_state(struct netlink_callback *cb)
{
	return (struct dump_state *)cb->ctx;
}

static bool may_see(const struct viewer *v, kuid_t owner)
{
	return v->admin || uid_eq(v->uid, owner);
}

static u32 uid_out(kuid_t uid)
{
	return from_kuid_munged(current_user_ns(), uid);
}

static void *dump_msg(struct sk_buff *skb, struct netlink_callback *cb,
		      u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &xpmem_genl_family, NLM_F_MULTI, cmd);
}

static int msg_done(struct sk_buff *skb, void *hdr, int err)
{
	if (err) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int put_u64(struct sk_buff *skb, int attr, u64 v)
{
	return nla_put_u64_64bit(skb, attr, v, XPMEM_ATTR_PAD);
}

/* ---- dump setup ------------------------------------------------------- */

/*
 * Like netlink_capable(), judged by the credentials of whoever opened the
 * requesting socket (the caller's, for a socket made in-kernel).
 */
static kuid_t sender_euid(struct sk_buff *req)
{
	const struct sock *sk = NETLINK_CB(req).sk;

	if (sk && sk->sk_socket && sk->sk_socket->file)
		return sk->sk_socket->file->f_cred->euid;
	return current_euid();
}

static int start_plain(struct netlink_callback *cb)
{
	struct dump_state *st = dump_state(cb);

	st->viewer.admin = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	st->viewer.uid = sender_euid(cb->skb);
	return 0;
}

/*
 * Anyone may start a census dump: what it costs is bounded by what it may
 * show.  A non-admin's census visits only the processes whose attachments
 * it may see (census.c), so the attachment counts of its segments count
 * only its own processes' attachments.
 */
static int start_census(struct netlink_callback *cb, s64 only_segid)
{
	struct dump_state *st = dump_state(cb);
	struct xpmem_census_scope scope;
	struct xpmem_census *census;

	start_plain(cb);
	st->only_segid = only_segid;
	scope = (struct xpmem_census_scope){
		.all_users = st->viewer.admin,
		.uid = st->viewer.uid,
		.only_segid = only_segid,
		.max_ranges = st->viewer.admin ? XPMEM_CENSUS_MAX_RANGES :
						 XPMEM_CENSUS_MAX_RANGES_USER,
	};
	census = xpmem_census_take(&scope);
	if (IS_ERR(census))
		return PTR_ERR(census);
	st->census = census;
	return 0;
}

static int start_segments(struct netlink_callback *cb)
{
	return start_census(cb, 0);
}

static int start_attachments(struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);

	return start_census(cb, info->attrs[XPMEM_A_SEGID] ?
			    nla_get_s64(info->attrs[XPMEM_A_SEGID]) : 0);
}

static int done_census(struct netlink_callback *cb)
{
	xpmem_census_free(dump_state(cb)->census);
	return 0;
}

/* ---- segments and permits --------------------------------------------- */

static int fill_segment(struct sk_buff *skb, struct netlink_callback *cb,
			struct xpmem_segment *seg,
			const struct xpmem_census *census)
{
	unsigned int i = xpmem_census_find(census, seg->segid);
	u64 pages = 0, pmds = 0, last = 0;
	u32 atts = 0;
	void *hdr;

	/* Ranges are sorted by attachment within a segment: count the runs. */
	for (; i < census->n && census->r[i].segid == seg->segid; i++) {
		pages += census->r[i].pages;
		pmds += census->r[i].pmds;
		if (!atts || census->r[i].attach_id != last)
			atts++;
		last = census->r[i].attach_id;
	}

	hdr = dump_msg(skb, cb, XPMEM_CMD_GET_SEGMENTS);
	if (!hdr)
		return -EMSGSIZE;
	return msg_done(skb, hdr,
		nla_put_s64(skb, XPMEM_SEG_A_SEGID, seg->segid, XPMEM_ATTR_PAD) ||
		nla_put_u32(skb, XPMEM_SEG_A_PARTITION, xpmem_fabric_self_id()) ||
		nla_put_u32(skb, XPMEM_SEG_A_OWNER_PID, pid_vnr(seg->owner_pid)) ||
		nla_put_u32(skb, XPMEM_SEG_A_OWNER_UID, uid_out(seg->uid)) ||
		put_u64(skb, XPMEM_SEG_A_START, seg->start) ||
		put_u64(skb, XPMEM_SEG_A_END, seg->end) ||
		nla_put_u32(skb, XPMEM_SEG_A_MODE, seg->mode) ||
		nla_put_u32(skb, XPMEM_SEG_A_ATTACHMENTS, atts) ||
		put_u64(skb, XPMEM_SEG_A_PAGES_MAPPED, pages) ||
		put_u64(skb, XPMEM_SEG_A_PMDS_MAPPED, pmds) ||
		nla_put_u8(skb, XPMEM_SEG_A_OWNER_ALIVE,
			   xpmem_segment_owner_alive(seg)));
}

static int dump_segments(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_state *st = dump_state(cb);
	struct xpmem_segment *seg;
	s64 pos = st->pos;

	while ((seg = xpmem_segment_next(&pos))) {
		int err = 0;

		if (may_see(&st->viewer, seg->uid))
			err = fill_segment(skb, cb, seg, st->census);
		xpmem_segment_put(seg);
		if (err)
			break;		/* full: this one goes in the next skb */
		st->pos = pos;
	}
	return skb->len;
}

static int dump_permits(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_state *st = dump_state(cb);
	struct xpmem_permit *permit;
	s64 pos = st->pos;

	/*
	 * A permit found in the table under RCU keeps its segment: the permit
	 * leaves the table before it drops the segment's reference.
	 */
	rcu_read_lock();
	while ((permit = xpmem_permit_next(&pos))) {
		struct xpmem_segment *seg = permit->seg;
		void *hdr;

		if (may_see(&st->viewer, seg->uid)) {
			hdr = dump_msg(skb, cb, XPMEM_CMD_GET_PERMITS);
			if (!hdr)
				break;
			if (msg_done(skb, hdr,
				nla_put_s64(skb, XPMEM_PERMIT_A_APID, permit->apid,
					    XPMEM_ATTR_PAD) ||
				nla_put_s64(skb, XPMEM_PERMIT_A_SEGID, seg->segid,
					    XPMEM_ATTR_PAD) ||
				nla_put_u32(skb, XPMEM_PERMIT_A_PARTITION,
					    xpmem_fabric_self_id()) ||
				nla_put_u8(skb, XPMEM_PERMIT_A_RDONLY,
					   permit->rdonly)))
				break;
		}
		st->pos = pos;
	}
	rcu_read_unlock();
	return skb->len;
}

/* ---- attachments ------------------------------------------------------ */

static int fill_range(struct sk_buff *skb, struct netlink_callback *cb,
		      const struct xpmem_census_range *r)
{
	void *hdr = dump_msg(skb, cb, XPMEM_CMD_GET_ATTACHMENTS);

	if (!hdr)
		return -EMSGSIZE;
	return msg_done(skb, hdr,
		nla_put_s64(skb, XPMEM_ATT_A_SEGID, r->segid, XPMEM_ATTR_PAD) ||
		put_u64(skb, XPMEM_ATT_A_ATTACH_ID, r->attach_id) ||
		nla_put_u32(skb, XPMEM_ATT_A_PID, r->pid) ||
		nla_put_u32(skb, XPMEM_ATT_A_UID, uid_out(r->uid)) ||
		put_u64(skb, XPMEM_ATT_A_START, r->start) ||
		put_u64(skb, XPMEM_ATT_A_END, r->end) ||
		put_u64(skb, XPMEM_ATT_A_SRC, r->src) ||
		nla_put_u8(skb, XPMEM_ATT_A_RDONLY, r->rdonly) ||
		put_u64(skb, XPMEM_ATT_A_PAGES_MAPPED, r->pages) ||
		put_u64(skb, XPMEM_ATT_A_PMDS_MAPPED, r->pmds));
}

static int dump_attachments(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_state *st = dump_state(cb);
	const struct xpmem_census *census = st->census;

	for (; st->idx < census->n; st->idx++) {
		const struct xpmem_census_range *r = &census->r[st->idx];

		if (st->only_segid && r->segid != st->only_segid)
			continue;
		if (!may_see(&st->viewer, r->uid))
			continue;
		if (fill_range(skb, cb, r))
			break;
	}
	return skb->len;
}

/* ---- partitions ------------------------------------------------------- */

/* The transport's fence reasons, as the uapi names them. */
u32 xpmem_netlink_fence_reason(u32 xp_reason)
{
	static const u32 map[] = {
		[XP_R_NONE] = XPMEM_FENCE_NONE,
		[XP_R_HEARTBEAT] = XPMEM_FENCE_HEARTBEAT,
		[XP_R_TIMEOUT] = XPMEM_FENCE_TIMEOUT,
		[XP_R_PROTOCOL] = XPMEM_FENCE_PROTOCOL,
		[XP_R_SELF_STALE] = XPMEM_FENCE_SELF_STALE,
		[XP_R_SELF_STALLED] = XPMEM_FENCE_SELF_STALLED,
		[XP_R_REJOINED] = XPMEM_FENCE_REJOINED,
		[XP_R_OPERATOR] = XPMEM_FENCE_ADMIN,
		[XP_R_DISCONNECT] = XPMEM_FENCE_DISCONNECT,
	};

	return xp_reason < ARRAY_SIZE(map) ? map[xp_reason] : XPMEM_FENCE_NONE;
}

static int fill_partition(struct sk_buff *skb, struct netlink_callback *cb,
			  const struct xpmem_partition_info *p, bool self,
			  bool fabric)
{
	void *hdr = dump_msg(skb, cb, XPMEM_CMD_GET_PARTITIONS);

	if (!hdr)
		return -EMSGSIZE;

	/* enum xp_state and enum xpmem_part_state share their values. */
	return msg_done(skb, hdr,
		nla_put_u32(skb, XPMEM_PART_A_ID, p->id) ||
		nla_put_u8(skb, XPMEM_PART_A_SELF, self) ||
		nla_put_u32(skb, XPMEM_PART_A_STATE, p->state) ||
		put_u64(skb, XPMEM_PART_A_EPOCH, p->epoch) ||
		put_u64(skb, XPMEM_PART_A_HB_AGE_MS, p->hb_age_ns / NSEC_PER_MSEC) ||
		nla_put_u32(skb, XPMEM_PART_A_INFLIGHT, p->inflight) ||
		put_u64(skb, XPMEM_PART_A_QUARANTINED_PAGES, p->quarantined) ||
		nla_put_u32(skb, XPMEM_PART_A_LAST_FENCE_REASON,
			    xpmem_netlink_fence_reason(p->reason)) ||
		put_u64(skb, XPMEM_PART_A_LAST_FENCE_TIME_NS,
			p->fence_time_ns) ||
		(fabric && nla_put_u32(skb, XPMEM_PART_A_DOORBELL,
				       xpmem_doorbell_kind(p->id)))) ? -EMSGSIZE : 0;
}

/*
 * Without a fabric the only partition is this one: up, epoch 0, never
 * fenced.  With one: every slot of the control region that some partition
 * ever joined, as the membership layer sees it now.
 */
static int dump_partitions(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_state *st = dump_state(cb);
	struct xpmem_partition_info p = { .id = XPMEM_PARTITION_ID,
					  .state = XPMEM_PART_UP };
	u32 n = xpmem_partition_count();
	int self = xpmem_partition_self();

	if (!n) {
		if (st->idx)
			return 0;
		if (fill_partition(skb, cb, &p, true, false))
			return -EMSGSIZE;
		st->idx = 1;
		return skb->len;
	}
	for (; st->idx < n; st->idx++) {
		if (xpmem_partition_info(st->idx, &p) ||
		    (!p.epoch && (int)st->idx != self))
			continue;
		if (fill_partition(skb, cb, &p, (int)st->idx == self, true))
			break;
	}
	return skb->len;
}

static int quarantine_release(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	u64 released;
	u32 id;

	if (!netlink_capable(skb, CAP_SYS_ADMIN))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, XPMEM_A_PARTITION))
		return -EINVAL;
	id = nla_get_u32(info->attrs[XPMEM_A_PARTITION]);
	if (xpmem_partition_count() ? id >= xpmem_partition_count() :
				      id != XPMEM_PARTITION_ID) {
		GENL_SET_ERR_MSG(info, "unknown partition");
		return -ENOENT;
	}

	released = xpmem_partition_count() && id != (u32)xpmem_partition_self() ?
		   xpmem_export_release_quarantine(id, 0) : 0;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &xpmem_genl_family, 0,
				XPMEM_CMD_QUARANTINE_RELEASE);
	if (!hdr || nla_put_u32(msg, XPMEM_PART_A_ID, id) ||
	    put_u64(msg, XPMEM_PART_A_QUARANTINED_PAGES, released)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* ---- counters and histograms ------------------------------------------ */

#define CTR(name) ((u64)atomic64_read(&xpmem_counters.name))

static int put_counters(struct sk_buff *msg)
{
	struct nlattr *nest;
	int r;

	if (put_u64(msg, XPMEM_CTR_A_CONTEXTS, CTR(contexts)) ||
	    put_u64(msg, XPMEM_CTR_A_SEGMENTS, CTR(segments)) ||
	    put_u64(msg, XPMEM_CTR_A_PERMITS, CTR(permits)) ||
	    put_u64(msg, XPMEM_CTR_A_ATTACHMENTS, CTR(attachments)) ||
	    put_u64(msg, XPMEM_CTR_A_PINNED_PAGES, CTR(pinned_pages)) ||
	    put_u64(msg, XPMEM_CTR_A_FAULTS, CTR(faults)) ||
	    put_u64(msg, XPMEM_CTR_A_PAGES_MAPPED, CTR(pages_mapped)) ||
	    put_u64(msg, XPMEM_CTR_A_PMDS_MAPPED, CTR(pmds_mapped)) ||
	    put_u64(msg, XPMEM_CTR_A_FAULT_RETRIES, CTR(fault_retries)) ||
	    put_u64(msg, XPMEM_CTR_A_SIGBUS, CTR(sigbus)) ||
	    put_u64(msg, XPMEM_CTR_A_INVALIDATIONS, CTR(invalidations)) ||
	    put_u64(msg, XPMEM_CTR_A_INVALIDATIONS_REFUSED,
		    CTR(invalidations_refused)) ||
	    put_u64(msg, XPMEM_CTR_A_REMOTE_FAULTS, CTR(remote_faults)) ||
	    put_u64(msg, XPMEM_CTR_A_REMOTE_INVALIDATIONS,
		    CTR(remote_invalidations)) ||
	    put_u64(msg, XPMEM_CTR_A_TIMEOUTS, CTR(timeouts)) ||
	    put_u64(msg, XPMEM_CTR_A_DOORBELLS_SENT, CTR(doorbells_sent)) ||
	    put_u64(msg, XPMEM_CTR_A_DOORBELLS_RECEIVED,
		    CTR(doorbells_received)))
		return -EMSGSIZE;
	nest = nla_nest_start(msg, XPMEM_CTR_A_DROPPED);
	if (!nest)
		return -EMSGSIZE;
	for (r = 0; r < __XPMEM_DROP_MAX; r++)
		if (put_u64(msg, XPMEM_DROP_ATTR(r), CTR(dropped[r])))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	if (put_u64(msg, XPMEM_CTR_A_INVALIDATES_IN_SERVICE, CTR(invalidates_in_service)) ||
	    put_u64(msg, XPMEM_CTR_A_FAULTS_DEFERRED, CTR(faults_deferred)))
		return -EMSGSIZE;
	return 0;
}

static int get_counters(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	void *hdr;

	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &xpmem_genl_family, 0,
				XPMEM_CMD_GET_COUNTERS);
	if (!hdr || put_counters(msg)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int put_histogram(struct sk_buff *skb, enum xpmem_hist_id id)
{
	struct xpmem_hist_snapshot h;
	struct nlattr *buckets, *b;
	unsigned int i;

	xpmem_hist_read(id, &h);
	if (nla_put_u32(skb, XPMEM_HIST_A_ID, id) ||
	    nla_put_string(skb, XPMEM_HIST_A_NAME, xpmem_hist_name(id)) ||
	    put_u64(skb, XPMEM_HIST_A_COUNT, h.count) ||
	    put_u64(skb, XPMEM_HIST_A_SUM_NS, h.sum_ns))
		return -EMSGSIZE;
	buckets = nla_nest_start(skb, XPMEM_HIST_A_BUCKETS);
	if (!buckets)
		return -EMSGSIZE;
	for (i = 0; i < XPMEM_HIST_BUCKETS; i++) {
		b = nla_nest_start(skb, XPMEM_BUCKET_A_BUCKET);
		if (!b || put_u64(skb, XPMEM_BUCKET_A_LE_NS, xpmem_hist_bound(i)) ||
		    put_u64(skb, XPMEM_BUCKET_A_COUNT, h.bucket[i]))
			return -EMSGSIZE;
		nla_nest_end(skb, b);
	}
	nla_nest_end(skb, buckets);
	return 0;
}

static int dump_histograms(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_state *st = dump_state(cb);
	void *hdr;

	for (; st->idx < __XPMEM_HIST_MAX; st->idx++) {
		hdr = dump_msg(skb, cb, XPMEM_CMD_GET_HISTOGRAMS);
		if (!hdr || msg_done(skb, hdr, put_histogram(skb, st->idx)))
			break;
	}
	return skb->len;
}

/* ---- tunables --------------------------------------------------------- */

struct tunable {
	const char *name, *description;
	enum xpmem_tun_kind kind;
	u64 min, max;
	u64 (*get)(void);
	int (*set)(u64 value);
};

static u64 fault_window_get(void)
{
	return READ_ONCE(xpmem_fault_window);
}

static int fault_window_set(u64 value)
{
	return value > UINT_MAX ? -EINVAL : xpmem_fault_window_set(value);
}

#define UINT_KNOB(fn, var)						\
	static u64 fn##_get(void) { return READ_ONCE(var); }		\
	static int fn##_set(u64 value) { WRITE_ONCE(var, (unsigned int)value); return 0; }
UINT_KNOB(hb_ms, xpmem_hb_ms)
UINT_KNOB(dead_ms, xpmem_dead_ms)
UINT_KNOB(fault_ms, xpmem_fault_ms)
UINT_KNOB(inval_ms, xpmem_inval_ms)
UINT_KNOB(delay_invalidate_ms, xpmem_inject_delay_invalidate_ms)
UINT_KNOB(stall_fault_service_ms, xpmem_inject_stall_fault_service_ms)
UINT_KNOB(corrupt_next, xpmem_inject_corrupt_next)
UINT_KNOB(stop_heartbeat, xpmem_inject_stop_heartbeat)
UINT_KNOB(drop_doorbells, xpmem_inject_drop_doorbells)

#define KNOB(n, desc, k, lo, hi) \
	{ .name = #n, .description = desc, .kind = k, .min = lo, .max = hi, \
	  .get = n##_get, .set = n##_set }

/*
 * Tunables and fault-injection points (kind XPMEM_TUN_INJECTION): a knob is
 * listed here only together with the code it acts on (partition.c for the
 * deadlines and the partition-layer injection points).
 */
static const struct tunable tunables[] = {
	KNOB(hb_ms, "heartbeat period of the partition layer, ms",
	     XPMEM_TUN_TUNABLE, 1, 60000),
	KNOB(dead_ms, "silence after which a peer partition is fenced, ms",
	     XPMEM_TUN_TUNABLE, 10, 600000),
	KNOB(fault_ms, "deadline of a request to a peer partition, ms",
	     XPMEM_TUN_TUNABLE, 1, 600000),
	KNOB(inval_ms, "deadline of a remote invalidation before the peer is fenced, ms",
	     XPMEM_TUN_TUNABLE, 1, 600000),
	KNOB(delay_invalidate_ms, "sleep this long before handling each INVALIDATE, ms",
	     XPMEM_TUN_INJECTION, 0, 600000),
	KNOB(stall_fault_service_ms, "sleep this long before serving each peer request, ms",
	     XPMEM_TUN_INJECTION, 0, 600000),
	KNOB(corrupt_next, "corrupt this many next data messages sent (receivers drop them)",
	     XPMEM_TUN_INJECTION, 0, 1000000),
	KNOB(stop_heartbeat, "stop this partition's heartbeat and polling, as if hung (1)",
	     XPMEM_TUN_INJECTION, 0, 1),
	KNOB(drop_doorbells, "drop every doorbell this partition rings (1)",
	     XPMEM_TUN_INJECTION, 0, 1),
	{
		.name = "fault_window",
		.description = "pages mapped per attachment fault (power of two)",
		.kind = XPMEM_TUN_TUNABLE,
		.min = 1,
		.max = PTRS_PER_PTE,
		.get = fault_window_get,
		.set = fault_window_set,
	},
};

static int dump_tunables(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_state *st = dump_state(cb);
	const struct tunable *t;
	void *hdr;

	for (; st->idx < ARRAY_SIZE(tunables); st->idx++) {
		t = &tunables[st->idx];
		hdr = dump_msg(skb, cb, XPMEM_CMD_GET_TUNABLES);
		if (!hdr || msg_done(skb, hdr,
			nla_put_string(skb, XPMEM_TUN_A_NAME, t->name) ||
			nla_put_u32(skb, XPMEM_TUN_A_KIND, t->kind) ||
			put_u64(skb, XPMEM_TUN_A_VALUE, t->get()) ||
			put_u64(skb, XPMEM_TUN_A_MIN, t->min) ||
			put_u64(skb, XPMEM_TUN_A_MAX, t->max) ||
			nla_put_string(skb, XPMEM_TUN_A_DESCRIPTION,
				       t->description)))
			break;
	}
	return skb->len;
}

static int set_tunable(struct sk_buff *skb, struct genl_info *info)
{
	const char *name;
	unsigned int i;
	u64 value;
	int err;

	if (!netlink_capable(skb, CAP_SYS_ADMIN))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, XPMEM_A_NAME) ||
	    GENL_REQ_ATTR_CHECK(info, XPMEM_A_VALUE))
		return -EINVAL;
	name = nla_data(info->attrs[XPMEM_A_NAME]);
	value = nla_get_u64(info->attrs[XPMEM_A_VALUE]);

	for (i = 0; i < ARRAY_SIZE(tunables); i++) {
		if (strcmp(tunables[i].name, name))
			continue;
		if (value < tunables[i].min || value > tunables[i].max) {
			GENL_SET_ERR_MSG(info, "value out of range");
			return -EINVAL;
		}
		err = tunables[i].set(value);
		if (err)
			GENL_SET_ERR_MSG(info, "value refused");
		return err;
	}
	GENL_SET_ERR_MSG(info, "no such tunable");
	return -ENOENT;
}

/* ---- events ----------------------------------------------------------- */

/*
 * Events are sent from the partition layer's state callbacks, under the
 * fabric mutex: nothing here may enter reclaim (reclaim can run our
 * notifier, which takes that mutex).  So GFP_NOWAIT, sized to the event; an
 * event that finds no memory is dropped (a listener that must not miss a
 * state re-reads the partitions dump).
 */
#define EVENT_GFP	(GFP_NOWAIT | __GFP_NOWARN)
#define EVENT_SIZE	256	/* the largest event is about 100 bytes */

static struct sk_buff *event_new(void)
{
	return genlmsg_new(EVENT_SIZE, EVENT_GFP);
}

static void event_send(struct sk_buff *msg, void *hdr, int err)
{
	if (err) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&xpmem_genl_family, msg, 0, 0, EVENT_GFP);
}

void xpmem_netlink_event_partition(u32 id, u32 state, u64 epoch)
{
	struct sk_buff *msg = event_new();
	void *hdr;

	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &xpmem_genl_family, 0,
			  XPMEM_CMD_EVENT_PARTITION);
	event_send(msg, hdr, !hdr ||
		   nla_put_u32(msg, XPMEM_PART_A_ID, id) ||
		   nla_put_u32(msg, XPMEM_PART_A_STATE, state) ||
		   put_u64(msg, XPMEM_PART_A_EPOCH, epoch));
}

void xpmem_netlink_event_fence(u32 id, u64 epoch, u32 reason, u64 time_ns,
			       u64 quarantined_pages)
{
	struct sk_buff *msg = event_new();
	void *hdr;

	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &xpmem_genl_family, 0,
			  XPMEM_CMD_EVENT_FENCE);
	event_send(msg, hdr, !hdr ||
		   nla_put_u32(msg, XPMEM_PART_A_ID, id) ||
		   put_u64(msg, XPMEM_PART_A_EPOCH, epoch) ||
		   nla_put_u32(msg, XPMEM_PART_A_LAST_FENCE_REASON, reason) ||
		   put_u64(msg, XPMEM_PART_A_LAST_FENCE_TIME_NS, time_ns) ||
		   put_u64(msg, XPMEM_PART_A_QUARANTINED_PAGES,
			   quarantined_pages));
}

/* ---- the family ------------------------------------------------------- */

static const struct nla_policy policy[XPMEM_A_MAX + 1] = {
	[XPMEM_A_SEGID] = { .type = NLA_S64 },
	[XPMEM_A_NAME] = { .type = NLA_NUL_STRING, .len = 63 },
	[XPMEM_A_VALUE] = { .type = NLA_U64 },
	[XPMEM_A_PARTITION] = { .type = NLA_U32 },
};

static const struct genl_ops ops[] = {
	{
		.cmd = XPMEM_CMD_GET_SEGMENTS,
		.start = start_segments,
		.dumpit = dump_segments,
		.done = done_census,
	}, {
		.cmd = XPMEM_CMD_GET_PERMITS,
		.start = start_plain,
		.dumpit = dump_permits,
	}, {
		.cmd = XPMEM_CMD_GET_ATTACHMENTS,
		.start = start_attachments,
		.dumpit = dump_attachments,
		.done = done_census,
	}, {
		.cmd = XPMEM_CMD_GET_PARTITIONS,
		.start = start_plain,
		.dumpit = dump_partitions,
	}, {
		.cmd = XPMEM_CMD_GET_COUNTERS,
		.doit = get_counters,
	}, {
		.cmd = XPMEM_CMD_GET_HISTOGRAMS,
		.start = start_plain,
		.dumpit = dump_histograms,
	}, {
		.cmd = XPMEM_CMD_GET_TUNABLES,
		.start = start_plain,
		.dumpit = dump_tunables,
	}, {
		.cmd = XPMEM_CMD_SET_TUNABLE,
		.doit = set_tunable,
	}, {
		.cmd = XPMEM_CMD_QUARANTINE_RELEASE,
		.doit = quarantine_release,
	},
};

static const struct genl_multicast_group mcgrps[] = {
	{ .name = XPMEM_GENL_MCGRP_EVENTS },
};

static struct genl_family xpmem_genl_family __ro_after_init = {
	.name = XPMEM_GENL_NAME,
	.version = XPMEM_GENL_VERSION,
	.maxattr = XPMEM_A_MAX,
	.policy = policy,
	.netnsok = false,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = ops,
	.n_ops = ARRAY_SIZE(ops),
	.resv_start_op = XPMEM_CMD_GET_SEGMENTS,
	.mcgrps = mcgrps,
	.n_mcgrps = ARRAY_SIZE(mcgrps),
};

int xpmem_netlink_init(void)
{
	return genl_register_family(&xpmem_genl_family);
}

void xpmem_netlink_exit(void)
{
	genl_unregister_family(&xpmem_genl_family);
}
