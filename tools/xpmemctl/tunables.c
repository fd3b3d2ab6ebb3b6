// SPDX-License-Identifier: GPL-2.0-only
/*
 * tunables.c - `tunables`, `set NAME VALUE` and `inject`: tunables and
 * fault-injection points are one kernel table, told apart by their kind.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xpmem_netlink.h"
#include "xpmemctl.h"

struct tun_list {
	struct records rs;
	int kind;		/* only this kind */
};

static int on_tunable(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[XPMEM_TUN_A_MAX_ATTR + 1];
	struct tun_list *l = data;
	struct record *r;

	nl_parse(nlh, tb, XPMEM_TUN_A_MAX_ATTR);
	if ((int)nl_u32(tb[XPMEM_TUN_A_KIND]) != l->kind)
		return MNL_CB_OK;
	r = records_add(&l->rs);
	rec_str(r, "name", tb[XPMEM_TUN_A_NAME] ?
		mnl_attr_get_str(tb[XPMEM_TUN_A_NAME]) : "?");
	rec_u64(r, "value", nl_u64(tb[XPMEM_TUN_A_VALUE]));
	rec_u64(r, "min", nl_u64(tb[XPMEM_TUN_A_MIN]));
	rec_u64(r, "max", nl_u64(tb[XPMEM_TUN_A_MAX]));
	rec_str(r, "description", tb[XPMEM_TUN_A_DESCRIPTION] ?
		mnl_attr_get_str(tb[XPMEM_TUN_A_DESCRIPTION]) : "");
	return MNL_CB_OK;
}

static int list(struct ctl *c, int kind, const char *key)
{
	struct tun_list l = { .kind = kind };
	int err = nl_call(&c->nl, XPMEM_CMD_GET_TUNABLES, 1, NULL, on_tunable,
			  &l);

	if (err)
		return ctl_error(c, err, key);
	if (c->json) {
		fputc('{', stdout);
		print_json_array(stdout, key, &l.rs);
		fputs("}\n", stdout);
	} else if (l.rs.n) {
		print_table(stdout, &l.rs);
	} else {
		printf("no %s in this build\n", key);
	}
	records_free(&l.rs);
	return EXIT_OK;
}

static int set(struct ctl *c, const char *name, const char *value)
{
	struct nl_req req = NL_REQ_INIT;
	char what[96];
	int err;

	if (parse_u64(value, &req.value)) {
		fprintf(stderr, "xpmemctl: %s: not a number\n", value);
		return EXIT_USAGE;
	}
	req.has_value = 1;
	req.name = name;
	err = nl_call(&c->nl, XPMEM_CMD_SET_TUNABLE, 0, &req, NULL, NULL);
	snprintf(what, sizeof(what), "set %s", name);
	return err ? ctl_error(c, err, what) : EXIT_OK;
}

int cmd_tunables(struct ctl *c, int argc, char **argv)
{
	if (wants_help(argc, argv) || argc > 1) {
		printf("usage: xpmemctl [--json] tunables\n"
		       "Lists the tunables with their values and ranges.\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	return list(c, XPMEM_TUN_TUNABLE, "tunables");
}

int cmd_set(struct ctl *c, int argc, char **argv)
{
	if (wants_help(argc, argv) || argc != 3) {
		printf("usage: xpmemctl set NAME VALUE\n"
		       "Sets a tunable (see `xpmemctl tunables`); needs CAP_SYS_ADMIN.\n"
		       "  fault_window  pages mapped per attachment fault: a power\n"
		       "                of two from 1 to 512\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	return set(c, argv[1], argv[2]);
}

int cmd_inject(struct ctl *c, int argc, char **argv)
{
	if (wants_help(argc, argv) || argc == 2 || argc > 3) {
		printf("usage: xpmemctl [--json] inject [NAME VALUE]\n"
		       "Without arguments, lists the fault-injection points; with\n"
		       "NAME VALUE, arms one (0 disarms); needs CAP_SYS_ADMIN.\n"
		       "Injection points come with the partition fabric; this build\n"
		       "may have none.\n");
		return wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
	}
	if (argc == 1)
		return list(c, XPMEM_TUN_INJECTION, "injection points");
	return set(c, argv[1], argv[2]);
}
