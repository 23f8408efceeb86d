#include "drivers/msg_slots.h"

#include <cstring>

#include "check.h"

namespace percore {

namespace L = layout;

msghdr* MsgSlots::Prepare(const Sqe& sqe, const CoreMemory& memory) {
  const uint32_t slot = sqe.id & L::kSlotMask;
  PERCORE_ASSERT(slot < memory.op_capacity(), "CheckSqe bounds every id's slot");
  Slot& s = slots_[slot];
  std::memset(&s, 0, sizeof s);
  s.iov.iov_base = memory.At(sqe.addr);
  s.iov.iov_len = sqe.len;
  s.msg.msg_iov = &s.iov;
  s.msg.msg_iovlen = 1;
  if (sqe.opcode == L::kOpRecvmsg) {
    s.msg.msg_name = &s.name;
    s.msg.msg_namelen = sizeof s.name;
  } else if (sqe.aux == L::kSendmsgTo) {
    const socklen_t len = DecodeAddress(memory.At(memory.SlotAddrRecord(slot)), &s.name);
    PERCORE_ASSERT(len != 0, "CheckSqe accepts only IPv4 and IPv6 destinations");
    s.msg.msg_name = &s.name;
    s.msg.msg_namelen = len;
  }
  return &s.msg;
}

void MsgSlots::Finish(uint32_t slot, const CoreMemory& memory) const {
  PERCORE_ASSERT(slot < memory.op_capacity(), "only a checked op's slot completes");
  const Slot& s = slots_[slot];
  uint8_t* record = memory.At(memory.SlotAddrRecord(slot));
  EncodeSockAddr(s.name, s.msg.msg_namelen, record);
  const uint32_t flags = (s.msg.msg_flags & MSG_TRUNC) != 0 ? L::kMsgfTrunc : 0;
  std::memcpy(record + L::kAddrMsgFlags, &flags, 4);
}

}  // namespace percore
