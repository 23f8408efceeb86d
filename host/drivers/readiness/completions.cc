// Completions: into the core's CQ in order, or, when it is full, into the
// driver's FIFO until it has room; and the dispatch of poller events to the
// queues and timers whose ops they complete.
#include "drivers/readiness/readiness_driver.h"

namespace percore {

void ReadinessDriver::Complete(uint32_t id, int32_t res, uint32_t flags) {
  if (fifo_head_ == fifo_tail_ && memory_.CqSpace() > 0) {
    memory_.PushCqe(id, res, flags);
    counters_.completed++;
    written_++;
    return;
  }
  PERCORE_ASSERT(fifo_tail_ - fifo_head_ <= fifo_mask_,
                 "the FIFO holds every final completion (see RoomForMore and its size)");
  fifo_[fifo_tail_++ & fifo_mask_] = Completion{.id = id, .res = res, .flags = flags};
}

void ReadinessDriver::DrainFifo() {
  while (fifo_head_ != fifo_tail_ && memory_.CqSpace() > 0) {
    const Completion& c = fifo_[fifo_head_++ & fifo_mask_];
    memory_.PushCqe(c.id, c.res, c.flags);
    counters_.completed++;
    written_++;
  }
}

// One wait for events (timeout_ms as Poller::Wait) and their ops. Returns
// the number of events, or -errno if the wait failed.
int ReadinessDriver::Dispatch(int timeout_ms) {
  constexpr int kMaxEvents = 256;
  ReadyEvent events[kMaxEvents];
  counters_.enters++;
  const int n = poller_->Wait(events, kMaxEvents, timeout_ms);
  for (int i = 0; i < n; i++) {
    const ReadyEvent& e = events[i];
    if (e.timer) {
      FireTimers();
      continue;
    }
    if (e.fd >= 0 && e.fd == pool_.wake_fd()) {
      TakePoolDone();
      continue;
    }
    // An event for an fd closed earlier in this batch finds empty queues.
    if (e.fd < 0 || static_cast<uint32_t>(e.fd) >= fd_capacity_) continue;
    FdState& st = fd_states_.get()[e.fd];
    if (e.hangup) st.hangup = true;
    if (e.readable) {
      st.read_blocked = false;
      RunQueue(e.fd, false);
    }
    if (e.writable) {
      st.write_blocked = false;
      RunQueue(e.fd, true);
    }
  }
  RunRetries();
  DrainFifo();
  return n;
}

}  // namespace percore
