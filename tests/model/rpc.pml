/*
 * rpc.pml - requests and replies with ids: two users of partition R GET
 * the same segid from its owner O (user 0 may, user 1 may not); GETs are
 * re-posted with their rid, rings lose and duplicate messages, O may
 * restart under a new epoch.  What R hands back goes with RELEASE, kept
 * in R's release table and re-posted until O's RELEASE_ACK: a token its
 * proxy no longer needs, an orphan GET_REPLY's token, and, for a GET
 * re-posted or given up, every export made for it but the one kept.
 * Rings lose messages; they never duplicate one: a duplicate GET is a
 * re-post, a duplicated reply stands for a GET served twice.
 * docs/model.md maps each step to its C function.
 *
 * Property R1: a request completes only with the answer made for it (a
 * user never receives a token made for another user's GET).
 * Property no_export_leaked: once both users are done and R has nothing
 * left to hand back, O holds no export (a lost RELEASE or a lost GET_REPLY
 * never leaves one behind).  Checked when nothing else can move (Spin's
 * timeout), which is also when R's re-posts fire: a re-post period is
 * longer than any delivery.
 * Mutants: -DMUTANT_NO_RID, replies matched by (peer, type, segid) to the
 * oldest waiting request, as dc96ea8 did; -DMUTANT_RELEASE_ONCE, RELEASE
 * posted once and forgotten (ca6d2bc); -DMUTANT_NO_SETTLE, a GET
 * re-posted or given up hands back nothing beyond orphans (an answer
 * lost leaves an export).
 */

#ifndef NCHAOS
#define NCHAOS 2	/* messages lost or duplicated in a run */
#endif
#ifndef NREPOST
#define NREPOST 1	/* re-posts of one GET */
#endif
#ifndef NRESTART
#define NRESTART 1	/* restarts of O */
#endif
#define rEp 1		/* R's epoch (R does not restart here) */
#define NSLOT 6		/* R's release table (enough for these bounds) */
#define NOTOK 15	/* a settle keeping no token */

hidden byte R1_reply_to_own_request = 1;	/* the properties' names, in their assertions */
hidden byte no_export_leaked = 1;

mtype = { GET, GET_REPLY, RELEASE, RELEASE_ACK };

/*
 * type, rid, user (GET: the caller's uid; GET_REPLY: whom the token was
 * made for, 9 = error; RELEASE, RELEASE_ACK: the GET rid it settles, 0
 * none), token, src_epoch, dst_epoch
 */
chan toO = [2] of { mtype, byte, byte, byte, byte, byte };
chan toR = [2] of { mtype, byte, byte, byte, byte, byte };

byte oEp = 1;		/* O's epoch */
byte vO = 1;		/* R's view of O's epoch */
byte exps;		/* O's exports: bit k = token k lives */
byte expRid[8];		/* the GET rid each token was made for */
byte ntok;		/* O's next token */
byte chaos, restarts;

/* R's request table: one entry per user */
bool rqWait[2], rqDone[2], rqOk[2];
byte rqRid[2], rqEp[2], rqFor[2], rqTok[2];
byte nrid;		/* R's per-channel request counter */
byte usersDone;

/* R's release table */
bool relUsed[NSLOT];
byte relTok[NSLOT], relRid[NSLOT], relGet[NSLOT], relEp[NSLOT];

inline post(p_ch, p_t, p_a, p_b, p_c, p_d, p_e)
{
	if
	:: nfull(p_ch) -> p_ch!p_t, p_a, p_b, p_c, p_d, p_e
	:: len(p_ch) == 0 && chaos < NCHAOS -> chaos++; p_ch!p_t, p_a, p_b, p_c, p_d, p_e; p_ch!p_t, p_a, p_b, p_c, p_d, p_e
	:: full(p_ch) -> skip
	:: nfull(p_ch) && chaos < NCHAOS -> chaos++
	fi
}

/* A GET: lost or not, never duplicated (rings do not duplicate). */
inline post_get(p_rid, p_me)
{
	if
	:: nfull(toO) -> toO!GET, p_rid, p_me, 0, rEp, vO
	:: full(toO) -> skip
	:: nfull(toO) && chaos < NCHAOS -> chaos++
	fi
}

/* rel_add (xp_rpc_release, xp_rpc_get_settle): post, keep until acked. */
inline rel_add(p_tok, p_get)
{
	nrid++;
#ifndef MUTANT_RELEASE_ONCE
	k = 0;
	do
	:: k < NSLOT && relUsed[k] -> k++
	:: else -> break
	od;
	assert(k < NSLOT);	/* the table is deep enough for these bounds */
	relUsed[k] = true; relTok[k] = p_tok; relRid[k] = nrid; relGet[k] = p_get; relEp[k] = vO;
	k = 0;
#endif
	post(toO, RELEASE, nrid, p_get, p_tok, rEp, vO)
}

/* O: poller + fault service (serve_get, serve_release); restarts drop its state. */
active proctype Owner()
{
	mtype t;
	byte rid, u, tk, se, de, k;

end:	do
	:: atomic {
		toO?t, rid, u, tk, se, de ->
		if
		:: de == oEp && se == rEp && t == GET ->
			if
			:: u == 0 ->	/* a token for user 0 */
				exps = exps | (1 << ntok); expRid[ntok] = rid;
				post(toR, GET_REPLY, rid, 0, ntok, oEp, rEp);
				ntok++
			:: else -> post(toR, GET_REPLY, rid, 9, 0, oEp, rEp)	/* EACCES */
			fi
		:: de == oEp && se == rEp && t == RELEASE ->
			if
			:: u == 0 -> exps = exps & ~(1 << tk)
			:: else ->	/* every export made for that GET but the one kept */
				for (k : 0 .. 7) {
					if
					:: expRid[k] == u && k != tk -> exps = exps & ~(1 << k)
					:: else
					fi
				}
			fi;
			post(toR, RELEASE_ACK, rid, u, tk, oEp, rEp)	/* whether or not it held one */
		:: else	/* stale or malformed: dropped */
		fi;
		t = 0; rid = 0; u = 0; tk = 0; se = 0; de = 0; k = 0
	   }
	:: atomic {	/* crash and rejoin: a new epoch, nothing kept */
		restarts < NRESTART -> restarts++; oEp++; exps = 0;
		do
		:: toO?_, _, _, _, _, _
		:: empty(toO) -> break
		od
	   }
	od
}

/*
 * R's membership: O seen under a new epoch fails its requests, and what R
 * still had to hand back to the old O is moot (its exports went with it).
 */
active proctype RMember()
{
	byte k;

end:	do
	:: atomic {
		vO != oEp -> vO = oEp;
		for (k : 0 .. 1) {
			if
			:: rqWait[k] && !rqDone[k] -> rqDone[k] = true; rqOk[k] = false
			:: else
			fi
		}
		for (k : 0 .. NSLOT - 1) {
			if
			:: relUsed[k] && relEp[k] != vO -> relUsed[k] = false
			:: else
			fi
		}
		k = 0
	   }
	od
}

/* R's rescan (xp_rpc_tick): RELEASEs not acknowledged go again, same rid. */
active proctype RTick()
{
	byte k;

end:	do
	:: atomic {
		timeout ->
		for (k : 0 .. NSLOT - 1) {
			if
			:: relUsed[k] && relEp[k] == vO -> post(toO, RELEASE, relRid[k], relGet[k], relTok[k], rEp, vO)
			:: else
			fi
		}
		k = 0
	   }
	od
}

/* R's poller: replies to the waiting request with the same rid and incarnation. */
active proctype RPoller()
{
	mtype t;
	byte rid, u, tk, se, de, i, k;
	bool found;

end:	do
	:: atomic {
		toR?t, rid, u, tk, se, de ->
		if
		:: t == GET_REPLY && se == vO && de == rEp ->
			found = false;
			for (i : 0 .. 1) {
				if
#ifdef MUTANT_NO_RID
				:: !found && rqWait[i] && !rqDone[i] ->
#else
				:: !found && rqWait[i] && !rqDone[i] && rqRid[i] == rid && rqEp[i] == se ->
#endif
					found = true; rqDone[i] = true; rqOk[i] = u != 9; rqFor[i] = u; rqTok[i] = tk
				:: else
				fi
			}
			if
			:: !found && u != 9 -> rel_add(tk, 0)	/* an orphan token: handed back */
			:: else
			fi
		:: t == RELEASE_ACK && se == vO && de == rEp ->
			for (k : 0 .. NSLOT - 1) {
				if
				:: relUsed[k] && relTok[k] == tk && relRid[k] == rid && relGet[k] == u && relEp[k] == se -> relUsed[k] = false
				:: else
				fi
			}
		:: else
		fi;
		t = 0; rid = 0; u = 0; tk = 0; se = 0; de = 0; i = 0; k = 0; found = false
	   }
	od
}

proctype User(byte me)
{
	byte rp, k;
	bool gaveUp;

	atomic {
		nrid++;
		rqRid[me] = nrid; rqEp[me] = vO; rqWait[me] = true; rqDone[me] = false;
		post_get(rqRid[me], me)
	}
	do
	:: atomic { rqDone[me] -> break }
	:: atomic { !rqDone[me] && rp < NREPOST && rqEp[me] == vO ->
		rp++; post_get(rqRid[me], me) }	/* same rid */
	:: atomic { !rqDone[me] -> rqOk[me] = false; gaveUp = true; break }	/* fault_ms: ETIMEDOUT */
	od;
	atomic {
		assert(R1_reply_to_own_request && (!rqOk[me] || rqFor[me] == me));
		rqWait[me] = false;
#ifndef MUTANT_NO_SETTLE
		/* xp_rpc_get_settle: posted more than once, or never answered */
		if
		:: (rp > 0 || gaveUp) && rqEp[me] == vO ->
			if
			:: rqOk[me] -> rel_add(rqTok[me], rqRid[me])
			:: else -> rel_add(NOTOK, rqRid[me])
			fi
		:: else
		fi;
#endif
		if
		:: rqOk[me] && rqEp[me] == vO -> rel_add(rqTok[me], 0)	/* the proxy goes */
		:: else
		fi;
		usersDone++
	}
}

/* When nothing else can move: both users done, nothing left to hand back. */
active proctype Audit()
{
end:	atomic {
		timeout && usersDone == 2 &&
		!relUsed[0] && !relUsed[1] && !relUsed[2] && !relUsed[3] && !relUsed[4] && !relUsed[5] ->
		assert(no_export_leaked && exps == 0)
	}
}

init
{
	atomic { run User(0); run User(1) }
}
