// The message headers of SENDMSG and RECVMSG (layout v4), one per op slot,
// in the host's own memory: the kernel reads the msghdr, its iovec and the
// destination from here, and writes a datagram's source and flags here,
// never into the core's memory; the host then writes them into the op's
// address record itself (Finish), in the layout's neutral form.
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
  explicit MsgSlots(uint32_t op_capacity) : slots_(new Slot[op_capacity]()) {}

  // The header of a checked SENDMSG or RECVMSG (CheckSqe): one iovec over
  // the buffer span; the destination decoded from the op's record for a
  // SENDMSG_TO, room for the source for a RECVMSG.
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
  // record (family 0 if the kernel gave none or one of another family) and
  // MSGF_TRUNC into ADDR_MSG_FLAGS when the datagram was cut to fit.
  void Finish(uint32_t slot, const CoreMemory& memory) const;

 private:
  struct Slot {
    msghdr msg;
    iovec iov;
    SockAddr name;
  };
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace percore
