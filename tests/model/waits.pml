/*
 * waits.pml - I6, no cycle of waits between two partitions: each one
 * invalidates its own memory (the notifier holds its mmap_lock for writing
 * and waits for the peer's completion word) while the peer faults on that
 * memory (the owner's fault service needs the same mmap_lock for reading).
 * docs/model.md maps each step to its C function.
 *
 * Rings and queues are reliable here and nobody crashes: every wait could
 * end without a deadline.  Spin's `timeout` is true only when no process
 * can move; a shootdown still waiting then is waiting in a cycle, and
 * would end only by fencing a healthy peer.  Mutants: -DMUTANT_INVAL_ON_FSVC
 * (INVALIDATE served by the fault-service thread), -DMUTANT_POLL_MIN_ROOM
 * (the poller takes nothing while the fault-service queue is full).
 */

hidden byte I6_no_wait_cycle = 1;	/* the property's name, in its assertion */

mtype = { INVAL, FAULT, FREPLY };

chan ring[2] = [3] of { mtype, byte };	/* ring[p]: messages TO partition p */
chan invq[2] = [2] of { byte };
chan fsvcq[2] = [1] of { mtype, byte };	/* shallow, so that it fills */

bool mmw[2];		/* partition p's exporter mmap_lock held for writing */
byte mmr[2];		/* ... readers */
byte word[2];		/* completion word written by p for its peer */
bool replied[2];	/* p's fault got its answer */
bool shot[2];		/* p's shootdown finished */

/* The owner's notifier: mmap_lock (write), INVALIDATE the peer, wait. */
proctype Munmap(byte p)
{
	byte q = 1 - p;

	atomic { !mmw[p] && mmr[p] == 0 -> mmw[p] = true }
	ring[q]!INVAL, 1;
	do
	:: word[q] >= 1 -> break
	:: timeout -> assert(I6_no_wait_cycle && false)
	od;
	atomic { mmw[p] = false; shot[p] = true }
}

/* A user of p touching q's memory: FAULT to q, wait for the answer. */
proctype Toucher(byte p)
{
	byte q = 1 - p;

	ring[q]!FAULT, 1;
	ring[q]!FAULT, 1;	/* re-posted after fault_ms/4 */
end:	replied[p]
}

/* p's poller: the ring from q, dispatched to the threads. */
proctype Poller(byte p)
{
	mtype t;
	byte v;

end:	do
#ifdef MUTANT_POLL_MIN_ROOM
	:: atomic { nfull(invq[p]) && nfull(fsvcq[p]) && nempty(ring[p]) -> ring[p]?t, v;
#else
	:: atomic { nempty(ring[p]) -> ring[p]?t, v;
#endif
		if
#ifdef MUTANT_INVAL_ON_FSVC
		:: t == INVAL -> fsvcq[p]!t, v
#else
		:: t == INVAL -> invq[p]!v
#endif
		:: t == FAULT -> if
			:: nfull(fsvcq[p]) -> fsvcq[p]!t, v
			:: full(fsvcq[p])	/* dropped: the requester re-posts */
			fi
		:: t == FREPLY -> replied[p] = true
		fi;
		t = 0; v = 0 }
	od
}

/* p's invalidation thread: attacher-side locks only, then the word. */
proctype Inval(byte p)
{
	byte v;

end:	do
	:: invq[p]?v -> word[p] = v; v = 0
	od
}

/* p's fault service: the exporter's mmap_lock (read), pin, answer. */
proctype Fsvc(byte p)
{
	mtype t;
	byte v, q = 1 - p;

end:	do
	:: fsvcq[p]?t, v ->
		if
		:: t == INVAL -> word[p] = v
		:: t == FAULT ->
			atomic { !mmw[p] -> mmr[p]++ }
			mmr[p]--;
			ring[q]!FREPLY, v
		fi;
		t = 0; v = 0
	od
}

init
{
	atomic {
		run Poller(0); run Poller(1); run Inval(0); run Inval(1);
		run Fsvc(0); run Fsvc(1);
		run Toucher(0); run Toucher(1); run Munmap(0); run Munmap(1)
	}
}
