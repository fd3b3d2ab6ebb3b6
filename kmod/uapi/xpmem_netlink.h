/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR LGPL-2.1-or-later */
/*
 * xpmem_netlink.h - the "xpmem" generic-netlink family: inspecting and
 * steering xpmem.ko (what xpmemctl speaks).
 *
 * Transport
 * ---------
 * Resolve the family id of XPMEM_GENL_NAME ("xpmem") through the nlctrl
 * family (CTRL_CMD_GETFAMILY), as for any generic-netlink family; the same
 * reply names the multicast group XPMEM_GENL_MCGRP_EVENTS ("events").  The
 * family exists only in the initial network namespace and while xpmem.ko is
 * loaded: "family not found" means the module is not loaded.
 *
 * Every message is a genlmsghdr (version XPMEM_GENL_VERSION, no family
 * header) followed by attributes.  Requests are validated strictly: unknown
 * attributes and attributes of the wrong type or size are refused with
 * EINVAL and an extended-ack message.  Replies to a GET_* command carry
 * attributes of that command's own attribute space (enum xpmem_seg_attr for
 * segments, and so on) at the top level.  u64/s64 attributes are padded
 * with XPMEM_ATTR_PAD as the kernel's nla_put_u64_64bit() does; readers must
 * skip attributes they do not know, and new attributes are only ever added
 * at the end of an enum: numbers never change meaning.
 *
 * Dumps and how they are split
 * ----------------------------
 * The GET_* commands below marked "dump" need NLM_F_DUMP and answer with one
 * message per object, in several datagrams if they do not fit in one, ended
 * by NLMSG_DONE.  The kernel resumes a dump where the previous datagram
 * ended (netlink dump continuation, its position kept in the callback's
 * state): segments and permits in increasing id order (the position is the
 * next id), attachments by segment id and then by attachment.
 * Segments and permits are read live: each message is consistent in
 * itself, but an object made or removed while the dump runs may be missed.
 * Attachments, and the attachment counts and mapped pages of segments, come
 * from a census of processes' mappings taken when the dump starts (its cost
 * grows with the number of processes and mappings it visits: the dump is
 * meant for people and scripts, not for fast paths).  A caller with
 * CAP_SYS_ADMIN gets a census of all processes (up to 262144 attachment
 * ranges); anyone else's census visits only the processes whose effective
 * uid is the caller's, holds at most 4096 ranges (charged to the caller's
 * memory cgroup) and fails with E2BIG beyond that (XPMEM_A_SEGID narrows a
 * GET_ATTACHMENTS census to one segment).
 *
 * Who sees what
 * -------------
 * Every GET is open to every user.  A caller without CAP_SYS_ADMIN sees only
 * the segments whose owner's effective uid is the caller's, the permits on
 * those segments, and the attachments made by processes whose effective uid
 * is the caller's; the attachment counts and mapped pages of its segments
 * count those attachments only.  Counters, histograms, tunables and partitions are
 * module-wide and visible to all.  Every SET and the quarantine release need
 * CAP_SYS_ADMIN (EPERM otherwise).  Both the capability and the effective uid
 * are those of the process that opened the netlink socket.
 *
 * Commands
 * --------
 * XPMEM_CMD_GET_SEGMENTS     dump; reply attrs enum xpmem_seg_attr.  One
 *     message per exported segment of this partition.  PAGES_MAPPED and
 *     PMDS_MAPPED are what the attachers' page tables map right now (a PMD
 *     mapping counts 512 pages in PAGES_MAPPED and 1 in PMDS_MAPPED).
 * XPMEM_CMD_GET_PERMITS      dump; reply attrs enum xpmem_permit_attr.  One
 *     message per access permit (apid) in this partition.
 * XPMEM_CMD_GET_ATTACHMENTS  dump; reply attrs enum xpmem_att_attr.  One
 *     message per mapped range of an attachment: an attachment that munmap()
 *     or mprotect() split shows as several ranges with the same ATTACH_ID.
 *     Request may carry XPMEM_A_SEGID to list one segment's attachments.
 * XPMEM_CMD_GET_PARTITIONS   dump; reply attrs enum xpmem_part_attr.  One
 *     message per partition this one knows.  Until the partition fabric
 *     exists, that is this partition alone: id 0, state UP, epoch 0, SELF
 *     set, heartbeat age 0, nothing in flight, nothing quarantined, last
 *     fence reason NONE.
 * XPMEM_CMD_GET_COUNTERS     do; one reply, attrs enum xpmem_ctr_attr.  The
 *     object counters (CONTEXTS .. PINNED_PAGES) are live objects and read 0
 *     when nothing uses xpmem; all others count events since the module was
 *     loaded.  The counters of remote traffic (REMOTE_*, TIMEOUTS,
 *     FAULTS_DEFERRED, DOORBELLS_*, DROPPED) exist and read 0 until the
 *     fabric exists.
 * XPMEM_CMD_GET_HISTOGRAMS   dump; reply attrs enum xpmem_hist_attr.  One
 *     message per latency histogram (enum xpmem_hist_id), each with COUNT,
 *     SUM_NS and BUCKETS: a nest of XPMEM_BUCKET_A_BUCKET nests, each with
 *     LE_NS (the bucket's inclusive upper bound in ns, U64_MAX for the last)
 *     and COUNT (events in that bucket alone, not cumulative).  Bounds are
 *     powers of two; buckets are listed in increasing order.  The remote
 *     shootdown histogram is listed and empty until the fabric exists.
 * XPMEM_CMD_GET_TUNABLES     dump; reply attrs enum xpmem_tun_attr.  One
 *     message per tunable or fault-injection point: NAME, KIND, VALUE, MIN,
 *     MAX, DESCRIPTION.
 * XPMEM_CMD_SET_TUNABLE      do, CAP_SYS_ADMIN; request XPMEM_A_NAME and
 *     XPMEM_A_VALUE.  ENOENT: no such tunable; EINVAL: value out of range
 *     (the extended ack says why).  No reply beyond the ack.
 * XPMEM_CMD_QUARANTINE_RELEASE  do, CAP_SYS_ADMIN; request
 *     XPMEM_A_PARTITION.  Frees the pages quarantined on behalf of a fenced
 *     partition now, instead of when its fence completes.  ENOENT: unknown
 *     partition.  Reply attrs enum xpmem_part_attr: ID and QUARANTINED_PAGES
 *     (the pages released).
 *
 * Events (multicast group "events")
 * ---------------------------------
 * XPMEM_CMD_EVENT_PARTITION  attrs enum xpmem_part_attr (ID, STATE, EPOCH):
 *     a partition changed state.
 * XPMEM_CMD_EVENT_FENCE      attrs enum xpmem_part_attr (ID, EPOCH,
 *     LAST_FENCE_REASON, LAST_FENCE_TIME_NS, QUARANTINED_PAGES): a partition
 *     was fenced.
 * Only partition state changes and fences are announced, and until the
 * fabric exists nothing changes state, so nothing is sent yet.  Joining the
 * group needs no privilege.
 */
#ifndef _UAPI_XPMEM_NETLINK_H
#define _UAPI_XPMEM_NETLINK_H

#define XPMEM_GENL_NAME		"xpmem"
#define XPMEM_GENL_VERSION	1
#define XPMEM_GENL_MCGRP_EVENTS	"events"

enum xpmem_genl_cmd {
	XPMEM_CMD_UNSPEC,
	XPMEM_CMD_GET_SEGMENTS,
	XPMEM_CMD_GET_PERMITS,
	XPMEM_CMD_GET_ATTACHMENTS,
	XPMEM_CMD_GET_PARTITIONS,
	XPMEM_CMD_GET_COUNTERS,
	XPMEM_CMD_GET_HISTOGRAMS,
	XPMEM_CMD_GET_TUNABLES,
	XPMEM_CMD_SET_TUNABLE,
	XPMEM_CMD_QUARANTINE_RELEASE,
	XPMEM_CMD_EVENT_PARTITION,
	XPMEM_CMD_EVENT_FENCE,

	__XPMEM_CMD_MAX,
	XPMEM_CMD_MAX = __XPMEM_CMD_MAX - 1
};

/* Attribute number 1 of every attribute space is padding for u64s. */
#define XPMEM_ATTR_PAD 1

/* Request attributes (every command's request). */
enum xpmem_attr {
	XPMEM_A_UNSPEC,
	XPMEM_A_PAD,
	XPMEM_A_SEGID,		/* s64: restrict GET_ATTACHMENTS to a segment */
	XPMEM_A_NAME,		/* string: a tunable's name */
	XPMEM_A_VALUE,		/* u64: a tunable's new value */
	XPMEM_A_PARTITION,	/* u32: a partition id */

	__XPMEM_A_MAX,
	XPMEM_A_MAX = __XPMEM_A_MAX - 1
};

/* XPMEM_CMD_GET_SEGMENTS replies. */
enum xpmem_seg_attr {
	XPMEM_SEG_A_UNSPEC,
	XPMEM_SEG_A_PAD,
	XPMEM_SEG_A_SEGID,		/* s64 */
	XPMEM_SEG_A_PARTITION,		/* u32: the owner's partition */
	XPMEM_SEG_A_OWNER_PID,		/* u32: tgid of the maker, in the
					 * reader's pid namespace; 0 if not
					 * visible there */
	XPMEM_SEG_A_OWNER_UID,		/* u32: effective uid of the maker */
	XPMEM_SEG_A_START,		/* u64: source range [START, END) */
	XPMEM_SEG_A_END,		/* u64 */
	XPMEM_SEG_A_MODE,		/* u32: permit mode (0..0777) */
	XPMEM_SEG_A_ATTACHMENTS,	/* u32: attachments mapping it */
	XPMEM_SEG_A_PAGES_MAPPED,	/* u64: pages mapped by attachers */
	XPMEM_SEG_A_PMDS_MAPPED,	/* u64: of those, PMD mappings */
	XPMEM_SEG_A_OWNER_ALIVE,	/* u8: 0 once the owner's mm exited */

	__XPMEM_SEG_A_MAX,
	XPMEM_SEG_A_MAX = __XPMEM_SEG_A_MAX - 1
};

/* XPMEM_CMD_GET_PERMITS replies. */
enum xpmem_permit_attr {
	XPMEM_PERMIT_A_UNSPEC,
	XPMEM_PERMIT_A_PAD,
	XPMEM_PERMIT_A_APID,		/* s64 */
	XPMEM_PERMIT_A_SEGID,		/* s64: the segment it grants */
	XPMEM_PERMIT_A_PARTITION,	/* u32: the segment owner's partition */
	XPMEM_PERMIT_A_RDONLY,		/* u8: 1 read-only, 0 read-write */

	__XPMEM_PERMIT_A_MAX,
	XPMEM_PERMIT_A_MAX = __XPMEM_PERMIT_A_MAX - 1
};

/* XPMEM_CMD_GET_ATTACHMENTS replies. */
enum xpmem_att_attr {
	XPMEM_ATT_A_UNSPEC,
	XPMEM_ATT_A_PAD,
	XPMEM_ATT_A_SEGID,		/* s64: the attached segment */
	XPMEM_ATT_A_ATTACH_ID,		/* u64: same for every range of one
					 * ATTACH, unique among live ones */
	XPMEM_ATT_A_PID,		/* u32: the attacher's tgid (reader's
					 * pid namespace), 0 if unknown */
	XPMEM_ATT_A_UID,		/* u32: the attacher's effective uid */
	XPMEM_ATT_A_START,		/* u64: attacher range [START, END) */
	XPMEM_ATT_A_END,		/* u64 */
	XPMEM_ATT_A_SRC,		/* u64: source address of START */
	XPMEM_ATT_A_RDONLY,		/* u8 */
	XPMEM_ATT_A_PAGES_MAPPED,	/* u64: pages mapped in the range */
	XPMEM_ATT_A_PMDS_MAPPED,	/* u64: of those, PMD mappings */

	__XPMEM_ATT_A_MAX,
	XPMEM_ATT_A_MAX = __XPMEM_ATT_A_MAX - 1
};

/* Partition states; SUSPECT: heartbeats late, FENCED: cut off. */
enum xpmem_part_state {
	XPMEM_PART_UNKNOWN,
	XPMEM_PART_JOINING,
	XPMEM_PART_UP,
	XPMEM_PART_SUSPECT,
	XPMEM_PART_FENCED,
	XPMEM_PART_DOWN,
};

/* Why a partition was last fenced. */
enum xpmem_fence_reason {
	XPMEM_FENCE_NONE,		/* never fenced */
	XPMEM_FENCE_HEARTBEAT,		/* heartbeats stopped */
	XPMEM_FENCE_TIMEOUT,		/* a request outlived its deadline */
	XPMEM_FENCE_PROTOCOL,		/* malformed or out-of-epoch traffic */
	XPMEM_FENCE_ADMIN,		/* asked for by an administrator */
	XPMEM_FENCE_SELF_STALE,		/* fenced itself: its epoch was stale */
	XPMEM_FENCE_SELF_STALLED,	/* fenced itself: it had not run */
	XPMEM_FENCE_REJOINED,		/* came back under a new epoch */
	XPMEM_FENCE_DISCONNECT,		/* the fabric reported it gone */
};

/* How our wake-ups reach a partition now (its own row: how it is woken). */
enum xpmem_part_doorbell {
	XPMEM_DOORBELL_POLL,		/* none: its rescan finds our messages */
	XPMEM_DOORBELL_MSIX,		/* the fabric's MSI-X doorbell device */
	XPMEM_DOORBELL_RDMA,		/* SEND_WITH_IMM on an RC queue pair */
};

/* XPMEM_CMD_GET_PARTITIONS replies, QUARANTINE_RELEASE and events. */
enum xpmem_part_attr {
	XPMEM_PART_A_UNSPEC,
	XPMEM_PART_A_PAD,
	XPMEM_PART_A_ID,		/* u32 */
	XPMEM_PART_A_SELF,		/* u8: 1 for this partition */
	XPMEM_PART_A_STATE,		/* u32: enum xpmem_part_state */
	XPMEM_PART_A_EPOCH,		/* u64: bumped at every rejoin */
	XPMEM_PART_A_HB_AGE_MS,		/* u64: since its last heartbeat */
	XPMEM_PART_A_INFLIGHT,		/* u32: our requests awaiting it */
	XPMEM_PART_A_QUARANTINED_PAGES,	/* u64: pages held back for it */
	XPMEM_PART_A_LAST_FENCE_REASON,	/* u32: enum xpmem_fence_reason */
	XPMEM_PART_A_LAST_FENCE_TIME_NS,/* u64: CLOCK_BOOTTIME; 0: never */
	XPMEM_PART_A_DOORBELL,		/* u32: enum xpmem_part_doorbell (a fabric only) */

	__XPMEM_PART_A_MAX,
	XPMEM_PART_A_MAX = __XPMEM_PART_A_MAX - 1
};

/* Reasons a message from a peer partition is dropped. */
enum xpmem_drop_reason {
	XPMEM_DROP_MALFORMED,		/* bad length, type or checksum */
	XPMEM_DROP_STALE_EPOCH,		/* from an earlier life of the peer */
	XPMEM_DROP_UNKNOWN_PARTITION,	/* from no partition we know */
	XPMEM_DROP_FENCED,		/* from a fenced partition */
	XPMEM_DROP_QUEUE_FULL,		/* no room to take it */

	__XPMEM_DROP_MAX
};

/* Attribute number of a drop reason in XPMEM_CTR_A_DROPPED (1 is padding). */
#define XPMEM_DROP_ATTR(reason)	((reason) + 2)

/* XPMEM_CMD_GET_COUNTERS reply; every counter is a u64. */
enum xpmem_ctr_attr {
	XPMEM_CTR_A_UNSPEC,
	XPMEM_CTR_A_PAD,
	/* live objects */
	XPMEM_CTR_A_CONTEXTS,
	XPMEM_CTR_A_SEGMENTS,
	XPMEM_CTR_A_PERMITS,
	XPMEM_CTR_A_ATTACHMENTS,
	XPMEM_CTR_A_PINNED_PAGES,
	/* events since load */
	XPMEM_CTR_A_FAULTS,
	XPMEM_CTR_A_PAGES_MAPPED,
	XPMEM_CTR_A_PMDS_MAPPED,
	XPMEM_CTR_A_FAULT_RETRIES,
	XPMEM_CTR_A_SIGBUS,
	XPMEM_CTR_A_INVALIDATIONS,	/* local shootdowns */
	XPMEM_CTR_A_INVALIDATIONS_REFUSED,
	/* remote traffic: 0 until the fabric exists */
	XPMEM_CTR_A_REMOTE_FAULTS,
	XPMEM_CTR_A_REMOTE_INVALIDATIONS,
	XPMEM_CTR_A_TIMEOUTS,
	XPMEM_CTR_A_DOORBELLS_SENT,
	XPMEM_CTR_A_DOORBELLS_RECEIVED,
	XPMEM_CTR_A_DROPPED,		/* nest: attribute
					 * XPMEM_DROP_ATTR(reason) is the u64
					 * count of that drop reason */
	/* a gauge: INVALIDATEs from peers being handled here (taken by an
	 * invalidation thread, not yet completed): tests confirm with it that
	 * a partition they kill is in the middle of an invalidation */
	XPMEM_CTR_A_INVALIDATES_IN_SERVICE,
	/* FAULTs from peers the fault service left unanswered after a
	 * quarter of fault_ms (a page under I/O): the requester re-posts.
	 * Not counted in TIMEOUTS, which are deadlines missed. */
	XPMEM_CTR_A_FAULTS_DEFERRED,

	__XPMEM_CTR_A_MAX,
	XPMEM_CTR_A_MAX = __XPMEM_CTR_A_MAX - 1
};

/* Latency histograms. */
enum xpmem_hist_id {
	XPMEM_HIST_FAULT,		/* attachment fault, entry to return */
	XPMEM_HIST_LOCAL_SHOOTDOWN,	/* zapping all attachers of a range */
	XPMEM_HIST_REMOTE_SHOOTDOWN,	/* until every peer acknowledged */

	__XPMEM_HIST_MAX
};

/* XPMEM_CMD_GET_HISTOGRAMS replies. */
enum xpmem_hist_attr {
	XPMEM_HIST_A_UNSPEC,
	XPMEM_HIST_A_PAD,
	XPMEM_HIST_A_ID,		/* u32: enum xpmem_hist_id */
	XPMEM_HIST_A_NAME,		/* string: "fault", "local_shootdown",
					 * "remote_shootdown" */
	XPMEM_HIST_A_COUNT,		/* u64 */
	XPMEM_HIST_A_SUM_NS,		/* u64 */
	XPMEM_HIST_A_BUCKETS,		/* nest of XPMEM_BUCKET_A_BUCKET */

	__XPMEM_HIST_A_MAX,
	XPMEM_HIST_A_MAX = __XPMEM_HIST_A_MAX - 1
};

enum xpmem_bucket_attr {
	XPMEM_BUCKET_A_UNSPEC,
	XPMEM_BUCKET_A_PAD,
	XPMEM_BUCKET_A_BUCKET,		/* nest of the two below */
	XPMEM_BUCKET_A_LE_NS,		/* u64 */
	XPMEM_BUCKET_A_COUNT,		/* u64 */

	__XPMEM_BUCKET_A_MAX,
	XPMEM_BUCKET_A_MAX = __XPMEM_BUCKET_A_MAX - 1
};

/* What a tunable is. */
enum xpmem_tun_kind {
	XPMEM_TUN_TUNABLE,		/* a setting of normal operation */
	XPMEM_TUN_INJECTION,		/* a fault-injection point; 0 is off */
};

/* XPMEM_CMD_GET_TUNABLES replies. */
enum xpmem_tun_attr {
	XPMEM_TUN_A_UNSPEC,
	XPMEM_TUN_A_PAD,
	XPMEM_TUN_A_NAME,		/* string */
	XPMEM_TUN_A_KIND,		/* u32: enum xpmem_tun_kind */
	XPMEM_TUN_A_VALUE,		/* u64 */
	XPMEM_TUN_A_MIN,		/* u64 */
	XPMEM_TUN_A_MAX,		/* u64 */
	XPMEM_TUN_A_DESCRIPTION,	/* string */

	__XPMEM_TUN_A_MAX,
	XPMEM_TUN_A_MAX_ATTR = __XPMEM_TUN_A_MAX - 1
};

#endif /* _UAPI_XPMEM_NETLINK_H */
