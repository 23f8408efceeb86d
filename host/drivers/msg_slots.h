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
#include "fd_table.h"
#include "sockets.h"

namespace percore {

class MsgSlots {
 public:
  explicit MsgSlots(uint32_t op_capacity)
      : capacity_(op_capacity), slots_(new Slot[op_capacity]()) {}

  // The header of a checked SENDMSG or RECVMSG (CheckSqe): one iovec over
  // the buffer span; the destination decoded from the op's record for a
  // SENDMSG_TO, or the name staged for this very op for a SENDMSG_TO_NAME;
  // room for the source for a RECVMSG; with MSG_FDS, the descriptors staged
  // for a SENDMSG (each still owned: `fds`) or room for them on a RECVMSG.
  // Null, and *error set, when a SENDMSG_TO_NAME or MSG_FDS has nothing
  // staged for this op id (-EINVAL) or a staged fd is no longer owned
  // (-EBADF): the caller completes the op with it.
  msghdr* Prepare(const Sqe& sqe, const CoreMemory& memory, const FdTable& fds, int32_t* error);

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
  // was cut to fit. Descriptors received with it (MSG_FDS) are made
  // non-blocking and owned by `fds` (MsgFds lists them); MSGF_CTRUNC when
  // the kernel dropped some past the room.
  void Finish(uint32_t slot, const CoreMemory& memory, FdTable& fds);

  // Stages the descriptors op `id`'s SENDMSG carries (MSG_FDS): each must be
  // owned by `fds`. 0, -EINVAL (none, or more than MSG_FDS_MAX), -EBADF,
  // -ENOENT (no such slot).
  int32_t StageFds(uint32_t id, const int32_t* list, uint32_t count, const FdTable& fds);

  // The descriptors op `id`'s RECVMSG received, during its delivery: how
  // many (into `out`, MSG_FDS_MAX at most), or -ENOENT.
  int32_t ReceivedFds(uint32_t id, int32_t* out) const;

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
    uint32_t fds_id;  // the op `fds` are for: staged to send, or received (0: none)
    uint32_t fd_count;
    int32_t fds[layout::kMsgFdsMax];
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int) * layout::kMsgFdsMax)];
  };
  static void AttachControl(Slot& s, bool sending);
  static void TakeFds(Slot& s, FdTable& fds);

  uint32_t capacity_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace percore
