// Cross-thread wakes through the ring (IORING_OP_MSG_RING): posting one
// into another runtime's ring, and the host-tagged CQEs they produce here.
#include <cerrno>

#include "drivers/uring/uring_driver.h"
#include "threads/wakers.h"

namespace percore {

void UringDriver::HostCqe(const io_uring_cqe& cqe) {
  if (cqe.user_data == kWakeTag) {
    // The caller (the loop glue) runs onWake once after this batch.
    ring_wakes_++;
    counters_.ring_wakes++;
    return;
  }
  if ((cqe.user_data & ~uint64_t{0xffffffff}) != kSentTag || cqe.res >= 0) return;
  // A MSG_RING this driver sent failed in the kernel (say, the target's CQ
  // could not take it): the eventfd still wakes that runtime, if it lives.
  WakePath path;
  percore::Wake(static_cast<int32_t>(cqe.user_data & 0x7fffffff), nullptr, &path);
  if (path == WakePath::kEventfd) counters_.wakes_eventfd++;
}

// Called by Wake() (threads/wakers.cc) with the waker registry locked, on this
// driver's thread (the ring is SINGLE_ISSUER). Submits at once: the lock may
// be released only after the kernel consumed the SQE and so took its own
// reference to the target ring (see threads/wakers.cc). The SQE goes alone; the
// core's pending SQEs wait for the runtime's own flush.
int32_t UringDriver::PostWake(int ring_fd, int32_t token) {
  if (closed_) return -EBADF;
  io_uring_sqe* k = GetSqe();
  if (k == nullptr) return -EBUSY;
  const unsigned at = sqe_tail_;
  prep_msg_ring(k, ring_fd, kWakeTag, 0);
  k->user_data = kSentTag | static_cast<uint32_t>(token);
  if (cqe_skip_) k->flags |= IOSQE_CQE_SKIP_SUCCESS;
  sqe_tail_++;
  Enter(0, 0, nullptr);
  // Consumed once the kernel's head has passed it.
  if (static_cast<int32_t>(LoadAcquire(sq_khead_) - (at + 1)) >= 0) return 0;
  // The kernel stopped before it (-EBUSY, -EAGAIN, or an older SQE failing
  // without SUBMIT_ALL): it must never be consumed once the lock is gone, so
  // it becomes a NOP in place (the kernel has not read it yet; only this
  // thread submits) and the caller wakes the eventfd instead.
  prep_nop(k);
  k->user_data = kSentTag;
  if (cqe_skip_) k->flags |= IOSQE_CQE_SKIP_SUCCESS;
  return -EAGAIN;
}

}  // namespace percore
