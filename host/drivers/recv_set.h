// The host's side of the recv set (docs/ARCHITECTURE.md, "The provide ring
// and the recv set"): which recv-set buffers are in the pick set, and, when
// the host rather than the kernel picks, a LIFO of them (the warmest buffer
// first). Both drivers use it: the readiness drivers always pick; io_uring
// picks only when it emulates buffer selection (no registered buffer ring).
//
// An index the core provides twice, or one outside the recv set, is ignored:
// the core is not trusted, and so nothing it writes can overflow these tables.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <memory>

#include "check.h"
#include "core_memory.h"
#include "layout.h"

namespace percore {

// A CQE's flags naming recv-set buffer `index` as the one holding the data.
inline uint32_t CqeBufferFlags(uint32_t index) {
  return layout::kCqeFBuffer | (index << layout::kCqeBufferShift);
}

class RecvPickSet {
 public:
  // count: the recv set's size (0: the core has none). host_picks: keep the
  // spare buffers in a LIFO to receive into; otherwise the kernel holds them
  // and this only tracks which ones it may name.
  void Init(uint32_t count, bool host_picks) {
    count_ = count;
    if (count == 0) return;
    in_set_ = std::make_unique<bool[]>(count);
    if (host_picks) spare_ = std::make_unique<uint32_t[]>(count);
  }

  // Moves what the core provided into the set, checking each index, and
  // calls on_added(index) for each buffer that entered it.
  template <typename OnAdded>
  void TakeProvided(CoreMemory& memory, OnAdded on_added) {
    uint32_t n = memory.ProvidePending();
    if (n == 0) return;
    for (; n > 0; n--) {
      const uint32_t index = memory.PeekProvide();
      memory.ConsumeProvide();
      if (index >= count_ || in_set_[index]) continue;  // a core bug: ignore it
      in_set_[index] = true;
      if (spare_) {
        PERCORE_ASSERT(spare_count_ < count_, "one spare entry per buffer in the set");
        spare_[spare_count_++] = index;
      }
      on_added(index);
    }
    memory.PublishProvideHead();
  }
  void TakeProvided(CoreMemory& memory) {
    TakeProvided(memory, [](uint32_t) {});
  }

  // A buffer the kernel picked and named in a CQE leaves the set. False when
  // it was not in the set (the CQE is then a bug to report, not to trust).
  bool TakeNamed(uint32_t index) {
    if (index >= count_ || !in_set_[index]) return false;
    in_set_[index] = false;
    return true;
  }

  // Receives into the top spare buffer: receive(into) answers as recv(2)
  // does (errno set when < 0). When it returns > 0 the buffer leaves the set
  // and *cqe_flags names it; otherwise the buffer stays. With no spare
  // buffer nothing is tried: -1 with errno ENOBUFS, as io_uring answers.
  template <typename Receive>
  ssize_t ReceiveIntoTop(const CoreMemory& memory, Receive receive, uint32_t* cqe_flags) {
    if (spare_count_ == 0) {
      errno = ENOBUFS;
      return -1;
    }
    const uint32_t index = spare_[spare_count_ - 1];
    const ssize_t r = receive(memory.At(memory.BufferOffset(index)));
    if (r > 0) {
      spare_count_--;
      in_set_[index] = false;
      *cqe_flags = CqeBufferFlags(index);
    }
    return r;
  }

 private:
  uint32_t count_ = 0;
  std::unique_ptr<bool[]> in_set_;     // in_set_[i]: recv-set buffer i is in the pick set
  std::unique_ptr<uint32_t[]> spare_;  // host picks: the set as a LIFO
  uint32_t spare_count_ = 0;
};

}  // namespace percore
