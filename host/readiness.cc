// The readiness logic shared by the epoll and kqueue backends (readiness.h).
//
// Choices, and why:
// * Edge-triggered registration, once per fd lifetime, made the first time an
//   op on the fd meets EAGAIN. An echo connection then costs one
//   epoll_ctl in its whole life and none per op (oneshot would re-arm on
//   every wait). Edge-triggering is safe because an op always tries its
//   system call before it waits, and a queue is retried until a call answers
//   EAGAIN: no readiness is left unconsumed while something waits for it.
//   Registering after an EAGAIN cannot lose a wake-up either: adding an fd
//   reports its current readiness.
// * One FIFO queue per fd and direction, linked through op records indexed
//   by slot. An op that finds its queue non-empty waits behind it without
//   trying, so a socket's reads (or writes) complete in submission order.
// * Completions go straight into the core's CQ in order; when it is full they
//   wait in the driver's FIFO, sized so that every op's final completion and
//   every cancel's always fits: a multishot ACCEPT may use only half of it
//   for its MORE completions, and stops (to be retried on the next wake-up)
//   when that half is used.
// * CLOSE of an fd with ops waiting completes them with -ECANCELED first,
//   then closes: the kernel would otherwise report nothing for them ever
//   again (a closed fd leaves the epoll set).
// * TIMEOUT ops sit in a list sorted by deadline (insertion scans from the
//   tail, O(1) for the usual later-than-everything timer); the poller holds
//   one timer for the earliest.
#include "readiness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sockets.h"

#ifndef MSG_NOSIGNAL
// macOS has no MSG_NOSIGNAL; a kqueue port sets SO_NOSIGPIPE on its sockets.
#define MSG_NOSIGNAL 0
#endif

namespace percore {

namespace L = layout;

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

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

namespace {

uint32_t NextPow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

bool IsWriteSide(uint8_t opcode) {
  return opcode == L::kOpConnect || opcode == L::kOpSend || opcode == L::kOpWrite;
}

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

ReadinessDriver::ReadinessDriver(const CoreMemory& memory,
                                 std::unique_ptr<Poller> poller)
    : Driver(memory), poller_(std::move(poller)), name_(poller_->name()) {
  op_capacity_ = memory_.op_capacity();
  ops_ = std::make_unique<Op[]>(op_capacity_);
  fd_capacity_ = fds_.capacity();
  fd_states_.reset(static_cast<FdState*>(std::calloc(fd_capacity_, sizeof(FdState))));
  // Final completions outstanding are at most one per op plus one per cancel
  // (the core's SQ size); the other half is for MORE completions.
  const uint32_t fifo_size = NextPow2(2 * memory_.sq_entries());
  fifo_ = std::make_unique<Completion[]>(fifo_size);
  fifo_mask_ = fifo_size - 1;
  // An fd is on the retry list at most once, and only while an op waits on
  // it; RunRetries may append while it walks, hence twice that.
  retry_ = std::make_unique<int32_t[]>(2 * op_capacity_);
  features_.Add("readiness");
  features_.Add("multishot_accept");  // emulated: accept until EAGAIN
  if (memory_.provide_count() > 0) {
    in_set_ = std::make_unique<bool[]>(memory_.provide_count());
    spare_ = std::make_unique<uint32_t[]>(memory_.provide_count());
    features_.Add("recv_select");  // emulated: a recv-set buffer taken when the socket is readable
  }
}

// Moves what the core provided into the pick set, checking each index.
void ReadinessDriver::TakeProvided() {
  const uint32_t count = memory_.provide_count();
  uint32_t n = memory_.ProvidePending();
  if (n == 0) return;
  for (; n > 0; n--) {
    const uint32_t index = memory_.PeekProvide();
    memory_.ConsumeProvide();
    if (index >= count || in_set_[index]) continue;  // a core bug: ignore it
    in_set_[index] = true;
    spare_[spare_count_++] = index;
  }
  memory_.PublishProvideHead();
}

// --- submission -------------------------------------------------------------

uint32_t ReadinessDriver::TakeSqes() {
  uint32_t taken = 0;
  TakeProvided();  // buffers first: a RECV in this batch may need one at once
  for (uint32_t n = memory_.SqPending(); n > 0; n--) {
    const Sqe sqe = memory_.PeekSqe();
    const int32_t res = CheckSqe(sqe, memory_, fds_);
    if (res != 0) {
      // As the io_uring driver does: a failed check waits in the SQ until
      // the core's CQ has room for its error.
      if (memory_.CqSpace() == 0 || fifo_head_ != fifo_tail_) break;
      Complete(sqe.id, res, 0);
    } else {
      Start(sqe);
    }
    memory_.ConsumeSqe();
    taken++;
  }
  memory_.PublishSqHead();
  counters_.submitted += taken;
  return taken;
}

void ReadinessDriver::Start(const Sqe& sqe) {
  switch (sqe.opcode) {
    case L::kOpNop:
      Complete(sqe.id, 0, 0);
      return;
    case L::kOpCancel:
      Complete(sqe.id, CancelOp(sqe.arg), 0);
      return;
    case L::kOpClose: {
      CancelFd(sqe.fd);
      // The fd is gone for the core from here on, whatever close returns;
      // Linux releases it even on EINTR.
      fds_.Remove(sqe.fd);
      int32_t res = 0;
      if (::close(sqe.fd) != 0 && errno != EINTR) res = -LinuxErrno(errno);
      Complete(sqe.id, res, 0);
      return;
    }
    case L::kOpShutdown: {
      // Never blocks. Ops waiting on the fd see the hang-up as an event.
      const int r = ::shutdown(sqe.fd, static_cast<int>(sqe.aux));
      Complete(sqe.id, r == 0 ? 0 : -LinuxErrno(errno), 0);
      return;
    }
    default:
      break;
  }

  const uint32_t slot = sqe.id & L::kSlotMask;
  Op& op = ops_[slot];
  if (op.where != kNowhere) {
    // The core reuses a slot only after its final CQE: this is a core bug.
    // Refuse the newcomer rather than corrupt a queue.
    Complete(sqe.id, -EBUSY, 0);
    return;
  }
  op = Op{sqe.id, sqe.opcode, kNowhere,
          (sqe.opcode == L::kOpAccept || sqe.opcode == L::kOpRecv) && (sqe.flags & L::kSqeFMultishot) != 0,
          false, sqe.fd, sqe.addr, sqe.len, sqe.arg, kNil, kNil,
          sqe.opcode == L::kOpRecv && (sqe.flags & L::kSqeFBufferSelect) != 0, 0, false};

  if (sqe.opcode == L::kOpTimeout) {
    op.arg = MonotonicNs() + sqe.arg;
    StartTimeout(slot);
    return;
  }

  const bool write_side = IsWriteSide(sqe.opcode);
  FdState& st = fd_states_.get()[sqe.fd];
  if ((write_side ? st.write_head : st.read_head) != kNil) {
    Enqueue(slot, sqe.fd, write_side);  // keep the fd's order: no overtaking
    return;
  }
  bool& blocked = write_side ? st.write_blocked : st.read_blocked;
  if (st.registered && blocked) {
    Enqueue(slot, sqe.fd, write_side);  // the readiness cache: the edge will come
    return;
  }
  for (;;) {
    bool more = false;
    const int32_t res = Attempt(op, &more);
    if (res == kAgain) {
      blocked = true;
      if (!st.registered) {
        counters_.enters++;
        const int r = poller_->Register(sqe.fd);
        if (r < 0) {
          op.id = 0;
          Complete(sqe.id, r, 0);
          return;
        }
        st.registered = true;
      }
      Enqueue(slot, sqe.fd, write_side);
      return;
    }
    if (more) {
      CompleteMore(op, res);
      if (DrainedBy(op, res, st)) {
        Enqueue(slot, sqe.fd, write_side);
        return;
      }
      if (RoomForMore()) continue;
      Enqueue(slot, sqe.fd, write_side);
      RetryLater(sqe.fd);
      return;
    }
    NoteShortTransfer(op, res, st);
    op.id = 0;
    Complete(sqe.id, res, op.cqe_flags);
    return;
  }
}

// A RECV or SEND on a socket that moved fewer bytes than asked drained the
// receive queue (or filled the send buffer): the next call would answer
// EAGAIN, as tokio assumes too. Mark that side blocked, registering the fd if
// this is its first wait, so the next op waits for the edge with no call:
// with edge-triggered registration any later arrival (or freed space) raises
// one. An echo's every RECV would otherwise start with a failed recv().
// Every socket a driver owns is a stream socket (socket() makes TCP ones and
// adoptFd refuses the rest): a datagram socket's short read would prove nothing.
void ReadinessDriver::NoteShortTransfer(const Op& op, int32_t res, FdState& st) {
  if (res <= 0 || st.hangup) return;
  if (static_cast<uint32_t>(res) >= op.len && !(op.opcode == L::kOpRecv && op.drained)) return;
  if (op.opcode != L::kOpRecv && op.opcode != L::kOpSend) return;
  if (!st.registered) {
    counters_.enters++;
    if (poller_->Register(op.fd) < 0) return;  // no cache then: the next op just tries
    st.registered = true;
  }
  (op.opcode == L::kOpSend ? st.write_blocked : st.read_blocked) = true;
}

// A MORE completion of a multishot op (ACCEPT, or a select RECV with the
// buffer it filled).
void ReadinessDriver::CompleteMore(Op& op, int32_t res) {
  Complete(op.id, res, L::kCqeFMore | op.cqe_flags);
  op.cqe_flags = 0;
}

// Whether a multishot RECV's receive of `res` bytes drained the socket (a
// short read, NoteShortTransfer): the op then waits for the next edge
// instead of trying a receive that would answer EAGAIN.
bool ReadinessDriver::DrainedBy(const Op& op, int32_t res, FdState& st) {
  if (op.opcode != L::kOpRecv) return false;
  NoteShortTransfer(op, res, st);
  return st.read_blocked;
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

// One try of the op's system call. EINTR is retried here; EAGAIN is kAgain.
int32_t ReadinessDriver::Attempt(Op& op, bool* more) {
  uint8_t* base = memory_.base();
  *more = false;
  for (;;) {
    ssize_t r;
    switch (op.opcode) {
      case L::kOpAccept:
        r = AcceptConnection(op.fd);
        if (r >= 0) {
          if (!fds_.Add(static_cast<int32_t>(r))) {
            // Past the table's capacity (RLIMIT_NOFILE raised after
            // creation): the core could never use it.
            ::close(static_cast<int>(r));
            return -EMFILE;
          }
          *more = op.multishot;
        }
        break;
      case L::kOpConnect: {
        if (op.connecting) {
          // Writable (or hung up) after EINPROGRESS: SO_ERROR has the answer.
          int error = 0;
          socklen_t len = sizeof error;
          if (getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
            return -LinuxErrno(errno);
          }
          if (error != 0) return -LinuxErrno(error);
          // No error yet: connected, or a spurious wake-up.
          SockAddr peer;
          socklen_t peer_len = sizeof peer;
          if (getpeername(op.fd, &peer.sa, &peer_len) == 0) return 0;
          return errno == ENOTCONN ? kAgain : -LinuxErrno(errno);
        }
        SockAddr addr;
        const socklen_t len = DecodeAddress(base + op.addr, &addr);
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
      case L::kOpRecv: {
        if (!op.select) {
          r = Receive(op, base + op.addr);
          break;
        }
        // As io_uring does: the buffer is picked first (-ENOBUFS when the set
        // is empty), and goes back to the set unless bytes arrived in it.
        if (spare_count_ == 0) return -ENOBUFS;
        const uint32_t index = spare_[spare_count_ - 1];
        r = Receive(op, base + memory_.BufferOffset(index));
        if (r > 0) {
          spare_count_--;
          in_set_[index] = false;
          op.cqe_flags = L::kCqeFBuffer | (index << L::kCqeBufferShift);
          *more = op.multishot;  // a multishot stays armed: receive again
        }
        break;
      }
      case L::kOpSend:
        // A partial send completes with the bytes sent, as io_uring's does.
        // MSG_NOSIGNAL: a reset peer yields -EPIPE, not SIGPIPE.
        r = ::send(op.fd, base + op.addr, op.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
      case L::kOpRead:
        // All ones: the current position (pipes and sockets have no other).
        r = op.arg == ~uint64_t{0}
                ? ::read(op.fd, base + op.addr, op.len)
                : ::pread(op.fd, base + op.addr, op.len, static_cast<off_t>(op.arg));
        break;
      case L::kOpWrite:
        r = op.arg == ~uint64_t{0}
                ? ::write(op.fd, base + op.addr, op.len)
                : ::pwrite(op.fd, base + op.addr, op.len, static_cast<off_t>(op.arg));
        break;
      default:
        return -EINVAL;  // CheckSqe let it through: cannot happen
    }
    if (r >= 0) return static_cast<int32_t>(r);  // len is a u32 inside the arena
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      counters_.eagain++;
      return kAgain;
    }
    return -LinuxErrno(errno);
  }
}

// --- wait queues ------------------------------------------------------------

void ReadinessDriver::Enqueue(uint32_t slot, int fd, bool write_side) {
  FdState& st = fd_states_.get()[fd];
  uint32_t& head = write_side ? st.write_head : st.read_head;
  uint32_t& tail = write_side ? st.write_tail : st.read_tail;
  Op& op = ops_[slot];
  op.where = write_side ? kWriteQueue : kReadQueue;
  op.prev = tail;
  op.next = kNil;
  if (tail != kNil) {
    ops_[tail - 1].next = slot + 1;
  } else {
    head = slot + 1;
  }
  tail = slot + 1;
}

void ReadinessDriver::Unlink(uint32_t slot) {
  Op& op = ops_[slot];
  uint32_t* head;
  uint32_t* tail;
  switch (op.where) {
    case kReadQueue:
      head = &fd_states_.get()[op.fd].read_head;
      tail = &fd_states_.get()[op.fd].read_tail;
      break;
    case kWriteQueue:
      head = &fd_states_.get()[op.fd].write_head;
      tail = &fd_states_.get()[op.fd].write_tail;
      break;
    case kTimers:
      head = &timers_head_;
      tail = &timers_tail_;
      break;
    default:
      return;
  }
  if (op.prev != kNil) ops_[op.prev - 1].next = op.next; else *head = op.next;
  if (op.next != kNil) ops_[op.next - 1].prev = op.prev; else *tail = op.prev;
  op.prev = op.next = kNil;
  op.where = kNowhere;
}

// Retries the fd's queue from its head until a call answers EAGAIN. Called
// for every readiness event, spurious ones included: a spurious event costs
// one system call that answers EAGAIN.
void ReadinessDriver::RunQueue(int fd, bool write_side) {
  FdState& st = fd_states_.get()[fd];
  uint32_t& head = write_side ? st.write_head : st.read_head;
  while (head != kNil) {
    const uint32_t slot = head - 1;
    Op& op = ops_[slot];
    bool more = false;
    const int32_t res = Attempt(op, &more);
    if (res == kAgain) {
      (write_side ? st.write_blocked : st.read_blocked) = true;
      return;
    }
    if (more) {
      CompleteMore(op, res);
      if (DrainedBy(op, res, st)) return;
      if (RoomForMore()) continue;
      RetryLater(fd);
      return;
    }
    const uint32_t id = op.id;
    Unlink(slot);
    NoteShortTransfer(op, res, st);
    op.id = 0;
    Complete(id, res, op.cqe_flags);
    if (write_side ? st.write_blocked : st.read_blocked) return;
  }
}

// Every op waiting on fd completes with -ECANCELED (in queue order, reads
// first), and the poller forgets the fd: it is about to be closed.
void ReadinessDriver::CancelFd(int fd) {
  FdState& st = fd_states_.get()[fd];
  for (uint32_t* head : {&st.read_head, &st.write_head}) {
    while (*head != kNil) {
      const uint32_t slot = *head - 1;
      const uint32_t id = ops_[slot].id;
      Unlink(slot);
      ops_[slot].id = 0;
      Complete(id, -ECANCELED, 0);
    }
  }
  if (st.registered) {
    counters_.enters++;
    poller_->Deregister(fd);
    st.registered = false;
  }
  st.read_blocked = st.write_blocked = st.hangup = false;
  st.inq = kInqUnknown;  // the number may come back as another kind of socket
  // st.retry stays: the fd is still on retry_ and RunRetries clears it.
}

void ReadinessDriver::FdClosing(int32_t fd) {
  if (closed_ || !fds_.Contains(fd)) return;
  CancelFd(fd);
  self_completed_ = true;
}

// The fd hand-off: another thread's driver will own the fd. Ops still waiting
// on it complete with -ECANCELED (the API refuses to detach a stream with
// operations in flight, so normally there are none), and the poller stops
// watching it: the registration belongs to this driver's epoll set, and a
// later fd with the same number must start unregistered here.
int32_t ReadinessDriver::Forget(int32_t fd) {
  if (closed_ || !fds_.Contains(fd)) return -EBADF;
  CancelFd(fd);
  fds_.Remove(fd);
  self_completed_ = true;
  return 0;
}

// Like io_uring's ASYNC_CANCEL: 0 when the target was waiting (it completes
// with -ECANCELED, before the cancel's own CQE), -ENOENT when no op with that
// id waits. -EALREADY never happens here: an op is either waiting or done.
int32_t ReadinessDriver::CancelOp(uint64_t target) {
  if (target == 0 || target >= L::kInternalId) return -ENOENT;
  const uint32_t slot = static_cast<uint32_t>(target) & L::kSlotMask;
  if (slot >= op_capacity_) return -ENOENT;
  Op& op = ops_[slot];
  if (op.id != target || op.where == kNowhere) return -ENOENT;
  Unlink(slot);
  op.id = 0;
  Complete(static_cast<uint32_t>(target), -ECANCELED, 0);
  return 0;
}

void ReadinessDriver::RetryLater(int fd) {
  FdState& st = fd_states_.get()[fd];
  if (st.retry) return;
  st.retry = true;
  retry_[retry_count_++] = fd;
}

void ReadinessDriver::RunRetries() {
  const uint32_t n = retry_count_;
  uint32_t i = 0;
  for (; i < n && RoomForMore(); i++) {
    const int fd = retry_[i];
    fd_states_.get()[fd].retry = false;
    if (fds_.Contains(fd)) RunQueue(fd, false);  // may append fd again
  }
  // Keep what was not reached and what was appended, in order.
  uint32_t kept = 0;
  for (uint32_t j = i; j < retry_count_; j++) retry_[kept++] = retry_[j];
  retry_count_ = kept;
}

// --- timers -----------------------------------------------------------------

void ReadinessDriver::StartTimeout(uint32_t slot) {
  Op& op = ops_[slot];
  // Sorted by deadline, equal deadlines in start order: scan from the tail.
  uint32_t after = timers_tail_;
  while (after != kNil && ops_[after - 1].arg > op.arg) after = ops_[after - 1].prev;
  op.where = kTimers;
  op.prev = after;
  op.next = after == kNil ? timers_head_ : ops_[after - 1].next;
  if (op.prev != kNil) ops_[op.prev - 1].next = slot + 1; else timers_head_ = slot + 1;
  if (op.next != kNil) ops_[op.next - 1].prev = slot + 1; else timers_tail_ = slot + 1;
  if (timers_head_ == slot + 1) RearmTimer();
}

void ReadinessDriver::RearmTimer() {
  if (timers_head_ == kNil) return;  // a stale timer event finds nothing due
  const uint64_t deadline = ops_[timers_head_ - 1].arg;
  if (deadline == timer_armed_) return;
  timer_armed_ = deadline;
  counters_.enters++;
  poller_->ArmTimer(deadline);
}

void ReadinessDriver::FireTimers() {
  timer_armed_ = 0;
  const uint64_t now = MonotonicNs();
  while (timers_head_ != kNil && ops_[timers_head_ - 1].arg <= now) {
    const uint32_t slot = timers_head_ - 1;
    const uint32_t id = ops_[slot].id;
    Unlink(slot);
    ops_[slot].id = 0;
    Complete(id, 0, 0);  // the layout's TIMEOUT fires with 0
  }
  RearmTimer();
}

// --- completion -------------------------------------------------------------

void ReadinessDriver::Complete(uint32_t id, int32_t res, uint32_t flags) {
  if (fifo_head_ == fifo_tail_ && memory_.CqSpace() > 0) {
    memory_.PushCqe(id, res, flags);
    counters_.completed++;
    written_++;
    return;
  }
  // Cannot overflow: see RoomForMore and the FIFO's size.
  fifo_[fifo_tail_++ & fifo_mask_] = Completion{id, res, flags};
}

void ReadinessDriver::DrainFifo() {
  while (fifo_head_ != fifo_tail_ && memory_.CqSpace() > 0) {
    const Completion& c = fifo_[fifo_head_++ & fifo_mask_];
    memory_.PushCqe(c.id, c.res, c.flags);
    counters_.completed++;
    written_++;
  }
}

// One wait for events (timeout_ms as Poller::Wait) and their ops. Returns
// the number of events, or -errno if the wait failed.
int ReadinessDriver::Dispatch(int timeout_ms) {
  constexpr int kMaxEvents = 256;
  ReadyEvent events[kMaxEvents];
  counters_.enters++;
  const int n = poller_->Wait(events, kMaxEvents, timeout_ms);
  for (int i = 0; i < n; i++) {
    const ReadyEvent& e = events[i];
    if (e.timer) {
      FireTimers();
      continue;
    }
    // An event for an fd closed earlier in this batch finds empty queues.
    if (e.fd < 0 || static_cast<uint32_t>(e.fd) >= fd_capacity_) continue;
    FdState& st = fd_states_.get()[e.fd];
    if (e.hangup) st.hangup = true;
    if (e.readable) {
      st.read_blocked = false;
      RunQueue(e.fd, false);
    }
    if (e.writable) {
      st.write_blocked = false;
      RunQueue(e.fd, true);
    }
  }
  RunRetries();
  DrainFifo();
  return n;
}

uint32_t ReadinessDriver::Flush() {
  if (closed_) return 0;
  const uint64_t before = counters_.completed;
  DrainFifo();
  const uint32_t taken = TakeSqes();
  if (counters_.completed != before) self_completed_ = true;
  return taken;
}

uint32_t ReadinessDriver::Wake() {
  if (closed_) return 0;
  self_completed_ = false;
  written_ = 0;
  DrainFifo();
  TakeSqes();
  Dispatch(0);
  return written_;
}

uint32_t ReadinessDriver::Poll(int32_t wait_ms) {
  if (closed_) return 0;
  self_completed_ = false;
  written_ = 0;
  DrainFifo();
  TakeSqes();
  if (wait_ms == 0 || written_ > 0 || fifo_head_ != fifo_tail_ ||
      memory_.CqSpace() == 0) {
    Dispatch(0);
    return written_;
  }
  // Spurious wake-ups complete nothing: wait again for what is left.
  const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(wait_ms) * 1000000u;
  for (;;) {
    int timeout = -1;
    if (wait_ms > 0) {
      const uint64_t now = MonotonicNs();
      if (now >= deadline) break;
      timeout = static_cast<int>((deadline - now + 999999u) / 1000000u);
    }
    if (Dispatch(timeout) < 0 || written_ > 0) break;
  }
  return written_;
}

bool ReadinessDriver::CompletionsPending() const {
  if (closed_) return false;
  return self_completed_ || fifo_head_ != fifo_tail_ || retry_count_ > 0;
}

void ReadinessDriver::Close() {
  if (closed_) return;
  closed_ = true;
  // Waiting ops get no CQE, as with io_uring's teardown.
  poller_.reset();
  fds_.CloseAll();
}

std::unique_ptr<Driver> MakeReadinessDriver(const CoreMemory& memory,
                                            std::unique_ptr<Poller> poller,
                                            int init_error,
                                            std::initializer_list<const char*> features,
                                            int* error) {
  if (init_error != 0) {
    *error = init_error;
    return nullptr;
  }
  auto driver = std::make_unique<ReadinessDriver>(memory, std::move(poller));
  if (!driver->ok()) {
    *error = ENOMEM;
    return nullptr;
  }
  for (const char* name : features) driver->mutable_features().Add(name);
  return driver;
}

}  // namespace percore
