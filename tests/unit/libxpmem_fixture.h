/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libxpmem_fixture.h - every test gets a freshly loaded libxpmem talking to
 * the fake device (fakedev.h).
 *
 * The library keeps its descriptor in process-wide state, and laziness can
 * only be observed once per load, so each test dlopen()s libxpmem.so.0 and
 * dlclose()s it again, and checks that it was really unloaded.  The test
 * binary is therefore not linked with libxpmem.
 */
#ifndef LIBXPMEM_FIXTURE_H
#define LIBXPMEM_FIXTURE_H

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fakedev.h"
#include "xpmem.h"

/* Path of the library under test: $LIBXPMEM_PATH, else the build tree's. */
inline std::string LibxpmemPath()
{
	const char *env = getenv("LIBXPMEM_PATH");

	return env && *env ? env : LIBXPMEM_BUILD_PATH;
}

/* The library's entry points, resolved from one dlopen() of it. */
struct Libxpmem {
	void *handle = nullptr;
	decltype(&xpmem_version) version = nullptr;
	decltype(&xpmem_make) make = nullptr;
	decltype(&xpmem_remove) remove = nullptr;
	decltype(&xpmem_get) get = nullptr;
	decltype(&xpmem_release) release = nullptr;
	decltype(&xpmem_attach) attach = nullptr;
	decltype(&xpmem_detach) detach = nullptr;
	int (*init)(void) = nullptr;
	int (*ioctl)(int, void *) = nullptr;
};

/* Upstream command numbers (docs/abi.md), spelled out here rather than
 * taken from the header under test. */
enum : unsigned long {
	kVersion = 0x7800,
	kMake = 0x7801,
	kRemove = 0x7802,
	kGet = 0x7803,
	kRelease = 0x7804,
	kAttach = 0x7805,
	kDetach = 0x7806,
};

constexpr int kNoProc = 2004;

/* Expected argument bytes, built field by field at docs/abi.md offsets. */
class ArgBytes {
public:
	explicit ArgBytes(size_t len) : bytes_(len, 0) {}
	ArgBytes &u64(size_t off, uint64_t v) { return put(off, &v, 8); }
	ArgBytes &u32(size_t off, uint32_t v) { return put(off, &v, 4); }
	const std::vector<uint8_t> &bytes() const { return bytes_; }

private:
	ArgBytes &put(size_t off, const void *v, size_t n)
	{
		EXPECT_LE(off + n, bytes_.size());
		if (off + n <= bytes_.size())
			memcpy(bytes_.data() + off, v, n);
		return *this;
	}
	std::vector<uint8_t> bytes_;
};

inline std::vector<uint8_t> RecordedBytes(const fakedev_call &c)
{
	return std::vector<uint8_t>(c.arg, c.arg + c.len);
}

inline uint64_t Load64(const void *arg, size_t off)
{
	uint64_t v;

	memcpy(&v, static_cast<const uint8_t *>(arg) + off, 8);
	return v;
}

inline void Store64(void *arg, size_t off, uint64_t v)
{
	memcpy(static_cast<uint8_t *>(arg) + off, &v, 8);
}

/* What the fake kernel does with one ioctl; set errno and return -1 to
 * fail. */
using Kernel = std::function<int(const fakedev_call &, void *arg)>;

class LibxpmemTest : public ::testing::Test {
protected:
	static constexpr const char *kFakePath = "/nonexistent/xpmem-unit-fake";

	void SetUp() override
	{
		fakedev_arm(kFakePath);
		ASSERT_EQ(setenv("XPMEM_DEVICE", kFakePath, 1), 0);
		Load();
	}

	void TearDown() override
	{
		Unload();
		fakedev_disarm();
		unsetenv("XPMEM_DEVICE");
	}

	void Load()
	{
		const std::string path = LibxpmemPath();

		ASSERT_EQ(dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD), nullptr)
			<< "a previous test left libxpmem loaded";
		lib_.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
		ASSERT_NE(lib_.handle, nullptr) << dlerror();
		Resolve(lib_.version, "xpmem_version");
		Resolve(lib_.make, "xpmem_make");
		Resolve(lib_.remove, "xpmem_remove");
		Resolve(lib_.get, "xpmem_get");
		Resolve(lib_.release, "xpmem_release");
		Resolve(lib_.attach, "xpmem_attach");
		Resolve(lib_.detach, "xpmem_detach");
		Resolve(lib_.init, "xpmem_init");
		Resolve(lib_.ioctl, "xpmem_ioctl");
	}

	void Unload()
	{
		if (!lib_.handle)
			return;
		EXPECT_EQ(dlclose(lib_.handle), 0);
		lib_ = Libxpmem();
		EXPECT_EQ(dlopen(LibxpmemPath().c_str(), RTLD_NOW | RTLD_NOLOAD),
			  nullptr) << "libxpmem was not unloaded";
	}

	/* Install the fake kernel for the rest of the test. */
	void SetKernel(Kernel k)
	{
		kernel_ = std::move(k);
		fakedev_set_handler(&LibxpmemTest::Dispatch, this);
	}

	std::vector<fakedev_call> Calls() const
	{
		std::vector<fakedev_call> out(fakedev_call_count());

		for (size_t i = 0; i < out.size(); i++)
			EXPECT_EQ(fakedev_get_call(static_cast<int>(i), &out[i]), 0);
		return out;
	}

	Libxpmem lib_;

private:
	template <typename Fn> void Resolve(Fn &fn, const char *name)
	{
		fn = reinterpret_cast<Fn>(dlsym(lib_.handle, name));
		ASSERT_NE(fn, nullptr) << name;
	}

	static int Dispatch(const fakedev_call *call, void *arg, void *ctx)
	{
		return static_cast<LibxpmemTest *>(ctx)->kernel_(*call, arg);
	}

	Kernel kernel_;
};

/* A kernel that fails every call with err. */
inline Kernel Failing(int err)
{
	return [err](const fakedev_call &, void *) {
		errno = err;
		return -1;
	};
}

#endif /* LIBXPMEM_FIXTURE_H */
