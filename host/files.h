// What the host knows of files, shared by both drivers and CheckSqe: the
// layout's OPENAT flags as the platform's O_* flags, and what makes an
// OPENAT's path one the kernel may read.
#pragma once

#include <cstdint>

#include "core_memory.h"

namespace percore {

// What STATX asks for: the basic stats, the birth time and (6.1+; older
// kernels leave the fields 0) O_DIRECT's alignment.
inline constexpr unsigned kStatxMask =
    0x7ffU /* STATX_BASIC_STATS */ | 0x800U /* STATX_BTIME */ | 0x2000U /* STATX_DIOALIGN */;

// The platform's open(2) flags for the layout's OPEN_F_* bits, with
// O_CLOEXEC always; -1 for bits the layout does not define or both access
// modes at once. CheckSqe refuses an OPENAT whose flags map to -1.
int OpenFlags(uint32_t layout_flags);

// Whether [addr, addr + len) in the core's memory (inside the arena: checked
// before) holds exactly `count` C strings back to back, each at most
// PATH_MAX_LEN bytes with its NUL, the last NUL at addr + len - 1: what an
// OPENAT (one path) or a RENAMEAT (two) may hand the kernel.
bool IsPathStrings(const CoreMemory& memory, uint32_t addr, uint32_t len, uint32_t count);

// The paths an op carries in its addr: 1 (OPENAT, UNLINKAT, MKDIRAT), 2
// (RENAMEAT, SYMLINKAT, LINKAT), or 0.
uint32_t PathCount(uint8_t opcode);

// FALLOCATE: the platform's FALLOC_FL_* for the layout's FALLOC_F_* bits
// (checked by CheckSqe), and the 64-bit length the SQE carries in addr (high)
// and len (low).
int FallocMode(uint32_t layout_mode);
inline uint64_t FallocLength(const Sqe& sqe) { return uint64_t{sqe.addr} << 32 | sqe.len; }

// The second of two C strings at `first` (checked by IsPathStrings).
inline const char* SecondPath(const uint8_t* first) {
  const char* p = reinterpret_cast<const char*>(first);
  return p + __builtin_strlen(p) + 1;
}

}  // namespace percore
