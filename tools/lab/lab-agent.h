/* SPDX-License-Identifier: GPL-2.0-only */
/* lab-agent.h - the two halves of lab-agent: guest server and host client. */
#ifndef LAB_AGENT_H
#define LAB_AGENT_H

#include <stdint.h>
#include <sys/types.h>

/* Exit status of the host client when the guest cannot be reached or died. */
#define LAB_EXIT_LOST 255
/* Exit status when the command (or the guest answering for it) timed out. */
#define LAB_EXIT_TIMEOUT 124

struct lab_client {
	const char *socket;  /* QEMU's chardev socket of the agent port */
	const char *lock;    /* file to flock so that clients take turns; NULL: none */
	pid_t qemu_pid;      /* checked while waiting; 0: not checked */
	unsigned timeout_s;  /* 0: no timeout */
	const char *cwd;     /* NULL: the caller's */
	char **env;          /* extra K=V for the command */
	int nenv;
};

int lab_serve(const char *port_name);
int lab_ping(const struct lab_client *c);
int lab_exec(const struct lab_client *c, char **argv);
int lab_poweroff(const struct lab_client *c);

#endif
