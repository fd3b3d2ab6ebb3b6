// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuse.c - a segment backed by a FUSE file whose daemon does not answer
 * (issue 9, defect 4): the owner's fault service must not wait for it.
 *
 *   xpmem-xpart-fuse serve MNT GATE    a FUSE file system at MNT with one
 *       file, "data" (16 pages), whose reads block until the file GATE
 *       exists (at most 300 s), then return the pattern: the u64 at byte
 *       offset o is FUSE_MAGIC | o / 4096.  Runs until MNT is unmounted.
 *   xpmem-xpart-fuse export FILE SECONDS STOP   maps FILE read-only, shared,
 *       without touching it, makes a segment of it (mode 0666), prints
 *       "segid N"; then, until STOP exists (at most SECONDS), maps and
 *       unmaps an anonymous page every 20 ms (which needs its mmap_lock for
 *       writing) and prints "cycles N" after each: the caller sees whether
 *       anything holds that lock.
 *   xpmem-xpart-fuse attach SEGID sigbus|data   a child GETs, attaches and
 *       reads the first and last words: "PASS fuse-attach" when it got what
 *       was expected (a SIGBUS, or the pattern), with the time it took
 *       ("in N ms").
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <xpmem.h>

#define FUSE_MAGIC 0x6675736500000000ULL	/* "fuse" */
#define PAGES 16
#define SIZE (PAGES * 4096)

static const char *gate;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- the daemon ------------------------------------------------------------ */

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/data"))
		return -ENOENT;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = SIZE;
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	if (strcmp(path, "/"))
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "data", NULL, 0, 0);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/data"))
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	return 0;
}

/* Blocks until the gate exists: the daemon "never answers" until then. */
static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	size_t i;
	int k;

	(void)path, (void)fi;
	for (k = 0; k < 300 * 50 && access(gate, F_OK); k++)
		usleep(20000);
	if (off >= SIZE)
		return 0;
	if (off + (off_t)size > SIZE)
		size = SIZE - off;
	for (i = 0; i + 8 <= size; i += 8) {
		uint64_t v = FUSE_MAGIC | (uint64_t)(off + i) / 4096;

		memcpy(buf + i, &v, 8);
	}
	return (int)size;
}

static const struct fuse_operations ops = {
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
};

static int serve(const char *mnt, const char *g)
{
	char *args[] = { "xpmem-xpart-fuse", "-f", (char *)mnt, NULL };

	gate = g;
	return fuse_main(3, args, &ops, NULL);
}

/* ---- the exporter ---------------------------------------------------------- */

static int export_side(const char *file, int seconds, const char *stop)
{
	double end = now_ms() + seconds * 1e3;
	long cycles = 0;
	xpmem_segid_t segid;
	void *p, *m;
	int fd = open(file, O_RDONLY);

	if (fd < 0)
		return perror(file), 1;
	p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	segid = xpmem_make(p, SIZE, XPMEM_PERMIT_MODE, (void *)0666);
	if (segid < 0)
		return perror("xpmem_make"), 1;
	printf("segid %lld\n", (long long)segid);
	fflush(stdout);
	while (access(stop, F_OK) && now_ms() < end) {
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return perror("mmap anon"), 1;
		munmap(m, 4096);
		printf("cycles %ld\n", ++cycles);
		fflush(stdout);
		usleep(20000);
	}
	xpmem_remove(segid);
	printf("PASS fuse-export: %ld cycles\n", cycles);
	return 0;
}

/* ---- the attacher ---------------------------------------------------------- */

/*
 * In the child: GET, attach, read the first and the last word.  The child
 * makes its own attachment: attachments are not inherited (VM_DONTCOPY),
 * and a forked child may not use its parent's xpmem descriptor.
 */
static int touch(xpmem_segid_t segid)
{
	xpmem_apid_t apid = xpmem_get(segid, XPMEM_RDONLY, XPMEM_PERMIT_MODE, NULL);
	struct xpmem_addr addr = { .apid = apid, .offset = 0 };
	volatile uint64_t *q;

	if (apid < 0)
		return perror("xpmem_get"), 4;
	q = xpmem_attach(addr, SIZE, NULL);
	if (q == (void *)-1)
		return perror("xpmem_attach"), 5;
	return q[0] == (FUSE_MAGIC | 0) && q[SIZE / 8 - 1] == (FUSE_MAGIC | (PAGES - 1)) ? 0 : 3;
}

static int attach_side(const char *arg, const char *expect)
{
	xpmem_segid_t segid = strtoll(arg, NULL, 0);
	int want_sigbus = !strcmp(expect, "sigbus"), status, ok, k;
	double t0, ms;
	pid_t pid;

	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (!pid)
		_exit(touch(segid));
	/* Bounded: 90 s, then the child is killed and that is a failure. */
	for (k = 0; k < 9000 && waitpid(pid, &status, WNOHANG) == 0; k++)
		usleep(10000);
	ms = now_ms() - t0;
	if (k == 9000) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		printf("FAIL fuse-attach: the fault did not end in 90 s\n");
		return 1;
	}
	if (WIFSIGNALED(status))
		printf("fault: signal %d after %.0f ms\n", WTERMSIG(status), ms);
	else
		printf("fault: exit %d after %.0f ms%s\n", WEXITSTATUS(status), ms,
		       WEXITSTATUS(status) == 0 ? " (the pattern)" : "");
	ok = want_sigbus ? WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS :
			   WIFEXITED(status) && WEXITSTATUS(status) == 0;
	printf("%s fuse-attach: %s expected, in %.0f ms\n", ok ? "PASS" : "FAIL",
	       want_sigbus ? "SIGBUS" : "the pattern", ms);
	return !ok;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "export"))
		return export_side(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 4 && !strcmp(argv[1], "attach"))
		return attach_side(argv[2], argv[3]);
	fprintf(stderr, "usage: xpmem-xpart-fuse serve MNT GATE | export FILE SECONDS STOP | attach SEGID sigbus|data\n");
	return 2;
}
