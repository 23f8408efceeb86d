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
  if (fds.Contains(fd)) return -EEXIST;
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return -errno;
  const int fdfl = fcntl(fd, F_GETFD);
  if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0) return -errno;
  return fds.Add(fd) ? 0 : -EMFILE;
}

}  // namespace percore
