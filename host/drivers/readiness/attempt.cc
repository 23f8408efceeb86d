// One try of an op's system call, as io_uring would make it: a result
// (>= 0 or -errno), or kAgain when the op must wait for readiness.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "drivers/readiness/readiness_driver.h"
#include "sockets.h"

#ifndef MSG_NOSIGNAL
// macOS has no MSG_NOSIGNAL; a kqueue port sets SO_NOSIGPIPE on its sockets.
#define MSG_NOSIGNAL 0
#endif

namespace percore {

namespace L = layout;

namespace {

// An accepted connection, created like OpenSocket's sockets.
int AcceptConnection(int fd) {
#if defined(__APPLE__)
  int c = ::accept(fd, nullptr, nullptr);
  if (c >= 0) {
    fcntl(c, F_SETFD, FD_CLOEXEC);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
  }
  return c;
#else
  return ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
#endif
}

}  // namespace

namespace {

// A pipe end closed outside percore since the op was taken: -1 with EBADF.
ssize_t BadFd() {
  errno = EBADF;
  return -1;
}

}  // namespace

// One try of the op's system call. EINTR is retried here; EAGAIN is kAgain.
int32_t ReadinessDriver::Attempt(Op& op, bool* more) {
  *more = false;
  if (op.opcode == L::kOpConnect) return AttemptConnect(op);
  for (;;) {
    const ssize_t r = SystemCall(op, more);
    if (r >= 0) return static_cast<int32_t>(r);  // len is a u32 inside the arena
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      counters_.eagain++;
      return kAgain;
    }
    return -LinuxErrno(errno);
  }
}

// The op's system call, answering as the call does: >= 0, or -1 with errno.
ssize_t ReadinessDriver::SystemCall(Op& op, bool* more) {
  uint8_t* base = memory_.base();
  switch (op.opcode) {
    case L::kOpAccept: return Accept(op, more);
    case L::kOpRecv: return Recv(op, more);
    case L::kOpSend:
      // A partial send completes with the bytes sent, as io_uring's does.
      // MSG_NOSIGNAL: a reset peer yields -EPIPE, not SIGPIPE.
      return ::send(op.fd, base + op.addr, op.len, MSG_DONTWAIT | MSG_NOSIGNAL);
    case L::kOpSendmsg:
      return ::sendmsg(op.fd, msg_slots_->Header(op.id & L::kSlotMask, false),
                       MSG_DONTWAIT | MSG_NOSIGNAL);
    case L::kOpRecvmsg: {
      const uint32_t slot = op.id & L::kSlotMask;
      const ssize_t r =
          ::recvmsg(op.fd, msg_slots_->Header(slot, true), MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (r >= 0) msg_slots_->Finish(slot, memory_, fds_);
      return r;
    }
    case L::kOpSpliceIn:
      if (!fds_.Contains(static_cast<int32_t>(op.aux))) return BadFd();
      // The pipe is drained between two SPLICE_INs (the API alternates), so
      // EAGAIN here means the socket has nothing to read.
      return ::splice(op.fd, nullptr, static_cast<int>(op.aux), nullptr, op.len,
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    case L::kOpSpliceOut:
      if (!fds_.Contains(static_cast<int32_t>(op.aux))) return BadFd();
      return ::splice(static_cast<int>(op.aux), nullptr, op.fd, nullptr, op.len,
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    case L::kOpRead:
      // All ones: the current position (pipes and sockets have no other).
      return op.arg == ~uint64_t{0}
                 ? ::read(op.fd, base + op.addr, op.len)
                 : ::pread(op.fd, base + op.addr, op.len, static_cast<off_t>(op.arg));
    case L::kOpWrite:
      return op.arg == ~uint64_t{0}
                 ? ::write(op.fd, base + op.addr, op.len)
                 : ::pwrite(op.fd, base + op.addr, op.len, static_cast<off_t>(op.arg));
    default:
      errno = EINVAL;  // CheckSqe let it through: cannot happen
      return -1;
  }
}

ssize_t ReadinessDriver::Accept(const Op& op, bool* more) {
  const int c = AcceptConnection(op.fd);
  if (c < 0) return -1;
  if (!fds_.Add(c)) {
    // Past the table's capacity (RLIMIT_NOFILE raised after creation): the
    // core could never use it.
    ::close(c);
    errno = EMFILE;
    return -1;
  }
  *more = op.multishot;
  return c;
}

ssize_t ReadinessDriver::Recv(Op& op, bool* more) {
  if (!op.select) return Receive(op, memory_.base() + op.addr);
  // As io_uring does: the buffer is picked first (-ENOBUFS when the set is
  // empty), and goes back to the set unless bytes arrived in it.
  const ssize_t r = pick_set_.ReceiveIntoTop(
      memory_, [&](uint8_t* into) { return Receive(op, into); }, &op.cqe_flags);
  if (r > 0) *more = op.multishot;  // a multishot stays armed: receive again
  return r;
}

// CONNECT: connect(2) once, then, after EINPROGRESS, SO_ERROR at each
// writability edge.
int32_t ReadinessDriver::AttemptConnect(Op& op) {
  if (op.connecting) {
    // Writable (or hung up) after EINPROGRESS: SO_ERROR has the answer.
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return -LinuxErrno(errno);
    if (error != 0) return -LinuxErrno(error);
    // No error yet: connected, or a spurious wake-up.
    SockAddr peer;
    socklen_t peer_len = sizeof peer;
    if (getpeername(op.fd, &peer.sa, &peer_len) == 0) return 0;
    return errno == ENOTCONN ? kAgain : -LinuxErrno(errno);
  }
  SockAddr addr;
  const socklen_t len = DecodeAddress(memory_.base() + op.addr, &addr);
  if (len == 0) return -EINVAL;  // record family neither 4 nor 6
  if (::connect(op.fd, &addr.sa, len) == 0) return 0;
  // EINTR: the connection goes on asynchronously, as with EINPROGRESS
  // (retrying connect would answer EALREADY).
  if (errno == EINPROGRESS || errno == EINTR) {
    op.connecting = true;
    return kAgain;
  }
  return -LinuxErrno(errno);
}

// recv() of a RECV op into `into`, setting op.drained. On Linux TCP sockets
// it is a recvmsg() asking for TCP_INQ, the bytes still queued after this
// read: 0 means the socket is drained even when the read filled the buffer,
// so the readiness cache can wait for the next edge instead of trying a recv()
// that answers EAGAIN (one wasted call per message when messages are as long
// as the buffer). Elsewhere, or if the option is refused, a plain recv().
ssize_t ReadinessDriver::Receive(Op& op, uint8_t* into) {
  op.drained = false;
#ifdef TCP_INQ
  FdState& st = fd_states_.get()[op.fd];
  if (st.inq == kInqUnknown) {
    const int on = 1;
    st.inq = setsockopt(op.fd, IPPROTO_TCP, TCP_INQ, &on, sizeof on) == 0 ? kInqOn : kInqOff;
  }
  if (st.inq == kInqOn) {
    iovec iov{into, op.len};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t r = ::recvmsg(op.fd, &msg, MSG_DONTWAIT);
    if (r > 0) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ) {
          int left;
          std::memcpy(&left, CMSG_DATA(c), sizeof left);
          op.drained = left == 0;
        }
      }
    }
    return r;
  }
#endif
  return ::recv(op.fd, into, op.len, MSG_DONTWAIT);
}

}  // namespace percore
