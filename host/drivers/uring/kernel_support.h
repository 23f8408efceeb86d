// What this kernel's io_uring can do: the operations percore requires, the
// probe that asks the kernel, and what a setup failure likely means.
#pragma once

#include <linux/io_uring.h>

#include <cstdint>

namespace percore {

// The operations the driver submits, each of which the kernel must have.
struct RequiredOp {
  uint8_t op;
  const char* name;  // IORING_OP_* without the prefix, for probeUring's `missing`
};
inline constexpr RequiredOp kRequiredOps[] = {{IORING_OP_NOP, "NOP"},
                                              {IORING_OP_ACCEPT, "ACCEPT"},
                                              {IORING_OP_CONNECT, "CONNECT"},
                                              {IORING_OP_RECV, "RECV"},
                                              {IORING_OP_SEND, "SEND"},
                                              {IORING_OP_SENDMSG, "SENDMSG"},
                                              {IORING_OP_RECVMSG, "RECVMSG"},
                                              {IORING_OP_READ, "READ"},
                                              {IORING_OP_WRITE, "WRITE"},
                                              {IORING_OP_CLOSE, "CLOSE"},
                                              {IORING_OP_SHUTDOWN, "SHUTDOWN"},
                                              {IORING_OP_TIMEOUT, "TIMEOUT"},
                                              {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
                                              {IORING_OP_OPENAT, "OPENAT"},
                                              {IORING_OP_FSYNC, "FSYNC"},
                                              {IORING_OP_STATX, "STATX"},
                                              {IORING_OP_RENAMEAT, "RENAMEAT"},
                                              {IORING_OP_UNLINKAT, "UNLINKAT"},
                                              {IORING_OP_MKDIRAT, "MKDIRAT"},
                                              {IORING_OP_SYMLINKAT, "SYMLINKAT"},
                                              {IORING_OP_LINKAT, "LINKAT"},
                                              {IORING_OP_FALLOCATE, "FALLOCATE"}};

// The kernel's answer to IORING_REGISTER_PROBE (5.6+) for ring `fd`.
class OpProbe {
 public:
  // False when the kernel has no IORING_REGISTER_PROBE.
  bool Read(int ring_fd);
  bool Supported(uint8_t op) const;

 private:
  static constexpr unsigned kProbeOps = 256;
  alignas(io_uring_probe)
      uint8_t buf_[sizeof(io_uring_probe) + kProbeOps * sizeof(io_uring_probe_op)] = {};
};

// A sentence saying what a setup errno likely means (seccomp,
// io_uring_disabled, old kernel, memlock limit...).
const char* SetupHint(int error);

}  // namespace percore
