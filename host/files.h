// What the host knows of files, shared by both drivers and CheckSqe: the
// layout's OPENAT flags as the platform's O_* flags, and what makes an
// OPENAT's path one the kernel may read.
#pragma once

#include <cstdint>

#include "core_memory.h"

namespace percore {

// The platform's open(2) flags for the layout's OPEN_F_* bits, with
// O_CLOEXEC always; -1 for bits the layout does not define or both access
// modes at once. CheckSqe refuses an OPENAT whose flags map to -1.
int OpenFlags(uint32_t layout_flags);

// Whether an OPENAT's path, [addr, addr + len) in the core's memory, is a
// C string the kernel may read: inside the arena (checked before), ending
// in its only NUL at addr + len - 1.
bool IsPathString(const CoreMemory& memory, uint32_t addr, uint32_t len);

}  // namespace percore
