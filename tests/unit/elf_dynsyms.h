/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * elf_dynsyms.h - read the dynamic symbol table of a 64-bit ELF shared
 * object, with the symbol versions and the soname, straight from the file
 * (no binutils needed on the test machine).
 */
#ifndef ELF_DYNSYMS_H
#define ELF_DYNSYMS_H

#include <string>
#include <vector>

struct DynSym {
	std::string name;
	std::string version;	/* "" if unversioned or a base version */
	bool defined;		/* st_shndx != SHN_UNDEF */
	bool hidden_version;	/* name@VER rather than name@@VER */
	bool absolute;		/* st_shndx == SHN_ABS (version nodes) */
	bool global;		/* STB_GLOBAL (not weak or local) */
};

struct DynInfo {
	std::string soname;
	std::vector<std::string> version_defs;	/* including the base one */
	std::vector<DynSym> symbols;
};

/* false, with *error set, if path is not a readable ELF64 shared object. */
bool ReadDynInfo(const std::string &path, DynInfo *info, std::string *error);

#endif /* ELF_DYNSYMS_H */
