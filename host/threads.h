// What thread-per-core needs from the host beyond one driver per thread:
// pinning the calling thread to CPUs, waking another thread's runtime, and
// moving an fd from one driver's table to another's.
//
// Every function returns a value >= 0 or a negative Linux errno; none throws.
// Only this file's functions (and the drivers) make system calls for threads.
#pragma once

#include <cstdint>

#include "fd_table.h"

namespace percore {

// --- CPU affinity of the calling thread (sched_setaffinity(0, ...)) ---------

// The most CPUs get/set handle: the kernel's CPU_SETSIZE.
constexpr int kMaxCpus = 1024;

// Pins the calling thread to `cpus` (count entries, each in 0..kMaxCpus-1).
// 0, -EINVAL (a CPU out of range, none allowed), or the kernel's -errno.
int32_t SetThreadAffinity(const int32_t* cpus, int count);
// Writes the CPUs the calling thread may run on, ascending, into out
// (capacity kMaxCpus). Returns how many, or -errno.
int32_t GetThreadAffinity(int32_t* out);

// --- wakers: cross-thread wake-ups ------------------------------------------
//
// A waker is an eventfd that one thread's event loop watches. Any thread may
// wake it by token. Tokens (not fds) cross threads because an fd number can be
// closed and reused by the time another thread writes to it: the registry
// hands out `generation << kWakerIndexBits | index` and refuses stale tokens,
// under one mutex, so a write never reaches an fd the waker no longer owns.

constexpr int kWakerIndexBits = 10;
constexpr int kMaxWakers = 1 << kWakerIndexBits;  // one per runtime: ample

// A new non-blocking eventfd and its token. Returns the token (> 0) and sets
// *fd, or -errno (-ENOSPC when kMaxWakers are registered).
int32_t CreateWaker(int* fd);
// Makes the token stale and closes its eventfd. Idempotent for a stale token.
void DestroyWaker(int32_t token);
// Adds 1 to the waker's eventfd counter. 0, or -ESRCH for a stale token.
// Callable from any thread; never blocks (the counter cannot reach its
// maximum: the owner drains it on every wake-up).
int32_t Wake(int32_t token);
// Reads the eventfd counter to zero (the owner, on its loop).
void DrainWaker(int fd);

// --- fd hand-off ----------------------------------------------------------

// Records an fd another driver forgot (or any TCP socket the program owns)
// in `fds`, made non-blocking and close-on-exec. 0, -ENOTSOCK if it is not a
// socket, -EBADF if it is not open, -EEXIST if already owned, -EMFILE past
// the table's capacity.
int32_t AdoptSocket(FdTable& fds, int32_t fd);

}  // namespace percore
