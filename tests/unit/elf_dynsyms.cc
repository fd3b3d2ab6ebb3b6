// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * elf_dynsyms.cc - see elf_dynsyms.h.  Every offset read from the file is
 * bounds-checked: a malformed file gives an error, not a crash.
 */
#include "elf_dynsyms.h"

#include <elf.h>
#include <string.h>

#include <fstream>
#include <iterator>
#include <map>

namespace {

/* GNU symbol versioning: bit 15 of a versym entry marks name@VER (not the
 * default version), the rest is the version index. */
constexpr Elf64_Half kVersymHidden = 0x8000;
constexpr Elf64_Half kVersymIndex = 0x7fff;

class Image {
public:
	explicit Image(std::vector<char> b) : bytes_(std::move(b)) {}

	template <typename T> bool Get(uint64_t off, T *out) const
	{
		if (off > bytes_.size() || sizeof(T) > bytes_.size() - off)
			return false;
		memcpy(out, bytes_.data() + off, sizeof(T));
		return true;
	}

	bool Str(uint64_t table_off, uint64_t table_size, uint64_t idx,
		 std::string *out) const
	{
		if (idx >= table_size || table_off > bytes_.size() ||
		    table_size > bytes_.size() - table_off)
			return false;
		const char *s = bytes_.data() + table_off + idx;
		size_t max = table_size - idx;
		size_t len = strnlen(s, max);
		if (len == max)
			return false;
		out->assign(s, len);
		return true;
	}

private:
	std::vector<char> bytes_;
};

} // namespace

bool ReadDynInfo(const std::string &path, DynInfo *info, std::string *error)
{
	std::ifstream in(path, std::ios::binary);
	if (!in) {
		*error = "cannot open " + path;
		return false;
	}
	Image img(std::vector<char>(std::istreambuf_iterator<char>(in), {}));

	Elf64_Ehdr eh;
	if (!img.Get(0, &eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_DYN) {
		*error = path + " is not an ELF64 shared object";
		return false;
	}

	std::vector<Elf64_Shdr> sh(eh.e_shnum);
	for (size_t i = 0; i < sh.size(); i++) {
		if (!img.Get(eh.e_shoff + i * sizeof(Elf64_Shdr), &sh[i])) {
			*error = "bad section header";
			return false;
		}
	}
	const Elf64_Shdr *dynsym = nullptr, *versym = nullptr,
			 *verdef = nullptr, *dynamic = nullptr;
	for (const auto &s : sh) {
		if (s.sh_type == SHT_DYNSYM)
			dynsym = &s;
		else if (s.sh_type == SHT_GNU_versym)
			versym = &s;
		else if (s.sh_type == SHT_GNU_verdef)
			verdef = &s;
		else if (s.sh_type == SHT_DYNAMIC)
			dynamic = &s;
	}
	if (!dynsym || dynsym->sh_link >= sh.size()) {
		*error = "no dynamic symbol table";
		return false;
	}
	const Elf64_Shdr &dynstr = sh[dynsym->sh_link];

	if (dynamic) {
		for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= dynamic->sh_size;
		     off += sizeof(Elf64_Dyn)) {
			Elf64_Dyn d;
			if (!img.Get(dynamic->sh_offset + off, &d) || d.d_tag == DT_NULL)
				break;
			if (d.d_tag == DT_SONAME)
				img.Str(dynstr.sh_offset, dynstr.sh_size, d.d_un.d_val,
					&info->soname);
		}
	}

	/* Version index -> name, from the verdef chain. */
	std::map<unsigned, std::string> versions;
	unsigned base_index = 0;
	if (verdef && verdef->sh_link < sh.size()) {
		const Elf64_Shdr &vstr = sh[verdef->sh_link];
		uint64_t off = verdef->sh_offset;
		for (uint64_t n = 0; n < verdef->sh_info; n++) {
			Elf64_Verdef vd;
			Elf64_Verdaux aux;
			std::string name;
			if (!img.Get(off, &vd) || !img.Get(off + vd.vd_aux, &aux) ||
			    !img.Str(vstr.sh_offset, vstr.sh_size, aux.vda_name, &name)) {
				*error = "bad version definition";
				return false;
			}
			versions[vd.vd_ndx] = name;
			if (vd.vd_flags & VER_FLG_BASE)
				base_index = vd.vd_ndx;
			info->version_defs.push_back(name);
			if (!vd.vd_next)
				break;
			off += vd.vd_next;
		}
	}

	const uint64_t count = dynsym->sh_size / sizeof(Elf64_Sym);
	for (uint64_t i = 1; i < count; i++) {
		Elf64_Sym s;
		DynSym out;
		if (!img.Get(dynsym->sh_offset + i * sizeof(Elf64_Sym), &s) ||
		    !img.Str(dynstr.sh_offset, dynstr.sh_size, s.st_name, &out.name)) {
			*error = "bad dynamic symbol";
			return false;
		}
		out.defined = s.st_shndx != SHN_UNDEF;
		out.absolute = s.st_shndx == SHN_ABS;
		out.global = ELF64_ST_BIND(s.st_info) == STB_GLOBAL;
		out.hidden_version = false;
		Elf64_Half vs;
		if (versym && img.Get(versym->sh_offset + i * sizeof(vs), &vs)) {
			out.hidden_version = (vs & kVersymHidden) != 0;
			const unsigned idx = vs & kVersymIndex;
			if (idx != base_index && versions.count(idx))
				out.version = versions[idx];
		}
		info->symbols.push_back(out);
	}
	return true;
}
