#include "drivers/uring/kernel_support.h"

#include <cerrno>

#include "drivers/uring/syscalls.h"

namespace percore {

bool OpProbe::Read(int ring_fd) {
  return SysRegister(ring_fd, IORING_REGISTER_PROBE, buf_, kProbeOps) >= 0;
}

bool OpProbe::Supported(uint8_t op) const {
  const auto* probe = reinterpret_cast<const io_uring_probe*>(buf_);
  return op <= probe->last_op && op < probe->ops_len &&
         (probe->ops[op].flags & IO_URING_OP_SUPPORTED) != 0;
}

const char* SetupHint(int error) {
  switch (error) {
    case EPERM:
      return "io_uring is not permitted: a seccomp profile forbids it (Docker's "
             "and containerd's defaults do), or sysctl kernel.io_uring_disabled "
             "is 2 (or 1 and this user is not in kernel.io_uring_group)";
    case ENOSYS:
      return "this kernel has no io_uring (CONFIG_IO_URING off, a seccomp "
             "filter answering ENOSYS, or an emulator such as qemu-user that "
             "lacks its system calls)";
    case ENOMEM:
      return "not enough locked memory for the rings: raise the memlock limit "
             "(ulimit -l) or ask for fewer entries";
    case EMFILE:
    case ENFILE: return "too many open files to create the ring";
    case EINVAL: return "the kernel rejected every ring configuration tried";
    case EOPNOTSUPP:
      return "this kernel's io_uring lacks what percore needs (Linux 5.11 or "
             "newer: EXT_ARG, SHUTDOWN, SEND/RECV)";
    default: return "io_uring setup failed";
  }
}

}  // namespace percore
