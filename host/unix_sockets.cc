#include "unix_sockets.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace percore {

namespace {

constexpr size_t kPathMax = sizeof(sockaddr_un{}.sun_path);  // 108 on Linux

// Whether a filesystem path is a socket file nobody accepts on: a probe
// connect is refused. A path that is not a socket is never stale.
bool StaleSocketFile(const sockaddr_un& addr, socklen_t len) {
  struct stat st;
  if (lstat(addr.sun_path, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  // A probe of our own, closed at once: never in the table, never in an SQE.
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  const int r = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), len);
  const bool refused = r != 0 && errno == ECONNREFUSED;
  ::close(probe);
  return refused;
}

}  // namespace

socklen_t EncodeUnixName(const uint8_t* name, size_t len, sockaddr_un* out) {
  std::memset(out, 0, sizeof *out);
  out->sun_family = AF_UNIX;
  const bool abstract = len > 0 && name[0] == 0;
  if (abstract) {
    // NUL + 1..107 bytes: the length is part of the name.
    if (len < 2 || len > kPathMax) return 0;
  } else {
    // 1..107 bytes and no NUL: sun_path keeps its terminating NUL.
    if (len < 1 || len >= kPathMax || std::memchr(name, 0, len) != nullptr) return 0;
  }
  std::memcpy(out->sun_path, name, len);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len + (abstract ? 0 : 1));
}

int32_t BindUnix(const FdTable& fds, int32_t fd, const uint8_t* name, size_t len,
                 bool unlink_stale) {
  if (!fds.Contains(fd)) return -EBADF;
  sockaddr_un addr;
  const socklen_t addr_len = EncodeUnixName(name, len, &addr);
  if (addr_len == 0) return -EINVAL;
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);
  if (::bind(fd, sa, addr_len) == 0) return 0;
  const int err = errno;
  const bool abstract = name[0] == 0;
  if (err != EADDRINUSE || !unlink_stale || abstract || !StaleSocketFile(addr, addr_len)) {
    return -err;
  }
  if (::unlink(addr.sun_path) != 0 && errno != ENOENT) return -EADDRINUSE;
  return ::bind(fd, sa, addr_len) == 0 ? 0 : -errno;
}

int32_t ConnectUnix(const FdTable& fds, int32_t fd, const uint8_t* name, size_t len) {
  if (!fds.Contains(fd)) return -EBADF;
  sockaddr_un addr;
  const socklen_t addr_len = EncodeUnixName(name, len, &addr);
  if (addr_len == 0) return -EINVAL;
  int r;
  do {
    r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len);
  } while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : -errno;
}

int32_t UnixName(const FdTable& fds, int32_t fd, bool peer, uint8_t out[kPathMax]) {
  if (!fds.Contains(fd)) return -EBADF;
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return -errno;
  if (addr.sun_family != AF_UNIX) return -EAFNOSUPPORT;
  const size_t header = offsetof(sockaddr_un, sun_path);
  size_t n = len > header ? len - header : 0;
  if (n > kPathMax) n = kPathMax;
  // A filesystem name comes back with its NUL (or, at 108 bytes, without).
  if (n > 0 && addr.sun_path[0] != 0) n = strnlen(addr.sun_path, n);
  std::memcpy(out, addr.sun_path, n);
  return static_cast<int32_t>(n);
}

int32_t PeerCredentialsOf(const FdTable& fds, int32_t fd, PeerCredentials* out) {
  if (!fds.Contains(fd)) return -EBADF;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
  out->pid = cred.pid;
  out->uid = cred.uid;
  out->gid = cred.gid;
  return 0;
}

}  // namespace percore
