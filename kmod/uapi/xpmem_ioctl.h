/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * xpmem_ioctl.h - the /dev/xpmem ioctl ABI, shared by xpmem.ko, libxpmem and
 * the tests.
 *
 * Upstream commands (0x7800..0x7808) are _IO('x', n): no size or direction is
 * encoded, and their argument layouts are fixed byte for byte on x86_64 (see
 * docs/abi.md).  They never change.  The kernel copies each argument in,
 * performs the operation, writes results back, and undoes the operation if
 * that write faults.
 *
 * Extensions live at 'x' 0x80 and above, are sized _IOWR numbers, and begin
 * with a u32 size field so that they can grow: the kernel matches them by
 * type and number only (the size encoded in the number may be any release's),
 * accepts any size field >= the first released size and fills only what the
 * caller has room for.
 */
#ifndef XPMEM_IOCTL_H
#define XPMEM_IOCTL_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define XPMEM_DEV_NAME "xpmem"

/* Version reported by XPMEM_CMD_VERSION: 0x00MMmmmm. */
#define XPMEM_ABI_VERSION 0x00030000

#define XPMEM_CMD_VERSION    _IO('x', 0)
#define XPMEM_CMD_MAKE       _IO('x', 1)
#define XPMEM_CMD_REMOVE     _IO('x', 2)
#define XPMEM_CMD_GET        _IO('x', 3)
#define XPMEM_CMD_RELEASE    _IO('x', 4)
#define XPMEM_CMD_ATTACH     _IO('x', 5)
#define XPMEM_CMD_DETACH     _IO('x', 6)
#define XPMEM_CMD_FORK_BEGIN _IO('x', 7)
#define XPMEM_CMD_FORK_END   _IO('x', 8)

/* errno of any command issued by a process that has no XPMEM context. */
#define XPMEM_ERRNO_NOPROC 2004

/* Flags of GET. */
#define XPMEM_IOC_RDONLY 0x1
#define XPMEM_IOC_RDWR   0x2
/* The only permit type. */
#define XPMEM_IOC_PERMIT_MODE 0x1

/* Segment ids: bit 63 clear (ids are positive), bits 62..48 the owner's
 * partition id, bits 47..0 random and unique in the owner's boot. */
#define XPMEM_SEGID_PART_SHIFT 48
#define XPMEM_SEGID_PART_BITS  15
#define XPMEM_SEGID_PART_MASK  ((1ULL << XPMEM_SEGID_PART_BITS) - 1)
#define XPMEM_SEGID_PARTITION(segid) \
	(((__u64)(segid) >> XPMEM_SEGID_PART_SHIFT) & XPMEM_SEGID_PART_MASK)

struct xpmem_cmd_make {		/* 40 bytes */
	__u64 vaddr;
	__u64 size;
	__s32 permit_type;
	__u32 __pad0;
	__u64 permit_value;
	__s64 segid;		/* out */
};

struct xpmem_cmd_remove {	/* 8 bytes */
	__s64 segid;
};

struct xpmem_cmd_get {		/* 32 bytes */
	__s64 segid;
	__s32 flags;
	__s32 permit_type;
	__u64 permit_value;
	__s64 apid;		/* out */
};

struct xpmem_cmd_release {	/* 8 bytes */
	__s64 apid;
};

struct xpmem_cmd_attach {	/* 40 bytes */
	__s64 apid;
	__s64 offset;
	__u64 size;
	__u64 vaddr;		/* in: wanted address or 0; out: mapped address */
	__s32 fd;
	__s32 flags;		/* MAP_FIXED honoured; other bits ignored */
};

struct xpmem_cmd_detach {	/* 8 bytes */
	__u64 vaddr;
};

/*
 * XPMEM_IOC_STATS: module-wide object and page counters.  Tests use them to
 * prove that nothing is leaked; xpmemctl shows them.  Any process may read
 * them.  `size` is in/out: the caller's buffer size in, the bytes filled out.
 */
struct xpmem_stats {
	__u32 size;
	__u32 __pad0;
	/* objects alive now */
	__u64 contexts;
	__u64 segments;
	__u64 permits;
	__u64 attachments;
	/* pages pinned now (remote pins; local attachments pin nothing) */
	__u64 pinned_pages;
	/* monotonic event counts */
	__u64 faults;		/* attachment faults serviced */
	__u64 pages_mapped;	/* PTEs installed */
	__u64 pmds_mapped;	/* PMD mappings installed */
	__u64 fault_retries;	/* lookups redone after a racing invalidation */
	__u64 sigbus;		/* faults answered with SIGBUS */
	__u64 invalidations;	/* notifier invalidations that zapped attachments */
	__u64 invalidations_refused; /* non-blockable ones refused */
};
#define XPMEM_STATS_SIZE_V1 104	/* the first released size, forever */
#define XPMEM_IOC_STATS_NR 0x80
#define XPMEM_IOC_STATS _IOWR('x', XPMEM_IOC_STATS_NR, struct xpmem_stats)

#endif /* XPMEM_IOCTL_H */
