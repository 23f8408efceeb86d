// probeUring(): what a trial ring says about this kernel and process, for
// the runtime's choice of driver (UringProbe in uring.h).
#include <unistd.h>

#include <cstring>

#include "drivers/uring/buf_ring.h"
#include "drivers/uring/kernel_support.h"
#include "drivers/uring/syscalls.h"
#include "drivers/uring/uring.h"

namespace percore {

namespace {

// Writes the names of the required ops the kernel lacks into out->missing,
// space-separated; returns how many bytes that took.
size_t ListMissingOps(const OpProbe& probe, UringProbe* out) {
  size_t used = 0;
  for (const RequiredOp& required : kRequiredOps) {
    if (probe.Supported(required.op)) continue;
    const size_t len = std::strlen(required.name);
    if (used + len + 2 > sizeof out->missing) break;
    if (used > 0) out->missing[used++] = ' ';
    std::memcpy(out->missing + used, required.name, len);
    used += len;
  }
  return used;
}

}  // namespace

void ProbeUring(UringProbe* out) {
  *out = UringProbe{};
  // The smallest ring with no setup flags: whatever refuses this (seccomp,
  // io_uring_disabled, no kernel support, memlock) refuses every ring.
  io_uring_params p{};
  const int fd = SysSetup(2, &p);
  if (fd < 0) {
    out->error = -fd;
    out->hint = SetupHint(-fd);
    return;
  }
  OpProbe probe;
  const bool probed = probe.Read(fd);
  out->pbuf_ring = probed && CanRegisterBufRing(fd);
  ::close(fd);
  if (!probed) {
    // IORING_REGISTER_PROBE arrived in 5.6, before several required ops.
    out->error = EOPNOTSUPP;
    out->hint = SetupHint(EOPNOTSUPP);
    std::strncpy(out->missing, "REGISTER_PROBE", sizeof out->missing - 1);
    return;
  }
  out->msg_ring = probe.Supported(IORING_OP_MSG_RING);
  if (ListMissingOps(probe, out) > 0) {
    out->error = EOPNOTSUPP;
    out->hint = SetupHint(EOPNOTSUPP);
  }
}

}  // namespace percore
