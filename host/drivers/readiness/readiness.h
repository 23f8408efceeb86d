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
#include <initializer_list>
#include <memory>

#include "drivers/driver.h"

namespace percore {

// What a Poller reports for one fd (or for its timer).
struct ReadyEvent {
  int fd = -1;
  bool readable = false;  // retry the read queue
  bool writable = false;  // retry the write queue
  bool timer = false;     // the timer armed with ArmTimer fired (fd is meaningless)
  bool hangup = false;    // the peer closed or the socket failed (RDHUP, HUP, ERR, EV_EOF)
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

// Wraps a poller whose Init returned init_error (0 or an errno) in a driver,
// adding the poller's feature names. Null with *error set on failure.
std::unique_ptr<Driver> MakeReadinessDriver(const CoreMemory& memory,
                                            std::unique_ptr<Poller> poller, int init_error,
                                            std::initializer_list<const char*> features,
                                            int* error);

// The backends (epoll.cc on Linux, kqueue.cc on macOS and the
// BSDs). Null with *error set to the errno if the poller cannot be created.
std::unique_ptr<Driver> CreateEpollDriver(const CoreMemory& memory, int* error);
std::unique_ptr<Driver> CreateKqueueDriver(const CoreMemory& memory, int* error);

// Monotonic time in nanoseconds.
uint64_t MonotonicNs();

// The errno of the host platform as the layout's Linux number (identity on
// Linux).
int32_t LinuxErrno(int error);

}  // namespace percore
