// The io_uring backend (Linux), on raw system calls and <linux/io_uring.h>:
// what the rest of the host may ask of it. Its implementation is the rest of
// this folder (the class in uring_driver.h).
#pragma once

#include <cstdint>
#include <memory>

#include "drivers/driver.h"

namespace percore {

struct UringOptions {
  uint32_t sq_entries = 256;  // 1..32768; the kernel rounds up to a power of two
  // Cross-thread wakes by IORING_OP_MSG_RING when the kernel has it; false
  // keeps them on the eventfd (tests, comparisons).
  bool msg_ring = true;
  // The recv set in a registered buffer ring (IORING_REGISTER_PBUF_RING,
  // 5.19+) when the kernel takes one; false emulates buffer selection
  // (POLL_ADD, then a plain recv) as on older kernels (tests, comparisons).
  bool pbuf_ring = true;
};

// Why ring setup failed: the errno and a sentence saying what it likely means
// (seccomp, io_uring_disabled, old kernel, memlock limit...).
struct UringSetupError {
  int error = 0;
  const char* hint = "";
};

// What a trial ring says about this kernel and process, for the runtime's
// driver selection: error 0 when io_uring is usable; otherwise the errno of
// the step that failed (EPERM, ENOSYS, ENOMEM..., EOPNOTSUPP for missing
// opcodes, named in `missing`) and a sentence saying what it likely means.
struct UringProbe {
  int error = 0;
  const char* hint = "";
  char missing[192] = {};  // space-separated IORING_OP_* names, without the prefix
  // IORING_REGISTER_PBUF_RING is accepted (5.19+). Without it a buffer-select RECV
  // is emulated (POLL_ADD, then a plain recv into a recv-set buffer): io_uring
  // is still used, so this never makes `auto` choose epoll.
  bool pbuf_ring = false;
  // IORING_OP_MSG_RING (5.18+): optional, never in `missing`. Without it
  // cross-thread wakes go through an eventfd.
  bool msg_ring = false;
};
void ProbeUring(UringProbe* out);

// Creates a ring for `memory` on the calling thread (the ring is created
// with SINGLE_ISSUER when the kernel has it: only this thread may use it).
std::unique_ptr<Driver> CreateUringDriver(const CoreMemory& memory, const UringOptions& options,
                                          UringSetupError* error);

}  // namespace percore
