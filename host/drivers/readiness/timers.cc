// TIMEOUT ops: a list sorted by deadline, and one poller timer for the
// earliest. An expired TIMEOUT completes with -ETIME, as io_uring's does; the
// core reads that as "fired".
#include <time.h>

#include <cerrno>

#include "drivers/readiness/readiness_driver.h"

namespace percore {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

void ReadinessDriver::StartTimeout(uint32_t slot) {
  Op& op = ops_[slot];
  // Sorted by deadline, equal deadlines in start order: scan from the tail.
  uint32_t after = timers_tail_;
  while (after != kNil && ops_[after - 1].arg > op.arg) after = ops_[after - 1].prev;
  op.where = kTimers;
  op.prev = after;
  op.next = after == kNil ? timers_head_ : ops_[after - 1].next;
  if (op.prev != kNil)
    ops_[op.prev - 1].next = slot + 1;
  else
    timers_head_ = slot + 1;
  if (op.next != kNil)
    ops_[op.next - 1].prev = slot + 1;
  else
    timers_tail_ = slot + 1;
  if (timers_head_ == slot + 1) RearmTimer();
}

void ReadinessDriver::RearmTimer() {
  if (timers_head_ == kNil) return;  // a stale timer event finds nothing due
  const uint64_t deadline = ops_[timers_head_ - 1].arg;
  if (deadline == timer_armed_) return;
  timer_armed_ = deadline;
  counters_.enters++;
  poller_->ArmTimer(deadline);
}

void ReadinessDriver::FireTimers() {
  timer_armed_ = 0;
  const uint64_t now = MonotonicNs();
  while (timers_head_ != kNil && ops_[timers_head_ - 1].arg <= now) {
    const uint32_t slot = timers_head_ - 1;
    const uint32_t id = ops_[slot].id;
    Unlink(slot);
    ops_[slot].id = 0;
    Complete(id, -LinuxErrno(ETIME), 0);
  }
  RearmTimer();
}

}  // namespace percore
