// One small helper per io_uring operation, named after liburing's, all on
// one base (prep_rw) that clears the SQE and fills the common fields.
#pragma once

#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/stat.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "drivers/uring/buf_ring.h"
#include "sockets.h"

namespace percore {

// Data an SQE points at, which must stay put until the kernel has consumed
// the SQE (with IORING_FEAT_SUBMIT_STABLE the kernel copies it then). One per
// kernel SQ slot: a slot is not reused before the kernel has consumed it.
union SqeScratch {
  __kernel_timespec ts;
  SockAddr addr;
};

inline void prep_rw(io_uring_sqe* s, uint8_t op, int fd, const void* addr, uint32_t len,
                    uint64_t offset) {
  std::memset(s, 0, sizeof *s);
  s->opcode = op;
  s->fd = fd;
  s->addr = reinterpret_cast<uintptr_t>(addr);
  s->len = len;
  s->off = offset;
}

inline void prep_nop(io_uring_sqe* s) { prep_rw(s, IORING_OP_NOP, -1, nullptr, 0, 0); }

inline void prep_accept(io_uring_sqe* s, int fd, bool multishot) {
  prep_rw(s, IORING_OP_ACCEPT, fd, nullptr, 0, 0);
  // Accepted sockets are created the way OpenSocket creates its own.
  s->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  if (multishot) s->ioprio |= IORING_ACCEPT_MULTISHOT;
}

inline void prep_connect(io_uring_sqe* s, int fd, const SockAddr* addr, socklen_t addr_len) {
  // The address length travels in `off`, as in connect(2)'s third argument.
  prep_rw(s, IORING_OP_CONNECT, fd, addr, 0, addr_len);
}

inline void prep_recv(io_uring_sqe* s, int fd, void* buf, uint32_t len) {
  prep_rw(s, IORING_OP_RECV, fd, buf, len, 0);
}

// RECV of at most len bytes into a buffer the kernel picks from the group
// when data arrives (IOSQE_BUFFER_SELECT): nothing is held while it waits.
// Multishot (6.0+): armed until it fails, one CQE with IORING_CQE_F_MORE per
// buffer filled; it takes no length (each receive fills at most a buffer).
inline void prep_recv_select(io_uring_sqe* s, int fd, uint32_t len, bool multishot) {
  prep_rw(s, IORING_OP_RECV, fd, nullptr, multishot ? 0 : len, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kBufferGroup;
  if (multishot) s->ioprio |= IORING_RECV_MULTISHOT;
}

// The emulation of prep_recv_select without PBUF_RING: wait for readability.
inline void prep_poll_in(io_uring_sqe* s, int fd) {
  prep_rw(s, IORING_OP_POLL_ADD, fd, nullptr, 0, 0);
  s->poll32_events = POLLIN;
}

// SPLICE_OUT's wait: for writability (the splice itself is the host's).
inline void prep_poll_out(io_uring_sqe* s, int fd) {
  prep_rw(s, IORING_OP_POLL_ADD, fd, nullptr, 0, 0);
  s->poll32_events = POLLOUT;
}

inline void prep_send(io_uring_sqe* s, int fd, const void* buf, uint32_t len) {
  prep_rw(s, IORING_OP_SEND, fd, buf, len, 0);
  // A peer that reset the connection must yield -EPIPE, not kill the process.
  s->msg_flags = MSG_NOSIGNAL;
}

// One datagram (layout v4); the msghdr is the op slot's (MsgSlots), which
// stays put until the CQE.
inline void prep_sendmsg(io_uring_sqe* s, int fd, const msghdr* msg) {
  prep_rw(s, IORING_OP_SENDMSG, fd, msg, 1, 0);
  s->msg_flags = MSG_NOSIGNAL;
}

// The kernel writes the source and msg_flags (MSG_TRUNC) into the msghdr's
// memory when the datagram arrives; the CQE's res is the bytes copied.
// Descriptors received with it (SCM_RIGHTS) come close-on-exec.
inline void prep_recvmsg(io_uring_sqe* s, int fd, msghdr* msg) {
  prep_rw(s, IORING_OP_RECVMSG, fd, msg, 1, 0);
  s->msg_flags = MSG_CMSG_CLOEXEC;
}

inline void prep_read(io_uring_sqe* s, int fd, void* buf, uint32_t len, uint64_t offset) {
  // offset all ones = the file's current position (IORING_FEAT_RW_CUR_POS),
  // which is also the layout's encoding.
  prep_rw(s, IORING_OP_READ, fd, buf, len, offset);
}

inline void prep_write(io_uring_sqe* s, int fd, const void* buf, uint32_t len, uint64_t offset) {
  prep_rw(s, IORING_OP_WRITE, fd, buf, len, offset);
}

inline void prep_close(io_uring_sqe* s, int fd) { prep_rw(s, IORING_OP_CLOSE, fd, nullptr, 0, 0); }

// OPENAT of a C string path relative to dfd (AT_FDCWD), mode in `len`.
inline void prep_openat(io_uring_sqe* s, int dfd, const char* path, int flags, uint32_t mode) {
  prep_rw(s, IORING_OP_OPENAT, dfd, path, mode, 0);
  s->open_flags = static_cast<uint32_t>(flags);
}

// FSYNC of the whole file; IORING_FSYNC_DATASYNC makes it an fdatasync.
inline void prep_fsync(io_uring_sqe* s, int fd, uint32_t fsync_flags) {
  prep_rw(s, IORING_OP_FSYNC, fd, nullptr, 0, 0);
  s->fsync_flags = fsync_flags;
}

// STATX of `path` relative to dfd (with AT_EMPTY_PATH and "": dfd itself);
// the mask travels in `len`, the struct statx's address in `off`.
inline void prep_statx(io_uring_sqe* s, int dfd, const char* path, int flags, uint32_t mask,
                       void* statxbuf) {
  prep_rw(s, IORING_OP_STATX, dfd, path, mask, reinterpret_cast<uintptr_t>(statxbuf));
  s->statx_flags = static_cast<uint32_t>(flags);
}

// FALLOCATE: the mode travels in `len`, the length in `addr`.
inline void prep_fallocate(io_uring_sqe* s, int fd, int mode, uint64_t offset, uint64_t len) {
  prep_rw(s, IORING_OP_FALLOCATE, fd, nullptr, static_cast<uint32_t>(mode), offset);
  s->addr = len;
}

// The path operations: liburing's argument order; a second path travels in
// `off` (addr2), a second directory fd in `len`.
inline void prep_renameat(io_uring_sqe* s, int olddfd, const char* oldpath, int newdfd,
                          const char* newpath, uint32_t flags) {
  prep_rw(s, IORING_OP_RENAMEAT, olddfd, oldpath, static_cast<uint32_t>(newdfd),
          reinterpret_cast<uintptr_t>(newpath));
  s->rename_flags = flags;
}

inline void prep_unlinkat(io_uring_sqe* s, int dfd, const char* path, int flags) {
  prep_rw(s, IORING_OP_UNLINKAT, dfd, path, 0, 0);
  s->unlink_flags = static_cast<uint32_t>(flags);
}

inline void prep_mkdirat(io_uring_sqe* s, int dfd, const char* path, uint32_t mode) {
  prep_rw(s, IORING_OP_MKDIRAT, dfd, path, mode, 0);
}

inline void prep_symlinkat(io_uring_sqe* s, const char* target, int newdirfd,
                           const char* linkpath) {
  prep_rw(s, IORING_OP_SYMLINKAT, newdirfd, target, 0, reinterpret_cast<uintptr_t>(linkpath));
}

inline void prep_linkat(io_uring_sqe* s, int olddfd, const char* oldpath, int newdfd,
                        const char* newpath, int flags) {
  prep_rw(s, IORING_OP_LINKAT, olddfd, oldpath, static_cast<uint32_t>(newdfd),
          reinterpret_cast<uintptr_t>(newpath));
  s->hardlink_flags = static_cast<uint32_t>(flags);
}

inline void prep_shutdown(io_uring_sqe* s, int fd, int how) {
  prep_rw(s, IORING_OP_SHUTDOWN, fd, nullptr, static_cast<uint32_t>(how), 0);
}

inline void prep_timeout(io_uring_sqe* s, const __kernel_timespec* ts) {
  // count (off) 0: a pure timer, not "after n completions"; relative,
  // CLOCK_MONOTONIC.
  prep_rw(s, IORING_OP_TIMEOUT, -1, ts, 1, 0);
}

inline void prep_cancel(io_uring_sqe* s, uint64_t user_data) {
  prep_rw(s, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0);
  s->addr = user_data;
}

// IORING_MSG_DATA (addr 0): the target ring gets a CQE with user_data =
// `off` and res = `len`, as if one of its own requests had completed.
inline void prep_msg_ring(io_uring_sqe* s, int ring_fd, uint64_t target_user_data, uint32_t res) {
  prep_rw(s, IORING_OP_MSG_RING, ring_fd, nullptr, res, target_user_data);
}

}  // namespace percore
