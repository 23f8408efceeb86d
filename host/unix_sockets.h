// Unix-domain socket set-up helpers (AF_UNIX): binding and connecting to a
// path or a Linux abstract name, the names back, and the peer's credentials.
//
// A name is given as raw bytes, checked here before the kernel sees it: a
// filesystem path is 1..107 bytes with no NUL (sun_path keeps a terminating
// NUL); an abstract name is a NUL followed by 1..107 bytes (its length is
// part of the name, which may hold any byte). Anything else is -EINVAL.
// Every helper answers >= 0 or a negative Linux errno, never throws, and acts
// only on fds the table owns (-EBADF otherwise).
#pragma once

#include <sys/un.h>

#include <cstddef>
#include <cstdint>

#include "fd_table.h"

namespace percore {

// The name -> sockaddr_un and its length, or 0 if the name is not valid.
socklen_t EncodeUnixName(const uint8_t* name, size_t len, sockaddr_un* out);

// bind(2) to `name`. With unlink_stale, a filesystem path that is taken by a
// socket file nobody listens on (a connect to it is refused) is unlinked and
// the bind tried once more; a file that is not a socket, or a socket someone
// serves, stays and the answer is -EADDRINUSE.
int32_t BindUnix(const FdTable& fds, int32_t fd, const uint8_t* name, size_t len,
                 bool unlink_stale);

// connect(2) to `name`, non-blocking: a Unix stream connect never waits for
// the peer (it is queued at once or refused); -EAGAIN when the listener's
// backlog is full, as node:net reports it.
int32_t ConnectUnix(const FdTable& fds, int32_t fd, const uint8_t* name, size_t len);

// getsockname / getpeername of a Unix socket: the name's bytes into `out`
// (an abstract name keeps its leading NUL; an unnamed socket has length 0).
// The length, or -errno (-EAFNOSUPPORT for a socket of another family).
int32_t UnixName(const FdTable& fds, int32_t fd, bool peer,
                 uint8_t out[sizeof(sockaddr_un{}.sun_path)]);

struct PeerCredentials {
  int32_t pid;
  uint32_t uid;
  uint32_t gid;
};
// SO_PEERCRED: who connected (or, for a connecting socket, who listened).
int32_t PeerCredentialsOf(const FdTable& fds, int32_t fd, PeerCredentials* out);

}  // namespace percore
