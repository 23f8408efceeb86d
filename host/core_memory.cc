#include "core_memory.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "check.h"
#include "fd_table.h"
#include "files.h"

namespace percore {

namespace {

namespace L = layout;

bool IsPow2Minus1(uint32_t mask) { return (mask & (mask + 1)) == 0; }

struct Region {
  const char* name;
  uint64_t start;
  uint64_t size;
};

// Writes the sentence for a refused header into message; returns `error`.
__attribute__((format(printf, 4, 5))) AttachError Refuse(char* message, size_t message_size,
                                                         AttachError error, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(message, message_size, fmt, args);
  va_end(args);
  return error;
}

}  // namespace

AttachError CoreMemory::Attach(uint8_t* base, uint32_t size, uint32_t header, char* message,
                               size_t message_size) {
  base_ = base;
  size_ = size;
  header_ = header;
  AttachError error = CheckIdentity(message, message_size);
  if (error == AttachError::kNone) error = ReadGeometry(message, message_size);
  if (error == AttachError::kNone) error = CheckRegions(message, message_size);
  if (error != AttachError::kNone) return error;

  arena_end_ = arena_ + buffer_size_ * buffer_count_;  // in bounds now
  // Start from the core's counters: a driver may attach to a core that has
  // already queued work (the API creates the driver right after init, so
  // both are normally 0).
  sq_head_ = Load32(header_ + L::kHSqHead);
  cq_tail_ = Load32(header_ + L::kHCqTail);
  provide_head_ = Load32(header_ + L::kHProvideHead);
  message[0] = '\0';
  return AttachError::kNone;
}

// Is this a percore core's header, of this layout version?
AttachError CoreMemory::CheckIdentity(char* message, size_t message_size) const {
  const uint32_t h = header_;
  if (h % 64 != 0 || uint64_t{h} + L::kHeaderSize > size_) {
    return Refuse(message, message_size, AttachError::kHeaderOutOfBounds,
                  "core header at %u is not a 64-byte aligned header inside the "
                  "%u bytes of memory given to the host",
                  h, size_);
  }
  const uint32_t magic = Load32(h + L::kHMagic);
  if (magic != L::kLayoutMagic) {
    return Refuse(message, message_size, AttachError::kMagic,
                  "core memory has magic 0x%08x, the host expects 0x%08x "
                  "(\"PRCR\"): this is not a percore core, or its header address "
                  "is wrong",
                  magic, L::kLayoutMagic);
  }
  const uint32_t version = Load32(h + L::kHVersion);
  if (version != L::kLayoutVersion) {
    return Refuse(message, message_size, AttachError::kVersion,
                  "core memory layout is version %u, the host speaks version %u: "
                  "rebuild the core and the host from the same sources",
                  version, L::kLayoutVersion);
  }
  const uint32_t header_size = Load32(h + L::kHHeaderSize);
  if (header_size != L::kHeaderSize) {
    return Refuse(message, message_size, AttachError::kHeaderSize,
                  "core header size is %u, layout v2 says %u", header_size, L::kHeaderSize);
  }
  return AttachError::kNone;
}

// The sizes and addresses the header declares, each checked on its own.
AttachError CoreMemory::ReadGeometry(char* message, size_t message_size) {
  const uint32_t h = header_;
  op_capacity_ = Load32(h + L::kHOpCapacity);
  if (op_capacity_ == 0 || op_capacity_ > L::kMaxOpCapacity) {
    return Refuse(message, message_size, AttachError::kOpCapacity,
                  "core op_capacity %u is not in 1..%u", op_capacity_, L::kMaxOpCapacity);
  }
  sq_base_ = Load32(h + L::kHSqEntries);
  sq_mask_ = Load32(h + L::kHSqMask);
  cq_base_ = Load32(h + L::kHCqEntries);
  cq_mask_ = Load32(h + L::kHCqMask);
  // Masks below 2^24 keep every size computation below far from overflow.
  if (!IsPow2Minus1(sq_mask_) || !IsPow2Minus1(cq_mask_) || sq_mask_ >= (1u << 24) ||
      cq_mask_ >= (1u << 24)) {
    return Refuse(message, message_size, AttachError::kMask,
                  "core sq_mask %u / cq_mask %u are not powers of two minus one", sq_mask_,
                  cq_mask_);
  }
  buffer_size_ = Load32(h + L::kHBufferSize);
  buffer_count_ = Load32(h + L::kHBufferCount);
  if (buffer_size_ == 0 || buffer_size_ % 64 != 0) {
    return Refuse(message, message_size, AttachError::kBufferSize,
                  "core buffer_size %u is not a non-zero multiple of 64 (count %u)", buffer_size_,
                  buffer_count_);
  }
  memory_end_ = Load32(h + L::kHMemoryEnd);
  if (memory_end_ > size_) {
    return Refuse(message, message_size, AttachError::kMemoryEnd,
                  "core memory_end %u is past the %u bytes given to the host", memory_end_, size_);
  }
  provide_base_ = Load32(h + L::kHProvideEntries);
  provide_mask_ = Load32(h + L::kHProvideMask);
  provide_count_ = Load32(h + L::kHProvideCount);
  if (!IsPow2Minus1(provide_mask_) || provide_mask_ >= L::kMaxProvideCount ||
      provide_count_ > provide_mask_ + 1 || provide_count_ > buffer_count_) {
    return Refuse(message, message_size, AttachError::kProvide,
                  "core provide ring mask %u / recv set size %u out of range", provide_mask_,
                  provide_count_);
  }
  arena_ = Load32(h + L::kHArena);
  addr_records_ = Load32(h + L::kHAddrRecords);
  addr_staging_ = Load32(h + L::kHAddrStaging);
  return AttachError::kNone;
}

// Every region inside [header, memory_end), and no two overlapping. The
// bytes below the header are the core's static data (the core lays every
// region out after it): a region there would let the host write into it.
AttachError CoreMemory::CheckRegions(char* message, size_t message_size) const {
  const uint32_t h = header_;
  const Region regions[] = {
      {"header", h, L::kHeaderSize},
      {"SQ", sq_base_, uint64_t{sq_mask_ + 1} * L::kSqeSize},
      {"CQ", cq_base_, uint64_t{cq_mask_ + 1} * L::kCqeSize},
      {"DQ", Load32(h + L::kHDqEntries), uint64_t{Load32(h + L::kHDqCapacity)} * L::kDqeSize},
      {"arena", arena_, uint64_t{buffer_size_} * buffer_count_},
      {"address records", addr_records_, uint64_t{op_capacity_} * L::kAddrRecordSize},
      {"staging address record", addr_staging_, L::kAddrRecordSize},
      {"provide ring", provide_base_, uint64_t{provide_mask_ + 1} * L::kProvideEntrySize},
  };
  constexpr size_t kRegions = sizeof regions / sizeof regions[0];
  for (size_t i = 0; i < kRegions; i++) {
    const Region& r = regions[i];
    if (r.start < h || r.start + r.size > memory_end_) {
      return Refuse(
          message, message_size, AttachError::kRegion,
          "core %s region [%llu, +%llu) is before the header (%u) or outside memory_end %u", r.name,
          static_cast<unsigned long long>(r.start), static_cast<unsigned long long>(r.size), h,
          memory_end_);
    }
    for (size_t j = 0; j < i; j++) {
      const Region& o = regions[j];
      if (r.size != 0 && o.size != 0 && r.start < o.start + o.size && o.start < r.start + r.size) {
        return Refuse(message, message_size, AttachError::kRegion,
                      "core %s region overlaps the %s region", r.name, o.name);
      }
    }
  }
  return AttachError::kNone;
}

Sqe CoreMemory::PeekSqe() const {
  const uint8_t* p = base_ + sq_base_ + (sq_head_ & sq_mask_) * L::kSqeSize;
  Sqe s;
  std::memcpy(&s.id, p + L::kSqeId, 4);
  s.opcode = p[L::kSqeOpcode];
  s.flags = p[L::kSqeFlags];
  std::memcpy(&s.fd, p + L::kSqeFd, 4);
  std::memcpy(&s.addr, p + L::kSqeAddr, 4);
  std::memcpy(&s.len, p + L::kSqeLen, 4);
  std::memcpy(&s.aux, p + L::kSqeAux, 4);
  std::memcpy(&s.arg, p + L::kSqeArg, 8);
  return s;
}

void CoreMemory::PushCqe(uint32_t id, int32_t res, uint32_t flags) {
  // The core does not run while the host writes, so a CqSpace() the caller
  // read is still true here: a push without room would overwrite a CQE.
  PERCORE_ASSERT(CqSpace() > 0, "every CQE pushed was counted against CqSpace()");
  uint8_t* p = base_ + cq_base_ + (cq_tail_ & cq_mask_) * L::kCqeSize;
  std::memcpy(p + L::kCqeId, &id, 4);
  std::memcpy(p + L::kCqeRes, &res, 4);
  std::memcpy(p + L::kCqeFlags, &flags, 4);
  std::memset(p + L::kCqeFlags + 4, 0, 4);
  cq_tail_++;
  Store32(header_ + L::kHCqTail, cq_tail_);
}

namespace {

// SENDMSG / RECVMSG (v4): an owned fd, the buffer inside the arena, aux
// SENDMSG_TO (SENDMSG only) with a destination the host can decode: the
// op's own address record (derived from the id, never a pointer the core
// gives) holding an IPv4 or IPv6 address.
int32_t CheckMsgSqe(const Sqe& sqe, const CoreMemory& memory, const FdTable& fds) {
  if (!fds.Contains(sqe.fd)) return -EBADF;
  if (!memory.InArena(sqe.addr, sqe.len)) return -EFAULT;
  // MSG_FDS: descriptors staged for a SENDMSG (MsgSlots::Prepare checks them
  // again), room for them on a RECVMSG.
  const uint32_t dest = sqe.aux & ~L::kMsgFds;
  if (dest == 0) return 0;
  if (sqe.opcode != L::kOpSendmsg) return -EINVAL;
  // A name the API staged for this op: MsgSlots::Prepare checks it is there.
  if (dest == L::kSendmsgToName) return 0;
  if (dest != L::kSendmsgTo) return -EINVAL;
  uint16_t family;
  std::memcpy(&family, memory.At(memory.SlotAddrRecord(sqe.id & L::kSlotMask)) + L::kAddrFamily, 2);
  return family == 4 || family == 6 ? 0 : -EINVAL;
}

// A path operation (v4): relative to the working directory, its C strings
// inside the arena, and only the flag and mode its op has.
int32_t CheckPathOp(const Sqe& sqe, const CoreMemory& memory) {
  if (sqe.fd != -1) return -EBADF;
  if (!memory.InArena(sqe.addr, sqe.len)) return -EFAULT;
  if (!IsPathStrings(memory, sqe.addr, sqe.len, PathCount(sqe.opcode))) return -EFAULT;
  const uint32_t allowed_aux = sqe.opcode == L::kOpUnlinkat ? L::kUnlinkFDir : 0;
  const uint64_t max_mode = sqe.opcode == L::kOpMkdirat ? L::kOpenModeMax : 0;
  return (sqe.aux & ~allowed_aux) == 0 && sqe.arg <= max_mode ? 0 : -EINVAL;
}

}  // namespace

int32_t CheckSqe(const Sqe& sqe, const CoreMemory& memory, const FdTable& fds) {
  // The host keeps per-slot state (uring_driver's in-flight table), so an id
  // must name a slot the core has, with a non-zero generation; the core's own
  // requests are only cancels.
  if (sqe.id == L::kInternalId) {
    if (sqe.opcode != L::kOpCancel) return -EINVAL;
  } else if ((sqe.id & L::kSlotMask) >= memory.op_capacity() || (sqe.id >> L::kSlotBits) == 0) {
    return -EINVAL;
  }
  // Flags only where the layout gives them a meaning: MULTISHOT on ACCEPT
  // and on a buffer-select RECV, BUFFER_SELECT on RECV. Anything else is a
  // malformed SQE, not a flag to ignore.
  const uint32_t select_multi = L::kSqeFMultishot | L::kSqeFBufferSelect;
  const uint32_t allowed = sqe.opcode == L::kOpAccept ? L::kSqeFMultishot
                           : sqe.opcode == L::kOpRecv ? select_multi
                                                      : 0u;
  if ((sqe.flags & ~allowed) != 0) return -EINVAL;
  switch (sqe.opcode) {
    case L::kOpNop:
    case L::kOpTimeout:
    case L::kOpCancel: return 0;
    case L::kOpAccept:
    case L::kOpClose: return fds.Contains(sqe.fd) ? 0 : -EBADF;
    case L::kOpShutdown:
      if (!fds.Contains(sqe.fd)) return -EBADF;
      return sqe.aux <= 2 ? 0 : -EINVAL;
    case L::kOpConnect:
      if (!fds.Contains(sqe.fd)) return -EBADF;
      return memory.IsOpAddrRecord(sqe.addr) && sqe.len == L::kAddrRecordSize ? 0 : -EFAULT;
    case L::kOpRecv:
      if ((sqe.flags & L::kSqeFBufferSelect) != 0) {
        // The host picks the buffer: addr is unused, len bounds the receive
        // (a multishot fills whole buffers), and there must be a recv set to
        // pick from: without one the SQE is malformed, not short of buffers.
        if (!fds.Contains(sqe.fd)) return -EBADF;
        if (memory.provide_count() == 0) return -EINVAL;
        if (sqe.len == 0 || sqe.len > memory.buffer_size()) return -EINVAL;
        if ((sqe.flags & L::kSqeFMultishot) != 0 && sqe.len != memory.buffer_size()) return -EINVAL;
        return 0;
      }
      if ((sqe.flags & L::kSqeFMultishot) != 0) return -EINVAL;  // only with BUFFER_SELECT
      [[fallthrough]];
    case L::kOpSend:
    case L::kOpRead:
    case L::kOpWrite:
      if (!fds.Contains(sqe.fd)) return -EBADF;
      return memory.InArena(sqe.addr, sqe.len) ? 0 : -EFAULT;
    case L::kOpSendmsg:
    case L::kOpRecvmsg: return CheckMsgSqe(sqe, memory, fds);
    case L::kOpSpliceIn:
    case L::kOpSpliceOut:
      // Both ends this driver's: the socket and the pipe end in aux.
      if (!fds.Contains(sqe.fd) || sqe.aux > 0x7fffffffu ||
          !fds.Contains(static_cast<int32_t>(sqe.aux))) {
        return -EBADF;
      }
      return sqe.len > 0 ? 0 : -EINVAL;
    case L::kOpOpenat:
      // Relative to the working directory only (fd -1: AT_FDCWD); the path
      // is a C string inside the arena, which the kernel reads up to its NUL.
      if (sqe.fd != -1) return -EBADF;
      if (!memory.InArena(sqe.addr, sqe.len)) return -EFAULT;
      if (!IsPathStrings(memory, sqe.addr, sqe.len, 1)) return -EFAULT;
      if (OpenFlags(sqe.aux) < 0 || sqe.arg > L::kOpenModeMax) return -EINVAL;
      return 0;
    case L::kOpRenameat:
    case L::kOpUnlinkat:
    case L::kOpMkdirat:
    case L::kOpSymlinkat:
    case L::kOpLinkat: return CheckPathOp(sqe, memory);
    case L::kOpFsync:
      if (!fds.Contains(sqe.fd)) return -EBADF;
      return (sqe.aux & ~L::kFsyncFDatasync) == 0 ? 0 : -EINVAL;
    case L::kOpFallocate:
      if (!fds.Contains(sqe.fd)) return -EBADF;
      return (sqe.aux & ~L::kFallocFAll) == 0 ? 0 : -EINVAL;
    case L::kOpStatx:
      if (!fds.Contains(sqe.fd)) return -EBADF;
      if (sqe.len != L::kStatxSize) return -EINVAL;
      return memory.InArena(sqe.addr, sqe.len) ? 0 : -EFAULT;
    default:  // kOpTimer never reaches the SQ; anything else is unknown
      return -EINVAL;
  }
}

}  // namespace percore
