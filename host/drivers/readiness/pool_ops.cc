// File ops on the blocking pool (blocking_pool.h): which ops go there, how
// they start, come back, are cancelled, and how a CLOSE waits for them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "drivers/op_facts.h"
#include "drivers/readiness/readiness_driver.h"

namespace percore {

namespace L = layout;

// OPENAT, FSYNC, STATX always; READ and WRITE when their fd is a file this
// driver opened (a socket's or a pipe's wait for readiness instead).
bool ReadinessDriver::RunsOnPool(const Sqe& sqe) const {
  if (FactsOf(sqe.opcode).blocking) return true;
  if (sqe.opcode != L::kOpRead && sqe.opcode != L::kOpWrite) return false;
  return fd_states_.get()[sqe.fd].file;  // CheckSqe: an owned fd, below the capacity
}

void ReadinessDriver::StartOnPool(uint32_t slot, const Sqe& sqe) {
  Op& op = ops_[slot];
  if (!pool_.started()) {
    int r = pool_.Start(memory_.base(), op_capacity_);
    if (r == 0) {
      counters_.enters++;
      r = poller_->Register(pool_.wake_fd());
      if (r < 0) pool_.Stop();  // no way to hear of results: refuse file ops from now on
    }
    if (r < 0) {
      op.id = 0;
      Complete(sqe.id, r, 0);
      return;
    }
  }
  op.where = kPool;
  if (sqe.fd >= 0) fd_states_.get()[sqe.fd].pool_busy++;
  pool_.Submit(sqe);
}

// The pool's wake fd fired: every result it holds, into the CQ.
void ReadinessDriver::TakePoolDone() {
  constexpr uint32_t kBatch = 64;
  BlockingPool::Done batch[kBatch];
  for (;;) {
    const uint32_t n = pool_.TakeDone(batch, kBatch);
    for (uint32_t i = 0; i < n; i++) FinishPoolOp(batch[i].id, batch[i].res);
    if (n < kBatch) return;
  }
}

// A pool op's final result (or -ECANCELED for one withdrawn): its CQE, then
// the CLOSE that waited for the fd's last pool job, if any.
void ReadinessDriver::FinishPoolOp(uint32_t id, int32_t res) {
  const uint32_t slot = id & L::kSlotMask;
  PERCORE_ASSERT(slot < op_capacity_, "pool jobs carry checked ids");
  Op& op = ops_[slot];
  PERCORE_ASSERT(op.id == id && op.where == kPool, "a pool result names an op on the pool");
  op.where = kNowhere;
  op.id = 0;
  if (op.opcode == L::kOpOpenat && res >= 0) {
    if (fds_.Add(res)) {
      MarkOpened(res);
    } else {
      ::close(res);  // past the table's capacity: the core could never use it
      res = -EMFILE;
    }
  }
  Complete(id, res, 0);
  if (op.fd < 0) return;
  FdState& st = fd_states_.get()[op.fd];
  PERCORE_ASSERT(st.pool_busy > 0, "each pool job on an fd was counted");
  if (--st.pool_busy == 0 && st.close_id != 0) {
    const uint32_t close_id = st.close_id;
    st.close_id = 0;
    CloseFd(close_id, op.fd);
  }
}

// A regular file's READs and WRITEs go to the pool: its calls block on the
// disk, never on a peer, so a thread always comes back. Anything else OPENAT
// can open (a FIFO, a character device) may block forever, which would hold a
// thread and the teardown that joins it: it is made non-blocking and waits
// for readiness like a socket, as io_uring polls it.
void ReadinessDriver::MarkOpened(int fd) {
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    fd_states_.get()[fd].file = true;
    return;
  }
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// CANCEL of a pool op: withdrawn if no thread has started it (it completes
// with -ECANCELED first), else -EALREADY, as io_uring answers for work its
// threads already run: the op's real result still comes.
int32_t ReadinessDriver::CancelPoolOp(uint32_t slot) {
  const uint32_t id = ops_[slot].id;
  if (!pool_.Withdraw(id)) return -EALREADY;
  FinishPoolOp(id, -ECANCELED);
  return 0;
}

// Withdraws the fd's queued pool jobs (it is closing); true if some still run.
bool ReadinessDriver::CancelPoolOpsOn(int fd) {
  FdState& st = fd_states_.get()[fd];
  for (uint32_t slot = 0; slot < op_capacity_ && st.pool_busy > 0; slot++) {
    const Op& op = ops_[slot];
    if (op.where == kPool && op.fd == fd && pool_.Withdraw(op.id)) FinishPoolOp(op.id, -ECANCELED);
  }
  return st.pool_busy > 0;
}

void ReadinessDriver::CloseFd(uint32_t id, int fd) {
  // The fd is gone for the core from here on, whatever close returns; Linux
  // releases it even on EINTR.
  fds_.BeginClose(fd);
  int32_t res = 0;
  if (::close(fd) != 0 && errno != EINTR) res = -LinuxErrno(errno);
  fds_.EndClose(fd);
  Complete(id, res, 0);
}

// Teardown: running jobs finish, queued ones are dropped (no CQE, as with
// io_uring's), and a file opened by a result nobody will take is closed.
void ReadinessDriver::StopPool() {
  pool_.Stop();
  BlockingPool::Done done;
  while (pool_.TakeDone(&done, 1) == 1) {
    const Op& op = ops_[done.id & L::kSlotMask];
    if (op.id == done.id && op.opcode == L::kOpOpenat && done.res >= 0) ::close(done.res);
  }
}

}  // namespace percore
