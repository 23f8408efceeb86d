// The message headers of SENDMSG and RECVMSG (layout v4), one per op slot,
// in the host's own memory: the kernel reads the msghdr, its iovec and the
// destination from here, and writes a datagram's source and flags here,
// never into the core's memory; the host then writes them into the op's
// address record itself (Finish), in the layout's neutral form. A Unix name
// does not fit a record: a destination is staged here by the API for its op
// (Stage, between the submit and the flush), and a Unix sender stays here
// for the API to read during the op's delivery (SenderName).
//
// A slot's header stays put from the SQE to the op's final CQE (the core
// does not reuse a slot before its op completed), so io_uring may write the
// source address whenever the datagram arrives. Both drivers use it.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>

#include "core_memory.h"
#include "sockets.h"

namespace percore {

class MsgSlots {
 public:
  explicit MsgSlots(uint32_t op_capacity)
      : capacity_(op_capacity), slots_(new Slot[op_capacity]()) {}

  // The header of a checked SENDMSG or RECVMSG (CheckSqe): one iovec over
  // the buffer span; the destination decoded from the op's record for a
  // SENDMSG_TO, or the name staged for this very op for a SENDMSG_TO_NAME;
  // room for the source for a RECVMSG. Null when a SENDMSG_TO_NAME has no
  // name staged for this op id (the caller completes it with -EINVAL).
  msghdr* Prepare(const Sqe& sqe, const CoreMemory& memory);

  // The header Prepare made for the op in `slot`, for one more try of a
  // readiness driver's sendmsg/recvmsg; for a RECVMSG (`receive`), the room
  // for the source is reset, as a failed try may have changed it.
  msghdr* Header(uint32_t slot, bool receive) {
    Slot& s = slots_[slot];
    if (receive) s.msg.msg_namelen = sizeof s.name;
    return &s.msg;
  }

  // A RECVMSG that received (res >= 0): its source into the op's address
  // record (IPv4/IPv6; ADDR_FAMILY_UNIX for a Unix sender, whose name stays
  // here; 0 if none) and MSGF_TRUNC into ADDR_MSG_FLAGS when the datagram
  // was cut to fit.
  void Finish(uint32_t slot, const CoreMemory& memory) const;

  // Stages Unix name `name` (checked: unix_sockets.h) as the destination of
  // op `id`'s SENDMSG_TO_NAME. 0, -EINVAL (bad name), -ENOENT (no such slot).
  int32_t Stage(uint32_t id, const uint8_t* name, size_t len);

  // The Unix sender of op `id`'s RECVMSG, while it is being delivered: its
  // length (0: unnamed), or -ENOENT (not that op, or not a Unix sender).
  int32_t SenderName(uint32_t id, uint8_t out[sizeof(sockaddr_un{}.sun_path)]) const;

 private:
  struct Slot {
    msghdr msg;
    iovec iov;
    SockAddr name;
    uint32_t id;         // the op the header was prepared for
    uint32_t staged_id;  // the op `staged` is for (0: none)
    socklen_t staged_len;
    sockaddr_un staged;
  };
  uint32_t capacity_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace percore
