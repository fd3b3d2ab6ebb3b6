/*
 * shootdown.pml - the owner's remote shootdown, the attacher's fault and
 * invalidation paths, completion words with gap detection, fencing,
 * quarantine and rejoin under a new epoch (docs/model.md maps each step
 * to its C function; docs/wire-protocol.md is the protocol).
 *
 * Two partitions: O (0) owns one page, A (1) attaches it through NEXP
 * proxies (exports).  O replaces the page's frame NSHOOT times (the
 * interval notifier), each time shooting down every export that pins it.
 * Rings drop, duplicate and (as a corrupted message is dropped by the
 * checks) lose messages at every post; any process may stop at any step
 * (interleaving); A may crash or be fenced and rejoin under a new epoch.
 *
 * Each property's assertion starts with the property's name (a hidden bit): the runner
 * names a violated property by it.  Mutants (-DMUTANT_X) each break one.
 */

#ifndef NEXP
#define NEXP 2		/* proxies of the page held by A */
#endif
#ifndef NSHOOT
#define NSHOOT 1	/* frame replacements (shootdowns) by O */
#endif
#ifndef MAXEP
#define MAXEP 2		/* A's epochs 1..MAXEP */
#endif
#ifndef NFAULT
#define NFAULT 3	/* remote faults A takes in a run */
#endif
#ifndef NCRASH
#define NCRASH 1	/* crashes of A */
#endif
#ifndef NCHAOS
#define NCHAOS 2	/* messages lost or duplicated in a run */
#endif
#ifndef NREPOST
#define NREPOST 1	/* re-posts of one FAULT */
#endif
#ifdef WARM
#define WARMV 1		/* A already faulted the page in through every proxy */
#else
#define WARMV 0
#endif
#define D 2		/* inval_ms, in O's clock ticks */
#define W 2		/* the receiver's window above `done` */

#define FREE 0
#define JOINING 1
#define UP 2
#define DEAD 4
#define live(s) ((s) == JOINING || (s) == UP)

/* Property names: each assertion starts with one, so a violation names it. */
hidden byte I1_no_reuse_while_mapped = 1;	/* I1: no frame is reused by its owner while A may still map it */
hidden byte Q_release_only_newer_epoch = 1;	/* quarantine released only when its holder is seen under a newer epoch */
hidden byte I7_own_deadline = 1;	/* I7: a target is fenced for silence only after its own full deadline */
hidden byte I7_fence_names_incarnation = 1;	/* I7: a timeout fences the incarnation that was silent, no other */
hidden byte I2_within_deadline = 1;	/* I2: the shootdown finishes (acknowledged or fenced) within its deadline */
hidden byte I3_fenced_never_acts = 1;	/* I3: a partition that saw itself fenced never acts under its old epoch */

mtype = { INVAL, FREPLY, JACK, FAULT, JOIN };

/* Rings: type, rid (INVALIDATE: n), frame, src_epoch, dst_epoch, export. */
chan ringOA = [2] of { mtype, byte, byte, byte, byte, byte };
chan ringAO = [2] of { mtype, byte, byte, byte, byte, byte };
/* A's private queues: poller -> invalidation thread; O's: poller -> fault service. */
chan invq = [2] of { byte, byte, byte, byte };	/* n, src_epoch, dst_epoch, export */
chan fsvcq = [2] of { byte, byte, byte };	/* rid, src_epoch, export */

/* Partition table entry of A (O never changes epoch in this model). */
byte tblEp = 1, tblSt = UP;

/* ---- O: owner ---- */
#define oEp 1
byte vEp = 1, vSt = UP;		/* O's view of A */
byte cur = 1, old = 0;		/* the page's frame; the one being shot down */
bool inprog;			/* an invalidation of the page is running */
byte iseq;			/* the notifier's sequence (mmu_interval_read_*) */
bool xLive[NEXP] = true;	/* initial state: A got the page NEXP times under epoch 1 */
bool quar[NEXP];
byte xEp[NEXP] = 1;
byte pin[NEXP] = WARMV;	/* export's A epoch; frame it pins (0 none) */
byte nInval;			/* last INVALIDATE n on the channel O->A */
/* completion word A -> O */
byte wSe, wDone, wEp;

/* ---- A: attacher ---- */
byte aEp = 1, aSt = UP;
byte seenFence;			/* the newest of A's epochs A saw fenced */
byte tSe = 0, tDone = 0, tBits = 0;	/* gap tracker of the channel O->A */
bool iLive[NEXP] = true;
bool iDead[NEXP];
byte iAEp[NEXP] = 1;		/* A's epoch when the proxy was made */
byte map[NEXP] = WARMV;			/* frame A's attachment maps (0 none) */
byte gen[NEXP];			/* invalidations noted per proxy */
/* A's one fault request (the fault thread's) */
bool rqWait, rqDone, rqOk;
byte rqRid, rqE, rqFrame;
byte ncrash;
byte chaos;			/* losses and duplicates so far */

#define pinned(f) ((f) == pin[0] || (NEXP > 1 && (f) == pin[NEXP - 1]))
#define safe(e) (map[e] == 0 || map[e] == cur || map[e] == old || pinned(map[e]))

/*
 * I1, checked wherever a frame may be freed (a pin dropped, a shootdown
 * finished) and wherever A maps one: the frame A maps is the page's, the
 * one being shot down, or pinned.
 */
#define CHECK_I1() assert(I1_no_reuse_while_mapped && (safe(0) && safe(NEXP - 1)))

/* A post: delivered, duplicated, or lost (dropped, corrupted, ring full). */
inline post(p_ch, p_t, p_a, p_b, p_c, p_d, p_e)
{
	if
	:: nfull(p_ch) -> p_ch!p_t, p_a, p_b, p_c, p_d, p_e
	:: len(p_ch) == 0 && chaos < NCHAOS -> chaos++; p_ch!p_t, p_a, p_b, p_c, p_d, p_e; p_ch!p_t, p_a, p_b, p_c, p_d, p_e
	:: full(p_ch) -> skip	/* ring full: the post fails, re-posted later */
	:: nfull(p_ch) && chaos < NCHAOS -> chaos++	/* dropped, or corrupted and dropped by the checks */
	fi
}

/* O: xp_member_fence + member_fence(peer, epoch): a no-op for an old incarnation. */
inline o_fence(ep)
{
#ifdef MUTANT_FENCE_NO_EPOCH
	if
	:: live(vSt) ->
#else
	if
	:: live(vSt) && vEp == ep ->
#endif
		assert(I7_fence_names_incarnation && (vEp == ep));
		if
		:: tblEp == vEp && tblSt != DEAD -> tblSt = DEAD
		:: else
		fi;
		vSt = DEAD;
		for (k : 0 .. NEXP - 1) {
			if
			:: xLive[k] && xEp[k] <= vEp -> quar[k] = true
			:: else
			fi
		}
	:: else
	fi
}

/* O: new_incarnation + member_joined: A seen under epoch E. */
inline o_new_inc(E, st)
{
	if
	:: live(vSt) -> o_fence(vEp)
	:: else
	fi;
	vEp = E;
	vSt = st;
	nInval = 0;
	for (k : 0 .. NEXP - 1) {
		if
		:: xLive[k] && (quar[k] || xEp[k] < E) ->
			assert(Q_release_only_newer_epoch && (xEp[k] < E));
			xLive[k] = false; quar[k] = false; pin[k] = 0
		:: else
		fi
	}
	CHECK_I1()
}

/* ---- O's interval notifier: replace the frame, shoot down, free ---- */
active proctype Notifier()
{
	byte e, k, now, shots, waiting, ends;
	byte tN[NEXP], tEp[NEXP], tPost[NEXP], tSt[NEXP];	/* tSt: 0 none, 1 waiting, 2 fenced, 3 timed out, 4 acked */

	do
	:: shots < NSHOOT ->
		atomic { shots++; inprog = true; iseq++; old = cur; cur++; now = 0 }
#if defined(MUTANT_SINGLE_DEADLINE) || defined(MUTANT_BATCH_WAIT)
		/* dc96ea8: batches of INVAL_BATCH (here 1) exports, posted and waited per batch */
		e = 0;
		do
		:: e < NEXP ->
			atomic {
				for (k : 0 .. NEXP - 1) { tSt[k] = 0 }
				if
				:: pin[e] != 0 && !quar[e] && xLive[e] && live(vSt) && vEp == xEp[e] ->
					tSt[e] = 1; tEp[e] = xEp[e]; nInval++; tN[e] = nInval; tPost[e] = now;
					post(ringOA, INVAL, tN[e], 0, oEp, vEp, e)
				:: pin[e] != 0 && !quar[e] && xLive[e] && !(live(vSt) && vEp == xEp[e]) -> tSt[e] = 2
				:: else
				fi
			}
#else
		/* collect every target and post to each before waiting on any */
		atomic {
			for (e : 0 .. NEXP - 1) {
				tSt[e] = 0;
				if
				:: pin[e] != 0 && !quar[e] && xLive[e] ->
					tEp[e] = xEp[e];
					if
					:: live(vSt) && vEp == tEp[e] ->
						tSt[e] = 1; nInval++; tN[e] = nInval; tPost[e] = now;
						post(ringOA, INVAL, tN[e], 0, oEp, vEp, e)
					:: else -> tSt[e] = 2
					fi
				:: else
				fi
			}
		}
#endif
		/* wait for the completion words, re-posting every tick */
		do
		:: atomic {
			waiting = 0;
			for (k : 0 .. NEXP - 1) {
				if
				:: tSt[k] == 1 ->
					if
					:: wEp == vEp && live(vSt) && wSe == oEp && wDone >= tN[k] -> tSt[k] = 4
					:: else ->
						if
						:: !(live(vSt) && vEp == tEp[k]) -> tSt[k] = 2
#ifdef MUTANT_SINGLE_DEADLINE
						:: else -> if
							:: now >= D -> tSt[k] = 3
							:: else -> waiting++
							fi
#else
						:: else -> if
							:: now >= tPost[k] + D -> tSt[k] = 3
							:: else -> waiting++
							fi
#endif
						fi
					fi
				:: else
				fi
			}
		   }
			if
			:: waiting == 0 -> break
			:: else -> atomic {
				now++;
				for (k : 0 .. NEXP - 1) {
					if
					:: tSt[k] == 1 && live(vSt) && vEp == tEp[k] && now < tPost[k] + D ->
						post(ringOA, INVAL, tN[k], 0, oEp, vEp, k)
					:: else
					fi
				}
			   }
			fi
		od;
		/* fence what timed out (xpmem_partition_fence(peer, epoch)) ... */
		atomic {
			for (k : 0 .. NEXP - 1) {
				if
				:: tSt[k] == 3 ->
					assert(I7_own_deadline && (now >= tPost[k] + D));
					o_fence(tEp[k])
				:: else
				fi
			}
		}
		/* ... then, under export_lock, quarantine or unpin */
		atomic {
			for (k : 0 .. NEXP - 1) {
				if
				:: (tSt[k] == 2 || tSt[k] == 3) && xLive[k] -> quar[k] = true
				:: tSt[k] == 4 && pin[k] == old -> pin[k] = 0
				:: else
				fi
			}
			CHECK_I1()
		}
#if defined(MUTANT_SINGLE_DEADLINE) || defined(MUTANT_BATCH_WAIT)
			e++
		:: else -> break
		od;
#endif
		atomic {
			assert(I2_within_deadline && (now <= D));
			inprog = false; old = 0;
			CHECK_I1(); now = 0; e = 0; waiting = 0;
			for (k : 0 .. NEXP - 1) { tN[k] = 0; tEp[k] = 0; tPost[k] = 0; tSt[k] = 0 }
			k = 0
		}
	:: else -> break
	od
}

/* ---- O's poller: A -> O ring ---- */
active proctype OPoller()
{
	byte k;
	mtype t;
	byte n, f, se, de, e;

end:	do
	:: atomic {
		ringAO?t, n, f, se, de, e ->
		if
		:: t == JOIN ->
#ifdef MUTANT_JOIN_RELEASE
			/* any JOIN releases A's quarantine */
			for (k : 0 .. NEXP - 1) {
				if
				:: xLive[k] && quar[k] ->
					assert(Q_release_only_newer_epoch && (xEp[k] < se));
					xLive[k] = false; quar[k] = false; pin[k] = 0
				:: else
				fi
			}
			CHECK_I1();
#endif
			if
			:: se < vEp || (se == vEp && vSt == DEAD) -> skip	/* a fenced incarnation */
			:: else ->
				if
				:: se != vEp -> o_new_inc(se, JOINING)
				:: else
				fi;
				post(ringOA, JACK, 0, 0, oEp, se, 0)
			fi
		:: t == FAULT && live(vSt) && se == vEp && de == oEp ->
			if
			:: nfull(fsvcq) -> fsvcq!n, se, e
			:: full(fsvcq)	/* queue full: dropped, the requester re-posts */
			fi
		:: else	/* stale or for another incarnation: dropped */
		fi;
		t = 0; n = 0; f = 0; se = 0; de = 0; e = 0
	   }
	od
}

/* ---- O's fault service ---- */
active proctype OFsvc()
{
	byte n, se, e, s, f;

end:	do
	:: fsvcq?n, se, e ->
		if
		:: atomic { !(xLive[e] && xEp[e] == se && !quar[e]) -> f = 0 }	/* ENOENT */
		:: else ->
again:			atomic { !inprog -> s = iseq; f = cur }	/* mmu_interval_read_begin */
			/* pin_user_pages_remote, then record under export_lock */
			atomic {
				if
				:: !xLive[e] || quar[e] || xEp[e] != se -> f = 0
				:: iseq != s -> goto again	/* unpinned, looked again */
				:: else -> pin[e] = f	/* an older pin of the index is dropped */
				fi;
				CHECK_I1()
			}
		fi;
		atomic {
			if
			:: live(vSt) && vEp == se -> post(ringOA, FREPLY, n, f, oEp, se, e)
			:: else
			fi;
			n = 0; se = 0; e = 0; s = 0; f = 0
		}
	od
}

/* ---- O's membership: heartbeat deadline, the table ---- */
active proctype OMember()
{
	byte k;
end:	do
	:: atomic {	/* dead_ms without a heartbeat: fence the word we judged */
		live(vSt) && tblEp == vEp && tblSt != DEAD && aEp < MAXEP -> o_fence(vEp)
	   }
	:: atomic {	/* tick_peer: a new epoch in the table */
		tblEp != vEp && tblEp > vEp -> o_new_inc(tblEp, tblSt)
	   }
	:: atomic {	/* tick_peer: fenced by someone (or itself) */
		tblEp == vEp && tblSt == DEAD && live(vSt) -> o_fence(vEp)
	   }
	od
}

/* A: self_fence (what member_self_fence does), then rejoin (xp_member_join). */
inline a_self_fence()
{
	if
	:: tblEp == aEp && tblSt != DEAD -> tblSt = DEAD
	:: else
	fi;
	aSt = DEAD;
	if
	:: rqWait -> rqDone = true; rqOk = false
	:: else
	fi;
	for (k : 0 .. NEXP - 1) { iDead[k] = true; map[k] = 0 }
	tSe = 0; tDone = 0; tBits = 0;
	do
	:: ringOA?_, _, _, _, _, _
	:: empty(ringOA) -> break
	od;
	if
	:: aEp < MAXEP ->
		aEp++; aSt = JOINING; tblEp = aEp; tblSt = JOINING;
		post(ringAO, JOIN, 0, 0, aEp, 0, 0)
	:: else
	fi
}

/* ---- A's membership ---- */
active proctype AMember()
{
	byte k;
	bool rejoinResent;	/* one re-send of JOIN per run */
end:	do
	:: atomic {	/* our word says DEAD, or another epoch: we were fenced */
		aSt != DEAD && (tblSt == DEAD || tblEp != aEp) -> seenFence = aEp; a_self_fence()
	   }
	:: atomic { aSt != DEAD && ncrash < NCRASH -> ncrash++; a_self_fence() }
	:: atomic { aSt == JOINING && tblEp == aEp && tblSt == JOINING && !rejoinResent -> rejoinResent = true; post(ringAO, JOIN, 0, 0, aEp, 0, 0) }
	od
}

/* ---- A's poller: O -> A ring ---- */
active proctype APoller()
{
	mtype t;
	byte n, f, se, de, e;

end:	do
	:: atomic {
		ringOA?t, n, f, se, de, e ->
		if
		:: t == JACK ->
			if
			:: se == oEp && de == aEp && aSt == JOINING ->
				if
				:: tblEp == aEp && tblSt == JOINING -> tblSt = UP; aSt = UP
				:: else
				fi
			:: else
			fi
		:: t != JACK && live(aSt) && de == aEp && se == oEp ->
			if
			:: t == FREPLY ->
				if
				:: rqWait && !rqDone && rqRid == n && rqE == e -> rqDone = true; rqOk = f != 0; rqFrame = f
				:: else	/* an orphan */
				fi
			:: t == INVAL ->
				if
				:: se != tSe -> tSe = se; tDone = 0; tBits = 0
				:: else
				fi;
#ifdef MUTANT_GAP
				if
				:: n <= tDone -> skip
				:: else -> gen[e]++; if :: nfull(invq) -> invq!n, se, de, e :: full(invq) fi
				fi
#else
				if
				:: n <= tDone -> skip	/* a duplicate: re-ring only */
				:: n > tDone && n <= tDone + W ->
					gen[e]++;	/* xpmem_import_noted */
					if
					:: nfull(invq) -> invq!n, se, de, e
					:: full(invq)
					fi
				:: else	/* beyond the window: dropped, re-posted */
				fi
#endif
			:: else
			fi
		:: else	/* stale: dropped */
		fi;
		t = 0; n = 0; f = 0; se = 0; de = 0; e = 0
	   }
	od
}

/* ---- A's invalidation thread ---- */
active proctype AInval()
{
	byte n, se, de, e, b;

end:	do
	:: atomic {
		invq?n, se, de, e ->
		if
		:: de != aEp -> skip	/* addressed to an old self */
		:: else ->
			/* seg->lock taken and dropped, then the zap */
			if
			:: iLive[e] && se == oEp -> map[e] = 0
			:: else
			fi;
			if
			:: aSt != DEAD && de == aEp && se == tSe ->
				assert(I3_fenced_never_acts && (aEp > seenFence));
#ifdef MUTANT_GAP
				if
				:: n > tDone -> tDone = n
				:: else
				fi;
#else
				if
				:: n > tDone && n <= tDone + W ->
					b = n - tDone - 1; tBits = tBits | (1 << b);
					do
					:: tBits & 1 -> tDone++; tBits = tBits >> 1
					:: else -> break
					od
				:: else
				fi;
#endif
				wSe = se; wDone = tDone; wEp = aEp
			:: else
			fi
		fi;
		n = 0; se = 0; de = 0; e = 0; b = 0
	   }
	od
}

#define CANGET(x) ((!iLive[x] || iDead[x]) && aSt == UP && live(vSt) && vEp == aEp && !xLive[x])
#define CANFAULT(x) (nf < NFAULT && aSt == UP && iLive[x] && !iDead[x] && map[x] == 0)

/* ---- A's user: GET (abstracted) and remote faults ---- */
active proctype AFault()
{
	byte e, g, rid, nf, rp;

end:	do
	:: atomic {	/* GET, as one step (rpc.pml models its messages) */
		if
		:: CANGET(0) -> e = 0
		:: CANGET(NEXP - 1) -> e = NEXP - 1
		fi;
		xLive[e] = true; xEp[e] = aEp; quar[e] = false; pin[e] = 0;
		iLive[e] = true; iDead[e] = false; iAEp[e] = aEp; map[e] = 0
	   }
	:: atomic {
		if
		:: CANFAULT(0) -> e = 0
		:: CANFAULT(NEXP - 1) -> e = NEXP - 1
		fi;
		nf++; rid = nf;
		g = gen[e];
		rqWait = true; rqDone = false; rqOk = false; rqRid = rid; rqE = e; rp = 0;
		assert(I3_fenced_never_acts && (aEp > seenFence));
		post(ringAO, FAULT, rid, 0, aEp, oEp, e)
	   }
		do
		:: atomic { rqDone -> break }
		:: atomic { !rqDone && live(aSt) && rp < NREPOST -> rp++; post(ringAO, FAULT, rid, 0, aEp, oEp, e) }	/* re-post, same rid */
		:: atomic { !rqDone -> rqOk = false; break }	/* fault_ms: SIGBUS */
		od;
		atomic {	/* install under seg->lock, only if no invalidation was noted */
			if
#ifdef MUTANT_NO_GEN
			:: rqOk && !iDead[e] ->
#else
			:: rqOk && !iDead[e] && gen[e] == g ->
#endif
				assert(I3_fenced_never_acts && (iAEp[e] > seenFence));
				map[e] = rqFrame;
				CHECK_I1()
			:: else
			fi;
			rqWait = false; rqOk = false; rqDone = false; rqFrame = 0; rqRid = 0; rqE = 0;
			e = 0; g = 0; rid = 0; rp = 0
		}
	od
}


init
{
	/* a duplicate of A's JOIN of epoch 1, arriving late */
	ringAO!JOIN, 0, 0, 1, 0, 0
}
