/* uring_echo: minimal single-threaded io_uring TCP echo server, the "C floor"
 * for percore's benchmarks. Raw syscalls and <linux/io_uring.h> (no liburing).
 * Multishot accept where the kernel has it (else accept re-armed per
 * connection); per connection one buffer and one op in flight: recv, then
 * send until the whole read is echoed, then recv again. */
#define _GNU_SOURCE
#include <signal.h>

#include "../common/uring.h"
#include "server_common.h"

static const char* PROG = "uring_echo";

static void ring_init(struct ring* r, unsigned entries) {
  int err = ring_setup(r, entries, 0);
  if (err) {
    fprintf(stderr, "%s: io_uring_setup: %s%s\n", PROG, strerror(-err), ring_setup_hint(-err));
    exit(1);
  }
}

/* The server never gives up on the ring: a failure here is fatal. */
static void ring_submit(struct ring* r, unsigned wait) {
  int err = ring_enter(r, wait);
  if (err) {
    fprintf(stderr, "%s: io_uring_enter: %s\n", PROG, strerror(-err));
    exit(1);
  }
}

static struct io_uring_sqe* next_sqe(struct ring* r) {
  struct io_uring_sqe* sqe = ring_sqe(r);
  if (!sqe) {
    fprintf(stderr, "%s: submission queue stuck\n", PROG);
    exit(1);
  }
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
  struct io_uring_sqe* sqe = next_sqe(&ring);
  sqe->opcode = IORING_OP_ACCEPT;
  sqe->fd = listen_fd;
  sqe->accept_flags = SOCK_CLOEXEC;
  if (multishot) sqe->ioprio = IORING_ACCEPT_MULTISHOT;
  sqe->user_data = OP_ACCEPT;
}

static void arm_recv(struct conn* c) {
  struct io_uring_sqe* sqe = next_sqe(&ring);
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = c->fd;
  sqe->addr = (uint64_t)(uintptr_t)c->buf;
  sqe->len = (unsigned)flags.buffer_size;
  sqe->user_data = (uint64_t)(uintptr_t)c | OP_RECV;
}

static void arm_send(struct conn* c) {
  struct io_uring_sqe* sqe = next_sqe(&ring);
  sqe->opcode = IORING_OP_SEND;
  sqe->fd = c->fd;
  sqe->addr = (uint64_t)(uintptr_t)(c->buf + c->off);
  sqe->len = c->len - c->off;
  sqe->msg_flags = MSG_NOSIGNAL;
  sqe->user_data = (uint64_t)(uintptr_t)c | OP_SEND;
}

static void conn_close(struct conn* c) {
  close(c->fd);
  free(c);
}

static void on_cqe(void* ctx, const struct io_uring_cqe* cqe) {
  (void)ctx;
  unsigned op = (unsigned)(cqe->user_data & 3);
  int res = cqe->res;
  if (op == OP_ACCEPT) {
    if (res >= 0) {
      server_nodelay(res);
      struct conn* c = malloc(sizeof *c + (size_t)flags.buffer_size);
      if (!c)
        close(res);
      else {
        c->fd = res;
        c->len = c->off = 0;
        arm_recv(c);
      }
    } else if (res == -EINVAL && multishot) {
      multishot = 0; /* kernel without multishot accept */
      fprintf(stderr, "%s: multishot accept unavailable, re-arming accept per connection\n", PROG);
    } else if (res != -EAGAIN && res != -EINTR && res != -ECONNABORTED) {
      fprintf(stderr, "%s: accept: %s\n", PROG, strerror(-res));
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
    return;
  }
  struct conn* c = (struct conn*)(uintptr_t)(cqe->user_data & ~(uint64_t)3);
  if (op == OP_RECV) {
    if (res <= 0) {
      conn_close(c);
      return;
    } /* EOF or error (ECONNRESET, ...) */
    c->len = (unsigned)res;
    c->off = 0;
    arm_send(c);
  } else {
    if (res < 0) {
      conn_close(c);
      return;
    }
    c->off += (unsigned)res;
    if (c->off < c->len)
      arm_send(c);
    else
      arm_recv(c);
  }
}

int main(int argc, char** argv) {
  flags = server_parse(PROG, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  listen_fd = server_listen(PROG, &flags, 0);
  ring_init(&ring, 4096);
  arm_accept();
  ring_submit(&ring, 0);
  char detail[64];
  snprintf(detail, sizeof detail, "io_uring %s", ring.mode);
  server_ready(listen_fd, flags.host, detail);

  for (;;) {
    ring_submit(&ring, 1);
    ring_reap(&ring, on_cqe, NULL);
  }
}
