#include "drivers/msg_slots.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "check.h"
#include "unix_sockets.h"

namespace percore {

namespace L = layout;

// SCM_RIGHTS: the staged descriptors (sending), or room for MSG_FDS_MAX.
void MsgSlots::AttachControl(Slot& s, bool sending) {
  std::memset(s.control, 0, sizeof s.control);
  s.msg.msg_control = s.control;
  if (!sending) {
    s.msg.msg_controllen = sizeof s.control;
    return;
  }
  s.msg.msg_controllen = CMSG_SPACE(sizeof(int) * s.fd_count);
  cmsghdr* c = CMSG_FIRSTHDR(&s.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * s.fd_count);
  std::memcpy(CMSG_DATA(c), s.fds, sizeof(int) * s.fd_count);
  s.fds_id = 0;  // used once
}

// The descriptors a RECVMSG received: each owned from now on (non-blocking,
// as the driver's own), or closed if the table cannot take it.
void MsgSlots::TakeFds(Slot& s, FdTable& fds) {
  s.fd_count = 0;
  s.fds_id = s.id;
  for (cmsghdr* c = CMSG_FIRSTHDR(&s.msg); c != nullptr; c = CMSG_NXTHDR(&s.msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      const int fl = fcntl(fd, F_GETFL);
      if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || s.fd_count == L::kMsgFdsMax ||
          !fds.Add(fd)) {
        ::close(fd);
        continue;
      }
      s.fds[s.fd_count++] = fd;
    }
  }
}

int32_t MsgSlots::StageFds(uint32_t id, const int32_t* list, uint32_t count, const FdTable& fds) {
  const uint32_t slot = id & L::kSlotMask;
  if (slot >= capacity_ || (id >> L::kSlotBits) == 0) return -ENOENT;
  if (count == 0 || count > L::kMsgFdsMax) return -EINVAL;
  for (uint32_t i = 0; i < count; i++) {
    if (!fds.Contains(list[i])) return -EBADF;
  }
  Slot& s = slots_[slot];
  std::memcpy(s.fds, list, sizeof(int32_t) * count);
  s.fd_count = count;
  s.fds_id = id;
  return 0;
}

int32_t MsgSlots::ReceivedFds(uint32_t id, int32_t* out) const {
  const uint32_t slot = id & L::kSlotMask;
  if (slot >= capacity_) return -ENOENT;
  const Slot& s = slots_[slot];
  if (s.fds_id != id || s.id != id || s.msg.msg_name != &s.name) return -ENOENT;
  std::memcpy(out, s.fds, sizeof(int32_t) * s.fd_count);
  return static_cast<int32_t>(s.fd_count);
}

msghdr* MsgSlots::Prepare(const Sqe& sqe, const CoreMemory& memory, const FdTable& fds,
                          int32_t* error) {
  const uint32_t slot = sqe.id & L::kSlotMask;
  PERCORE_ASSERT(slot < capacity_, "CheckSqe bounds every id's slot");
  Slot& s = slots_[slot];
  const uint32_t dest = sqe.aux & ~L::kMsgFds;
  const bool with_fds = (sqe.aux & L::kMsgFds) != 0;
  const bool sending = sqe.opcode == L::kOpSendmsg;
  *error = -EINVAL;
  if (dest == L::kSendmsgToName && s.staged_id != sqe.id) return nullptr;
  if (with_fds && sending) {
    if (s.fds_id != sqe.id) return nullptr;
    // Staged in this same turn, but checked again: the kernel must never
    // dup a descriptor this driver does not own.
    for (uint32_t i = 0; i < s.fd_count; i++) {
      if (!fds.Contains(s.fds[i])) {
        *error = -EBADF;
        return nullptr;
      }
    }
  }
  *error = 0;
  std::memset(&s.msg, 0, sizeof s.msg);
  std::memset(&s.name, 0, sizeof s.name);
  s.id = sqe.id;
  s.iov.iov_base = memory.At(sqe.addr);
  s.iov.iov_len = sqe.len;
  s.msg.msg_iov = &s.iov;
  s.msg.msg_iovlen = 1;
  if (with_fds) AttachControl(s, sending);
  if (!sending) {
    s.fds_id = 0;  // none received yet
    s.msg.msg_name = &s.name;
    s.msg.msg_namelen = sizeof s.name;
  } else if (dest == L::kSendmsgTo) {
    const socklen_t len = DecodeAddress(memory.At(memory.SlotAddrRecord(slot)), &s.name);
    PERCORE_ASSERT(len != 0, "CheckSqe accepts only IPv4 and IPv6 destinations");
    s.msg.msg_name = &s.name;
    s.msg.msg_namelen = len;
  } else if (dest == L::kSendmsgToName) {
    std::memcpy(&s.name.un, &s.staged, sizeof s.staged);
    s.msg.msg_name = &s.name;
    s.msg.msg_namelen = s.staged_len;
    s.staged_id = 0;  // used once
  }
  return &s.msg;
}

void MsgSlots::Finish(uint32_t slot, const CoreMemory& memory, FdTable& fds) {
  PERCORE_ASSERT(slot < capacity_, "only a checked op's slot completes");
  Slot& s = slots_[slot];
  if (s.msg.msg_control != nullptr) TakeFds(s, fds);
  uint8_t* record = memory.At(memory.SlotAddrRecord(slot));
  EncodeSockAddr(s.name, s.msg.msg_namelen, record);
  if (s.name.sa.sa_family == AF_UNIX) {
    const uint16_t family = L::kAddrFamilyUnix;
    std::memcpy(record + L::kAddrFamily, &family, 2);
  }
  const uint32_t flags = ((s.msg.msg_flags & MSG_TRUNC) != 0 ? L::kMsgfTrunc : 0) |
                         ((s.msg.msg_flags & MSG_CTRUNC) != 0 ? L::kMsgfCtrunc : 0);
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
