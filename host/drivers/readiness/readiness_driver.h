// The readiness driver's class, private to drivers/readiness/: what epoll
// and kqueue share (see readiness.h for the Poller each backend provides).
//
// Choices, and why:
// * Edge-triggered registration, once per fd lifetime, made the first time an
//   op on the fd meets EAGAIN. An echo connection then costs one
//   epoll_ctl in its whole life and none per op (oneshot would re-arm on
//   every wait). Edge-triggering is safe because an op always tries its
//   system call before it waits, and a queue is retried until a call answers
//   EAGAIN: no readiness is left unconsumed while something waits for it.
//   Registering after an EAGAIN cannot lose a wake-up either: adding an fd
//   reports its current readiness.
// * One FIFO queue per fd and direction, linked through op records indexed
//   by slot. An op that finds its queue non-empty waits behind it without
//   trying, so a socket's reads (or writes) complete in submission order.
// * Completions go straight into the core's CQ in order; when it is full they
//   wait in the driver's FIFO, sized so that every op's final completion and
//   every cancel's always fits: a multishot ACCEPT may use only half of it
//   for its MORE completions, and stops (to be retried on the next wake-up)
//   when that half is used.
// * CLOSE of an fd with ops waiting completes them with -ECANCELED first,
//   then closes: the kernel would otherwise report nothing for them ever
//   again (a closed fd leaves the epoll set). A CLOSE of a file with pool
//   jobs still running waits for them, then closes.
// * File ops run on a blocking pool of threads (blocking_pool.h), whose
//   results come back through a wake fd in the poller's set.
// * TIMEOUT ops sit in a list sorted by deadline (insertion scans from the
//   tail, O(1) for the usual later-than-everything timer); the poller holds
//   one timer for the earliest.
//
// Files: readiness_driver.cc (the Driver entry points), submit.cc (taking
// SQEs, starting ops), attempt.cc (one try of an op's system call),
// wait_queues.cc (per-fd FIFOs, cancels, retries), timers.cc (TIMEOUT),
// completions.cc (the CQ, the overflow FIFO, dispatching events),
// pool_ops.cc (file ops on the blocking pool).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "drivers/readiness/blocking_pool.h"
#include "drivers/readiness/readiness.h"
#include "drivers/recv_set.h"

namespace percore {

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
  enum Where : uint8_t { kNowhere, kReadQueue, kWriteQueue, kTimers, kPool };

  // An operation waiting in a queue or the timer list; indexed by the id's
  // slot. The core frees a slot only after its final CQE, so one record per
  // slot is enough.
  struct Op {
    uint32_t id = 0;  // 0: free
    uint8_t opcode = 0;
    uint8_t where = kNowhere;
    bool multishot = false;
    bool connecting = false;  // CONNECT got EINPROGRESS: SO_ERROR decides
    int32_t fd = -1;
    uint32_t addr = 0, len = 0;
    uint64_t arg = 0;  // READ/WRITE position, TIMEOUT absolute deadline (ns)
    uint32_t aux = 0;  // SPLICE_IN/OUT: the pipe end
    uint32_t prev = kNil, next = kNil;
    bool select = false;     // a buffer-select RECV: the driver picks a recv-set buffer
    uint32_t cqe_flags = 0;  // what Attempt adds to the CQE (CQE_F_BUFFER and the index)
    // The last RECV left the receive queue empty (TCP_INQ said so), even if it
    // filled the buffer: the next RECV would answer EAGAIN.
    bool drained = false;
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
    // SPLICE ops waiting (on their socket's queue) with this fd as their
    // pipe end: closing it must end them too (CancelFd).
    uint32_t pipe_users;
    // TCP_INQ on this socket (Linux): each RECV also learns how many bytes
    // are left queued, so a RECV that fills its buffer exactly (a 16 KiB
    // message into a 16 KiB buffer) still knows whether it drained the socket.
    uint8_t inq;  // kInqUnknown, kInqOn, kInqOff
    // A regular file this driver opened (OPENAT): its READs and WRITEs go
    // to the blocking pool, never to the poller.
    bool file;
    // Pool jobs on this fd not yet completed, and a CLOSE waiting for them
    // to finish (its id, 0: none): the number must not be closed, and so
    // reused, under a thread still calling pread on it.
    uint32_t pool_busy;
    uint32_t close_id;
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
  bool CompleteAtOnce(const Sqe& sqe);
  void Start(const Sqe& sqe);
  void TryOrWait(uint32_t slot);
  int RegisterOnce(int fd, FdState& st);
  int32_t Attempt(Op& op, bool* more);
  int32_t AttemptConnect(Op& op);
  ssize_t SystemCall(Op& op, bool* more);
  ssize_t Accept(const Op& op, bool* more);
  ssize_t Recv(Op& op, bool* more);
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
  bool RunsOnPool(const Sqe& sqe) const;
  void StartOnPool(uint32_t slot, const Sqe& sqe);
  void TakePoolDone();
  void FinishPoolOp(uint32_t id, int32_t res);
  void MarkOpened(int fd);
  int32_t CancelPoolOp(uint32_t slot);
  bool CancelPoolOpsOn(int fd);
  void CloseFd(uint32_t id, int fd);
  void StopPool();
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

  // The recv set's pick set (layout v2): the host always picks here.
  RecvPickSet pick_set_;

  // File ops (blocking_pool.h): started on the first one.
  BlockingPool pool_;

  // TIMEOUT ops, sorted by deadline.
  uint32_t timers_head_ = kNil, timers_tail_ = kNil;
  uint64_t timer_armed_ = 0;  // deadline the poller holds, 0: none
};

}  // namespace percore
