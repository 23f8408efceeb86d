/* A minimal io_uring ring over raw syscalls and <linux/io_uring.h> (no
 * liburing), shared by the C io_uring echo server and the load generator.
 * Header-only so each tool stays one translation unit. Single-threaded use
 * only: the ring is set up SINGLE_ISSUER where the kernel allows it. */
#ifndef PERCORE_BENCH_URING_H
#define PERCORE_BENCH_URING_H

#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct ring {
  int fd;
  unsigned sq_entries;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  struct io_uring_sqe* sqes;
  unsigned sq_local_tail, to_submit;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_cqe* cqes;
  const char* mode; /* which set-up flags the kernel took, for the banner */
};

static inline int ring_sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags,
                                 void* arg, size_t argsz) {
  return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, arg, argsz);
}

/* Why io_uring_setup failed, in words a reader can act on. */
static inline const char* ring_setup_hint(int err) {
  return err == EPERM    ? " (io_uring forbidden: seccomp profile or kernel.io_uring_disabled)"
         : err == ENOSYS ? " (kernel without io_uring)"
         : err == ENOMEM ? " (memlock limit too low: ulimit -l)"
                         : "";
}

/* Set up a ring with `entries` SQEs and at least `cq_entries` CQEs (0: the
 * kernel's default of twice the SQEs). Tries DEFER_TASKRUN first (completions
 * are posted only inside io_uring_enter, on this thread: no interrupting task
 * work), then COOP_TASKRUN, then plain. Returns 0 or -errno. */
static int ring_setup(struct ring* r, unsigned entries, unsigned cq_entries) {
  static const struct {
    unsigned flags;
    const char* name;
  } tries[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
       "defer-taskrun"},
      {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, "coop-taskrun"},
      {0, "plain"},
  };
  struct io_uring_params p;
  int fd = -1, err = 0;
  for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
    memset(&p, 0, sizeof p);
    p.flags = tries[i].flags;
    if (cq_entries) {
      p.flags |= IORING_SETUP_CQSIZE;
      p.cq_entries = cq_entries;
    }
    fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (fd >= 0) {
      r->mode = tries[i].name;
      break;
    }
    err = errno;
    if (err != EINVAL) break;
  }
  if (fd < 0) return -err;
  r->fd = fd;
  r->sq_entries = p.sq_entries;
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_size > sq_size) sq_size = cq_size;
  unsigned char* sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                           IORING_OFF_SQ_RING);
  unsigned char* cq = single ? sq
                             : mmap(NULL, cq_size, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
  r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED) {
    err = errno;
    close(fd);
    return -err;
  }
  r->sq_head = (unsigned*)(sq + p.sq_off.head);
  r->sq_tail = (unsigned*)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned*)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned*)(sq + p.sq_off.array);
  r->cq_head = (unsigned*)(cq + p.cq_off.head);
  r->cq_tail = (unsigned*)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned*)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe*)(cq + p.cq_off.cqes);
  r->sq_local_tail = *r->sq_tail;
  r->to_submit = 0;
  return 0;
}

/* Submit what is prepared; with wait, also wait for one completion, at most
 * until `timeout_ns` from now when it is non-zero (needs IORING_ENTER_EXT_ARG,
 * 5.11+). Returns 0, or -errno for errors other than EINTR, ETIME, EAGAIN and
 * EBUSY (those just mean: reap and come back). */
static int ring_enter_timeout(struct ring* r, unsigned wait, uint64_t timeout_ns) {
  struct __kernel_timespec ts = {.tv_sec = (long long)(timeout_ns / 1000000000u),
                                 .tv_nsec = (long long)(timeout_ns % 1000000000u)};
  struct io_uring_getevents_arg arg = {.ts = (uint64_t)(uintptr_t)&ts};
  unsigned flags = wait ? IORING_ENTER_GETEVENTS : 0;
  void* argp = NULL;
  size_t argsz = 0;
  if (wait && timeout_ns) {
    flags |= IORING_ENTER_EXT_ARG;
    argp = &arg;
    argsz = sizeof arg;
  }
  for (;;) {
    int ret = ring_sys_enter(r->fd, r->to_submit, wait, flags, argp, argsz);
    if (ret >= 0) {
      r->to_submit -= (unsigned)ret < r->to_submit ? (unsigned)ret : r->to_submit;
      return 0;
    }
    if (errno == EINTR || errno == ETIME) return 0;
    if (errno == EAGAIN || errno == EBUSY) return 0; /* completions must be reaped first */
    return -errno;
  }
}

static inline int ring_enter(struct ring* r, unsigned wait) {
  return ring_enter_timeout(r, wait, 0);
}

/* The next free SQE, zeroed; submits what is queued if the ring is full.
 * NULL only if the kernel takes nothing (the caller reports it). */
static struct io_uring_sqe* ring_sqe(struct ring* r) {
  unsigned head = atomic_load_explicit((_Atomic unsigned*)r->sq_head, memory_order_acquire);
  if (r->sq_local_tail - head >= r->sq_entries) {
    ring_enter(r, 0);
    head = atomic_load_explicit((_Atomic unsigned*)r->sq_head, memory_order_acquire);
    if (r->sq_local_tail - head >= r->sq_entries) return NULL;
  }
  unsigned idx = r->sq_local_tail & *r->sq_mask;
  struct io_uring_sqe* sqe = &r->sqes[idx];
  memset(sqe, 0, sizeof *sqe);
  r->sq_array[idx] = idx;
  r->sq_local_tail++;
  r->to_submit++;
  atomic_store_explicit((_Atomic unsigned*)r->sq_tail, r->sq_local_tail, memory_order_release);
  return sqe;
}

/* Calls fn(ctx, cqe) for every completion posted so far, then returns how
 * many there were. The head is published as we go so the kernel can post
 * more while we work. */
static unsigned ring_reap(struct ring* r, void (*fn)(void* ctx, const struct io_uring_cqe* cqe),
                          void* ctx) {
  unsigned head = *r->cq_head, n = 0;
  unsigned tail = atomic_load_explicit((_Atomic unsigned*)r->cq_tail, memory_order_acquire);
  while (head != tail) {
    fn(ctx, &r->cqes[head & *r->cq_mask]);
    head++;
    n++;
    if (head == tail) {
      atomic_store_explicit((_Atomic unsigned*)r->cq_head, head, memory_order_release);
      tail = atomic_load_explicit((_Atomic unsigned*)r->cq_tail, memory_order_acquire);
    }
  }
  return n;
}

#endif
