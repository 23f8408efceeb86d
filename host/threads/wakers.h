// Cross-thread wake-ups: a process-wide registry of wakers, each an eventfd
// one thread's event loop watches (and, for an io_uring runtime with
// MSG_RING, that runtime's ring), woken by token from any thread.
//
// Every function returns a value >= 0 or a negative Linux errno; none throws.
#pragma once

#include <cstdint>

namespace percore {

// A waker is an eventfd that one thread's event loop watches and, for a
// runtime on io_uring whose kernel has IORING_OP_MSG_RING, that runtime's
// ring as well. Any thread may wake it by token. Tokens (not fds) cross
// threads because an fd number can be closed and reused by the time another
// thread uses it: the registry hands out `generation << kWakerIndexBits |
// index` and refuses stale tokens, under one mutex, so a wake never reaches an
// fd the waker no longer owns.

constexpr int kWakerIndexBits = 10;
constexpr int kMaxWakers = 1 << kWakerIndexBits;  // one per runtime: ample

// The calling thread's io_uring driver, able to post a wake into another
// ring with IORING_OP_MSG_RING. Wake() calls it with the registry locked.
class RingMessenger {
 public:
  // Posts a wake for `token` into the ring `ring_fd`. Returns 0 only once the
  // kernel has consumed the SQE (it then holds its own reference to the
  // target ring's file, so the number may be closed and reused after);
  // otherwise a negative errno, the SQE having been neutralised, and the
  // caller wakes the eventfd instead.
  virtual int32_t PostWake(int ring_fd, int32_t token) = 0;

 protected:
  ~RingMessenger() = default;
};

// How a wake went, for the sender's counters.
enum class WakePath { kNone, kMsgRing, kEventfd };

// A new non-blocking eventfd and its token. `ring_fd` >= 0 also registers
// that io_uring ring as a target for MSG_RING wakes: the registry keeps a dup
// of it, its own, closed by DestroyWaker. Returns the token (> 0) and sets
// *fd (the eventfd), or -errno (-ENOSPC when kMaxWakers are registered).
int32_t CreateWaker(int* fd, int ring_fd = -1);
// Makes the token stale and closes its eventfd (and ring dup). Idempotent for
// a stale token.
void DestroyWaker(int32_t token);
// Wakes the waker: a MSG_RING through `via` (the calling thread's own ring)
// when the target registered a ring and `via` is given, else (or if that
// fails) adds 1 to its eventfd. 0, or -ESRCH for a stale token; *path says
// which way it went. Callable from any thread; never blocks on the target
// (the eventfd counter cannot reach its maximum: the owner drains it on every
// wake-up).
int32_t Wake(int32_t token, RingMessenger* via = nullptr, WakePath* path = nullptr);
// Reads the eventfd counter to zero (the owner, on its loop).
void DrainWaker(int fd);

}  // namespace percore
