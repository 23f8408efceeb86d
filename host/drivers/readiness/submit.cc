// Submission: taking the core's SQEs and starting each op. An op first
// tries its system call; only EAGAIN makes it wait (wait_queues.cc).
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "drivers/op_facts.h"
#include "drivers/readiness/readiness_driver.h"

namespace percore {

namespace L = layout;

uint32_t ReadinessDriver::TakeSqes() {
  uint32_t taken = 0;
  pick_set_.TakeProvided(memory_);  // buffers first: a RECV in this batch may need one at once
  for (uint32_t n = memory_.SqPending(); n > 0; n--) {
    const Sqe sqe = memory_.PeekSqe();
    const int32_t res = CheckSqe(sqe, memory_, fds_);
    if (res != 0) {
      // As the io_uring driver does: a failed check waits in the SQ until
      // the core's CQ has room for its error.
      if (memory_.CqSpace() == 0 || fifo_head_ != fifo_tail_) break;
      Complete(sqe.id, res, 0);
    } else {
      Start(sqe);
    }
    memory_.ConsumeSqe();
    taken++;
  }
  memory_.PublishSqHead();
  counters_.submitted += taken;
  return taken;
}

// The ops that never wait complete here; true if `sqe` was one of them.
bool ReadinessDriver::CompleteAtOnce(const Sqe& sqe) {
  switch (sqe.opcode) {
    case L::kOpNop: Complete(sqe.id, 0, 0); return true;
    case L::kOpCancel: Complete(sqe.id, CancelOp(sqe.arg), 0); return true;
    case L::kOpClose:
      // CancelFd withdraws the fd's queued pool jobs; one still running
      // (a pread on another thread) makes the close wait for it.
      CancelFd(sqe.fd);
      if (fd_states_.get()[sqe.fd].pool_busy > 0) {
        fd_states_.get()[sqe.fd].close_id = sqe.id;
      } else {
        CloseFd(sqe.id, sqe.fd);
      }
      return true;
    case L::kOpShutdown: {
      // Never blocks. Ops waiting on the fd see the hang-up as an event.
      const int r = ::shutdown(sqe.fd, static_cast<int>(sqe.aux));
      Complete(sqe.id, r == 0 ? 0 : -LinuxErrno(errno), 0);
      return true;
    }
    default: return false;
  }
}

void ReadinessDriver::Start(const Sqe& sqe) {
  if (CompleteAtOnce(sqe)) return;
  const uint32_t slot = sqe.id & L::kSlotMask;
  PERCORE_ASSERT(slot < op_capacity_, "CheckSqe bounds every id's slot");
  Op& op = ops_[slot];
  if (op.where != kNowhere) {
    // The core reuses a slot only after its final CQE: this is a core bug.
    // Refuse the newcomer rather than corrupt a queue.
    Complete(sqe.id, -EBUSY, 0);
    return;
  }
  int32_t error = 0;
  if ((sqe.opcode == L::kOpSendmsg || sqe.opcode == L::kOpRecvmsg) &&
      msg_slots_->Prepare(sqe, memory_, fds_, &error) == nullptr) {
    Complete(sqe.id, error, 0);  // nothing staged for it, or an fd no longer owned
    return;
  }
  op = Op{.id = sqe.id,
          .opcode = sqe.opcode,
          .multishot = IsMultishot(sqe),
          .fd = sqe.fd,
          .addr = sqe.addr,
          .len = sqe.len,
          .arg = sqe.arg,
          .aux = sqe.aux,
          .select = IsBufferSelect(sqe)};
  if (RunsOnPool(sqe)) {
    StartOnPool(slot, sqe);
    return;
  }
  if (sqe.opcode == L::kOpTimeout) {
    op.arg = MonotonicNs() + sqe.arg;
    StartTimeout(slot);
    return;
  }
  PERCORE_ASSERT(static_cast<uint32_t>(sqe.fd) < fd_capacity_,
                 "CheckSqe admits only owned fds, all below the table's capacity");
  TryOrWait(slot);
}

// Tries the op at once unless its fd's queue is busy or known blocked, and
// keeps trying a multishot while it produces; queues it otherwise.
void ReadinessDriver::TryOrWait(uint32_t slot) {
  Op& op = ops_[slot];
  const int fd = op.fd;
  const bool write_side = FactsOf(op.opcode).write_side;
  FdState& st = fd_states_.get()[fd];
  if ((write_side ? st.write_head : st.read_head) != kNil) {
    Enqueue(slot, fd, write_side);  // keep the fd's order: no overtaking
    return;
  }
  bool& blocked = write_side ? st.write_blocked : st.read_blocked;
  if (st.registered && blocked) {
    Enqueue(slot, fd, write_side);  // the readiness cache: the edge will come
    return;
  }
  for (;;) {
    bool more = false;
    const int32_t res = Attempt(op, &more);
    if (res == kAgain) {
      blocked = true;
      const int r = RegisterOnce(fd, st);
      if (r < 0) {
        const uint32_t id = op.id;
        op.id = 0;
        Complete(id, r, 0);
        return;
      }
      Enqueue(slot, fd, write_side);
      return;
    }
    if (more) {
      CompleteMore(op, res);
      if (DrainedBy(op, res, st)) {
        Enqueue(slot, fd, write_side);
        return;
      }
      if (RoomForMore()) continue;
      Enqueue(slot, fd, write_side);
      RetryLater(fd);
      return;
    }
    NoteShortTransfer(op, res, st);
    const uint32_t id = op.id;
    op.id = 0;
    Complete(id, res, op.cqe_flags);
    return;
  }
}

// Registers fd with the poller the first time one of its ops must wait.
// 0 or -errno.
int ReadinessDriver::RegisterOnce(int fd, FdState& st) {
  if (st.registered) return 0;
  counters_.enters++;
  const int r = poller_->Register(fd);
  if (r == 0) st.registered = true;
  return r;
}

// A RECV or SEND on a socket that moved fewer bytes than asked drained the
// receive queue (or filled the send buffer): the next call would answer
// EAGAIN, as tokio assumes too. Mark that side blocked, registering the fd if
// this is its first wait, so the next op waits for the edge with no call:
// with edge-triggered registration any later arrival (or freed space) raises
// one. An echo's every RECV would otherwise start with a failed recv().
// Every socket a driver owns is a stream socket (socket() makes TCP ones and
// adoptFd refuses the rest): a datagram socket's short read would prove nothing.
void ReadinessDriver::NoteShortTransfer(const Op& op, int32_t res, FdState& st) {
  if (res <= 0 || st.hangup) return;
  if (static_cast<uint32_t>(res) >= op.len && !(op.opcode == L::kOpRecv && op.drained)) return;
  if (op.opcode != L::kOpRecv && op.opcode != L::kOpSend) return;
  if (RegisterOnce(op.fd, st) < 0) return;  // no cache then: the next op just tries
  (op.opcode == L::kOpSend ? st.write_blocked : st.read_blocked) = true;
}

// A MORE completion of a multishot op (ACCEPT, or a select RECV with the
// buffer it filled).
void ReadinessDriver::CompleteMore(Op& op, int32_t res) {
  Complete(op.id, res, L::kCqeFMore | op.cqe_flags);
  op.cqe_flags = 0;
}

// Whether a multishot RECV's receive of `res` bytes drained the socket (a
// short read, NoteShortTransfer): the op then waits for the next edge
// instead of trying a receive that would answer EAGAIN.
bool ReadinessDriver::DrainedBy(const Op& op, int32_t res, FdState& st) {
  if (op.opcode != L::kOpRecv) return false;
  NoteShortTransfer(op, res, st);
  return st.read_blocked;
}

// recv() of a RECV op into `into`, setting op.drained. On Linux TCP sockets
// it is a recvmsg() asking for TCP_INQ, the bytes still queued after this
// read: 0 means the socket is drained even when the read filled the buffer,
// so the readiness cache can wait for the next edge instead of trying a recv()

}  // namespace percore
