#include "drivers/msg_slots.h"

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "check.h"
#include "unix_sockets.h"

namespace percore {

namespace L = layout;

msghdr* MsgSlots::Prepare(const Sqe& sqe, const CoreMemory& memory) {
  const uint32_t slot = sqe.id & L::kSlotMask;
  PERCORE_ASSERT(slot < capacity_, "CheckSqe bounds every id's slot");
  Slot& s = slots_[slot];
  if (sqe.aux == L::kSendmsgToName && s.staged_id != sqe.id) return nullptr;
  std::memset(&s.msg, 0, sizeof s.msg);
  std::memset(&s.name, 0, sizeof s.name);
  s.id = sqe.id;
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
  } else if (sqe.aux == L::kSendmsgToName) {
    std::memcpy(&s.name.un, &s.staged, sizeof s.staged);
    s.msg.msg_name = &s.name;
    s.msg.msg_namelen = s.staged_len;
    s.staged_id = 0;  // used once
  }
  return &s.msg;
}

void MsgSlots::Finish(uint32_t slot, const CoreMemory& memory) const {
  PERCORE_ASSERT(slot < capacity_, "only a checked op's slot completes");
  const Slot& s = slots_[slot];
  uint8_t* record = memory.At(memory.SlotAddrRecord(slot));
  EncodeSockAddr(s.name, s.msg.msg_namelen, record);
  if (s.name.sa.sa_family == AF_UNIX) {
    const uint16_t family = L::kAddrFamilyUnix;
    std::memcpy(record + L::kAddrFamily, &family, 2);
  }
  const uint32_t flags = (s.msg.msg_flags & MSG_TRUNC) != 0 ? L::kMsgfTrunc : 0;
  std::memcpy(record + L::kAddrMsgFlags, &flags, 4);
}

int32_t MsgSlots::Stage(uint32_t id, const uint8_t* name, size_t len) {
  const uint32_t slot = id & L::kSlotMask;
  if (slot >= capacity_ || (id >> L::kSlotBits) == 0) return -ENOENT;
  Slot& s = slots_[slot];
  const socklen_t addr_len = EncodeUnixName(name, len, &s.staged);
  if (addr_len == 0) return -EINVAL;
  s.staged_len = addr_len;
  s.staged_id = id;
  return 0;
}

int32_t MsgSlots::SenderName(uint32_t id, uint8_t out[sizeof(sockaddr_un{}.sun_path)]) const {
  const uint32_t slot = id & L::kSlotMask;
  if (slot >= capacity_) return -ENOENT;
  const Slot& s = slots_[slot];
  if (s.id != id || s.msg.msg_name != &s.name || s.name.sa.sa_family != AF_UNIX) return -ENOENT;
  const size_t header = offsetof(sockaddr_un, sun_path);
  size_t n = s.msg.msg_namelen > header ? s.msg.msg_namelen - header : 0;
  if (n > sizeof s.name.un.sun_path) n = sizeof s.name.un.sun_path;
  if (n > 0 && s.name.un.sun_path[0] != 0) n = strnlen(s.name.un.sun_path, n);
  std::memcpy(out, s.name.un.sun_path, n);
  return static_cast<int32_t>(n);
}

}  // namespace percore
