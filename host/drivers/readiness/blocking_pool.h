// The readiness drivers' blocking pool: a fixed set of threads that run the
// file ops (OPENAT, FSYNC, STATX, and READ/WRITE on files) a readiness
// backend cannot wait for, since a regular file is always "ready" and its
// calls block. The driver hands a checked SQE over (Submit) and takes the
// results back on its own thread (TakeDone) when the pool's wake fd, which
// sits in the poller's set, becomes readable: completions then reach the
// core's CQ the way every other op's do, so the core and the API cannot tell
// this pool from io_uring's own workers.
//
// Sized once: the threads start on the first file op (a network-only
// runtime never pays for them) and the job and result rings hold one entry
// per op slot, so Submit never fails and nothing is allocated per op.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "core_memory.h"

namespace percore {

class BlockingPool {
 public:
  static constexpr uint32_t kThreads = 4;  // as libuv's default pool

  struct Done {
    uint32_t id;
    int32_t res;
  };

  BlockingPool() = default;
  ~BlockingPool() { Stop(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Starts the threads and the wake fd: 0 or -errno. `base` is the core's
  // memory, which the threads read paths from and write results into (only
  // buffers the core lent to the op). `capacity`: the core's op slots.
  int Start(uint8_t* base, uint32_t capacity);
  bool started() const { return wake_read_ >= 0; }
  // Readable while results wait (edge: each batch of results raises one).
  int wake_fd() const { return wake_read_; }

  void Submit(const Sqe& sqe);
  // Takes a job no thread has started out of the queue: true if found (its
  // op then never runs). False: it runs or ran, and its result will come.
  bool Withdraw(uint32_t id);
  // Drains the wake fd, then moves up to `max` results into `out`. Results
  // left behind raise no new signal: call again until it returns < max.
  uint32_t TakeDone(Done* out, uint32_t max);
  // Lets running jobs finish, joins the threads and drops queued jobs;
  // results not taken stay for TakeDone. Idempotent.
  void Stop();

 private:
  void Work();

  uint8_t* base_ = nullptr;
  std::mutex mu_;
  std::condition_variable ready_;
  std::unique_ptr<Sqe[]> jobs_;  // id 0: withdrawn
  std::unique_ptr<Done[]> done_;
  uint32_t mask_ = 0, job_head_ = 0, job_tail_ = 0, done_head_ = 0, done_tail_ = 0;
  bool stopping_ = false;
  std::unique_ptr<std::thread[]> threads_;
  uint32_t thread_count_ = 0;
  int wake_read_ = -1, wake_write_ = -1;  // one eventfd on Linux, a pipe elsewhere
};

}  // namespace percore
