/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xpmem_trace.h - tracepoints of xpmem.ko (events/xpmem/ in tracefs; usable
 * from perf and trace-cmd as xpmem:<name>).
 *
 * Local events fire now: xpmem_fault and xpmem_fault_install (attachment
 * faults), xpmem_invalidate_start/end (zapping the attachers of a source
 * range).  The cross-partition events (remote invalidate, doorbell,
 * timeout, fence, quarantine) are declared so that tools can be written
 * against them; they fire once the partition fabric exists.
 *
 * A fault may install pages in several rounds (it looks pages up again when
 * an invalidation races with it), so the pages one fault mapped are the sum
 * of the xpmem_fault_install events between its start and its xpmem_fault.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM xpmem

#if !defined(XPMEM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define XPMEM_TRACE_H

#include <linux/tracepoint.h>
#include <linux/types.h>

/* One attachment fault from entry to return; result is its vm_fault_t. */
TRACE_EVENT(xpmem_fault,
	TP_PROTO(unsigned long addr, unsigned long src, unsigned int result,
		 u64 ns),
	TP_ARGS(addr, src, result, ns),
	TP_STRUCT__entry(
		__field(unsigned long, addr)
		__field(unsigned long, src)
		__field(unsigned int, result)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->addr = addr;
		__entry->src = src;
		__entry->result = result;
		__entry->ns = ns;
	),
	TP_printk("addr=0x%lx src=0x%lx result=0x%x ns=%llu",
		  __entry->addr, __entry->src, __entry->result, __entry->ns)
);

/* PFNs installed by a fault: pages at addr (source src), one PMD or PTEs. */
TRACE_EVENT(xpmem_fault_install,
	TP_PROTO(unsigned long addr, unsigned long src, unsigned long pages,
		 bool pmd),
	TP_ARGS(addr, src, pages, pmd),
	TP_STRUCT__entry(
		__field(unsigned long, addr)
		__field(unsigned long, src)
		__field(unsigned long, pages)
		__field(bool, pmd)
	),
	TP_fast_assign(
		__entry->addr = addr;
		__entry->src = src;
		__entry->pages = pages;
		__entry->pmd = pmd;
	),
	TP_printk("addr=0x%lx src=0x%lx pages=%lu pmd=%d",
		  __entry->addr, __entry->src, __entry->pages, __entry->pmd)
);

/* Zapping every local attacher of source range [start, end) of a segment. */
TRACE_EVENT(xpmem_invalidate_start,
	TP_PROTO(s64 segid, unsigned long start, unsigned long end),
	TP_ARGS(segid, start, end),
	TP_STRUCT__entry(
		__field(s64, segid)
		__field(unsigned long, start)
		__field(unsigned long, end)
	),
	TP_fast_assign(
		__entry->segid = segid;
		__entry->start = start;
		__entry->end = end;
	),
	TP_printk("segid=0x%llx start=0x%lx end=0x%lx",
		  __entry->segid, __entry->start, __entry->end)
);

TRACE_EVENT(xpmem_invalidate_end,
	TP_PROTO(s64 segid, unsigned long start, unsigned long end, u64 ns),
	TP_ARGS(segid, start, end, ns),
	TP_STRUCT__entry(
		__field(s64, segid)
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->segid = segid;
		__entry->start = start;
		__entry->end = end;
		__entry->ns = ns;
	),
	TP_printk("segid=0x%llx start=0x%lx end=0x%lx ns=%llu",
		  __entry->segid, __entry->start, __entry->end, __entry->ns)
);

/* Asking peer partition `partition` to zap its attachers of a range. */
TRACE_EVENT(xpmem_remote_invalidate_start,
	TP_PROTO(u32 partition, s64 segid, unsigned long start,
		 unsigned long end),
	TP_ARGS(partition, segid, start, end),
	TP_STRUCT__entry(
		__field(u32, partition)
		__field(s64, segid)
		__field(unsigned long, start)
		__field(unsigned long, end)
	),
	TP_fast_assign(
		__entry->partition = partition;
		__entry->segid = segid;
		__entry->start = start;
		__entry->end = end;
	),
	TP_printk("partition=%u segid=0x%llx start=0x%lx end=0x%lx",
		  __entry->partition, __entry->segid, __entry->start,
		  __entry->end)
);

/* The peer acknowledged (err 0) or the request failed (-errno). */
TRACE_EVENT(xpmem_remote_invalidate_end,
	TP_PROTO(u32 partition, s64 segid, unsigned long start,
		 unsigned long end, u64 ns, int err),
	TP_ARGS(partition, segid, start, end, ns, err),
	TP_STRUCT__entry(
		__field(u32, partition)
		__field(s64, segid)
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(u64, ns)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->partition = partition;
		__entry->segid = segid;
		__entry->start = start;
		__entry->end = end;
		__entry->ns = ns;
		__entry->err = err;
	),
	TP_printk("partition=%u segid=0x%llx start=0x%lx end=0x%lx ns=%llu err=%d",
		  __entry->partition, __entry->segid, __entry->start,
		  __entry->end, __entry->ns, __entry->err)
);

DECLARE_EVENT_CLASS(xpmem_doorbell,
	TP_PROTO(u32 partition, u64 seq),
	TP_ARGS(partition, seq),
	TP_STRUCT__entry(
		__field(u32, partition)
		__field(u64, seq)
	),
	TP_fast_assign(
		__entry->partition = partition;
		__entry->seq = seq;
	),
	TP_printk("partition=%u seq=%llu", __entry->partition, __entry->seq)
);

DEFINE_EVENT(xpmem_doorbell, xpmem_doorbell_sent,
	TP_PROTO(u32 partition, u64 seq),
	TP_ARGS(partition, seq));

DEFINE_EVENT(xpmem_doorbell, xpmem_doorbell_received,
	TP_PROTO(u32 partition, u64 seq),
	TP_ARGS(partition, seq));

/* A request to a peer outlived its deadline. */
TRACE_EVENT(xpmem_timeout,
	TP_PROTO(u32 partition, u32 request, u64 waited_ns),
	TP_ARGS(partition, request, waited_ns),
	TP_STRUCT__entry(
		__field(u32, partition)
		__field(u32, request)
		__field(u64, waited_ns)
	),
	TP_fast_assign(
		__entry->partition = partition;
		__entry->request = request;
		__entry->waited_ns = waited_ns;
	),
	TP_printk("partition=%u request=%u waited_ns=%llu",
		  __entry->partition, __entry->request, __entry->waited_ns)
);

/* A peer was fenced; reason is enum xpmem_fence_reason. */
TRACE_EVENT(xpmem_fence,
	TP_PROTO(u32 partition, u64 epoch, u32 reason),
	TP_ARGS(partition, epoch, reason),
	TP_STRUCT__entry(
		__field(u32, partition)
		__field(u64, epoch)
		__field(u32, reason)
	),
	TP_fast_assign(
		__entry->partition = partition;
		__entry->epoch = epoch;
		__entry->reason = reason;
	),
	TP_printk("partition=%u epoch=%llu reason=%u",
		  __entry->partition, __entry->epoch, __entry->reason)
);

DECLARE_EVENT_CLASS(xpmem_quarantine,
	TP_PROTO(u32 partition, u64 pages),
	TP_ARGS(partition, pages),
	TP_STRUCT__entry(
		__field(u32, partition)
		__field(u64, pages)
	),
	TP_fast_assign(
		__entry->partition = partition;
		__entry->pages = pages;
	),
	TP_printk("partition=%u pages=%llu", __entry->partition,
		  __entry->pages)
);

/* Pages held back because a fenced peer may still map them. */
DEFINE_EVENT(xpmem_quarantine, xpmem_quarantine_add,
	TP_PROTO(u32 partition, u64 pages),
	TP_ARGS(partition, pages));

DEFINE_EVENT(xpmem_quarantine, xpmem_quarantine_release,
	TP_PROTO(u32 partition, u64 pages),
	TP_ARGS(partition, pages));

#endif /* XPMEM_TRACE_H */

/* Out of tree: define_trace.h finds this file through -I$(src). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE xpmem_trace
#include <trace/define_trace.h>
