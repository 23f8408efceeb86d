// Completion: the kernel's CQEs into the core's CQ, and the three ways in
// (a wake-up, a poll, a check for what is pending).
#include <unistd.h>

#include <cerrno>

#include "drivers/op_facts.h"
#include "drivers/uring/uring_driver.h"

namespace percore {

namespace L = layout;

bool UringDriver::NeedGetEvents() const {
  const unsigned sq_flags = LoadAcquire(sq_kflags_);
  if (sq_flags & IORING_SQ_CQ_OVERFLOW) return true;  // flush the backlog
  if ((setup_flags_ & IORING_SETUP_DEFER_TASKRUN) == 0) return false;
  // With TASKRUN_FLAG the kernel says when deferred completions wait for us.
  return (setup_flags_ & IORING_SETUP_TASKRUN_FLAG) == 0 || (sq_flags & IORING_SQ_TASKRUN) != 0;
}

uint32_t UringDriver::Reap() {
  uint32_t space = memory_.CqSpace();
  unsigned head = *cq_khead_;
  const unsigned tail = LoadAcquire(cq_ktail_);
  uint32_t written = 0;
  for (; head != tail && written < space; head++) {
    const io_uring_cqe& cqe = cqes_[head & cq_kmask_];
    if (IsHostTag(cqe.user_data)) {
      HostCqe(cqe);
      continue;
    }
    const uint32_t id = static_cast<uint32_t>(cqe.user_data);
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    int32_t res = cqe.res;
    uint32_t flags = more ? L::kCqeFMore : 0;
    bool result_is_fd = false;  // kInternalId: the core's own cancels
    if (id != L::kInternalId) {
      PERCORE_ASSERT((id & L::kSlotMask) < memory_.op_capacity(),
                     "the kernel returns the user_data of a checked SQE");
      Inflight& op = inflight_[id & L::kSlotMask];
      const bool live = op.id == id;
      result_is_fd = live && FactsOf(op.opcode).result_is_fd;
      if (live && op.splice) {
        written += EmulateSplice(op, res);
        continue;
      }
      if (live && op.select) {
        if (!pbuf_ring_) {
          written += EmulateRecvs(op, res, space - written);
          continue;
        }
        flags |= SelectFlags(cqe.flags, &res);
      }
      if (!more && live) {
        // The number may be reused (and claimed by another driver) from now.
        if (op.opcode == L::kOpClose) fds_.EndClose(op.fd);
        if (op.opcode == L::kOpRecvmsg && res >= 0)
          msg_slots_->Finish(id & L::kSlotMask, memory_, fds_);
        op.id = 0;
      }
    }
    written++;
    // Every result passes through as the kernel wrote it (a TIMEOUT's -ETIME
    // included: the core reads it as "fired"), but a new fd must be owned.
    if (result_is_fd && res >= 0 && !fds_.Add(res)) {
      // Past the table's capacity (RLIMIT_NOFILE raised after creation):
      // the driver could never let the core use it.
      ::close(res);
      res = -EMFILE;
    }
    memory_.PushCqe(id, res, flags);
  }
  StoreRelease(cq_khead_, head);
  counters_.completed += written;
  if (rearm_count_ > 0) {
    SubmitRearms();
    Enter(0, 0, nullptr);
  }
  return written;
}

void UringDriver::DrainWakeFd() {
  uint64_t count;
  // Non-blocking; EAGAIN just means no notification was pending.
  ssize_t r = ::read(event_fd_, &count, sizeof count);
  (void)r;
}

uint32_t UringDriver::Wake() {
  if (closed_) return 0;
  // Drain first: a completion posted after this read signals again.
  DrainWakeFd();
  self_completed_ = false;
  TakeSqes();
  // One call both submits and, with DEFER_TASKRUN, runs the completions the
  // kernel deferred to this thread.
  Enter(0, NeedGetEvents() ? IORING_ENTER_GETEVENTS : 0, nullptr);
  const uint32_t written = flush_written_ + Reap();
  recheck_ = ring_wakes_ > 0;
  if (recheck_) {
    // A MSG_RING from another thread reaches a DEFER_TASKRUN ring as task
    // work, which signals the eventfd, and signals it again when this Enter
    // posts its CQE: drain that second signal here rather than pay a loop
    // round for it. What arrived in between is not lost: the kernel sets
    // IORING_SQ_TASKRUN (or posts a CQE) before it signals, and
    // CompletionsPending looks at both until the next Wake.
    DrainWakeFd();
  }
  return written;
}

uint32_t UringDriver::Poll(int32_t wait_ms) {
  if (closed_) return 0;
  DrainWakeFd();
  self_completed_ = false;
  TakeSqes();
  const uint32_t written = flush_written_;
  const bool ready = written > 0 || CqReady() > 0 || memory_.CqSpace() == 0;
  if (wait_ms == 0 || ready) {
    Enter(0, NeedGetEvents() ? IORING_ENTER_GETEVENTS : 0, nullptr);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = wait_ms / 1000;
    ts.tv_nsec = static_cast<long long>(wait_ms % 1000) * 1000000;
    Enter(1, IORING_ENTER_GETEVENTS, wait_ms > 0 ? &ts : nullptr);
  }
  return written + Reap();
}

bool UringDriver::CompletionsPending() const {
  if (closed_) return false;
  return self_completed_ || CqReady() > 0 || rearm_count_ > 0 ||
         (LoadAcquire(sq_kflags_) & IORING_SQ_CQ_OVERFLOW) != 0 || (recheck_ && NeedGetEvents());
}

}  // namespace percore
