#include "threads/fd_adoption.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

namespace percore {

int32_t AdoptSocket(FdTable& fds, int32_t fd) {
  if (fd < 0) return -EBADF;
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -errno;
  // Only stream sockets: TcpStream.adopt is the caller, and the readiness
  // drivers rely on every socket they own being a stream (a short RECV means
  // the queue is drained, which a datagram socket does not promise).
  if (type != SOCK_STREAM) return -EINVAL;
  // Claimed first (process-wide): an fd another runtime owns is refused
  // before anything about it changes.
  const int32_t claimed = fds.Adopt(fd);
  if (claimed < 0) return claimed;
  const int fl = fcntl(fd, F_GETFL);
  const int fdfl = fl < 0 ? -1 : fcntl(fd, F_GETFD);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fdfl < 0 ||
      fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0) {
    const int err = errno;
    fds.Unadopt(fd);
    return -err;
  }
  return 0;
}

}  // namespace percore
