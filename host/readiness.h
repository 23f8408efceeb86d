// The readiness-based backends (epoll on Linux, kqueue on macOS and the BSDs):
// everything they share, in one place, so each platform file is a thin
// Poller (register an fd, wait for events, arm one timer).
//
// Semantics follow mio and Monoio's legacy driver: an operation first tries
// its system call; only EAGAIN makes it wait, in a FIFO queue of its fd (one
// queue for the read side: ACCEPT, RECV, READ; one for the write side:
// CONNECT, SEND, WRITE). A readiness event for the fd retries the queue from
// its head until a call answers EAGAIN again. The completion records written
// into the core's CQ are the same an io_uring driver writes, so the core and
// the API cannot tell which backend runs.
//
// Every table is sized at creation (op records by the core's op capacity,
// per-fd queue heads by the fd table's capacity, the completion FIFO by the
// core's SQ size): nothing is allocated per operation.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <memory>

#include "driver.h"

namespace percore {

// What a Poller reports for one fd (or for its timer).
struct ReadyEvent {
  int fd;
  bool readable;  // retry the read queue
  bool writable;  // retry the write queue
  bool timer;     // the timer armed with ArmTimer fired (fd is meaningless)
  bool hangup;    // the peer closed or the socket failed (RDHUP, HUP, ERR, EV_EOF)
};

// The platform layer. Registrations are edge-triggered and made once per fd
// lifetime (see Register), so the hot path makes no registration call.
class Poller {
 public:
  virtual ~Poller() = default;
  virtual const char* name() const = 0;
  // The pollable fd that is readable while events are pending: the epoll or
  // kqueue fd itself, watched by the loop glue (uv_poll).
  virtual int fd() const = 0;
  // Watches fd for readability and writability, edge-triggered. 0 or -errno.
  virtual int Register(int fd) = 0;
  // Stops watching fd (before it is closed). Errors are ignored: closing
  // the fd removes it anyway.
  virtual void Deregister(int fd) = 0;
  // Waits up to timeout_ms (0: not at all, < 0: forever) and writes at most
  // max events. Returns the count (0 on timeout or EINTR) or -errno.
  virtual int Wait(ReadyEvent* out, int max, int timeout_ms) = 0;
  // Makes the poller report a timer event at the CLOCK_MONOTONIC time
  // deadline_ns (an absolute time); a later call replaces the earlier one.
  virtual void ArmTimer(uint64_t deadline_ns) = 0;
};

class ReadinessDriver final : public Driver {
 public:
  ReadinessDriver(const CoreMemory& memory, std::unique_ptr<Poller> poller);
  ~ReadinessDriver() override { Close(); }

  // False if a table could not be allocated.
  bool ok() const { return fd_states_ != nullptr; }

  const char* name() const override { return name_; }
  const FeatureList& features() const override { return features_; }
  uint32_t Flush() override;
  uint32_t Wake() override;
  uint32_t Poll(int32_t wait_ms) override;
  bool CompletionsPending() const override;
  int wake_fd() const override { return closed_ ? -1 : poller_->fd(); }
  void Close() override;
  bool closed() const override { return closed_; }
  void FdClosing(int32_t fd) override;
  int32_t Forget(int32_t fd) override;

  FeatureList& mutable_features() { return features_; }

 private:
  static constexpr uint32_t kNil = 0;  // queue links hold slot + 1
  enum Where : uint8_t { kNowhere, kReadQueue, kWriteQueue, kTimers };

  // An operation waiting in a queue or the timer list; indexed by the id's
  // slot. The core frees a slot only after its final CQE, so one record per
  // slot is enough.
  struct Op {
    uint32_t id;  // 0: free
    uint8_t opcode;
    uint8_t where;
    bool multishot;
    bool connecting;  // CONNECT got EINPROGRESS: SO_ERROR decides
    int32_t fd;
    uint32_t addr, len;
    uint64_t arg;  // READ/WRITE position, TIMEOUT absolute deadline (ns)
    uint32_t prev, next;
    bool select;         // a buffer-select RECV: the driver picks a recv-set buffer
    uint32_t cqe_flags;  // what Attempt adds to the CQE (CQE_F_BUFFER and the index)
    // The last RECV left the receive queue empty (TCP_INQ said so), even if it
    // filled the buffer: the next RECV would answer EAGAIN.
    bool drained;
  };
  // Per fd: the two wait queues and whether the poller watches it.
  struct FdState {
    uint32_t read_head, read_tail, write_head, write_tail;
    bool registered;
    // The readiness cache: the last call on this side answered EAGAIN and no
    // edge has come since. With edge-triggered registration the next edge is
    // guaranteed to come, so a new op can wait without a call that would
    // only answer EAGAIN again (an echo's every RECV otherwise makes one).
    bool read_blocked, write_blocked;
    // Sticky until the fd is closed or handed off: a hang-up was reported.
    // After it a short transfer proves nothing (the FIN behind the data gives
    // no further edge), so the cache stays off and ops just try.
    bool hangup;
    bool retry;  // on retry_ (see RetryLater)
    // TCP_INQ on this socket (Linux): each RECV also learns how many bytes
    // are left queued, so a RECV that fills its buffer exactly (a 16 KiB
    // message into a 16 KiB buffer) still knows whether it drained the socket.
    uint8_t inq;  // kInqUnknown, kInqOn, kInqOff
  };
  static constexpr uint8_t kInqUnknown = 0, kInqOn = 1, kInqOff = 2;
  struct Completion {
    uint32_t id;
    int32_t res;
    uint32_t flags;
  };
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };

  // One attempt: a result (>= 0 or -errno), or kAgain to wait.
  static constexpr int32_t kAgain = INT32_MIN;

  uint32_t TakeSqes();
  void TakeProvided();
  void Start(const Sqe& sqe);
  int32_t Attempt(Op& op, bool* more);
  ssize_t Receive(Op& op, uint8_t* into);
  void NoteShortTransfer(const Op& op, int32_t res, FdState& st);
  void CompleteMore(Op& op, int32_t res);
  bool DrainedBy(const Op& op, int32_t res, FdState& st);
  void RunQueue(int fd, bool write_side);
  void Enqueue(uint32_t slot, int fd, bool write_side);
  void Unlink(uint32_t slot);
  void CancelFd(int fd);
  int32_t CancelOp(uint64_t target);
  void StartTimeout(uint32_t slot);
  void FireTimers();
  void RearmTimer();
  void RetryLater(int fd);
  void RunRetries();
  int Dispatch(int timeout_ms);
  void Complete(uint32_t id, int32_t res, uint32_t flags);
  void DrainFifo();
  // Room for a multishot op's next MORE completion: half the FIFO is kept
  // for final completions, which must always fit.
  bool RoomForMore() const { return fifo_tail_ - fifo_head_ < fifo_mask_ / 2; }

  std::unique_ptr<Poller> poller_;
  const char* name_;
  FeatureList features_;
  bool closed_ = false;
  // CQEs written since the last Wake/Poll began: a Flush that completes
  // ops itself announces them only through CompletionsPending.
  bool self_completed_ = false;
  uint32_t written_ = 0;  // CQEs pushed into the core's CQ, for Wake/Poll

  std::unique_ptr<Op[]> ops_;
  uint32_t op_capacity_;
  // calloc'd: the table spans RLIMIT_NOFILE fds, and pages of it are only
  // touched for fds actually used.
  std::unique_ptr<FdState[], FreeDeleter> fd_states_;
  uint32_t fd_capacity_;

  std::unique_ptr<Completion[]> fifo_;
  uint32_t fifo_mask_ = 0, fifo_head_ = 0, fifo_tail_ = 0;

  // fds with work left over after an event (a multishot ACCEPT that stopped
  // for lack of room): at most one entry per waiting op.
  std::unique_ptr<int32_t[]> retry_;
  uint32_t retry_count_ = 0;

  // The recv set's pick set (layout v2): indices the core provided, a LIFO
  // (the warmest buffer first). in_set_[i]: buffer i is in it; an index the
  // core pushes twice is ignored, so the stack cannot overflow.
  std::unique_ptr<bool[]> in_set_;
  std::unique_ptr<uint32_t[]> spare_;
  uint32_t spare_count_ = 0;

  // TIMEOUT ops, sorted by deadline.
  uint32_t timers_head_ = kNil, timers_tail_ = kNil;
  uint64_t timer_armed_ = 0;  // deadline the poller holds, 0: none
};

// Wraps a poller whose Init returned init_error (0 or an errno) in a driver,
// adding the poller's feature names. Null with *error set on failure.
std::unique_ptr<Driver> MakeReadinessDriver(const CoreMemory& memory,
                                            std::unique_ptr<Poller> poller,
                                            int init_error,
                                            std::initializer_list<const char*> features,
                                            int* error);

// The backends (epoll_driver.cc on Linux, kqueue_driver.cc on macOS and the
// BSDs). Null with *error set to the errno if the poller cannot be created.
std::unique_ptr<Driver> CreateEpollDriver(const CoreMemory& memory, int* error);
std::unique_ptr<Driver> CreateKqueueDriver(const CoreMemory& memory, int* error);

// Monotonic time in nanoseconds.
uint64_t MonotonicNs();

// The errno of the host platform as the layout's Linux number (identity on
// Linux).
int32_t LinuxErrno(int error);

}  // namespace percore
