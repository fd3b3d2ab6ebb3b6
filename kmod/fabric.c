// SPDX-License-Identifier: GPL-2.0-only
/*
 * fabric.c - binds the fabric's devices.
 *
 * The lab's fabric is QEMU ivshmem (PCI 1af4:1110, revision 1).  Two kinds
 * look alike on the bus and are told apart by their capabilities:
 *
 *   doorbell device  has MSI-X.  BAR0: registers (IVPosition = our partition
 *                    id, Doorbell = "peer << 16 | vector" rings a peer);
 *                    BAR2: the control region shared by every partition.
 *                    One per partition; its interrupts are doorbells.
 *   plain device     no interrupts.  BAR2: one peer's RAM.  Which peer is not
 *                    told by the slot order: the partition layer identifies
 *                    it from what the owner publishes, so here windows are
 *                    only numbered in probe order.
 *
 * With no doorbell device the module is exactly the single-kernel XPMEM.
 *
 * Everything read from the device (the id register, BAR sizes) is checked
 * before use; the control region's content is the transport's to validate.
 * Devices are managed (pcim_/devm_), so probe errors and removal unwind in
 * reverse order by construction.
 *
 * Each device also shows a few sysfs attributes (xpmem_role, xpmem_self_id,
 * xpmem_doorbells, and a root-only xpmem_ring to send a doorbell; a window
 * its index, xpmem_window) so that the lab can check the wiring without the
 * partition layer.
 */
#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/spinlock.h>

#include "fabric.h"

#define IVSHMEM_VENDOR		0x1af4
#define IVSHMEM_DEVICE		0x1110
#define IVSHMEM_REG_INTRMASK	0x00
#define IVSHMEM_REG_IVPOSITION	0x08
#define IVSHMEM_REG_DOORBELL	0x0c
#define IVSHMEM_REGS_SIZE	0x10
#define FABRIC_MAX_WINDOWS	XPMEM_FABRIC_MAX_PARTITIONS

struct doorbell_dev {
	struct pci_dev *pdev;
	void __iomem *regs;
	void *control;
	size_t control_size;
	int self_id;
	unsigned int nvectors;
	/*
	 * The Linux IRQ of each vector, looked up at probe: pci_irq_vector()
	 * takes the MSI descriptors' mutex, which the interrupt handler,
	 * where it must tell the vectors apart, may not.
	 */
	int irqs[XPMEM_FABRIC_MAX_PARTITIONS];
	atomic64_t received;
	atomic64_t sent;
};

static struct {
	struct mutex lock;		/* binding and unbinding */
	struct doorbell_dev *doorbell;	/* NULL: no fabric */
	struct xpmem_fabric_window windows[FABRIC_MAX_WINDOWS];
	struct pci_dev *window_pdev[FABRIC_MAX_WINDOWS];
	void *window_virt[FABRIC_MAX_WINDOWS];	/* mapped at probe, or NULL */
	/*
	 * The window's device is being removed: the slot stays taken (no new
	 * device gets its index) but the window is no longer given out, while
	 * the partition layer drops every mapping of it.
	 */
	bool window_going[FABRIC_MAX_WINDOWS];
	spinlock_t handler_lock;	/* the doorbell handler and its data */
	xpmem_doorbell_fn handler;
	void *handler_data;
	const struct xpmem_fabric_hooks *hooks;	/* under lock */
} fabric;

bool xpmem_fabric_present(void)
{
	return READ_ONCE(fabric.doorbell) != NULL;
}

int xpmem_fabric_self_id(void)
{
	struct doorbell_dev *db = READ_ONCE(fabric.doorbell);

	return db ? db->self_id : 0;
}

void *xpmem_fabric_control_region(size_t *size)
{
	struct doorbell_dev *db = READ_ONCE(fabric.doorbell);

	*size = db ? db->control_size : 0;
	return db ? db->control : NULL;
}

int xpmem_fabric_ring(unsigned int peer, unsigned int vector)
{
	struct doorbell_dev *db = READ_ONCE(fabric.doorbell);

	if (!db)
		return -ENODEV;
	if (peer >= XPMEM_FABRIC_MAX_PARTITIONS || vector > 0xff)
		return -EINVAL;
	iowrite32(peer << 16 | vector, db->regs + IVSHMEM_REG_DOORBELL);
	atomic64_inc(&db->sent);
	return 0;
}

void xpmem_fabric_set_hooks(const struct xpmem_fabric_hooks *hooks)
{
	mutex_lock(&fabric.lock);
	fabric.hooks = hooks;
	mutex_unlock(&fabric.lock);
}

/*
 * The hooks are called without fabric.lock (the partition layer takes it
 * under its own mutex: part.lock -> fabric.lock); they are the module's own
 * functions and check under their own mutex whether there is anything to do.
 */
static const struct xpmem_fabric_hooks *fabric_hooks(void)
{
	const struct xpmem_fabric_hooks *hooks;

	mutex_lock(&fabric.lock);
	hooks = fabric.hooks;
	mutex_unlock(&fabric.lock);
	return hooks;
}

void xpmem_fabric_set_doorbell_handler(xpmem_doorbell_fn fn, void *data)
{
	spin_lock_irq(&fabric.handler_lock);
	fabric.handler = fn;
	fabric.handler_data = data;
	spin_unlock_irq(&fabric.handler_lock);
}

int xpmem_fabric_window(unsigned int index, struct xpmem_fabric_window *w)
{
	int err = -ENOENT;

	if (index >= FABRIC_MAX_WINDOWS)
		return -EINVAL;
	mutex_lock(&fabric.lock);
	if (fabric.window_pdev[index] && !fabric.window_going[index]) {
		*w = fabric.windows[index];
		err = 0;
	}
	mutex_unlock(&fabric.lock);
	return err;
}

int xpmem_fabric_window_read(unsigned int index, u64 offset, void *buf,
			     size_t len)
{
	int err = -ENOENT;

	if (index >= FABRIC_MAX_WINDOWS)
		return -EINVAL;
	mutex_lock(&fabric.lock);
	if (!fabric.window_pdev[index] || fabric.window_going[index]) {
		err = -ENOENT;
	} else if (offset > fabric.windows[index].size ||
		   len > fabric.windows[index].size - offset) {
		err = -ERANGE;
	} else if (!fabric.window_virt[index]) {
		err = -ENXIO;
	} else {
		memcpy(buf, fabric.window_virt[index] + offset, len);
		err = 0;
	}
	mutex_unlock(&fabric.lock);
	return err;
}

static irqreturn_t doorbell_irq(int irq, void *data)
{
	struct doorbell_dev *db = data;
	unsigned int vector;

	for (vector = 0; vector < db->nvectors; vector++)
		if (db->irqs[vector] == irq)
			break;
	atomic64_inc(&db->received);

	spin_lock(&fabric.handler_lock);
	if (fabric.handler)
		fabric.handler(vector, fabric.handler_data);
	spin_unlock(&fabric.handler_lock);
	return IRQ_HANDLED;
}

/* ---- sysfs: what the lab checks ----------------------------------------- */

static ssize_t xpmem_role_show(struct device *dev, struct device_attribute *a,
			       char *buf)
{
	struct pci_dev *pdev = to_pci_dev(dev);

	return sysfs_emit(buf, "%s\n", pdev->msix_cap ? "doorbell" : "window");
}
static DEVICE_ATTR_RO(xpmem_role);

static ssize_t xpmem_self_id_show(struct device *dev,
				  struct device_attribute *a, char *buf)
{
	struct doorbell_dev *db = dev_get_drvdata(dev);

	return db ? sysfs_emit(buf, "%d\n", db->self_id) : -ENODEV;
}
static DEVICE_ATTR_RO(xpmem_self_id);

static ssize_t xpmem_doorbells_show(struct device *dev,
				    struct device_attribute *a, char *buf)
{
	struct doorbell_dev *db = dev_get_drvdata(dev);

	if (!db)
		return -ENODEV;
	return sysfs_emit(buf, "received %lld sent %lld\n",
			  atomic64_read(&db->received), atomic64_read(&db->sent));
}
static DEVICE_ATTR_RO(xpmem_doorbells);

/* "PEER VECTOR": rings PEER's VECTOR.  Root only (mode 0200). */
static ssize_t xpmem_ring_store(struct device *dev, struct device_attribute *a,
				const char *buf, size_t count)
{
	unsigned int peer, vector;
	int err;

	if (sscanf(buf, "%u %u", &peer, &vector) != 2)
		return -EINVAL;
	err = xpmem_fabric_ring(peer, vector);
	return err ? err : count;
}
static DEVICE_ATTR_WO(xpmem_ring);

static struct attribute *doorbell_attrs[] = {
	&dev_attr_xpmem_role.attr,
	&dev_attr_xpmem_self_id.attr,
	&dev_attr_xpmem_doorbells.attr,
	&dev_attr_xpmem_ring.attr,
	NULL,
};
ATTRIBUTE_GROUPS(doorbell);

/* The window's index, as the partitions view's window column shows it. */
static ssize_t xpmem_window_show(struct device *dev, struct device_attribute *a,
				 char *buf)
{
	struct pci_dev *pdev = to_pci_dev(dev);
	int i, index = -1;

	mutex_lock(&fabric.lock);
	for (i = 0; i < FABRIC_MAX_WINDOWS; i++)
		if (fabric.window_pdev[i] == pdev && !fabric.window_going[i])
			index = i;
	mutex_unlock(&fabric.lock);
	return index < 0 ? -ENODEV : sysfs_emit(buf, "%d\n", index);
}
static DEVICE_ATTR_RO(xpmem_window);

static struct attribute *window_attrs[] = {
	&dev_attr_xpmem_role.attr,
	&dev_attr_xpmem_window.attr,
	NULL,
};
ATTRIBUTE_GROUPS(window);

/* ---- probe and remove ---------------------------------------------------- */

static int probe_doorbell(struct pci_dev *pdev, void __iomem *regs)
{
	const struct xpmem_fabric_hooks *hooks;
	struct doorbell_dev *db;
	resource_size_t start = pci_resource_start(pdev, 2);
	resource_size_t len = pci_resource_len(pdev, 2);
	int nvec, v, err;
	u32 pos;

	if (!len)
		return -ENODEV;
	pos = ioread32(regs + IVSHMEM_REG_IVPOSITION);
	if (pos >= XPMEM_FABRIC_MAX_PARTITIONS) {
		dev_err(&pdev->dev, "partition id %u out of range (max %d)\n",
			pos, XPMEM_FABRIC_MAX_PARTITIONS - 1);
		return -ERANGE;
	}

	db = devm_kzalloc(&pdev->dev, sizeof(*db), GFP_KERNEL);
	if (!db)
		return -ENOMEM;
	db->pdev = pdev;
	db->regs = regs;
	db->self_id = pos;
	db->control_size = len;
	db->control = devm_memremap(&pdev->dev, start, len, MEMREMAP_WB);
	if (IS_ERR(db->control))
		return PTR_ERR(db->control);

	/* An MSI-X doorbell is a write the device masters: without it, lost. */
	pci_set_master(pdev);
	nvec = pci_alloc_irq_vectors(pdev, 1, XPMEM_FABRIC_MAX_PARTITIONS,
				     PCI_IRQ_MSIX);
	if (nvec < 0)
		return nvec;
	db->nvectors = nvec;
	for (v = 0; v < nvec; v++)
		db->irqs[v] = pci_irq_vector(pdev, v);
	for (v = 0; v < nvec; v++) {
		err = devm_request_irq(&pdev->dev, db->irqs[v],
				       doorbell_irq, 0, "xpmem-doorbell", db);
		if (err)
			goto err_free_vectors;
	}
	iowrite32(0xffffffff, regs + IVSHMEM_REG_INTRMASK);

	mutex_lock(&fabric.lock);
	if (fabric.doorbell) {
		mutex_unlock(&fabric.lock);
		dev_err(&pdev->dev, "a second doorbell device: ignored\n");
		err = -EBUSY;
		goto err_free_vectors;
	}
	pci_set_drvdata(pdev, db);
	WRITE_ONCE(fabric.doorbell, db);
	mutex_unlock(&fabric.lock);

	dev_info(&pdev->dev, "partition %d, control region %pa bytes, %d doorbell vectors\n",
		 db->self_id, &len, nvec);
	hooks = fabric_hooks();
	if (hooks)
		hooks->bound();		/* bound again after an unbind */
	return 0;

err_free_vectors:
	/* devm releases the IRQs before the vectors go: free them first. */
	while (--v >= 0)
		devm_free_irq(&pdev->dev, db->irqs[v], db);
	pci_free_irq_vectors(pdev);
	return err;
}

static int probe_window(struct pci_dev *pdev)
{
	resource_size_t len = pci_resource_len(pdev, 2);
	int i, err = -ENOSPC;
	void *virt;

	if (!len)
		return -ENODEV;
	/*
	 * Reserving the window write-back (it is RAM on the other side) makes
	 * the attachments that map its frames cacheable too: PFN mappings
	 * take the memory type of the range they fall in, uncached when none
	 * was reserved.  The mapping is kept: the partition layer reads a
	 * peer's tag through it under its mutex, where nothing may allocate.
	 */
	virt = devm_memremap(&pdev->dev, pci_resource_start(pdev, 2), len,
			     MEMREMAP_WB);
	if (IS_ERR(virt)) {
		dev_warn(&pdev->dev, "peer window stays uncached\n");
		virt = NULL;
	}
	mutex_lock(&fabric.lock);
	for (i = 0; i < FABRIC_MAX_WINDOWS; i++) {
		if (fabric.window_pdev[i])
			continue;
		fabric.window_pdev[i] = pdev;
		fabric.window_virt[i] = virt;
		fabric.windows[i].phys = pci_resource_start(pdev, 2);
		fabric.windows[i].size = len;
		err = 0;
		break;
	}
	mutex_unlock(&fabric.lock);
	if (!err)
		dev_info(&pdev->dev, "peer window %d: %pa bytes\n", i, &len);
	return err;
}

static int fabric_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	void __iomem *regs;
	int err;

	err = pcim_enable_device(pdev);
	if (err)
		return err;
	if (pci_resource_len(pdev, 0) < IVSHMEM_REGS_SIZE)
		return -ENODEV;
	err = pcim_iomap_regions(pdev, BIT(0), "xpmem");
	if (err)
		return err;
	regs = pcim_iomap_table(pdev)[0];

	if (pdev->msix_cap) {
		err = probe_doorbell(pdev, regs);
		if (!err)
			err = devm_device_add_groups(&pdev->dev, doorbell_groups);
	} else {
		err = probe_window(pdev);
		if (!err)
			err = devm_device_add_groups(&pdev->dev, window_groups);
	}
	return err;
}

/*
 * A window's device goes: its BAR (peer RAM that our attachers may map) is
 * released when remove returns.  The window is withdrawn first (no new
 * translation through it, its index not reused), then the partition layer
 * drops every mapping of it and fails what was in flight through it, then
 * the slot is freed.
 */
static void remove_window(struct pci_dev *pdev)
{
	const struct xpmem_fabric_hooks *hooks;
	int i, index = -1;

	mutex_lock(&fabric.lock);
	for (i = 0; i < FABRIC_MAX_WINDOWS; i++)
		if (fabric.window_pdev[i] == pdev) {
			fabric.window_going[i] = true;
			index = i;
		}
	mutex_unlock(&fabric.lock);
	if (index < 0)
		return;
	hooks = fabric_hooks();
	if (hooks && hooks->window_gone)
		hooks->window_gone(index);
	mutex_lock(&fabric.lock);
	fabric.window_pdev[index] = NULL;
	fabric.window_virt[index] = NULL;
	fabric.window_going[index] = false;
	mutex_unlock(&fabric.lock);
	dev_info(&pdev->dev, "peer window %d removed\n", index);
}

static void fabric_remove(struct pci_dev *pdev)
{
	struct doorbell_dev *db = pci_get_drvdata(pdev);
	const struct xpmem_fabric_hooks *hooks;
	bool bound;
	int v;

	if (!db) {
		remove_window(pdev);
		return;
	}
	/*
	 * The control region and the registers stay mapped until this
	 * returns (devm): the partition layer quiesces and leaves first.
	 */
	if (READ_ONCE(fabric.doorbell) == db) {
		hooks = fabric_hooks();
		if (hooks)
			hooks->unbinding();
	}
	mutex_lock(&fabric.lock);
	bound = fabric.doorbell == db;
	if (bound) {
		WRITE_ONCE(fabric.doorbell, NULL);
		iowrite32(0, db->regs + IVSHMEM_REG_INTRMASK);
	}
	mutex_unlock(&fabric.lock);
	/*
	 * The vectors go after fabric.lock is dropped: freeing them takes the
	 * MSI descriptors' mutex, under which the PCI core allocates;
	 * reclaim can enter our notifier, which takes the fabric mutex, and
	 * the rescan takes fabric.lock under that mutex (a cycle lockdep
	 * reported at rmmod).  Only this device's remove frees them, and the
	 * device core serialises it.
	 */
	if (bound) {
		for (v = 0; v < db->nvectors; v++)
			devm_free_irq(&pdev->dev, db->irqs[v], db);
		pci_free_irq_vectors(pdev);
	}
}

static const struct pci_device_id fabric_ids[] = {
	{ PCI_DEVICE(IVSHMEM_VENDOR, IVSHMEM_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, fabric_ids);

static struct pci_driver fabric_driver = {
	.name = "xpmem-fabric",
	.id_table = fabric_ids,
	.probe = fabric_probe,
	.remove = fabric_remove,
};

int xpmem_fabric_init(void)
{
	mutex_init(&fabric.lock);
	spin_lock_init(&fabric.handler_lock);
	return pci_register_driver(&fabric_driver);
}

void xpmem_fabric_exit(void)
{
	pci_unregister_driver(&fabric_driver);
}
