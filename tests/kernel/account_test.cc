// SPDX-License-Identifier: GPL-2.0-only
//
// account_test.cc - what a user makes through /dev/xpmem and keeps for as
// long as it likes is charged to its memory cgroup (__GFP_ACCOUNT): a
// process in a cgroup of its own takes 20,000 permits (GETs of one
// segment) and the cgroup's slab grows by at least 32 bytes a permit.
// Unaccounted, the permits cost the cgroup nothing and no limit bounds them.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "common.h"

namespace xk {
namespace {

constexpr const char *kRoot = "/sys/fs/cgroup";
constexpr int kPermits = 20000;

bool write_file(const std::string &path, const std::string &v)
{
	int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = write(fd, v.data(), v.size()) == (ssize_t)v.size();
	close(fd);
	return ok;
}

// A field of memory.stat, -1 if missing.
long long stat_field(const std::string &cg, const std::string &name)
{
	std::ifstream f(cg + "/memory.stat");
	std::string k;
	long long v;

	while (f >> k >> v)
		if (k == name)
			return v;
	return -1;
}

// cgroup2 with the memory controller, mounted if it is not yet.
bool cgroup2_ready(std::string *err)
{
	struct stat st;

	if (stat((std::string(kRoot) + "/cgroup.controllers").c_str(), &st) &&
	    mount("none", kRoot, "cgroup2", 0, nullptr)) {
		*err = std::string("mount cgroup2: ") + strerror(errno);
		return false;
	}
	std::ifstream c(std::string(kRoot) + "/cgroup.controllers");
	std::string all((std::istreambuf_iterator<char>(c)), std::istreambuf_iterator<char>());
	if (all.find("memory") == std::string::npos) {
		*err = "no memory controller in cgroup.controllers: " + all;
		return false;
	}
	write_file(std::string(kRoot) + "/cgroup.subtree_control", "+memory");
	return true;
}

TEST(Account, PermitsAreChargedToTheCgroupOfTheirMaker)
{
	std::string err;
	ASSERT_TRUE(cgroup2_ready(&err)) << err;
	std::string cg = std::string(kRoot) + "/xpmem-account-" + std::to_string(getpid());
	ASSERT_EQ(mkdir(cg.c_str(), 0755), 0) << strerror(errno);

	int pfd[2];
	ASSERT_EQ(pipe(pfd), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		long long r[2] = { -1, -1 };
		Mapping m(kPage);
		if (write_file(cg + "/cgroup.procs", "0") && m.ok()) {
			xpmem_segid_t seg = xpmem_make(m.addr, kPage, XPMEM_PERMIT_MODE,
						       (void *)0600);
			std::vector<xpmem_apid_t> apids;
			if (seg > 0) {
				r[0] = stat_field(cg, "slab");
				for (int i = 0; i < kPermits; i++) {
					xpmem_apid_t a = xpmem_get(seg, XPMEM_RDWR,
								   XPMEM_PERMIT_MODE, nullptr);
					if (a <= 0)
						break;
					apids.push_back(a);
				}
				r[1] = apids.size() == (size_t)kPermits ? stat_field(cg, "slab") : -2;
				for (xpmem_apid_t a : apids)
					xpmem_release(a);
				xpmem_remove(seg);
			}
		}
		(void)!write(pfd[1], r, sizeof(r));
		_exit(0);
	}
	close(pfd[1]);
	long long r[2] = { -1, -1 };
	ssize_t got = read(pfd[0], r, sizeof(r));
	close(pfd[0]);
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	rmdir(cg.c_str());
	ASSERT_EQ(got, (ssize_t)sizeof(r));
	ASSERT_GE(r[0], 0) << "could not join the cgroup, make a segment or read memory.stat";
	ASSERT_GE(r[1], 0) << "could not take " << kPermits << " permits";
	long long grew = r[1] - r[0];
	printf("cgroup slab %lld -> %lld bytes: %.1f bytes a permit\n", r[0], r[1],
	       (double)grew / kPermits);
	EXPECT_GE(grew, 32LL * kPermits) << "permits are not charged to their maker";
}

}  // namespace
}  // namespace xk
