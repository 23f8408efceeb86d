// The set of file descriptors one driver owns: sockets and pipes its helpers
// created and connections its ACCEPTs completed with. An SQE naming any other
// fd is refused (-EBADF), so a bug in the core or the API cannot make the
// kernel read or write stdin, a file opened by fs, or another driver's socket.
//
// A fixed bitmap sized once from RLIMIT_NOFILE: membership is one load and a
// mask, and nothing is allocated after construction.
#pragma once

#include <cstdint>
#include <memory>

namespace percore {

class FdTable {
 public:
  // Capacity = the process's soft RLIMIT_NOFILE at creation (the kernel
  // never hands out an fd at or above it), capped at kMaxCapacity.
  FdTable();

  static constexpr uint32_t kMaxCapacity = 1u << 22;

  uint32_t capacity() const { return capacity_; }
  uint32_t count() const { return count_; }

  bool Contains(int32_t fd) const {
    return fd >= 0 && static_cast<uint32_t>(fd) < capacity_ &&
           (words_[fd >> 6] >> (fd & 63) & 1) != 0;
  }
  // False if fd is out of range (the limit was raised after creation) or
  // already present; the caller then must not treat it as owned.
  bool Add(int32_t fd);
  // False if fd was not owned.
  bool Remove(int32_t fd);
  // Closes every owned fd and empties the table; returns how many.
  uint32_t CloseAll();

 private:
  uint32_t capacity_ = 0;
  uint32_t count_ = 0;
  std::unique_ptr<uint64_t[]> words_;
};

}  // namespace percore
