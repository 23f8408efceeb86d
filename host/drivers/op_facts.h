// What each layout opcode is, declared once for every driver: which side of
// a socket it waits on, whether its result is a new fd, whether it may stay
// armed. The drivers decide how to run an op; these facts are the op's own.
#pragma once

#include <cstdint>

#include "check.h"
#include "core_memory.h"
#include "layout.h"

namespace percore {

struct OpFacts {
  uint8_t opcode;
  bool result_is_fd = false;   // a result >= 0 is a new fd the driver must own (ACCEPT)
  bool write_side = false;     // waits for writability, not readability (readiness drivers)
  bool may_multishot = false;  // SQE_F_MULTISHOT applies: one CQE per result, MORE while armed
  bool may_select = false;     // SQE_F_BUFFER_SELECT applies: the host picks a recv-set buffer
  // A file op: never "ready", so a readiness driver runs it on its blocking
  // pool (READ and WRITE go there too when their fd is a file).
  bool blocking = false;
};

// Indexed by opcode (checked below). TIMER and COPY are the core's own and
// never reach the SQ; they are listed so every opcode has an entry.
inline constexpr OpFacts kOpFacts[] = {
    {.opcode = layout::kOpNop},
    {.opcode = layout::kOpAccept, .result_is_fd = true, .may_multishot = true},
    {.opcode = layout::kOpConnect, .write_side = true},
    {.opcode = layout::kOpRecv, .may_multishot = true, .may_select = true},
    {.opcode = layout::kOpSend, .write_side = true},
    {.opcode = layout::kOpRead},
    {.opcode = layout::kOpWrite, .write_side = true},
    {.opcode = layout::kOpClose},
    {.opcode = layout::kOpShutdown},
    {.opcode = layout::kOpTimeout},
    {.opcode = layout::kOpCancel},
    {.opcode = layout::kOpTimer},
    {.opcode = layout::kOpCopy},
    {.opcode = layout::kOpSendmsg, .write_side = true},
    {.opcode = layout::kOpRecvmsg},
    {.opcode = layout::kOpSpliceIn},
    {.opcode = layout::kOpSpliceOut, .write_side = true},
    {.opcode = layout::kOpOpenat, .result_is_fd = true, .blocking = true},
    {.opcode = layout::kOpFsync, .blocking = true},
    {.opcode = layout::kOpStatx, .blocking = true},
    {.opcode = layout::kOpRenameat, .blocking = true},
    {.opcode = layout::kOpUnlinkat, .blocking = true},
    {.opcode = layout::kOpMkdirat, .blocking = true},
    {.opcode = layout::kOpSymlinkat, .blocking = true},
    {.opcode = layout::kOpLinkat, .blocking = true},
    {.opcode = layout::kOpFallocate, .blocking = true},
};

constexpr bool OpFactsInOpcodeOrder() {
  for (uint8_t i = 0; i < layout::kOpCount; i++) {
    if (kOpFacts[i].opcode != i) return false;
  }
  return true;
}
static_assert(sizeof kOpFacts / sizeof kOpFacts[0] == layout::kOpCount && OpFactsInOpcodeOrder(),
              "kOpFacts has one entry per opcode, in opcode order");

// The facts of an opcode CheckSqe accepted (every one below kOpCount).
inline const OpFacts& FactsOf(uint8_t opcode) {
  PERCORE_ASSERT(opcode < layout::kOpCount, "only checked SQEs reach a driver");
  return kOpFacts[opcode];
}

// SPLICE_IN / SPLICE_OUT: the SQE's aux is a pipe end, an fd of its own.
inline bool IsSpliceOp(uint8_t opcode) {
  return opcode == layout::kOpSpliceIn || opcode == layout::kOpSpliceOut;
}

// A RECV into a recv-set buffer the host picks when data arrives.
inline bool IsBufferSelect(const Sqe& sqe) {
  return FactsOf(sqe.opcode).may_select && (sqe.flags & layout::kSqeFBufferSelect) != 0;
}

// An op that stays armed: one CQE with CQE_F_MORE per result.
inline bool IsMultishot(const Sqe& sqe) {
  return FactsOf(sqe.opcode).may_multishot && (sqe.flags & layout::kSqeFMultishot) != 0;
}

}  // namespace percore
