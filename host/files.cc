#include "files.h"

#include <fcntl.h>
#ifdef __linux__
#include <linux/falloc.h>
#endif
#include <sys/stat.h>

#include <cstddef>
#include <cstring>

#ifdef __linux__
// The layout's STATX_* offsets are those of Linux's struct statx.
static_assert(sizeof(struct statx) == percore::layout::kStatxSize);
static_assert(offsetof(struct statx, stx_mode) == percore::layout::kStatxMode);
static_assert(offsetof(struct statx, stx_nlink) == percore::layout::kStatxNlink);
static_assert(offsetof(struct statx, stx_ino) == percore::layout::kStatxIno);
static_assert(offsetof(struct statx, stx_size) == percore::layout::kStatxSizeField);
static_assert(offsetof(struct statx, stx_mtime) == percore::layout::kStatxMtime);
static_assert(offsetof(struct statx, stx_dev_major) == percore::layout::kStatxDevMajor);
#endif

namespace percore {

namespace L = layout;

int OpenFlags(uint32_t f) {
  if ((f & ~L::kOpenFAll) != 0) return -1;
  const bool write = (f & L::kOpenFWrite) != 0, read_write = (f & L::kOpenFReadWrite) != 0;
  if (write && read_write) return -1;
  int flags = O_CLOEXEC | (read_write ? O_RDWR : write ? O_WRONLY : O_RDONLY);
  if (f & L::kOpenFCreate) flags |= O_CREAT;
  if (f & L::kOpenFExcl) flags |= O_EXCL;
  if (f & L::kOpenFTrunc) flags |= O_TRUNC;
  if (f & L::kOpenFAppend) flags |= O_APPEND;
#ifdef O_DIRECT
  if (f & L::kOpenFDirect) flags |= O_DIRECT;
#else
  if (f & L::kOpenFDirect) return -1;  // macOS: F_NOCACHE after open, not a flag
#endif
  if (f & L::kOpenFSync) flags |= O_SYNC;
  if (f & L::kOpenFDsync) flags |= O_DSYNC;
  if (f & L::kOpenFNofollow) flags |= O_NOFOLLOW;
  if (f & L::kOpenFDirectory) flags |= O_DIRECTORY;
  return flags;
}

bool IsPathStrings(const CoreMemory& memory, uint32_t addr, uint32_t len, uint32_t count) {
  if (len == 0 || len > count * L::kPathMaxLen) return false;
  const uint8_t* p = memory.At(addr);
  if (p[len - 1] != 0) return false;
  uint32_t start = 0;
  for (uint32_t i = 0; i < count; i++) {
    const void* nul = std::memchr(p + start, 0, len - start);
    if (nul == nullptr) return false;
    const uint32_t end = static_cast<uint32_t>(static_cast<const uint8_t*>(nul) - p);
    if (end + 1 - start > L::kPathMaxLen) return false;
    start = end + 1;
  }
  return start == len;  // no bytes after the last string
}

int FallocMode(uint32_t m) {
  int mode = 0;
#ifdef __linux__
  if (m & L::kFallocFKeepSize) mode |= FALLOC_FL_KEEP_SIZE;
  if (m & L::kFallocFPunchHole) mode |= FALLOC_FL_PUNCH_HOLE;
  if (m & L::kFallocFZeroRange) mode |= FALLOC_FL_ZERO_RANGE;
#else
  (void)m;
#endif
  return mode;
}

uint32_t PathCount(uint8_t opcode) {
  switch (opcode) {
    case L::kOpOpenat:
    case L::kOpUnlinkat:
    case L::kOpMkdirat: return 1;
    case L::kOpRenameat:
    case L::kOpSymlinkat:
    case L::kOpLinkat: return 2;
    default: return 0;
  }
}

}  // namespace percore
