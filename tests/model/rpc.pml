/*
 * rpc.pml - requests and replies with ids: two users of partition R GET
 * the same segid from its owner O (user 0 may, user 1 may not); GETs are
 * re-posted with their rid, rings lose and duplicate messages, O may
 * restart under a new epoch.  docs/model.md maps each step to its C
 * function.
 *
 * Property R1: a request completes only with the answer made for it (a
 * user never receives a token made for another user's GET).
 * Mutant -DMUTANT_NO_RID: replies matched by (peer, type, segid) to the
 * oldest waiting request, as dc96ea8 did.
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

hidden byte R1_reply_to_own_request = 1;	/* the property's name, in its assertion */

mtype = { GET, GET_REPLY, RELEASE };

/* type, rid, user (GET: the caller's uid; GET_REPLY: whom the token was made for, 9 = error), src_epoch, dst_epoch */
chan toO = [2] of { mtype, byte, byte, byte, byte };
chan toR = [2] of { mtype, byte, byte, byte, byte };

byte oEp = 1;		/* O's epoch */
byte vO = 1;		/* R's view of O's epoch */
byte nexp;		/* exports O holds (tokens given and not released) */
byte chaos, restarts;

/* R's request table: one entry per user */
bool rqWait[2], rqDone[2], rqOk[2];
byte rqRid[2], rqEp[2], rqFor[2];
byte nrid;		/* R's per-channel request counter */

inline post(p_ch, p_t, p_a, p_b, p_c, p_d)
{
	if
	:: nfull(p_ch) -> p_ch!p_t, p_a, p_b, p_c, p_d
	:: len(p_ch) == 0 && chaos < NCHAOS -> chaos++; p_ch!p_t, p_a, p_b, p_c, p_d; p_ch!p_t, p_a, p_b, p_c, p_d
	:: full(p_ch) -> skip
	:: nfull(p_ch) && chaos < NCHAOS -> chaos++
	fi
}

/* O: poller + fault service (serve_get); restarts drop its state. */
active proctype Owner()
{
	mtype t;
	byte rid, u, se, de;

end:	do
	:: atomic {
		toO?t, rid, u, se, de ->
		if
		:: de == oEp && se == rEp && t == GET ->
			if
			:: u == 0 -> nexp++; post(toR, GET_REPLY, rid, 0, oEp, rEp)	/* token for user 0 */
			:: else -> post(toR, GET_REPLY, rid, 9, oEp, rEp)	/* EACCES */
			fi
		:: de == oEp && se == rEp && t == RELEASE && nexp > 0 -> nexp--
		:: else	/* stale or malformed: dropped */
		fi;
		t = 0; rid = 0; u = 0; se = 0; de = 0
	   }
	:: atomic {	/* crash and rejoin: a new epoch, nothing kept */
		restarts < NRESTART -> restarts++; oEp++; nexp = 0;
		do
		:: toO?_, _, _, _, _
		:: empty(toO) -> break
		od
	   }
	od
}

/* R's membership: O seen under a new epoch fails its requests. */
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
	   }
	od
}

/* R's poller: replies to the waiting request with the same rid and incarnation. */
active proctype RPoller()
{
	mtype t;
	byte rid, u, se, de, i;
	bool found;

end:	do
	:: atomic {
		toR?t, rid, u, se, de ->
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
					found = true; rqDone[i] = true; rqOk[i] = u != 9; rqFor[i] = u
				:: else
				fi
			}
			if
			:: !found && u != 9 -> post(toO, RELEASE, 0, 0, rEp, vO)	/* an orphan token: handed back */
			:: else
			fi
		:: else
		fi;
		t = 0; rid = 0; u = 0; se = 0; de = 0; i = 0; found = false
	   }
	od
}

proctype User(byte me)
{
	byte rp;

	atomic {
		nrid++;
		rqRid[me] = nrid; rqEp[me] = vO; rqWait[me] = true; rqDone[me] = false;
		post(toO, GET, rqRid[me], me, rEp, vO)
	}
	do
	:: atomic { rqDone[me] -> break }
	:: atomic { !rqDone[me] && rp < NREPOST && rqEp[me] == vO ->
		rp++; post(toO, GET, rqRid[me], me, rEp, vO) }	/* same rid */
	:: atomic { !rqDone[me] -> rqOk[me] = false; break }	/* fault_ms: ETIMEDOUT */
	od;
	atomic {
		assert(R1_reply_to_own_request && (!rqOk[me] || rqFor[me] == me));
		rqWait[me] = false
	}
}

init
{
	atomic { run User(0); run User(1) }
}
