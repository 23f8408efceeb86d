#include "fd_table.h"

#include <sys/resource.h>
#include <unistd.h>

namespace percore {

FdTable::FdTable() {
  struct rlimit limit {};
  uint64_t cap = 1024;  // the usual default if getrlimit cannot tell
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    cap = limit.rlim_cur == RLIM_INFINITY ? kMaxCapacity : limit.rlim_cur;
  }
  if (cap > kMaxCapacity) cap = kMaxCapacity;
  capacity_ = static_cast<uint32_t>((cap + 63) & ~uint64_t{63});
  words_ = std::make_unique<uint64_t[]>(capacity_ / 64);  // zeroed
}

bool FdTable::Add(int32_t fd) {
  if (fd < 0 || static_cast<uint32_t>(fd) >= capacity_ || Contains(fd)) {
    return false;
  }
  words_[fd >> 6] |= uint64_t{1} << (fd & 63);
  count_++;
  return true;
}

bool FdTable::Remove(int32_t fd) {
  if (!Contains(fd)) return false;
  words_[fd >> 6] &= ~(uint64_t{1} << (fd & 63));
  count_--;
  return true;
}

uint32_t FdTable::CloseAll() {
  uint32_t closed = 0;
  for (uint32_t w = 0; w < capacity_ / 64 && count_ > 0; w++) {
    while (words_[w] != 0) {
      const int bit = __builtin_ctzll(words_[w]);
      words_[w] &= words_[w] - 1;
      count_--;
      // Linux releases the fd even when close() reports an error (EINTR,
      // EIO): retrying could close an fd another thread just got.
      ::close(static_cast<int>(w * 64 + bit));
      closed++;
    }
  }
  return closed;
}

}  // namespace percore
