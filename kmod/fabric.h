/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fabric.h - the partition fabric's hardware: the doorbell device (control
 * region + interrupts) and the peer memory windows.  In the lab both are
 * QEMU ivshmem devices; the rest of the module sees only this interface.
 */
#ifndef XPMEM_FABRIC_H
#define XPMEM_FABRIC_H

#include <linux/types.h>

#define XPMEM_FABRIC_MAX_PARTITIONS 64	/* ids fit the doorbell's 16 bits */

struct xpmem_fabric_window {
	phys_addr_t phys;	/* the peer's frame 0 as seen from here */
	resource_size_t size;
};

/* Called from the doorbell interrupt, once per interrupt: keep it short. */
typedef void (*xpmem_doorbell_fn)(unsigned int vector, void *data);

/*
 * The partition layer's hooks around the doorbell device, called in process
 * context by the device's remove and probe, with no lock of ours held.
 * unbinding: the device is going (PCI unbind, hot-unplug, rmmod); when it
 * returns nothing may touch the control region or ring a doorbell any more.
 * bound: a doorbell device was bound again after one went.
 * window_gone: the device of window @index is going; it is no longer given
 * out (xpmem_fabric_window says -ENOENT); when this returns nothing may map
 * its frames any more.  A window bound again is found as at load.
 */
struct xpmem_fabric_hooks {
	void (*unbinding)(void);
	void (*bound)(void);
	void (*window_gone)(unsigned int index);
};

int xpmem_fabric_init(void);
void xpmem_fabric_set_hooks(const struct xpmem_fabric_hooks *hooks);
void xpmem_fabric_exit(void);

/* True once a doorbell device is bound: this kernel is a partition. */
bool xpmem_fabric_present(void);
int xpmem_fabric_self_id(void);
void *xpmem_fabric_control_region(size_t *size);
int xpmem_fabric_ring(unsigned int peer, unsigned int vector);
void xpmem_fabric_set_doorbell_handler(xpmem_doorbell_fn fn, void *data);
int xpmem_fabric_window(unsigned int index, struct xpmem_fabric_window *w);
/*
 * Copies @len bytes at @offset of window @index into @buf through the
 * mapping made at probe: allocates nothing (the fabric mutex may be held).
 * 0, -ENOENT (no such window), -ERANGE (beyond it), -ENXIO (not mapped).
 */
int xpmem_fabric_window_read(unsigned int index, u64 offset, void *buf,
			     size_t len);

#endif /* XPMEM_FABRIC_H */
