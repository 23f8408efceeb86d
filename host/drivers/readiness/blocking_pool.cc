#include "drivers/readiness/blocking_pool.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include <cerrno>
#include <cstring>

#include "check.h"
#include "drivers/next_pow2.h"
#include "drivers/readiness/readiness.h"
#include "files.h"

namespace percore {

namespace L = layout;

namespace {

int32_t Result(long r) { return r >= 0 ? static_cast<int32_t>(r) : -LinuxErrno(errno); }

int32_t Statx(uint8_t* into, int fd) {
#ifdef __linux__
  struct statx st {};
  const int r = ::statx(fd, "", AT_EMPTY_PATH, kStatxMask, &st);
  if (r == 0) std::memcpy(into, &st, sizeof st);
  return Result(r);
#else
  (void)into;
  (void)fd;
  return -EOPNOTSUPP;  // a kqueue port would fill the record from fstat
#endif
}

// A path operation's call, relative to the working directory.
int RunPathOp(const uint8_t* path, const Sqe& sqe) {
  const char* first = reinterpret_cast<const char*>(path);
  switch (sqe.opcode) {
    case L::kOpRenameat: return ::renameat(AT_FDCWD, first, AT_FDCWD, SecondPath(path));
    case L::kOpUnlinkat:
      return ::unlinkat(AT_FDCWD, first, (sqe.aux & L::kUnlinkFDir) != 0 ? AT_REMOVEDIR : 0);
    case L::kOpMkdirat: return ::mkdirat(AT_FDCWD, first, static_cast<mode_t>(sqe.arg));
    case L::kOpSymlinkat: return ::symlinkat(first, AT_FDCWD, SecondPath(path));
    default: return ::linkat(AT_FDCWD, first, AT_FDCWD, SecondPath(path), 0);
  }
}

// The one blocking call of a checked file op, answering as io_uring's CQE
// would: >= 0, or -errno (Linux numbering).
int32_t RunFileOp(uint8_t* base, const Sqe& sqe) {
  const bool current = sqe.arg == ~uint64_t{0};  // READ/WRITE at the file's position
  const auto at = static_cast<off_t>(sqe.arg);
  for (;;) {
    long r;
    switch (sqe.opcode) {
      case L::kOpOpenat:
        r = ::openat(AT_FDCWD, reinterpret_cast<const char*>(base + sqe.addr), OpenFlags(sqe.aux),
                     static_cast<mode_t>(sqe.arg));
        break;
      case L::kOpFsync:
#ifdef __linux__
        r = (sqe.aux & L::kFsyncFDatasync) != 0 ? ::fdatasync(sqe.fd) : ::fsync(sqe.fd);
#else
        r = ::fsync(sqe.fd);
#endif
        break;
      case L::kOpStatx: return Statx(base + sqe.addr, sqe.fd);
      case L::kOpFallocate:
#ifdef __linux__
        r = ::fallocate(sqe.fd, FallocMode(sqe.aux), static_cast<off_t>(sqe.arg),
                        static_cast<off_t>(FallocLength(sqe)));
#else
        return -EOPNOTSUPP;
#endif
        break;
      case L::kOpRenameat:
      case L::kOpUnlinkat:
      case L::kOpMkdirat:
      case L::kOpSymlinkat:
      case L::kOpLinkat: r = RunPathOp(base + sqe.addr, sqe); break;
      case L::kOpRead:
        r = current ? ::read(sqe.fd, base + sqe.addr, sqe.len)
                    : ::pread(sqe.fd, base + sqe.addr, sqe.len, at);
        break;
      case L::kOpWrite:
        r = current ? ::write(sqe.fd, base + sqe.addr, sqe.len)
                    : ::pwrite(sqe.fd, base + sqe.addr, sqe.len, at);
        break;
      default: PERCORE_ASSERT(false, "only file ops reach the blocking pool"); return -EINVAL;
    }
    if (r < 0 && errno == EINTR) continue;
    return Result(r);
  }
}

}  // namespace

int BlockingPool::Start(uint8_t* base, uint32_t capacity) {
  if (started()) return 0;
#ifdef __linux__
  const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return -LinuxErrno(errno);
  wake_read_ = wake_write_ = efd;
#else
  int p[2];
  if (::pipe(p) != 0) return -LinuxErrno(errno);
  for (int fd : p) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, O_NONBLOCK);
  }
  wake_read_ = p[0];
  wake_write_ = p[1];
#endif
  base_ = base;
  const uint32_t size = NextPow2(capacity);
  mask_ = size - 1;
  jobs_ = std::make_unique<Sqe[]>(size);
  done_ = std::make_unique<Done[]>(size);
  threads_ = std::make_unique<std::thread[]>(kThreads);
  for (; thread_count_ < kThreads; thread_count_++)
    threads_[thread_count_] = std::thread([this] { Work(); });
  return 0;
}

void BlockingPool::Submit(const Sqe& sqe) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    PERCORE_ASSERT(job_tail_ - job_head_ <= mask_, "one job per op slot at most");
    jobs_[job_tail_++ & mask_] = sqe;
  }
  ready_.notify_one();
}

bool BlockingPool::Withdraw(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint32_t i = job_head_; i != job_tail_; i++) {
    Sqe& job = jobs_[i & mask_];
    if (job.id == id) {
      job.id = 0;
      return true;
    }
  }
  return false;
}

uint32_t BlockingPool::TakeDone(Done* out, uint32_t max) {
  if (done_ == nullptr) return 0;  // never started
  if (wake_read_ >= 0) {
    // Drain first: a result pushed after this read raises the fd again.
    uint64_t count;
    ssize_t r = ::read(wake_read_, &count, sizeof count);
    (void)r;
  }
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t n = 0;
  for (; n < max && done_head_ != done_tail_; n++) out[n] = done_[done_head_++ & mask_];
  return n;
}

void BlockingPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || job_head_ != job_tail_; });
    if (stopping_) return;
    const Sqe job = jobs_[job_head_++ & mask_];
    if (job.id == 0) continue;  // withdrawn
    lock.unlock();
    const int32_t res = RunFileOp(base_, job);
    lock.lock();
    const bool was_empty = done_head_ == done_tail_;
    PERCORE_ASSERT(done_tail_ - done_head_ <= mask_, "one result per op slot at most");
    done_[done_tail_++ & mask_] = Done{.id = job.id, .res = res};
    if (was_empty) {
      // One signal per batch: the driver takes every result after draining.
      const uint64_t one = 1;
      ssize_t w = ::write(wake_write_, &one, wake_read_ == wake_write_ ? sizeof one : 1);
      (void)w;
    }
  }
}

void BlockingPool::Stop() {
  if (!started()) return;
  // (Results stay in done_ for TakeDone; started() is false from here on.)
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (uint32_t i = 0; i < thread_count_; i++) threads_[i].join();
  ::close(wake_read_);
  if (wake_write_ != wake_read_) ::close(wake_write_);
  wake_read_ = wake_write_ = -1;
}

}  // namespace percore
