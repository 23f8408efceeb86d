#include "fd_table.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace percore {

namespace {

// The process-wide owner record: one word per fd number below kMaxCapacity
// (16 MiB of zero-initialized static storage: pages never touched cost
// nothing). Every thread's drivers share it; a word changes only by a CAS
// from the value its writer expects, except Add's store (the kernel has just
// given the number out, so whatever was recorded is stale).
std::atomic<uint32_t> g_owners[FdTable::kMaxCapacity];
std::atomic<uint32_t> g_next_owner{1};

std::atomic<uint32_t>& Word(int32_t fd) { return g_owners[static_cast<uint32_t>(fd)]; }

uint32_t NewOwnerId() {
  for (;;) {
    const uint32_t id = g_next_owner.fetch_add(1, std::memory_order_relaxed);
    if (id != 0 && id != FdTable::kHandoffMark) return id;
  }
}

}  // namespace

FdTable::FdTable() : owner_(NewOwnerId()) {
  struct rlimit limit {};
  uint64_t cap = 1024;  // the usual default if getrlimit cannot tell
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    cap = limit.rlim_cur == RLIM_INFINITY ? kMaxCapacity : limit.rlim_cur;
  }
  if (cap > kMaxCapacity) cap = kMaxCapacity;
  capacity_ = static_cast<uint32_t>((cap + 63) & ~uint64_t{63});
  if (capacity_ > kMaxCapacity) capacity_ = kMaxCapacity;
  words_ = std::make_unique<uint64_t[]>(capacity_ / 64);  // zeroed
}

FdTable::~FdTable() {
  for (uint32_t w = 0; w < capacity_ / 64 && count_ > 0; w++) {
    while (words_[w] != 0) {
      const int32_t fd = static_cast<int32_t>(w * 64 + __builtin_ctzll(words_[w]));
      if (BeginClose(fd)) EndClose(fd);
    }
  }
}

bool FdTable::ClaimedBySelf(int32_t fd) const {
  return Word(fd).load(std::memory_order_acquire) == owner_;
}

uint32_t FdTable::OwnerOf(int32_t fd) {
  if (fd < 0 || static_cast<uint32_t>(fd) >= kMaxCapacity) return 0;
  return Word(fd).load(std::memory_order_acquire);
}

bool FdTable::Add(int32_t fd) {
  if (fd < 0 || static_cast<uint32_t>(fd) >= capacity_) return false;
  if (InBitmap(fd)) {
    if (ClaimedBySelf(fd)) return false;
    ClearBit(fd);  // re-claimed by another table behind our back: stale
  }
  Word(fd).store(owner_, std::memory_order_release);
  words_[fd >> 6] |= uint64_t{1} << (fd & 63);
  count_++;
  return true;
}

bool FdTable::Remove(int32_t fd) {
  if (!BeginClose(fd)) return false;
  EndClose(fd);
  return true;
}

bool FdTable::BeginClose(int32_t fd) {
  if (!InBitmap(fd)) return false;
  ClearBit(fd);
  return ClaimedBySelf(fd);
}

void FdTable::EndClose(int32_t fd) {
  if (fd < 0 || static_cast<uint32_t>(fd) >= capacity_) return;
  // BeginClose cleared the bit: set again, this table re-claimed the number
  // (the kernel reissued it to this driver, e.g. an io_uring CLOSE ran at
  // submission and the next socket() got the number before the CLOSE's CQE
  // was reaped). That claim is the new socket's: keep it.
  if (InBitmap(fd)) return;
  // Only our own claim is released: another table may have re-claimed the
  // number (the kernel reissued it once closed, or it was closed behind our
  // back and reused).
  uint32_t expected = owner_;
  Word(fd).compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

bool FdTable::Handoff(int32_t fd) {
  if (!InBitmap(fd)) return false;
  ClearBit(fd);
  uint32_t expected = owner_;
  return Word(fd).compare_exchange_strong(expected, kHandoffMark, std::memory_order_acq_rel);
}

int32_t FdTable::Adopt(int32_t fd) {
  if (fd < 0) return -EBADF;
  if (static_cast<uint32_t>(fd) >= capacity_) return -EMFILE;
  if (InBitmap(fd)) {
    if (ClaimedBySelf(fd)) return -EEXIST;
    // Re-claimed by another table behind our back: our bit is stale.
    ClearBit(fd);
  }
  std::atomic<uint32_t>& word = Word(fd);
  uint32_t seen = word.load(std::memory_order_acquire);
  for (;;) {
    if (seen == owner_) return -EEXIST;
    if (seen != 0 && seen != kHandoffMark) return -EBUSY;  // another runtime owns it
    if (word.compare_exchange_weak(seen, owner_, std::memory_order_acq_rel)) break;
  }
  words_[fd >> 6] |= uint64_t{1} << (fd & 63);
  count_++;
  return 0;
}

uint32_t FdTable::CloseAll() {
  uint32_t closed = 0;
  for (uint32_t w = 0; w < capacity_ / 64 && count_ > 0; w++) {
    while (words_[w] != 0) {
      const int32_t fd = static_cast<int32_t>(w * 64 + __builtin_ctzll(words_[w]));
      // Closed only if the claim was still ours: a number another table
      // re-claimed is its socket now. Linux releases the fd even when
      // close() reports an error (EINTR, EIO): retrying could close an fd
      // another thread just got.
      if (BeginClose(fd)) {
        ::close(fd);
        EndClose(fd);
        closed++;
      }
    }
  }
  return closed;
}

}  // namespace percore
