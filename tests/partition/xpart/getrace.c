// SPDX-License-Identifier: GPL-2.0-only
/*
 * getrace.c - two users GET one segment of another partition while its
 * owner's fault service is slow (issue 9, defect 1).
 *
 *   xpmem-xpart-getrace export SECONDS UID   as UID, makes a one-page 0600
 *       segment, prints "segid N", stays SECONDS.
 *   xpmem-xpart-getrace race SEGID SECONDS UID_A UID_B   forks user A (the
 *       owner's uid: her GETs succeed) and user B (another uid: every GET
 *       must fail with EACCES, or time out); both GET and release in a
 *       loop for SECONDS.  With the owner stalled, GETs are re-posted and
 *       answered twice: an answer must only ever reach the GET it answers.
 *       Prints each user's counts, then PASS (B never got a permit, A did)
 *       or FAIL, and the exit status.
 *   xpmem-xpart-getrace hold SEGID GOFILE   GETs once, prints "got", waits
 *       (at most 60 s) until GOFILE exists, releases the permit (its proxy
 *       goes: RELEASE to the owner) and prints "PASS hold": the caller
 *       arms corrupt_next in between, so that RELEASE is lost.
 *   xpmem-xpart-getrace flood SEGID SECONDS NPROC   NPROC processes GET
 *       (and release) in a loop for SECONDS, whatever the answers: load on
 *       the owner's fault service.  Prints the counts and "PASS flood".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xpmem.h>

static int become(uid_t uid)
{
	if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid)) {
		perror("setresuid");
		return -1;
	}
	return 0;
}

static int export_side(int seconds, uid_t uid)
{
	uint64_t *p;
	xpmem_segid_t segid;

	if (become(uid))
		return 1;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	p[0] = 0x5ec2e7;	/* A's secret */
	segid = xpmem_make(p, 4096, XPMEM_PERMIT_MODE, (void *)0600);
	if (segid < 0)
		return perror("xpmem_make"), 1;
	printf("segid %lld\n", (long long)segid);
	fflush(stdout);
	sleep(seconds);
	printf("PASS export\n");
	return 0;
}

/* One user's loop; its counts on one line, tagged. */
static int user(const char *tag, xpmem_segid_t segid, int seconds, uid_t uid,
		useconds_t pause)
{
	time_t end = time(NULL) + seconds;
	unsigned long ok = 0, eacces = 0, timedout = 0, other = 0;

	if (become(uid))
		return 2;
	while (time(NULL) < end) {
		xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE,
					      (void *)0600);

		if (apid >= 0) {
			ok++;
			xpmem_release(apid);
		} else if (errno == EACCES) {
			eacces++;
		} else if (errno == ETIMEDOUT) {
			timedout++;
		} else {
			other++;
			fprintf(stderr, "%s: get: %s\n", tag, strerror(errno));
		}
		usleep(pause);
	}
	printf("user %s uid %u ok %lu eacces %lu timedout %lu other %lu\n", tag,
	       (unsigned)uid, ok, eacces, timedout, other);
	fflush(stdout);
	/* Status: 1 when this user got a permit. */
	return ok ? 1 : 0;
}

static int race_side(xpmem_segid_t segid, int seconds, uid_t uid_a, uid_t uid_b)
{
	int st_a = 0, st_b = 0;
	pid_t a, b;

	fflush(stdout);
	/*
	 * Paced so that the owner keeps up (every GET is answered twice at
	 * most, within about fault_ms) while B nearly always has a GET
	 * waiting when a second answer to one of A's arrives.
	 */
	a = fork();
	if (a == 0)
		_exit(user("A", segid, seconds, uid_a, 700000));
	b = fork();
	if (b == 0) {
		usleep(350000);
		_exit(user("B", segid, seconds, uid_b, 300000));
	}
	if (a < 0 || b < 0)
		return perror("fork"), 1;
	waitpid(a, &st_a, 0);
	waitpid(b, &st_b, 0);
	if (!WIFEXITED(st_a) || !WIFEXITED(st_b) || WEXITSTATUS(st_a) > 1 ||
	    WEXITSTATUS(st_b) > 1) {
		printf("FAIL getrace: a user died or could not switch uid\n");
		return 1;
	}
	if (WEXITSTATUS(st_b)) {
		printf("FAIL getrace: user B got a permit to A's 0600 segment (another request's answer)\n");
		return 1;
	}
	if (!WEXITSTATUS(st_a)) {
		printf("FAIL getrace: user A never got her own segment (the race was not run)\n");
		return 1;
	}
	printf("PASS getrace\n");
	return 0;
}

static int flood_side(xpmem_segid_t segid, int seconds, int nproc)
{
	int i, st;

	fflush(stdout);
	for (i = 0; i < nproc; i++)
		if (fork() == 0)
			_exit(user("F", segid, seconds, getuid(), 20000) > 1);
	while (wait(&st) > 0)
		;
	printf("PASS flood\n");
	return 0;
}

static int hold_side(xpmem_segid_t segid, const char *go)
{
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDWR, XPMEM_PERMIT_MODE, NULL);
	int i;

	if (apid < 0)
		return perror("xpmem_get"), 1;
	printf("got\n");
	fflush(stdout);
	for (i = 0; i < 6000 && access(go, F_OK); i++)
		usleep(10000);
	if (i == 6000) {
		printf("FAIL hold: %s never appeared\n", go);
		return 1;
	}
	if (xpmem_release(apid))
		return perror("xpmem_release"), 1;
	printf("PASS hold\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "hold"))
		return hold_side(strtoll(argv[2], NULL, 0), argv[3]);
	if (argc == 5 && !strcmp(argv[1], "flood"))
		return flood_side(strtoll(argv[2], NULL, 0), atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "export"))
		return export_side(atoi(argv[2]), (uid_t)atoi(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "race"))
		return race_side(strtoll(argv[2], NULL, 0), atoi(argv[3]),
				 (uid_t)atoi(argv[4]), (uid_t)atoi(argv[5]));
	fprintf(stderr, "usage: xpmem-xpart-getrace export SECONDS UID\n"
		"       xpmem-xpart-getrace race SEGID SECONDS UID_A UID_B\n"
		"       xpmem-xpart-getrace hold SEGID GOFILE\n");
	return 2;
}
