// A checked view of the core's linear memory (docs/ARCHITECTURE.md, layout v2).
//
// The core writes its header once in init() and never moves or grows its
// memory afterwards, so the host validates the header once, at attach, and
// from then on trusts the region addresses it copied out of it. What it does
// not trust is anything the core writes per operation: every SQE is checked
// (CheckSqe) before a kernel sees it, and ring counters are re-read and
// bounded on every pass.
#pragma once

#include <cstdint>
#include <cstring>

#include "layout.h"

namespace percore {

class FdTable;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the layout is little-endian; a big-endian host must byte-swap");

// One submission entry, decoded (the 32-byte SQE of the layout).
struct Sqe {
  uint32_t id;
  uint8_t opcode;
  uint8_t flags;
  int32_t fd;
  uint32_t addr;
  uint32_t len;
  uint32_t aux;
  uint64_t arg;
};

// Why attach refused a header. Every case is a layout mismatch for the API.
enum class AttachError {
  kNone,
  kHeaderOutOfBounds,  // header offset not 64-aligned or past the memory
  kMagic,
  kVersion,
  kHeaderSize,
  kOpCapacity,
  kMask,        // sq_mask / cq_mask + 1 not a power of two
  kBufferSize,  // not a non-zero multiple of 64
  kMemoryEnd,   // memory_end past the memory the host was given
  kRegion,      // a region outside [0, memory_end) or overlapping another
  kProvide,     // provide ring mask / recv set size out of range
};

class CoreMemory {
 public:
  CoreMemory() = default;

  // Validates the header at `header` inside [base, base + size). On failure
  // returns the reason and writes a sentence naming it into `message`.
  AttachError Attach(uint8_t* base, uint32_t size, uint32_t header, char* message,
                     size_t message_size);

  uint8_t* base() const { return base_; }
  uint32_t op_capacity() const { return op_capacity_; }
  uint32_t sq_entries() const { return sq_mask_ + 1; }
  uint32_t cq_entries() const { return cq_mask_ + 1; }

  // --- submission queue (core produces, host consumes) ---
  // SQEs waiting, bounded by the ring size so a corrupt tail cannot make the
  // host loop: a tail more than one ring ahead is read as a full ring.
  uint32_t SqPending() const {
    uint32_t n = Load32(header_ + layout::kHSqTail) - sq_head_;
    return n > sq_mask_ + 1 ? sq_mask_ + 1 : n;
  }
  // The next SQE; valid only when SqPending() > 0.
  Sqe PeekSqe() const;
  // Takes the SQE PeekSqe() returned. The new head is published by
  // PublishSqHead, once per batch.
  void ConsumeSqe() { sq_head_++; }
  void PublishSqHead() { Store32(header_ + layout::kHSqHead, sq_head_); }

  // --- completion queue (host produces, core consumes) ---
  uint32_t CqSpace() const {
    uint32_t used = cq_tail_ - Load32(header_ + layout::kHCqHead);
    return used >= cq_mask_ + 1 ? 0 : cq_mask_ + 1 - used;
  }
  bool CqEmpty() const { return cq_tail_ == Load32(header_ + layout::kHCqHead); }
  // Writes one CQE; the caller has checked CqSpace() > 0. Published at once:
  // the core only reads the CQ when the host returns control to it.
  void PushCqe(uint32_t id, int32_t res, uint32_t flags);

  // --- provide ring (core produces recv-set buffer indices, host consumes) ---
  // Entries waiting, bounded like SqPending.
  uint32_t ProvidePending() const {
    uint32_t n = Load32(header_ + layout::kHProvideTail) - provide_head_;
    return n > provide_mask_ + 1 ? provide_mask_ + 1 : n;
  }
  // The next entry: a buffer index the caller must still check against
  // provide_count() (the core is not trusted). Valid when ProvidePending() > 0.
  uint32_t PeekProvide() const {
    return Load32(provide_base_ + (provide_head_ & provide_mask_) * layout::kProvideEntrySize);
  }
  void ConsumeProvide() { provide_head_++; }
  void PublishProvideHead() { Store32(header_ + layout::kHProvideHead, provide_head_); }
  // Buffers [0, provide_count) form the recv set; at most kMaxProvideCount.
  uint32_t provide_count() const { return provide_count_; }
  uint32_t buffer_size() const { return buffer_size_; }
  // Memory offset of pool buffer `index` (< buffer count: checked at attach
  // for the recv set, whose indices are all below provide_count).
  uint32_t BufferOffset(uint32_t index) const { return arena_ + index * buffer_size_; }

  // --- regions the checks and the socket helpers need ---
  // Is [addr, addr + len) inside the buffer arena? 64-bit math: addr + len
  // may overflow u32.
  bool InArena(uint32_t addr, uint32_t len) const {
    uint64_t end = uint64_t{addr} + len;
    return addr >= arena_ && end <= arena_end_;
  }
  // Is addr the first byte of one of the op slots' address records?
  bool IsOpAddrRecord(uint32_t addr) const {
    return addr >= addr_records_ && addr < addr_records_ + op_capacity_ * layout::kAddrRecordSize &&
           (addr - addr_records_) % layout::kAddrRecordSize == 0;
  }
  uint32_t addr_staging() const { return addr_staging_; }
  // The address record of op slot `slot` (< op_capacity, which CheckSqe bounds).
  uint32_t SlotAddrRecord(uint32_t slot) const {
    return addr_records_ + slot * layout::kAddrRecordSize;
  }
  bool IsAddrRecord(uint32_t addr) const { return addr == addr_staging_ || IsOpAddrRecord(addr); }
  uint8_t* At(uint32_t offset) const { return base_ + offset; }

  uint32_t Load32(uint32_t offset) const {
    uint32_t v;
    std::memcpy(&v, base_ + offset, sizeof v);
    return v;
  }
  void Store32(uint32_t offset, uint32_t v) const { std::memcpy(base_ + offset, &v, sizeof v); }

 private:
  // Attach's steps: each fills what it reads and refuses what it cannot use.
  AttachError CheckIdentity(char* message, size_t message_size) const;
  AttachError ReadGeometry(char* message, size_t message_size);
  AttachError CheckRegions(char* message, size_t message_size) const;

  uint8_t* base_ = nullptr;
  uint32_t size_ = 0;
  uint32_t header_ = 0;
  uint32_t op_capacity_ = 0;
  uint32_t sq_base_ = 0, sq_mask_ = 0;
  uint32_t cq_base_ = 0, cq_mask_ = 0;
  uint32_t arena_ = 0, arena_end_ = 0;
  uint32_t addr_records_ = 0, addr_staging_ = 0;
  uint32_t buffer_size_ = 0, buffer_count_ = 0;
  uint32_t memory_end_ = 0;
  uint32_t provide_base_ = 0, provide_mask_ = 0, provide_count_ = 0;
  // The host's own copies of the counters it alone writes.
  uint32_t sq_head_ = 0, cq_tail_ = 0, provide_head_ = 0;
};

// The checks of "What the host checks before the kernel sees an SQE".
// Returns 0 if the SQE may be submitted, else the negative Linux errno to
// complete it with: -EINVAL unknown opcode (or malformed field), -EBADF fd
// not owned by this driver, -EFAULT buffer outside the arena or CONNECT
// record not exactly an op address record, -ENOBUFS a buffer-select RECV
// with no recv set.
int32_t CheckSqe(const Sqe& sqe, const CoreMemory& memory, const FdTable& fds);

}  // namespace percore
