// The one internal interface every I/O backend implements (io_uring, and the
// readiness drivers of readiness.h: epoll, kqueue), in the spirit of libuv's
// uv__io_poll: the Node-API class (napi/driver_object.h) and the loop glue only
// ever talk to a Driver.
//
// A driver moves SQEs from the core's memory into the kernel and kernel
// completions into the core's CQ. It never calls JavaScript and never touches
// libuv: when it has completions the core has not seen yet, it says so
// (CompletionsPending) and the caller schedules a turn.
//
// A driver belongs to the thread that created it. Nothing here is shared
// between threads.
#pragma once

#include <cerrno>
#include <cstdint>

#include "check.h"
#include "core_memory.h"
#include "drivers/msg_slots.h"
#include "fd_table.h"
#include "threads/fd_adoption.h"
#include "threads/wakers.h"

namespace percore {

struct DriverCounters {
  uint64_t enters = 0;     // system calls into the kernel's queue (io_uring_enter)
  uint64_t submitted = 0;  // SQEs taken from the core's SQ (to the kernel or failed by a check)
  uint64_t completed = 0;  // CQEs written into the core's CQ
  uint64_t wakeups = 0;    // wake-fd notifications handled (counted by the loop glue)
  // Cross-thread wakes this driver's thread sent (driver.wake), by the way
  // they went: an IORING_OP_MSG_RING into the target's ring, or a write to
  // the target's eventfd (the target or this driver is not io_uring, the
  // kernel lacks MSG_RING, or a MSG_RING failed and was redone this way).
  uint64_t wakes_msg_ring = 0;
  uint64_t wakes_eventfd = 0;
  // MSG_RING wakes another thread posted into this driver's ring (reaped and
  // kept from the core; each batch of them calls onWake once).
  uint64_t ring_wakes = 0;
  // Readiness drivers: system calls that answered EAGAIN. The readiness cache
  // (and TCP_INQ) exist to keep these rare: each is a call that did nothing.
  uint64_t eagain = 0;
};

// The names of what setup obtained, for `features` in JS. Static strings.
struct FeatureList {
  static constexpr int kMax = 16;
  const char* names[kMax];
  int count = 0;
  void Add(const char* name) {
    PERCORE_ASSERT(count < kMax, "a driver names at most kMax features");
    names[count++] = name;
  }
};

class Driver {
 public:
  virtual ~Driver() = default;
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  virtual const char* name() const = 0;
  virtual const FeatureList& features() const = 0;

  // Takes every SQE between sq_head and sq_tail (checking each; a failed
  // check becomes a CQE in the core's CQ) and submits them with one kernel
  // call where the kernel queue allows. Returns the number taken. Stops early,
  // leaving SQEs in place, only if the core's CQ has no room for an error CQE
  // or the kernel refuses more work for now.
  virtual uint32_t Flush() = 0;

  // The wake-up path: drain the wake fd, submit, let the kernel post
  // completions it deferred to this thread, reap into the core's CQ.
  // Returns CQEs written.
  virtual uint32_t Wake() = 0;

  // Flush, wait up to wait_ms (< 0: forever) for at least one completion
  // unless one is already there, reap. Returns CQEs written.
  virtual uint32_t Poll(int32_t wait_ms) = 0;

  // True when completions exist that no wake fd notification will announce:
  // CQEs the kernel has posted but the core's CQ had no room for, or CQEs a
  // Flush wrote itself (failed checks). The caller must schedule a turn.
  virtual bool CompletionsPending() const = 0;

  // The fd to watch for readability (the loop's cue to call Wake).
  virtual int wake_fd() const = 0;

  // Cross-thread wakes through the kernel queue (io_uring's MSG_RING); a
  // driver without one keeps these defaults and wakes by eventfd.
  // The ring other threads may post wakes into (registered with the waker),
  // or -1.
  virtual int wake_ring_fd() const { return -1; }
  // This thread's way to post a wake into another ring, or null.
  virtual RingMessenger* messenger() { return nullptr; }
  // How many MSG_RING wakes Wake/Poll reaped since the last call; resets.
  virtual uint32_t TakeRingWakes() { return 0; }
  virtual bool RingWakesPending() const { return false; }

  // Idempotent. Tears the kernel side down (in-flight operations are
  // cancelled by the kernel) and closes every fd still owned.
  virtual void Close() = 0;
  virtual bool closed() const = 0;

  // Called before a synchronous helper (closeFd) closes an owned fd. A
  // readiness driver completes the ops waiting on it with -ECANCELED and stops
  // watching it; io_uring needs nothing (the kernel holds its own file
  // references).
  virtual void FdClosing(int32_t /*fd*/) {}
  // The fd hand-off. Forget: stop owning fd without closing it, so another
  // thread's driver can adopt it (the fd is marked "in hand-off" in the
  // process-wide record, fd_table.h); 0, or -EBADF if not owned. Adopt: own
  // an open socket no other driver owns (see AdoptSocket). A backend that registers fds with the
  // kernel (epoll) overrides both to add or drop that registration.
  virtual int32_t Forget(int32_t fd) { return fds_.Handoff(fd) ? 0 : -EBADF; }
  virtual int32_t Adopt(int32_t fd) { return AdoptSocket(fds_, fd); }

  CoreMemory& memory() { return memory_; }
  FdTable& fds() { return fds_; }
  const FdTable& fds() const { return fds_; }
  DriverCounters& counters() { return counters_; }
  // SENDMSG/RECVMSG headers (null once a driver closed with some in flight).
  MsgSlots* msg_slots() { return msg_slots_.get(); }

 protected:
  explicit Driver(const CoreMemory& memory)
      : memory_(memory), msg_slots_(std::make_unique<MsgSlots>(memory.op_capacity())) {}

  CoreMemory memory_;
  FdTable fds_;
  DriverCounters counters_;
  std::unique_ptr<MsgSlots> msg_slots_;
};

}  // namespace percore
