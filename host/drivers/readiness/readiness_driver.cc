// The readiness driver's entry points (the Driver interface) and its
// lifetime; the work is in the files readiness_driver.h lists.
#include "drivers/readiness/readiness_driver.h"

#include "drivers/next_pow2.h"

namespace percore {

ReadinessDriver::ReadinessDriver(const CoreMemory& memory, std::unique_ptr<Poller> poller)
    : Driver(memory), poller_(std::move(poller)), name_(poller_->name()) {
  op_capacity_ = memory_.op_capacity();
  ops_ = std::make_unique<Op[]>(op_capacity_);
  fd_capacity_ = fds_.capacity();
  fd_states_.reset(static_cast<FdState*>(std::calloc(fd_capacity_, sizeof(FdState))));
  // Final completions outstanding are at most one per op plus one per cancel
  // (the core's SQ size); the other half is for MORE completions.
  const uint32_t fifo_size = NextPow2(2 * memory_.sq_entries());
  fifo_ = std::make_unique<Completion[]>(fifo_size);
  fifo_mask_ = fifo_size - 1;
  // An fd is on the retry list at most once, and only while an op waits on
  // it; RunRetries may append while it walks, hence twice that.
  retry_ = std::make_unique<int32_t[]>(2 * op_capacity_);
  features_.Add("readiness");
  features_.Add("multishot_accept");  // emulated: accept until EAGAIN
  pick_set_.Init(memory_.provide_count(), /*host_picks=*/true);
  if (memory_.provide_count() > 0) {
    features_.Add("recv_select");  // emulated: a recv-set buffer taken when the socket is readable
  }
}

uint32_t ReadinessDriver::Flush() {
  if (closed_) return 0;
  const uint64_t before = counters_.completed;
  DrainFifo();
  const uint32_t taken = TakeSqes();
  if (counters_.completed != before) self_completed_ = true;
  return taken;
}

uint32_t ReadinessDriver::Wake() {
  if (closed_) return 0;
  self_completed_ = false;
  written_ = 0;
  DrainFifo();
  TakeSqes();
  Dispatch(0);
  return written_;
}

uint32_t ReadinessDriver::Poll(int32_t wait_ms) {
  if (closed_) return 0;
  self_completed_ = false;
  written_ = 0;
  DrainFifo();
  TakeSqes();
  if (wait_ms == 0 || written_ > 0 || fifo_head_ != fifo_tail_ || memory_.CqSpace() == 0) {
    Dispatch(0);
    return written_;
  }
  // Spurious wake-ups complete nothing: wait again for what is left.
  const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(wait_ms) * 1000000u;
  for (;;) {
    int timeout = -1;
    if (wait_ms > 0) {
      const uint64_t now = MonotonicNs();
      if (now >= deadline) break;
      timeout = static_cast<int>((deadline - now + 999999u) / 1000000u);
    }
    if (Dispatch(timeout) < 0 || written_ > 0) break;
  }
  return written_;
}

bool ReadinessDriver::CompletionsPending() const {
  if (closed_) return false;
  return self_completed_ || fifo_head_ != fifo_tail_ || retry_count_ > 0;
}

void ReadinessDriver::Close() {
  if (closed_) return;
  closed_ = true;
  // Waiting ops get no CQE, as with io_uring's teardown.
  StopPool();
  poller_.reset();
  fds_.CloseAll();
}

std::unique_ptr<Driver> MakeReadinessDriver(const CoreMemory& memory,
                                            std::unique_ptr<Poller> poller, int init_error,
                                            std::initializer_list<const char*> features,
                                            int* error) {
  if (init_error != 0) {
    *error = init_error;
    return nullptr;
  }
  auto driver = std::make_unique<ReadinessDriver>(memory, std::move(poller));
  if (!driver->ok()) {
    *error = ENOMEM;
    return nullptr;
  }
  for (const char* name : features) driver->mutable_features().Add(name);
  return driver;
}

}  // namespace percore
