// The set of file descriptors one driver owns: sockets and pipes its helpers
// created and connections its ACCEPTs completed with. An SQE naming any other
// fd is refused (-EBADF), so a bug in the core or the API cannot make the
// kernel read or write stdin, a file opened by fs, or another driver's socket.
//
// Ownership is also recorded process-wide (fd_table.cc: one atomic owner word
// per fd number, shared by every driver of every thread), because an fd
// number is process-wide: once a driver closes fd N, the kernel may hand N to
// another thread's driver at once. The record says which table owns N, or
// that N was forgotten for a hand-off (Handoff), and:
// * a table that creates or accepts an fd claims it (the kernel just gave
//   out that number, so any older record of it is stale);
// * Adopt takes an fd only if no other table owns it: a free number (an fd
//   percore never owned, e.g. one from node:net) or one in hand-off;
// * Contains is true only while this table still holds the claim, so a
//   table whose number was re-claimed by another (the fd was closed behind
//   its back and reused) refuses SQEs on it instead of touching another
//   runtime's socket, and CloseAll never closes it.
//
// A fixed bitmap sized once from RLIMIT_NOFILE enumerates what this table
// holds: nothing is allocated after construction.
#pragma once

#include <cstdint>
#include <memory>

namespace percore {

class FdTable {
 public:
  // Capacity = the process's soft RLIMIT_NOFILE at creation (the kernel
  // never hands out an fd at or above it), capped at kMaxCapacity.
  FdTable();
  // Gives up every claim still held (Close normally emptied the table).
  ~FdTable();
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;

  static constexpr uint32_t kMaxCapacity = 1u << 22;

  uint32_t capacity() const { return capacity_; }
  uint32_t count() const { return count_; }
  uint32_t owner() const { return owner_; }

  // Owned by this table: in its bitmap and still claimed by it process-wide.
  bool Contains(int32_t fd) const { return InBitmap(fd) && ClaimedBySelf(fd); }
  // In this table's bitmap, whatever the process-wide record says: for
  // invariants about the host's own bookkeeping.
  bool InBitmap(int32_t fd) const {
    return fd >= 0 && static_cast<uint32_t>(fd) < capacity_ &&
           (words_[fd >> 6] >> (fd & 63) & 1) != 0;
  }
  // An fd the kernel just gave this driver (socket, pipe, accept): claims it
  // process-wide, overriding any stale record. False if fd is out of range
  // (the limit was raised after creation) or already present; the caller
  // then must not treat it as owned.
  bool Add(int32_t fd);
  // Stops owning fd; false if it was not owned. For a close, use
  // BeginClose before close(2) and EndClose after it instead: between the
  // two the number is neither usable by this table nor adoptable by another.
  bool Remove(int32_t fd);
  bool BeginClose(int32_t fd);
  void EndClose(int32_t fd);
  // Stops owning fd and marks it "in hand-off": the one state besides "free"
  // in which another table may Adopt it. False if it was not owned.
  bool Handoff(int32_t fd);
  // Takes an open fd from elsewhere: 0; -EEXIST if this table owns it;
  // -EBUSY if another table owns it (not handed off); -EMFILE past capacity.
  int32_t Adopt(int32_t fd);
  // Undoes an Adopt that could not be completed (the fd stays as it was
  // before, apart from being free of any claim).
  void Unadopt(int32_t fd) { Remove(fd); }
  // Closes every owned fd and empties the table; returns how many.
  uint32_t CloseAll();

  // The process-wide record of fd (tests, diagnostics): 0 free, kHandoffMark
  // in hand-off, else the owning table's owner().
  static uint32_t OwnerOf(int32_t fd);
  static constexpr uint32_t kHandoffMark = 0xffffffffu;

 private:
  bool ClaimedBySelf(int32_t fd) const;
  void ClearBit(int32_t fd) {
    words_[fd >> 6] &= ~(uint64_t{1} << (fd & 63));
    count_--;
  }

  uint32_t owner_ = 0;  // this table's id in the process-wide record (never 0)
  uint32_t capacity_ = 0;
  uint32_t count_ = 0;
  std::unique_ptr<uint64_t[]> words_;
};

}  // namespace percore
