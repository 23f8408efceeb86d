// Buffer-select RECVs (layout v2): the recv set handed to the kernel's
// buffer ring, or, without one, the emulation (POLL_ADD, then a plain recv
// into a buffer the host picks).
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

#include "drivers/uring/uring_driver.h"

namespace percore {

namespace L = layout;

// Moves what the core provided into the pick set (RecvPickSet checks each
// index before the kernel sees a pointer made from it). With PBUF_RING: one
// ring entry each, then one release-store of the ring's tail; no system call.
void UringDriver::TakeProvided() {
  const uint16_t tail_before = buf_tail_;
  if (pbuf_ring_) {
    pick_set_.TakeProvided(memory_, [this](uint32_t index) { AddToBufRing(index); });
  } else {
    pick_set_.TakeProvided(memory_);
  }
  if (buf_tail_ != tail_before) StoreRelease(&buf_ring_->tail, buf_tail_);
}

void UringDriver::AddToBufRing(uint32_t index) {
  // Field by field: entry 0's resv is the ring's tail (BufRingEntries).
  io_uring_buf& entry = BufRingEntries(buf_ring_)[buf_tail_ & buf_ring_mask_];
  entry.addr = reinterpret_cast<uintptr_t>(memory_.At(memory_.BufferOffset(index)));
  entry.len = memory_.buffer_size();
  entry.bid = static_cast<uint16_t>(index);
  buf_tail_++;
}

// The layout's flags for a select RECV's CQE: CQE_F_BUFFER and the buffer's
// index when the kernel names one of ours. A name we did not give it cannot
// happen; it is reported as -EFAULT rather than passed on.
uint32_t UringDriver::SelectFlags(uint32_t kernel_flags, int32_t* res) {
  if ((kernel_flags & IORING_CQE_F_BUFFER) == 0) return 0;
  const uint32_t bid = kernel_flags >> IORING_CQE_BUFFER_SHIFT;
  if (!pick_set_.TakeNamed(bid)) {
    *res = -EFAULT;
    return 0;
  }
  return CqeBufferFlags(bid);
}

// An emulated select RECV whose POLL_ADD completed: receive now into a buffer
// of the pick set. False when the socket had nothing after all (the poll is
// re-armed and no CQE is written).
bool UringDriver::EmulateRecv(const Inflight& op, int32_t* res, uint32_t* flags) {
  *flags = 0;
  if (*res < 0) return true;  // the poll failed or was cancelled: no buffer used
  // EmulateRecvs ends an op whose fd was closed or handed off before it gets
  // here, and every path that takes an fd out of the table marks its ops.
  PERCORE_ASSERT(!op.fd_gone && fds_.InBitmap(op.fd),
                 "an emulated recv runs only on an fd this driver still owns");
  if (!fds_.Contains(op.fd)) {
    // Closed behind the host's back (not through percore) and re-claimed by
    // another driver: that number is someone else's socket now.
    *res = -EBADF;
    return true;
  }
  const ssize_t r = pick_set_.ReceiveIntoTop(
      memory_,
      [&op](uint8_t* into) {
        ssize_t n;
        do {
          n = ::recv(op.fd, into, op.len, MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        return n;
      },
      flags);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  // EOF or an error (-ENOBUFS with no buffer left): the buffer stays in the set.
  *res = r < 0 ? -errno : static_cast<int32_t>(r);
  return true;
}

// The POLL_ADD of an emulated select RECV completed with `poll_res`: receives
// while data and buffers last, writing at most `room` CQEs (room > 0): one
// with MORE per buffer filled for a multishot, then the final one (EOF, an
// error, -ENOBUFS), or none while the op stays armed. With nothing to read
// (a spurious wake-up, or a multishot that drained the socket) or no room
// left the poll is submitted again. Returns the CQEs written.
uint32_t UringDriver::EmulateRecvs(Inflight& op, int32_t poll_res, uint32_t room) {
  const uint32_t id = op.id;
  uint32_t written = 0;
  for (;;) {
    if (written == room) break;
    if (op.fd_gone) {
      // A CLOSE or hand-off was issued for the fd: never receive on the
      // number again; the poll's CQE (or the NOP that replaced its re-arm)
      // is the op's final one.
      op.id = 0;
      memory_.PushCqe(id, -ECANCELED, 0);
      return written + 1;
    }
    int32_t res = poll_res;
    uint32_t flags = 0;
    if (!EmulateRecv(op, &res, &flags)) break;
    if (op.multishot && res > 0) {
      memory_.PushCqe(id, res, flags | L::kCqeFMore);
      written++;
      // A short receive drained the socket: wait for the next poll rather
      // than try a recv that answers EAGAIN (and, as the kernel's multishot
      // does, end with -ENOBUFS only when data comes with no buffer left).
      if (static_cast<uint32_t>(res) < op.len) break;
      continue;
    }
    op.id = 0;
    memory_.PushCqe(id, res, flags);
    return written + 1;
  }
  // An op is re-armed at most once per POLL_ADD completion, and its poll is
  // not in the kernel while it waits here: one entry per slot at most.
  PERCORE_ASSERT(rearm_count_ < memory_.op_capacity(), "at most one re-arm per slot");
  rearm_[rearm_count_++] = id & L::kSlotMask;
  return written;
}

// A CLOSE (SQE or closeFd) or a hand-off of fd was issued: the number may
// belong to another socket as soon as the close runs, so every emulated
// select RECV on it is marked (EmulateRecvs ends it with -ECANCELED without
// calling recv) and its POLL_ADD cancelled. One waiting for a re-arm gets a
// NOP instead (SubmitRearms). The buffer ring needs nothing: the kernel
// receives through its own file reference, never through the number.
void UringDriver::DropEmulatedRecvs(int32_t fd) {
  if (closed_) return;
  for (uint32_t slot = 0; slot < memory_.op_capacity(); slot++) {
    Inflight& op = inflight_[slot];
    const bool emulated = (op.select && !pbuf_ring_) || op.splice;
    if (op.id == 0 || !emulated || op.fd_gone) continue;
    if (op.fd != fd && !(op.splice && op.pipe == fd)) continue;
    op.fd_gone = true;
    bool rearming = false;
    for (uint32_t i = 0; i < rearm_count_; i++) rearming |= rearm_[i] == slot;
    if (rearming) continue;
    // If the kernel SQ stays full the poll is left alone: when it fires, the
    // mark still keeps the host from receiving.
    io_uring_sqe* k = GetSqe();
    if (k == nullptr) continue;
    prep_cancel(k, op.id);
    k->user_data = kDropTag | op.id;
    sqe_tail_++;
  }
}

// A SPLICE_IN/OUT's poll completed: splice once, non-blocking, between the
// socket and the pipe end; EAGAIN (a spurious wake-up) polls again. Never on
// a number whose CLOSE was issued (fd_gone), nor on one this driver no
// longer owns. Returns the CQEs written (0 or 1).
uint32_t UringDriver::EmulateSplice(Inflight& op, int32_t poll_res) {
  const uint32_t id = op.id;
  int32_t res;
  if (op.fd_gone) {
    res = -ECANCELED;
  } else if (poll_res < 0) {
    res = poll_res;
  } else if (!fds_.Contains(op.fd) || !fds_.Contains(op.pipe)) {
    res = -EBADF;
  } else {
    const bool out = op.opcode == L::kOpSpliceOut;
    const int from = out ? op.pipe : op.fd;
    const int to = out ? op.fd : op.pipe;
    ssize_t r;
    do {
      r = ::splice(from, nullptr, to, nullptr, op.len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EAGAIN) {
      rearm_[rearm_count_++] = id & L::kSlotMask;
      return 0;
    }
    res = r < 0 ? -errno : static_cast<int32_t>(r);
  }
  op.id = 0;
  memory_.PushCqe(id, res, 0);
  return 1;
}

}  // namespace percore
