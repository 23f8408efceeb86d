/* uring_echo: minimal single-threaded io_uring TCP echo server, the "C floor"
 * for percore's benchmarks. Raw syscalls and <linux/io_uring.h> (no liburing).
 * Multishot accept where the kernel has it (else accept re-armed per
 * connection); per connection one buffer and one op in flight: recv, then
 * send until the whole read is echoed, then recv again. */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "server_common.h"

static const char *PROG = "uring_echo";

/* ---------- the ring ---------- */

struct ring {
  int fd;
  unsigned sq_entries;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  struct io_uring_sqe *sqes;
  unsigned sq_local_tail, to_submit;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_cqe *cqes;
  unsigned enter_flags;
};

static int sys_setup(unsigned entries, struct io_uring_params *p) {
  return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags) {
  return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
}

static void ring_init(struct ring *r, unsigned entries, const char **mode) {
  static const struct { unsigned flags; const char *name; } tries[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL, "defer-taskrun"},
      {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, "coop-taskrun"},
      {0, "plain"},
  };
  struct io_uring_params p;
  int fd = -1, err = 0;
  for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
    memset(&p, 0, sizeof p);
    p.flags = tries[i].flags;
    fd = sys_setup(entries, &p);
    if (fd >= 0) { *mode = tries[i].name; break; }
    err = errno;
    if (err != EINVAL) break;
  }
  if (fd < 0) {
    const char *why = err == EPERM ? " (io_uring forbidden: seccomp profile or kernel.io_uring_disabled)"
                      : err == ENOSYS ? " (kernel without io_uring)"
                      : err == ENOMEM ? " (memlock limit too low: ulimit -l)" : "";
    fprintf(stderr, "%s: io_uring_setup: %s%s\n", PROG, strerror(err), why);
    exit(1);
  }
  r->fd = fd;
  r->sq_entries = p.sq_entries;
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_size > sq_size) sq_size = cq_size;
  unsigned char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  unsigned char *cq = single ? sq : mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
  r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED) {
    fprintf(stderr, "%s: mmap of the ring: %s\n", PROG, strerror(errno));
    exit(1);
  }
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  r->sq_local_tail = *r->sq_tail;
  r->to_submit = 0;
}

/* Hand prepared SQEs to the kernel and optionally wait for one completion. */
static void ring_enter(struct ring *r, unsigned wait) {
  for (;;) {
    int ret = sys_enter(r->fd, r->to_submit, wait, wait ? IORING_ENTER_GETEVENTS : 0);
    if (ret >= 0) {
      r->to_submit -= (unsigned)ret < r->to_submit ? (unsigned)ret : r->to_submit;
      return;
    }
    if (errno == EINTR) { if (wait) return; continue; }
    if (errno == EAGAIN || errno == EBUSY) return; /* completions must be reaped first */
    fprintf(stderr, "%s: io_uring_enter: %s\n", PROG, strerror(errno));
    exit(1);
  }
}

static struct io_uring_sqe *ring_sqe(struct ring *r) {
  unsigned head = atomic_load_explicit((_Atomic unsigned *)r->sq_head, memory_order_acquire);
  if (r->sq_local_tail - head >= r->sq_entries) {
    ring_enter(r, 0);
    head = atomic_load_explicit((_Atomic unsigned *)r->sq_head, memory_order_acquire);
    if (r->sq_local_tail - head >= r->sq_entries) { fprintf(stderr, "%s: submission queue stuck\n", PROG); exit(1); }
  }
  unsigned idx = r->sq_local_tail & *r->sq_mask;
  struct io_uring_sqe *sqe = &r->sqes[idx];
  memset(sqe, 0, sizeof *sqe);
  r->sq_array[idx] = idx;
  r->sq_local_tail++;
  r->to_submit++;
  atomic_store_explicit((_Atomic unsigned *)r->sq_tail, r->sq_local_tail, memory_order_release);
  return sqe;
}

/* ---------- the server ---------- */

enum { OP_ACCEPT = 0, OP_RECV = 1, OP_SEND = 2 };

struct conn {
  int fd;
  unsigned len, off; /* send buf[off..len) */
  unsigned char buf[];
};

static struct ring ring;
static struct server_flags flags;
static int listen_fd, multishot = 1;

static void arm_accept(void) {
  struct io_uring_sqe *sqe = ring_sqe(&ring);
  sqe->opcode = IORING_OP_ACCEPT;
  sqe->fd = listen_fd;
  sqe->accept_flags = SOCK_CLOEXEC;
  if (multishot) sqe->ioprio = IORING_ACCEPT_MULTISHOT;
  sqe->user_data = OP_ACCEPT;
}

static void arm_recv(struct conn *c) {
  struct io_uring_sqe *sqe = ring_sqe(&ring);
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = c->fd;
  sqe->addr = (uint64_t)(uintptr_t)c->buf;
  sqe->len = (unsigned)flags.buffer_size;
  sqe->user_data = (uint64_t)(uintptr_t)c | OP_RECV;
}

static void arm_send(struct conn *c) {
  struct io_uring_sqe *sqe = ring_sqe(&ring);
  sqe->opcode = IORING_OP_SEND;
  sqe->fd = c->fd;
  sqe->addr = (uint64_t)(uintptr_t)(c->buf + c->off);
  sqe->len = c->len - c->off;
  sqe->msg_flags = MSG_NOSIGNAL;
  sqe->user_data = (uint64_t)(uintptr_t)c | OP_SEND;
}

static void conn_close(struct conn *c) {
  close(c->fd);
  free(c);
}

static void on_cqe(const struct io_uring_cqe *cqe) {
  unsigned op = (unsigned)(cqe->user_data & 3);
  int res = cqe->res;
  if (op == OP_ACCEPT) {
    if (res >= 0) {
      server_nodelay(res);
      struct conn *c = malloc(sizeof *c + (size_t)flags.buffer_size);
      if (!c) close(res);
      else { c->fd = res; c->len = c->off = 0; arm_recv(c); }
    } else if (res == -EINVAL && multishot) {
      multishot = 0; /* kernel without multishot accept */
      fprintf(stderr, "%s: multishot accept unavailable, re-arming accept per connection\n", PROG);
    } else if (res != -EAGAIN && res != -EINTR && res != -ECONNABORTED) {
      fprintf(stderr, "%s: accept: %s\n", PROG, strerror(-res));
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
    return;
  }
  struct conn *c = (struct conn *)(uintptr_t)(cqe->user_data & ~(uint64_t)3);
  if (op == OP_RECV) {
    if (res <= 0) { conn_close(c); return; } /* EOF or error (ECONNRESET, ...) */
    c->len = (unsigned)res;
    c->off = 0;
    arm_send(c);
  } else {
    if (res < 0) { conn_close(c); return; }
    c->off += (unsigned)res;
    if (c->off < c->len) arm_send(c);
    else arm_recv(c);
  }
}

int main(int argc, char **argv) {
  flags = server_parse(PROG, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  listen_fd = server_listen(PROG, &flags, 0);
  const char *mode = "";
  ring_init(&ring, 4096, &mode);
  arm_accept();
  ring_enter(&ring, 0);
  char detail[64];
  snprintf(detail, sizeof detail, "io_uring %s", mode);
  server_ready(listen_fd, flags.host, detail);

  for (;;) {
    ring_enter(&ring, 1);
    unsigned head = *ring.cq_head;
    unsigned tail = atomic_load_explicit((_Atomic unsigned *)ring.cq_tail, memory_order_acquire);
    while (head != tail) {
      on_cqe(&ring.cqes[head & *ring.cq_mask]);
      head++;
      if (head == tail) {
        atomic_store_explicit((_Atomic unsigned *)ring.cq_head, head, memory_order_release);
        tail = atomic_load_explicit((_Atomic unsigned *)ring.cq_tail, memory_order_acquire);
      }
    }
  }
}
