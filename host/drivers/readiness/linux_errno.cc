// The layout speaks Linux errno numbers on every platform (the host
// translates elsewhere).
#include <cerrno>

#include "drivers/readiness/readiness.h"

namespace percore {

int32_t LinuxErrno(int error) {
#if defined(__linux__)
  return error;
#else
  // The layout speaks Linux errno numbers on every platform. The errors a
  // socket, pipe or file op can return; anything else is EIO.
  switch (error) {
    case EPERM: return 1;
    case ENOENT: return 2;
    case EINTR: return 4;
    case EIO: return 5;
    case EBADF: return 9;
    case EAGAIN: return 11;
    case ENOMEM: return 12;
    case EACCES: return 13;
    case EFAULT: return 14;
    case EBUSY: return 16;
    case EINVAL: return 22;
    case ENFILE: return 23;
    case EMFILE: return 24;
    case ENOSPC: return 28;
    case ETIME: return 62;
    case ESPIPE: return 29;
    case EPIPE: return 32;
    case ENOTSOCK: return 88;
    case EOPNOTSUPP: return 95;
    case EAFNOSUPPORT: return 97;
    case EADDRINUSE: return 98;
    case EADDRNOTAVAIL: return 99;
    case ENETDOWN: return 100;
    case ENETUNREACH: return 101;
    case ECONNABORTED: return 103;
    case ECONNRESET: return 104;
    case ENOBUFS: return 105;
    case EISCONN: return 106;
    case ENOTCONN: return 107;
    case ETIMEDOUT: return 110;
    case ECONNREFUSED: return 111;
    case EHOSTUNREACH: return 113;
    case EALREADY: return 114;
    case EINPROGRESS: return 115;
    case ECANCELED: return 125;
    default: return 5;
  }
#endif
}

}  // namespace percore
