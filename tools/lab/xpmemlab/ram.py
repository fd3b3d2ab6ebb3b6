# SPDX-License-Identifier: GPL-2.0-only
"""xpmemlab.ram - reading a partition's memory from the host.

A partition's RAM is a file on the host (build/lab/run[/pP]/ram):
guest-physical address X is offset X.  So the host can see what is really
in a frame, whatever the guest's kernel says: whether a quarantined page
still holds what a dead partition wrote (it was never reused), whether a
write made after a fence reached memory.
"""

import struct

PAGE = 4096


def words_at(ram_file, pfns, word):
    """The 64-bit word `word` of each frame."""
    out = []
    with open(ram_file, 'rb') as f:
        for pfn in pfns:
            f.seek(pfn * PAGE + word * 8)
            out.append(struct.unpack('<Q', f.read(8))[0])
    return out


def frames_holding(ram_file, pfns, value_of_page):
    """How many frames hold value_of_page(i) at words 0 and 511 (frame i is
    page i's: the puppet's `stamp` writes VALUE ^ page there)."""
    w0 = words_at(ram_file, pfns, 0)
    w511 = words_at(ram_file, pfns, 511)
    return sum(1 for i in range(len(pfns))
               if w0[i] == value_of_page(i) and w511[i] == value_of_page(i))


def find_marker(ram_file, marker, chunk=64 << 20):
    """Offsets (at most 16) of 8-byte-aligned words whose upper 48 bits are
    those of `marker` (the low 16 bits carry a page number).  Scans the
    whole file: a stale write may have landed in any frame."""
    needle = struct.pack('<Q', marker)[2:]
    hits = []
    with open(ram_file, 'rb') as f:
        base = 0
        tail = b''
        while len(hits) < 16:
            b = f.read(chunk)
            if not b:
                break
            buf = tail + b
            start = base - len(tail)
            i = buf.find(needle)
            while i >= 0 and len(hits) < 16:
                off = start + i - 2
                if off % 8 == 0 and off not in hits:
                    hits.append(off)
                i = buf.find(needle, i + 1)
            tail = buf[-8:]
            base += len(b)
    return hits
