// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * symbols_test.cc - the ABI of libxpmem.so.0 as the dynamic linker sees it:
 * its soname, exactly the expected exported symbols, each at XPMEM_1.0, and
 * nothing internal leaking out.
 */
#include <dlfcn.h>

#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "elf_dynsyms.h"
#include "libxpmem_fixture.h"

namespace {

const std::set<std::string> kExported = {
	"xpmem_version", "xpmem_make",   "xpmem_remove",
	"xpmem_get",     "xpmem_release", "xpmem_attach",
	"xpmem_detach",  "xpmem_init",   "xpmem_ioctl",
};
constexpr const char *kVersionNode = "XPMEM_1.0";

class SymbolsTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		std::string error;
		ASSERT_TRUE(ReadDynInfo(LibxpmemPath(), &info_, &error)) << error;
	}
	DynInfo info_;
};

TEST_F(SymbolsTest, SonameIsLibxpmemSo0)
{
	EXPECT_EQ(info_.soname, "libxpmem.so.0");
}

TEST_F(SymbolsTest, ExportsExactlyTheExpectedSymbols)
{
	std::set<std::string> defined;
	for (const auto &s : info_.symbols) {
		/* The version node itself appears as an absolute symbol. */
		if (s.defined && !s.absolute)
			defined.insert(s.name);
	}
	EXPECT_EQ(defined, kExported);
}

TEST_F(SymbolsTest, EachExportCarriesTheVersionNode)
{
	int seen = 0;
	for (const auto &s : info_.symbols) {
		if (!s.defined || s.absolute)
			continue;
		seen++;
		EXPECT_EQ(s.version, kVersionNode) << s.name;
		EXPECT_FALSE(s.hidden_version) << s.name << " is not the default";
		EXPECT_TRUE(s.global) << s.name;
	}
	EXPECT_EQ(seen, static_cast<int>(kExported.size()));
}

TEST_F(SymbolsTest, OneVersionNodeBesidesTheBase)
{
	EXPECT_EQ(info_.version_defs,
		  (std::vector<std::string>{"libxpmem.so.0", kVersionNode}));
}

TEST_F(SymbolsTest, DynamicLinkerFindsVersionedSymbolsOnly)
{
	void *h = dlopen(LibxpmemPath().c_str(), RTLD_NOW | RTLD_LOCAL);
	ASSERT_NE(h, nullptr) << dlerror();
	for (const auto &name : kExported) {
		EXPECT_NE(dlvsym(h, name.c_str(), kVersionNode), nullptr) << name;
		EXPECT_EQ(dlvsym(h, name.c_str(), "XPMEM_2.0"), nullptr) << name;
	}
	for (const char *internal :
	     {"xpmem_dev_ioctl", "xpmem_dev_open", "dev_get", "dev_reopen",
	      "dev_fd", "dev_lock"})
		EXPECT_EQ(dlsym(h, internal), nullptr) << internal;
	EXPECT_EQ(dlclose(h), 0);
}

} // namespace
