// The wait queues: one FIFO per fd and direction, linked through op records
// by slot, retried from the head at each readiness edge; and the ways an op
// leaves one early (a cancel, its fd closing or handed off).
#include <cerrno>

#include "drivers/op_facts.h"
#include "drivers/readiness/readiness_driver.h"

namespace percore {

namespace L = layout;

void ReadinessDriver::Enqueue(uint32_t slot, int fd, bool write_side) {
  FdState& st = fd_states_.get()[fd];
  uint32_t& head = write_side ? st.write_head : st.read_head;
  uint32_t& tail = write_side ? st.write_tail : st.read_tail;
  Op& op = ops_[slot];
  PERCORE_ASSERT(op.where == kNowhere, "an op waits in one place at a time");
  op.where = write_side ? kWriteQueue : kReadQueue;
  if (IsSpliceOp(op.opcode)) fd_states_.get()[op.aux].pipe_users++;
  op.prev = tail;
  op.next = kNil;
  if (tail != kNil) {
    ops_[tail - 1].next = slot + 1;
  } else {
    head = slot + 1;
  }
  tail = slot + 1;
}

void ReadinessDriver::Unlink(uint32_t slot) {
  Op& op = ops_[slot];
  uint32_t* head;
  uint32_t* tail;
  switch (op.where) {
    case kReadQueue:
      head = &fd_states_.get()[op.fd].read_head;
      tail = &fd_states_.get()[op.fd].read_tail;
      break;
    case kWriteQueue:
      head = &fd_states_.get()[op.fd].write_head;
      tail = &fd_states_.get()[op.fd].write_tail;
      break;
    case kTimers:
      head = &timers_head_;
      tail = &timers_tail_;
      break;
    default: return;
  }
  if (IsSpliceOp(op.opcode)) fd_states_.get()[op.aux].pipe_users--;
  if (op.prev != kNil)
    ops_[op.prev - 1].next = op.next;
  else
    *head = op.next;
  if (op.next != kNil)
    ops_[op.next - 1].prev = op.prev;
  else
    *tail = op.prev;
  op.prev = op.next = kNil;
  op.where = kNowhere;
}

// Retries the fd's queue from its head until a call answers EAGAIN. Called
// for every readiness event, spurious ones included: a spurious event costs
// one system call that answers EAGAIN.
void ReadinessDriver::RunQueue(int fd, bool write_side) {
  FdState& st = fd_states_.get()[fd];
  uint32_t& head = write_side ? st.write_head : st.read_head;
  while (head != kNil) {
    const uint32_t slot = head - 1;
    Op& op = ops_[slot];
    bool more = false;
    const int32_t res = Attempt(op, &more);
    if (res == kAgain) {
      (write_side ? st.write_blocked : st.read_blocked) = true;
      return;
    }
    if (more) {
      CompleteMore(op, res);
      if (DrainedBy(op, res, st)) return;
      if (RoomForMore()) continue;
      RetryLater(fd);
      return;
    }
    const uint32_t id = op.id;
    Unlink(slot);
    NoteShortTransfer(op, res, st);
    op.id = 0;
    Complete(id, res, op.cqe_flags);
    if (write_side ? st.write_blocked : st.read_blocked) return;
  }
}

// Every op waiting on fd completes with -ECANCELED (in queue order, reads
// first), and the poller forgets the fd: it is about to be closed.
void ReadinessDriver::CancelFd(int fd) {
  FdState& st = fd_states_.get()[fd];
  // SPLICEs waiting on another fd with this one as their pipe end: never
  // splice into or out of this number once its CLOSE is issued.
  for (uint32_t slot = 0; st.pipe_users > 0 && slot < op_capacity_; slot++) {
    Op& op = ops_[slot];
    if (op.id == 0 || op.where == kNowhere || !IsSpliceOp(op.opcode) ||
        static_cast<int>(op.aux) != fd) {
      continue;
    }
    const uint32_t id = op.id;
    Unlink(slot);
    op.id = 0;
    Complete(id, -ECANCELED, 0);
  }
  CancelPoolOpsOn(fd);  // those no thread has started; CLOSE waits for the rest
  st.file = false;
  for (uint32_t* head : {&st.read_head, &st.write_head}) {
    while (*head != kNil) {
      const uint32_t slot = *head - 1;
      const uint32_t id = ops_[slot].id;
      Unlink(slot);
      ops_[slot].id = 0;
      Complete(id, -ECANCELED, 0);
    }
  }
  if (st.registered) {
    counters_.enters++;
    poller_->Deregister(fd);
    st.registered = false;
  }
  st.read_blocked = st.write_blocked = st.hangup = false;
  st.inq = kInqUnknown;  // the number may come back as another kind of socket
  // st.retry stays: the fd is still on retry_ and RunRetries clears it.
}

void ReadinessDriver::FdClosing(int32_t fd) {
  if (closed_ || !fds_.Contains(fd)) return;
  CancelFd(fd);
  self_completed_ = true;
}

// The fd hand-off: another thread's driver will own the fd. Ops still waiting
// on it complete with -ECANCELED (the API refuses to detach a stream with
// operations in flight, so normally there are none), and the poller stops
// watching it: the registration belongs to this driver's epoll set, and a
// later fd with the same number must start unregistered here.
int32_t ReadinessDriver::Forget(int32_t fd) {
  if (closed_ || !fds_.Contains(fd)) return -EBADF;
  CancelFd(fd);
  fds_.Handoff(fd);
  self_completed_ = true;
  return 0;
}

// Like io_uring's ASYNC_CANCEL: 0 when the target was waiting (it completes
// with -ECANCELED, before the cancel's own CQE), -ENOENT when no op with that
// id waits. -EALREADY never happens here: an op is either waiting or done.
int32_t ReadinessDriver::CancelOp(uint64_t target) {
  if (target == 0 || target >= L::kInternalId) return -ENOENT;
  const uint32_t slot = static_cast<uint32_t>(target) & L::kSlotMask;
  if (slot >= op_capacity_) return -ENOENT;
  Op& op = ops_[slot];
  if (op.id != target || op.where == kNowhere) return -ENOENT;
  if (op.where == kPool) return CancelPoolOp(slot);
  Unlink(slot);
  op.id = 0;
  Complete(static_cast<uint32_t>(target), -ECANCELED, 0);
  return 0;
}

void ReadinessDriver::RetryLater(int fd) {
  FdState& st = fd_states_.get()[fd];
  if (st.retry) return;
  st.retry = true;
  PERCORE_ASSERT(retry_count_ < 2 * op_capacity_,
                 "the retry list holds each fd once (see its size)");
  retry_[retry_count_++] = fd;
}

void ReadinessDriver::RunRetries() {
  const uint32_t n = retry_count_;
  uint32_t i = 0;
  for (; i < n && RoomForMore(); i++) {
    const int fd = retry_[i];
    fd_states_.get()[fd].retry = false;
    if (fds_.Contains(fd)) RunQueue(fd, false);  // may append fd again
  }
  // Keep what was not reached and what was appended, in order.
  uint32_t kept = 0;
  for (uint32_t j = i; j < retry_count_; j++) retry_[kept++] = retry_[j];
  retry_count_ = kept;
}

}  // namespace percore
