// SPDX-License-Identifier: GPL-2.0-only
/*
 * doorbell_rdma.c - xpmem_rdma.ko: doorbells over RDMA (doorbell.h).
 *
 * One RC queue pair per peer, set up with the kernel's rdma_cm.  A doorbell
 * is a zero-length SEND_WITH_IMM whose immediate is the ringer's partition
 * id; it consumes one zero-length receive at the peer, whose completion
 * handler (softirq) only tells xpmem.ko who rang (which wakes that peer's
 * thread, as the MSI-X interrupt does) and posts the receive again.
 *
 * Addresses: partition P is reached at addr_base + P (IPv4), port port;
 * the lab puts partition P at 169.254.77.<P+1>.  Between two partitions
 * the lower id connects, the higher one listens; the connect request
 * carries a magic and the caller's id, both checked, with its source
 * address, against the map.
 *
 * Threads and contexts:
 *   - rdma_cm event handlers (process context, the CM's) only change a
 *     connection's state, create its queue pair (ROUTE_RESOLVED, and
 *     CONNECT_REQUEST for the listener) and hand accepted connections over;
 *     they take no mutex, so the manager may destroy ids under its mutex;
 *   - the manager (a delayed work, every retry_ms or when kicked) owns the
 *     peers' connections: it adopts accepted ones, tears down broken ones
 *     or those still connecting after connect_ms, and connects to every
 *     live peer above us that has none;
 *   - ring() runs under RCU in the caller's context, never sleeps: no
 *     connection up means -ENOTCONN (the caller falls back to polling).
 * Every wait is bounded: address and route resolution by connect_ms,
 * connection establishment by the manager's deadline, a send to a dead
 * peer by the queue pair's retry count (ack timeout ack_timeout).
 * Teardown never drains: the cm id goes first (its handler is then done),
 * then the queue pair, the CQ (no completion handler after it), the PD.
 */
#include <linux/inet.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>

#include "doorbell.h"

static char *addr_base = "169.254.77.1";
module_param(addr_base, charp, 0444);
MODULE_PARM_DESC(addr_base, "IPv4 address of partition 0; partition P is at addr_base + P");
static ushort port = 7471;
module_param(port, ushort, 0444);
MODULE_PARM_DESC(port, "rdma_cm port the doorbell queue pairs connect to");
static unsigned int connect_ms = 2000;
module_param(connect_ms, uint, 0644);
MODULE_PARM_DESC(connect_ms, "Bound on resolving and connecting to a peer, in ms");
static unsigned int retry_ms = 500;
module_param(retry_ms, uint, 0644);
MODULE_PARM_DESC(retry_ms, "Period of the connection manager, in ms");
static ushort ack_timeout = 14;
module_param(ack_timeout, ushort, 0444);
MODULE_PARM_DESC(ack_timeout, "Queue pair ack timeout exponent (4.096 us << n); with 3 retries, how soon a send to a dead peer fails");

#define RDB_DEPTH	64		/* sends and receives per queue pair */
#define RDB_RETRIES	3
#define RDB_MAGIC	0x78706462	/* "xpdb" */

struct rdb_hello {			/* connect request private data */
	__be32 magic;
	__be32 from;
};

enum rdb_state { RDB_CONNECTING, RDB_UP, RDB_BROKEN };

struct rdb_conn {
	struct rdma_cm_id *cm;
	struct ib_pd *pd;		/* set by the handler that made the QP */
	struct ib_cq *cq;
	struct ib_qp *qp;
	u32 peer;
	bool active;			/* we connected (else: accepted) */
	atomic_t state;			/* enum rdb_state */
	unsigned long deadline;		/* jiffies: CONNECTING until then */
	bool announced;			/* the manager logged it up */
	struct ib_cqe send_cqe, recv_cqe;
};

struct rdb_peer {
	struct rdb_conn __rcu *conn;	/* the manager's; ring() reads it */
	struct rdb_conn *incoming;	/* accepted, not adopted; incoming_lock */
	unsigned long next_try;		/* jiffies */
};

static struct {
	struct mutex lock;		/* start/stop and the manager */
	bool running;
	const struct xpmem_doorbell_host *host;
	struct rdma_cm_id *listener;
	struct rdb_peer peers[XPMEM_DB_MAX_PEERS];
	spinlock_t incoming_lock;
	struct delayed_work manage;
	__be32 base;
	atomic64_t sent, received, unsent, wrong_imm, connects, breaks;
} rdb;

static void kick_manager(void)
{
	mod_delayed_work(system_wq, &rdb.manage, 0);
}

static void conn_break(struct rdb_conn *c)
{
	if (atomic_xchg(&c->state, RDB_BROKEN) != RDB_BROKEN) {
		atomic64_inc(&rdb.breaks);
		kick_manager();
	}
}

static __be32 peer_addr(u32 peer)
{
	return htonl(ntohl(rdb.base) + peer);
}

/* ---- completions (softirq) -------------------------------------------------- */

static int post_recv(struct rdb_conn *c)
{
	struct ib_recv_wr wr = { .wr_cqe = &c->recv_cqe, .num_sge = 0 };

	return ib_post_recv(c->qp, &wr, NULL);
}

static void recv_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct rdb_conn *c = cq->cq_context;
	u32 from = XPMEM_DB_ANY_PEER;

	if (wc->status != IB_WC_SUCCESS) {
		conn_break(c);		/* flushed: the queue pair is going */
		return;
	}
	if (wc->wc_flags & IB_WC_WITH_IMM) {
		from = be32_to_cpu(wc->ex.imm_data);
		/* It must name the peer at the other end: else wake them all. */
		if (from != c->peer) {
			atomic64_inc(&rdb.wrong_imm);
			from = XPMEM_DB_ANY_PEER;
		}
	}
	atomic64_inc(&rdb.received);
	rdb.host->rang(from);
	if (post_recv(c))
		conn_break(c);
}

static void send_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct rdb_conn *c = cq->cq_context;

	if (wc->status != IB_WC_SUCCESS)
		conn_break(c);		/* retries exhausted: the peer is gone */
}

/* ---- queue pairs ------------------------------------------------------------ */

/* From a cm handler: PD, CQ, QP and the receives for @c on c->cm's device. */
static int conn_create_qp(struct rdb_conn *c)
{
	struct ib_qp_init_attr attr = { };
	struct ib_device *dev = c->cm->device;
	int i, err;

	c->pd = ib_alloc_pd(dev, 0);
	if (IS_ERR(c->pd)) {
		err = PTR_ERR(c->pd);
		c->pd = NULL;
		return err;
	}
	c->cq = ib_alloc_cq(dev, c, 2 * RDB_DEPTH, 0, IB_POLL_SOFTIRQ);
	if (IS_ERR(c->cq)) {
		err = PTR_ERR(c->cq);
		c->cq = NULL;
		return err;
	}
	attr.send_cq = c->cq;
	attr.recv_cq = c->cq;
	attr.qp_type = IB_QPT_RC;
	attr.sq_sig_type = IB_SIGNAL_ALL_WR;
	attr.cap.max_send_wr = RDB_DEPTH;
	attr.cap.max_recv_wr = RDB_DEPTH;
	attr.cap.max_send_sge = 1;
	attr.cap.max_recv_sge = 1;
	err = rdma_create_qp(c->cm, c->pd, &attr);
	if (err)
		return err;
	c->qp = c->cm->qp;
	for (i = 0; i < RDB_DEPTH; i++) {
		err = post_recv(c);
		if (err)
			return err;
	}
	return rdma_set_ack_timeout(c->cm, min_t(u8, ack_timeout, 31));
}

/* No handler of c->cm runs after rdma_destroy_id: then the rest goes. */
static void conn_destroy(struct rdb_conn *c)
{
	if (c->cm)
		rdma_destroy_id(c->cm);
	if (c->qp)
		ib_destroy_qp(c->qp);
	if (c->cq)
		ib_free_cq(c->cq);
	if (c->pd)
		ib_dealloc_pd(c->pd);
	kfree(c);
}

static struct rdb_conn *conn_alloc(u32 peer, bool active)
{
	struct rdb_conn *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	c->peer = peer;
	c->active = active;
	atomic_set(&c->state, RDB_CONNECTING);
	/* Address, route, then the CM's own exchange: each gets connect_ms. */
	c->deadline = jiffies + 3 * msecs_to_jiffies(connect_ms);
	c->send_cqe.done = send_done;
	c->recv_cqe.done = recv_done;
	return c;
}

/* ---- rdma_cm events ------------------------------------------------------------ */

static void conn_param_init(struct rdma_conn_param *p, struct rdb_hello *hello)
{
	memset(p, 0, sizeof(*p));
	p->private_data = hello;
	p->private_data_len = hello ? sizeof(*hello) : 0;
	p->retry_count = RDB_RETRIES;
	p->rnr_retry_count = 7;		/* the receiver reposts at once */
}

/*
 * The listener's CONNECT_REQUEST, on the new id @cm: check who calls, make
 * its queue pair, accept, and leave it for the manager.  Non-zero: the CM
 * destroys @cm (its queue pair is gone already).
 */
static int accept_request(struct rdma_cm_id *cm, const struct rdma_cm_event *ev)
{
	const struct rdb_hello *hello = ev->param.conn.private_data;
	const struct sockaddr_in *src = (void *)&cm->route.addr.dst_addr;
	struct rdma_conn_param param;
	struct rdb_conn *c;
	u32 from, self = rdb.host->self;
	bool busy;
	int err;

	if (ev->param.conn.private_data_len < sizeof(*hello) ||
	    be32_to_cpu(hello->magic) != RDB_MAGIC)
		return -EPROTO;
	from = be32_to_cpu(hello->from);
	if (from >= XPMEM_DB_MAX_PEERS || from >= self)
		return -EPROTO;		/* only lower ids connect to us */
	if (src->sin_family != AF_INET || src->sin_addr.s_addr != peer_addr(from)) {
		pr_warn_ratelimited("xpmem_rdma: partition %u called from %pISc, not its address\n",
				    from, src);
		return -EPROTO;
	}
	spin_lock(&rdb.incoming_lock);
	busy = rdb.peers[from].incoming != NULL;
	spin_unlock(&rdb.incoming_lock);
	if (busy)
		return -EBUSY;		/* the manager has not adopted the last one */

	c = conn_alloc(from, false);
	if (!c)
		return -ENOMEM;
	c->cm = cm;
	cm->context = c;
	err = conn_create_qp(c);
	if (!err) {
		conn_param_init(&param, NULL);
		err = rdma_accept(cm, &param);
	}
	if (err) {
		c->cm = NULL;		/* the CM destroys it when we return */
		if (c->qp)
			rdma_destroy_qp(cm);
		c->qp = NULL;
		conn_destroy(c);
		return err;
	}
	spin_lock(&rdb.incoming_lock);
	rdb.peers[from].incoming = c;
	spin_unlock(&rdb.incoming_lock);
	kick_manager();
	return 0;
}

static int cm_handler(struct rdma_cm_id *cm, struct rdma_cm_event *ev)
{
	struct rdb_conn *c = cm->context;
	struct rdma_conn_param param;
	struct rdb_hello hello;
	int err = 0;

	if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST)
		return accept_request(cm, ev);
	if (!c)
		return 0;		/* the listener's other events */

	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		err = rdma_resolve_route(cm, connect_ms);
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		err = conn_create_qp(c);
		if (err)
			break;
		hello.magic = cpu_to_be32(RDB_MAGIC);
		hello.from = cpu_to_be32(rdb.host->self);
		conn_param_init(&param, &hello);
		err = rdma_connect_locked(cm, &param);
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
		atomic64_inc(&rdb.connects);
		/* Release: ring() sees c->qp once it sees UP. */
		atomic_cmpxchg_release(&c->state, RDB_CONNECTING, RDB_UP);
		kick_manager();		/* it says so in the log */
		break;
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
	case RDMA_CM_EVENT_CONNECT_RESPONSE:
		break;
	default:			/* errors, rejects, disconnects, removal */
		conn_break(c);
		break;
	}
	if (err)
		conn_break(c);
	return 0;			/* the manager destroys the id */
}

/* ---- the manager ------------------------------------------------------------- */

static void connect_peer(u32 p)
{
	struct sockaddr_in dst = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = peer_addr(p),
		.sin_port = htons(port),
	};
	struct rdb_conn *c = conn_alloc(p, true);
	int err;

	if (!c)
		return;
	c->cm = rdma_create_id(&init_net, cm_handler, c, RDMA_PS_TCP, IB_QPT_RC);
	if (IS_ERR(c->cm)) {
		c->cm = NULL;
		conn_destroy(c);
		return;
	}
	/* Published while connecting: ring() looks at the state first. */
	rcu_assign_pointer(rdb.peers[p].conn, c);
	err = rdma_resolve_addr(c->cm, NULL, (struct sockaddr *)&dst, connect_ms);
	if (err)
		conn_break(c);
}

static void retire(u32 p, struct rdb_conn *c, const char *why)
{
	lockdep_assert_held(&rdb.lock);
	if (rcu_access_pointer(rdb.peers[p].conn) == c) {
		RCU_INIT_POINTER(rdb.peers[p].conn, NULL);
		synchronize_rcu();	/* no ring() on it any more */
	}
	if (why)
		pr_info("xpmem_rdma: partition %u: doorbell connection %s; polling until it is back\n",
			p, why);
	conn_destroy(c);
}

static void manage_peer(u32 p)
{
	struct rdb_peer *peer = &rdb.peers[p];
	struct rdb_conn *c, *in;
	int state;

	lockdep_assert_held(&rdb.lock);
	spin_lock(&rdb.incoming_lock);
	in = peer->incoming;
	peer->incoming = NULL;
	spin_unlock(&rdb.incoming_lock);
	c = rcu_dereference_protected(peer->conn, lockdep_is_held(&rdb.lock));
	if (in) {
		/* The peer connected again: its old connection is stale. */
		if (c)
			retire(p, c, NULL);
		rcu_assign_pointer(peer->conn, in);
		c = in;
	}
	if (c) {
		state = atomic_read(&c->state);
		if (state == RDB_BROKEN) {
			/* Said only of one that was up: attempts fail quietly. */
			retire(p, c, c->announced ? "lost" : NULL);
			c = NULL;
		} else if (state == RDB_CONNECTING && time_after(jiffies, c->deadline)) {
			retire(p, c, NULL);	/* it never came up: try again */
			c = NULL;
		} else if (state == RDB_UP && !c->announced) {
			c->announced = true;
			pr_info("xpmem_rdma: partition %u: doorbells over RDMA (%s, %s)\n",
				p, c->active ? "connected" : "accepted",
				dev_name(&c->cm->device->dev));
		}
	}
	if (!c && p > rdb.host->self && time_after_eq(jiffies, peer->next_try) &&
	    rdb.host->peer_live(p)) {
		peer->next_try = jiffies + msecs_to_jiffies(retry_ms);
		connect_peer(p);
	}
}

static void manage(struct work_struct *work)
{
	u32 p;

	mutex_lock(&rdb.lock);
	if (!rdb.running) {
		mutex_unlock(&rdb.lock);
		return;
	}
	for (p = 0; p < XPMEM_DB_MAX_PEERS; p++)
		if (p != rdb.host->self)
			manage_peer(p);
	mutex_unlock(&rdb.lock);
	mod_delayed_work(system_wq, &rdb.manage, msecs_to_jiffies(max(retry_ms, 10u)));
}

/* ---- the provider ------------------------------------------------------------ */

static int rdb_start(const struct xpmem_doorbell_host *host)
{
	struct sockaddr_in any = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_ANY),
		.sin_port = htons(port),
	};
	struct rdma_cm_id *l;
	int err;

	if (host->self >= XPMEM_DB_MAX_PEERS)
		return -ERANGE;
	if (!in4_pton(addr_base, -1, (u8 *)&rdb.base, -1, NULL)) {
		pr_err("xpmem_rdma: addr_base=%s is not an IPv4 address\n", addr_base);
		return -EINVAL;
	}
	rdb.host = host;		/* before any connect request can come */
	l = rdma_create_id(&init_net, cm_handler, NULL, RDMA_PS_TCP, IB_QPT_RC);
	if (IS_ERR(l)) {
		rdb.host = NULL;
		return PTR_ERR(l);
	}
	err = rdma_bind_addr(l, (struct sockaddr *)&any);
	if (!err)
		err = rdma_listen(l, 16);
	if (err) {
		rdma_destroy_id(l);
		rdb.host = NULL;
		pr_err("xpmem_rdma: cannot listen on port %u (%d)\n", port, err);
		return err;
	}
	mutex_lock(&rdb.lock);
	rdb.listener = l;
	rdb.running = true;
	mutex_unlock(&rdb.lock);
	pr_info("xpmem_rdma: partition %u at %pI4, listening on port %u\n",
		host->self, &(__be32){ peer_addr(host->self) }, port);
	kick_manager();
	return 0;
}

static void rdb_stop(void)
{
	struct rdb_conn *c;
	u32 p, n = 0;

	mutex_lock(&rdb.lock);
	rdb.running = false;
	mutex_unlock(&rdb.lock);
	cancel_delayed_work_sync(&rdb.manage);
	/* No new connection after this: the listener's handler is done. */
	rdma_destroy_id(rdb.listener);
	rdb.listener = NULL;
	mutex_lock(&rdb.lock);
	for (p = 0; p < XPMEM_DB_MAX_PEERS; p++) {
		c = rcu_dereference_protected(rdb.peers[p].conn, lockdep_is_held(&rdb.lock));
		if (c) {
			retire(p, c, NULL);
			n++;
		}
		c = rdb.peers[p].incoming;	/* no handler adds one now */
		rdb.peers[p].incoming = NULL;
		if (c) {
			conn_destroy(c);
			n++;
		}
		rdb.peers[p].next_try = 0;
	}
	rdb.host = NULL;
	mutex_unlock(&rdb.lock);
	pr_info("xpmem_rdma: stopped, %u queue pairs torn down\n", n);
}

static int rdb_ring(u32 peer)
{
	const struct ib_send_wr *bad;
	struct ib_send_wr wr = {
		.opcode = IB_WR_SEND_WITH_IMM,
		.send_flags = IB_SEND_SIGNALED,
		.num_sge = 0,
	};
	struct rdb_conn *c;
	int err = -ENOTCONN;

	if (peer >= XPMEM_DB_MAX_PEERS)
		return -EINVAL;
	rcu_read_lock();
	c = rcu_dereference(rdb.peers[peer].conn);
	if (c && atomic_read_acquire(&c->state) == RDB_UP) {
		wr.wr_cqe = &c->send_cqe;
		wr.ex.imm_data = cpu_to_be32(rdb.host->self);
		err = ib_post_send(c->qp, &wr, &bad);
	}
	rcu_read_unlock();
	atomic64_inc(err ? &rdb.unsent : &rdb.sent);
	return err;
}

static bool rdb_connected(u32 peer)
{
	struct rdb_conn *c;
	bool up;

	if (peer >= XPMEM_DB_MAX_PEERS)
		return false;
	rcu_read_lock();
	c = rcu_dereference(rdb.peers[peer].conn);
	up = c && atomic_read(&c->state) == RDB_UP;
	rcu_read_unlock();
	return up;
}

const struct xpmem_doorbell_provider xpmem_rdma_doorbell = {
	.owner = THIS_MODULE,
	.start = rdb_start,
	.stop = rdb_stop,
	.ring = rdb_ring,
	.connected = rdb_connected,
};
EXPORT_SYMBOL_GPL(xpmem_rdma_doorbell);

/* /sys/module/xpmem_rdma/parameters/stats: what the tests and bench read. */
static int stats_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "sent %lld unsent %lld received %lld wrong_imm %lld connects %lld breaks %lld\n",
			  atomic64_read(&rdb.sent), atomic64_read(&rdb.unsent),
			  atomic64_read(&rdb.received), atomic64_read(&rdb.wrong_imm),
			  atomic64_read(&rdb.connects), atomic64_read(&rdb.breaks));
}
static const struct kernel_param_ops stats_ops = { .get = stats_get };
module_param_cb(stats, &stats_ops, NULL, 0444);
MODULE_PARM_DESC(stats, "Doorbells sent, not sent (no connection), received; connections made and lost");

static int __init rdb_init(void)
{
	mutex_init(&rdb.lock);
	spin_lock_init(&rdb.incoming_lock);
	INIT_DELAYED_WORK(&rdb.manage, manage);
	return 0;
}

static void __exit rdb_exit(void)
{
	/* xpmem.ko holds a reference while it uses us: stopped by now. */
	cancel_delayed_work_sync(&rdb.manage);
}

module_init(rdb_init);
module_exit(rdb_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("XPMEM doorbells over RDMA (rdma_cm, RC queue pairs)");
