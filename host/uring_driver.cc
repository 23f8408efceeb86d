// io_uring backend. No liburing: the three system calls, the mmap'd rings and
// one small prep_* helper per operation, named after liburing's.
//
// Kernel user_data carries the op id alone, so a CANCEL can name its target
// exactly. What the reaper needs to know about an op (its opcode: ACCEPT's
// fd must be recorded, TIMEOUT's -ETIME reported as 0) is kept in a
// fixed table indexed by the id's slot, filled when the SQE is submitted and
// cleared by the op's final CQE. The core frees a slot only after that final
// CQE, so one table entry per slot is enough.
//
// Op ids fit 32 bits (the core's ids are positive i32s, INTERNAL_ID is
// 0xFFFFFFFF), so a user_data with any of its upper 32 bits set is the
// host's own: the cross-thread wakes of threads.h, never copied into the core.
#include "uring_driver.h"

#include <linux/io_uring.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "sockets.h"

namespace percore {

namespace {

namespace L = layout;

int SysSetup(unsigned entries, io_uring_params* p) {
  long r = syscall(__NR_io_uring_setup, entries, p);
  return r < 0 ? -errno : static_cast<int>(r);
}

int SysEnter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags,
             const void* arg, size_t arg_size) {
  long r = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg,
                   arg_size);
  return r < 0 ? -errno : static_cast<int>(r);
}

int SysRegister(int fd, unsigned opcode, const void* arg, unsigned nr_args) {
  long r = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
  return r < 0 ? -errno : static_cast<int>(r);
}

template <typename T>
T LoadAcquire(const T* p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
template <typename T>
void StoreRelease(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

// Data an SQE points at, which must stay put until the kernel has consumed
// the SQE (with IORING_FEAT_SUBMIT_STABLE the kernel copies it then). One per
// kernel SQ slot: a slot is not reused before the kernel has consumed it.
union SqeScratch {
  __kernel_timespec ts;
  SockAddr addr;
};

// --- one helper per operation -------------------------------------------

void prep_rw(io_uring_sqe* s, uint8_t op, int fd, const void* addr,
             uint32_t len, uint64_t offset) {
  std::memset(s, 0, sizeof *s);
  s->opcode = op;
  s->fd = fd;
  s->addr = reinterpret_cast<uintptr_t>(addr);
  s->len = len;
  s->off = offset;
}

void prep_nop(io_uring_sqe* s) { prep_rw(s, IORING_OP_NOP, -1, nullptr, 0, 0); }

void prep_accept(io_uring_sqe* s, int fd, bool multishot) {
  prep_rw(s, IORING_OP_ACCEPT, fd, nullptr, 0, 0);
  // Accepted sockets are created the way OpenSocket creates its own.
  s->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  if (multishot) s->ioprio |= IORING_ACCEPT_MULTISHOT;
}

void prep_connect(io_uring_sqe* s, int fd, const SockAddr* addr,
                  socklen_t addr_len) {
  // The address length travels in `off`, as in connect(2)'s third argument.
  prep_rw(s, IORING_OP_CONNECT, fd, addr, 0, addr_len);
}

void prep_recv(io_uring_sqe* s, int fd, void* buf, uint32_t len) {
  prep_rw(s, IORING_OP_RECV, fd, buf, len, 0);
}

// The buffer group of the recv set: one per ring.
constexpr uint16_t kBufferGroup = 0;

// RECV of at most len bytes into a buffer the kernel picks from the group
// when data arrives (IOSQE_BUFFER_SELECT): nothing is held while it waits.
// Multishot (6.0+): armed until it fails, one CQE with IORING_CQE_F_MORE per
// buffer filled; it takes no length (each receive fills at most a buffer).
void prep_recv_select(io_uring_sqe* s, int fd, uint32_t len, bool multishot) {
  prep_rw(s, IORING_OP_RECV, fd, nullptr, multishot ? 0 : len, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kBufferGroup;
  if (multishot) s->ioprio |= IORING_RECV_MULTISHOT;
}

// The emulation of prep_recv_select without PBUF_RING: wait for readability.
void prep_poll_in(io_uring_sqe* s, int fd) {
  prep_rw(s, IORING_OP_POLL_ADD, fd, nullptr, 0, 0);
  s->poll32_events = POLLIN;
}

void prep_send(io_uring_sqe* s, int fd, const void* buf, uint32_t len) {
  prep_rw(s, IORING_OP_SEND, fd, buf, len, 0);
  // A peer that reset the connection must yield -EPIPE, not kill the process.
  s->msg_flags = MSG_NOSIGNAL;
}

void prep_read(io_uring_sqe* s, int fd, void* buf, uint32_t len,
               uint64_t offset) {
  // offset all ones = the file's current position (IORING_FEAT_RW_CUR_POS),
  // which is also the layout's encoding.
  prep_rw(s, IORING_OP_READ, fd, buf, len, offset);
}

void prep_write(io_uring_sqe* s, int fd, const void* buf, uint32_t len,
                uint64_t offset) {
  prep_rw(s, IORING_OP_WRITE, fd, buf, len, offset);
}

void prep_close(io_uring_sqe* s, int fd) {
  prep_rw(s, IORING_OP_CLOSE, fd, nullptr, 0, 0);
}

void prep_shutdown(io_uring_sqe* s, int fd, int how) {
  prep_rw(s, IORING_OP_SHUTDOWN, fd, nullptr, static_cast<uint32_t>(how), 0);
}

void prep_timeout(io_uring_sqe* s, const __kernel_timespec* ts) {
  // count (off) 0: a pure timer, not "after n completions"; relative,
  // CLOCK_MONOTONIC.
  prep_rw(s, IORING_OP_TIMEOUT, -1, ts, 1, 0);
}

void prep_cancel(io_uring_sqe* s, uint64_t user_data) {
  prep_rw(s, IORING_OP_ASYNC_CANCEL, -1, nullptr, 0, 0);
  s->addr = user_data;
}

// IORING_MSG_DATA (addr 0): the target ring gets a CQE with user_data =
// `off` and res = `len`, as if one of its own requests had completed.
void prep_msg_ring(io_uring_sqe* s, int ring_fd, uint64_t target_user_data,
                   uint32_t res) {
  prep_rw(s, IORING_OP_MSG_RING, ring_fd, nullptr, res, target_user_data);
}

// --- host-made user_data (upper 32 bits non-zero: never an op id) ------------

// A wake another thread posted into this ring ("PRCW"); its res is 0.
constexpr uint64_t kWakeTag = 0x50524357ull << 32;
// A wake this driver sent ("PRCS"), the token in the low bits. Its own CQE
// comes only if it failed when IOSQE_CQE_SKIP_SUCCESS is available: then the
// wake is redone through the eventfd. (IORING_MSG_RING_CQE_SKIP is not the
// flag for this: it suppresses the *target's* CQE, for MSG_SEND_FD only.)
constexpr uint64_t kSentTag = 0x50524353ull << 32;

bool IsHostTag(uint64_t user_data) { return (user_data >> 32) != 0; }

// --- setup ----------------------------------------------------------------

uint32_t NextPow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

const char* SetupHint(int error) {
  switch (error) {
    case EPERM:
      return "io_uring is not permitted: a seccomp profile forbids it (Docker's "
             "and containerd's defaults do), or sysctl kernel.io_uring_disabled "
             "is 2 (or 1 and this user is not in kernel.io_uring_group)";
    case ENOSYS:
      return "this kernel has no io_uring (CONFIG_IO_URING off, or a seccomp "
             "filter answering ENOSYS)";
    case ENOMEM:
      return "not enough locked memory for the rings: raise the memlock limit "
             "(ulimit -l) or ask for fewer entries";
    case EMFILE:
    case ENFILE:
      return "too many open files to create the ring";
    case EINVAL:
      return "the kernel rejected every ring configuration tried";
    case EOPNOTSUPP:
      return "this kernel's io_uring lacks what percore needs (Linux 5.11 or "
             "newer: EXT_ARG, SHUTDOWN, SEND/RECV)";
    default:
      return "io_uring setup failed";
  }
}

// Whether an IORING_REGISTER_PROBE answer says the kernel has `op`.
bool OpSupported(const io_uring_probe* probe, uint8_t op) {
  return op <= probe->last_op && op < probe->ops_len &&
         (probe->ops[op].flags & IO_URING_OP_SUPPORTED) != 0;
}

// The ops the driver submits; each must be supported (probe).
constexpr uint8_t kRequiredOps[] = {
    IORING_OP_NOP,  IORING_OP_ACCEPT, IORING_OP_CONNECT,  IORING_OP_RECV,
    IORING_OP_SEND, IORING_OP_READ,   IORING_OP_WRITE,    IORING_OP_CLOSE,
    IORING_OP_SHUTDOWN, IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL};

struct Inflight {
  uint32_t id;  // 0: free (ids have a non-zero generation)
  uint8_t opcode;
  bool select;     // a buffer-select RECV (without PBUF_RING: a POLL_ADD first)
  bool multishot;  // select: stays armed, one CQE with MORE per buffer filled
  int32_t fd;      // select: the socket and the most to receive
  uint32_t len;
};

// A registered buffer ring's entries, as the kernel reads them: entry i at
// byte 16 * i from the ring's start. Not `&ring->bufs[i]`: <linux/io_uring.h>
// declares `bufs` with __DECLARE_FLEX_ARRAY, whose empty struct member has
// size 1 in C++ (0 only in C), so in C++ `bufs` lands at offset 8 and every
// entry written through it would sit 8 bytes past where the kernel looks
// (each buffer-select RECV then answers -ENOBUFS). The ring's tail (offset 14)
// overlaps entry 0's `resv`, as the kernel defines it: entries are written
// field by field, never whole, so the tail is never overwritten.
io_uring_buf* BufRingEntries(io_uring_buf_ring* ring) {
  return reinterpret_cast<io_uring_buf*>(ring);
}
static_assert(sizeof(io_uring_buf) == 16, "the kernel's buffer ring entry is 16 bytes");
static_assert(offsetof(io_uring_buf_ring, tail) == offsetof(io_uring_buf, resv),
              "the ring's tail overlaps entry 0's resv");

// Registers a buffer ring of `entries` (a power of two) at `ring` as group
// kBufferGroup. 0 or -errno (-EINVAL before 5.19).
int RegisterBufRing(int ring_fd, void* ring, uint32_t entries) {
  std::memset(ring, 0, entries * sizeof(io_uring_buf));  // tail 0, as the kernel's head
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(ring);
  reg.ring_entries = entries;
  reg.bgid = kBufferGroup;
  return SysRegister(ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1);
}

size_t PageAligned(size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

// Whether ring `fd` accepts a buffer ring (5.19+): registers a one-entry ring
// and drops it. Registration success is the answer; the ring works when it
// registers (see BufRingEntries for the one way it seemed not to).
bool CanRegisterBufRing(int fd) {
  const size_t page = PageAligned(1);
  void* ring = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED) return false;
  const bool ok = RegisterBufRing(fd, ring, 1) == 0;
  if (ok) {
    io_uring_buf_reg reg{};
    reg.bgid = kBufferGroup;
    SysRegister(fd, IORING_UNREGISTER_PBUF_RING, &reg, 1);
  }
  munmap(ring, page);
  return ok;
}

class UringDriver final : public Driver, public RingMessenger {
 public:
  explicit UringDriver(const CoreMemory& memory) : Driver(memory) {}
  ~UringDriver() override { Close(); }

  int Setup(const UringOptions& options);

  const char* name() const override { return "io_uring"; }
  const FeatureList& features() const override { return features_; }
  uint32_t Flush() override;
  uint32_t Wake() override;
  uint32_t Poll(int32_t wait_ms) override;
  bool CompletionsPending() const override;
  int wake_fd() const override { return event_fd_; }
  void Close() override;
  bool closed() const override { return closed_; }

  int wake_ring_fd() const override { return msg_ring_ && !closed_ ? ring_fd_ : -1; }
  RingMessenger* messenger() override { return msg_ring_ && !closed_ ? this : nullptr; }
  uint32_t TakeRingWakes() override {
    const uint32_t n = ring_wakes_;
    ring_wakes_ = 0;
    return n;
  }
  bool RingWakesPending() const override { return ring_wakes_ > 0; }
  int32_t PostWake(int ring_fd, int32_t token) override;

 private:
  uint32_t TakeSqes();
  int32_t Prep(io_uring_sqe* k, SqeScratch* scratch, const Sqe& sqe);
  int Enter(unsigned min_complete, unsigned flags, const __kernel_timespec* ts);
  uint32_t Reap();
  void HostCqe(const io_uring_cqe& cqe);
  bool NeedGetEvents() const;
  uint32_t CqReady() const { return LoadAcquire(cq_ktail_) - *cq_khead_; }
  void DrainWakeFd();
  int SetupRecvSet(bool pbuf_ring);
  void TakeProvided();
  uint32_t SelectFlags(uint32_t kernel_flags, int32_t* res);
  bool EmulateRecv(const Inflight& op, int32_t* res, uint32_t* flags);
  uint32_t EmulateRecvs(Inflight& op, int32_t poll_res, uint32_t room);
  void SubmitRearms();

  int ring_fd_ = -1;
  int event_fd_ = -1;
  bool closed_ = false;
  unsigned setup_flags_ = 0;
  bool multishot_accept_ = false;
  bool msg_ring_ = false;  // IORING_OP_MSG_RING probed and not turned off
  bool cqe_skip_ = false;  // IOSQE_CQE_SKIP_SUCCESS (IORING_FEAT_CQE_SKIP)
  uint32_t ring_wakes_ = 0;  // MSG_RING wakes reaped, not yet taken
  // Wake drained the eventfd after reaping (see Wake): until the next Wake,
  // deferred completions count as pending.
  bool recheck_ = false;
  // CQEs TakeSqes wrote itself (failed checks): no eventfd announces them.
  bool self_completed_ = false;
  uint32_t flush_written_ = 0;

  void* ring_map_ = MAP_FAILED;
  size_t ring_map_size_ = 0;
  io_uring_sqe* sqes_ = static_cast<io_uring_sqe*>(MAP_FAILED);
  size_t sqes_map_size_ = 0;

  unsigned* sq_khead_ = nullptr;
  unsigned* sq_ktail_ = nullptr;
  unsigned* sq_kflags_ = nullptr;
  unsigned sq_kmask_ = 0;
  unsigned sq_kentries_ = 0;
  unsigned sqe_tail_ = 0;  // local tail, published by Enter

  unsigned* cq_khead_ = nullptr;
  unsigned* cq_ktail_ = nullptr;
  unsigned cq_kmask_ = 0;
  io_uring_cqe* cqes_ = nullptr;

  std::unique_ptr<SqeScratch[]> scratch_;
  std::unique_ptr<Inflight[]> inflight_;
  FeatureList features_;

  // The recv set (layout v2). With PBUF_RING the kernel picks from buf_ring_;
  // without it the host does, from spare_ (LIFO: the warmest buffer first).
  // in_set_[i]: recv-set buffer i is in the pick set (taken from the provide
  // ring, not yet named by a CQE); an index the core pushes twice is ignored,
  // so neither set can overflow whatever the core writes.
  bool pbuf_ring_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_size_ = 0;
  uint32_t buf_ring_mask_ = 0;
  uint16_t buf_tail_ = 0;
  std::unique_ptr<bool[]> in_set_;
  std::unique_ptr<uint32_t[]> spare_;
  uint32_t spare_count_ = 0;
  // Emulated select RECVs whose poll found nothing to read: polled again.
  std::unique_ptr<uint32_t[]> rearm_;
  uint32_t rearm_count_ = 0;
};

int UringDriver::Setup(const UringOptions& options) {
  const uint32_t sq_entries = options.sq_entries;
  // The kernel CQ holds every completion the core's CQ may not have room for
  // yet: at least one per op and one per cancel (the core's SQ size), and
  // twice our SQ like the kernel's default. Beyond that IORING_FEAT_NODROP
  // keeps overflowing CQEs (multishot) in the kernel until we reap.
  uint32_t cq_entries = NextPow2(2 * sq_entries);
  if (cq_entries < memory_.sq_entries()) cq_entries = memory_.sq_entries();
  if (cq_entries < memory_.cq_entries()) cq_entries = memory_.cq_entries();

  // Best first; each step drops what an older kernel rejects with EINVAL.
  constexpr unsigned kCommon = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  constexpr unsigned kLadder[] = {
      // 6.1+: completions run only when this thread asks (GETEVENTS), so the
      // kernel never interrupts JS to post them.
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
          IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL | kCommon,
      // 5.19+: no IPI to interrupt the thread for task work.
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
          IORING_SETUP_SUBMIT_ALL | kCommon,
      IORING_SETUP_SUBMIT_ALL | kCommon,  // 5.18+
      kCommon,                             // 5.6+
  };
  io_uring_params p{};
  int fd = -EINVAL;
  for (unsigned flags : kLadder) {
    p = io_uring_params{};
    p.flags = flags;
    p.cq_entries = cq_entries;
    fd = SysSetup(sq_entries, &p);
    if (fd != -EINVAL) break;
  }
  if (fd < 0) return -fd;
  ring_fd_ = fd;
  setup_flags_ = p.flags;

  constexpr unsigned kNeeded =
      IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
  if ((p.features & kNeeded) != kNeeded) return EOPNOTSUPP;

  // One mapping for both rings (IORING_FEAT_SINGLE_MMAP), one for the SQEs.
  const size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  const size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  ring_map_size_ = sq_size > cq_size ? sq_size : cq_size;
  ring_map_ = mmap(nullptr, ring_map_size_, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, ring_fd_, IORING_OFF_SQ_RING);
  if (ring_map_ == MAP_FAILED) return errno;
  sqes_map_size_ = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqes_map_size_, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, ring_fd_, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return errno;
  sqes_ = static_cast<io_uring_sqe*>(sqes);

  auto* ring = static_cast<uint8_t*>(ring_map_);
  sq_khead_ = reinterpret_cast<unsigned*>(ring + p.sq_off.head);
  sq_ktail_ = reinterpret_cast<unsigned*>(ring + p.sq_off.tail);
  sq_kflags_ = reinterpret_cast<unsigned*>(ring + p.sq_off.flags);
  sq_kmask_ = *reinterpret_cast<unsigned*>(ring + p.sq_off.ring_mask);
  sq_kentries_ = *reinterpret_cast<unsigned*>(ring + p.sq_off.ring_entries);
  cq_khead_ = reinterpret_cast<unsigned*>(ring + p.cq_off.head);
  cq_ktail_ = reinterpret_cast<unsigned*>(ring + p.cq_off.tail);
  cq_kmask_ = *reinterpret_cast<unsigned*>(ring + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(ring + p.cq_off.cqes);
  // The SQ index array maps ring slot i to SQE i, once and for all.
  auto* array = reinterpret_cast<unsigned*>(ring + p.sq_off.array);
  for (unsigned i = 0; i < sq_kentries_; i++) array[i] = i;
  sqe_tail_ = *sq_ktail_;

  scratch_ = std::make_unique<SqeScratch[]>(sq_kentries_);
  inflight_ = std::make_unique<Inflight[]>(memory_.op_capacity());

  // Which ops this kernel has. IORING_OP_SOCKET arrived in 5.19 together with
  // multishot accept, which has no probe bit of its own.
  constexpr unsigned kProbeOps = 256;
  alignas(io_uring_probe) uint8_t probe_buf[sizeof(io_uring_probe) +
                                            kProbeOps * sizeof(io_uring_probe_op)] = {};
  auto* probe = reinterpret_cast<io_uring_probe*>(probe_buf);
  if (SysRegister(ring_fd_, IORING_REGISTER_PROBE, probe, kProbeOps) < 0) {
    return EOPNOTSUPP;
  }
  auto supported = [&](uint8_t op) { return OpSupported(probe, op); };
  for (uint8_t op : kRequiredOps) {
    if (!supported(op)) return EOPNOTSUPP;
  }
  multishot_accept_ = supported(IORING_OP_SOCKET);
  // Optional (5.18+): without it cross-thread wakes use the eventfd.
  msg_ring_ = options.msg_ring && supported(IORING_OP_MSG_RING);
  cqe_skip_ = (p.features & IORING_FEAT_CQE_SKIP) != 0;

  // Multishot RECV came in 6.0 with IORING_OP_SEND_ZC; a 5.19 kernel has
  // buffer rings without it, and gets the emulation, which has both.
  const int recv_set = SetupRecvSet(options.pbuf_ring && supported(IORING_OP_SEND_ZC));
  if (recv_set != 0) return recv_set;

  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return errno;
  int r = SysRegister(ring_fd_, IORING_REGISTER_EVENTFD, &event_fd_, 1);
  if (r < 0) return -r;

  if (setup_flags_ & IORING_SETUP_SINGLE_ISSUER) features_.Add("single_issuer");
  if (setup_flags_ & IORING_SETUP_DEFER_TASKRUN) features_.Add("defer_taskrun");
  if (setup_flags_ & IORING_SETUP_COOP_TASKRUN) features_.Add("coop_taskrun");
  if (setup_flags_ & IORING_SETUP_TASKRUN_FLAG) features_.Add("taskrun_flag");
  if (setup_flags_ & IORING_SETUP_SUBMIT_ALL) features_.Add("submit_all");
  if (setup_flags_ & IORING_SETUP_CQSIZE) features_.Add("cqsize");
  if (multishot_accept_) features_.Add("multishot_accept");
  if (memory_.provide_count() > 0) features_.Add(pbuf_ring_ ? "pbuf_ring" : "recv_select_emulated");
  if (msg_ring_) features_.Add("msg_ring");
  if (cqe_skip_) features_.Add("cqe_skip");
  if (p.features & IORING_FEAT_FAST_POLL) features_.Add("fast_poll");
  features_.Add("nodrop");
  features_.Add("ext_arg");
  return 0;
}

// The recv set's pick set: a buffer ring in memory the host maps (page
// aligned, as the kernel requires), registered as kBufferGroup, with one
// entry per recv-set buffer at most (the provide ring's size). Refused by
// kernels before 5.19 (EINVAL), not tried before 6.0 (no multishot RECV),
// or turned off with the driver option
// `pbufRing: false` (tests, comparisons): then the host emulates buffer
// selection. Returns 0 or an errno that fails the setup (ENOMEM).
int UringDriver::SetupRecvSet(bool pbuf_ring) {
  const uint32_t count = memory_.provide_count();
  if (count == 0) return 0;
  in_set_ = std::make_unique<bool[]>(count);
  rearm_ = std::make_unique<uint32_t[]>(memory_.op_capacity());
  if (pbuf_ring) {
    const uint32_t entries = NextPow2(count);
    buf_ring_size_ = PageAligned(entries * sizeof(io_uring_buf));
    void* ring = mmap(nullptr, buf_ring_size_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED) return ENOMEM;
    if (RegisterBufRing(ring_fd_, ring, entries) == 0) {
      buf_ring_ = static_cast<io_uring_buf_ring*>(ring);
      buf_ring_mask_ = entries - 1;
      buf_tail_ = 0;  // the kernel starts an empty ring at head 0
      pbuf_ring_ = true;
      return 0;
    }
    munmap(ring, buf_ring_size_);
  }
  spare_ = std::make_unique<uint32_t[]>(count);
  return 0;
}

// Moves what the core provided into the pick set. Each index is checked (in
// the recv set, not already in the pick set) before the kernel sees a
// pointer made from it. With PBUF_RING: one entry each, then one
// release-store of the ring's tail; no system call.
void UringDriver::TakeProvided() {
  uint32_t n = memory_.ProvidePending();
  if (n == 0) return;
  const uint32_t count = memory_.provide_count();
  const uint16_t tail_before = buf_tail_;
  for (; n > 0; n--) {
    const uint32_t index = memory_.PeekProvide();
    memory_.ConsumeProvide();
    if (index >= count || in_set_[index]) continue;  // a core bug: ignore it
    in_set_[index] = true;
    if (!pbuf_ring_) {
      spare_[spare_count_++] = index;
      continue;
    }
    // Field by field: entry 0's resv is the ring's tail (BufRingEntries).
    io_uring_buf& entry = BufRingEntries(buf_ring_)[buf_tail_ & buf_ring_mask_];
    entry.addr = reinterpret_cast<uintptr_t>(memory_.At(memory_.BufferOffset(index)));
    entry.len = memory_.buffer_size();
    entry.bid = static_cast<uint16_t>(index);
    buf_tail_++;
  }
  memory_.PublishProvideHead();
  if (buf_tail_ != tail_before) StoreRelease(&buf_ring_->tail, buf_tail_);
}

// The layout's flags for a select RECV's CQE: CQE_F_BUFFER and the buffer's
// index when the kernel names one of ours. A name we did not give it cannot
// happen; it is reported as -EFAULT rather than passed on.
uint32_t UringDriver::SelectFlags(uint32_t kernel_flags, int32_t* res) {
  if ((kernel_flags & IORING_CQE_F_BUFFER) == 0) return 0;
  const uint32_t bid = kernel_flags >> IORING_CQE_BUFFER_SHIFT;
  if (bid >= memory_.provide_count() || !in_set_[bid]) {
    *res = -EFAULT;
    return 0;
  }
  in_set_[bid] = false;
  return L::kCqeFBuffer | (bid << L::kCqeBufferShift);
}

// An emulated select RECV whose POLL_ADD completed: receive now into a buffer
// of the pick set. False when the socket had nothing after all (the poll is
// re-armed and no CQE is written).
bool UringDriver::EmulateRecv(const Inflight& op, int32_t* res, uint32_t* flags) {
  *flags = 0;
  if (*res < 0) return true;  // the poll failed or was cancelled: no buffer used
  if (spare_count_ == 0) {
    *res = -ENOBUFS;
    return true;
  }
  const uint32_t index = spare_[spare_count_ - 1];
  ssize_t r;
  do {
    r = ::recv(op.fd, memory_.At(memory_.BufferOffset(index)), op.len, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  if (r <= 0) {
    *res = r == 0 ? 0 : -errno;  // the buffer stays in the set
    return true;
  }
  spare_count_--;
  in_set_[index] = false;
  *res = static_cast<int32_t>(r);
  *flags = L::kCqeFBuffer | (index << L::kCqeBufferShift);
  return true;
}

// The POLL_ADD of an emulated select RECV completed with `poll_res`: receives
// while data and buffers last, writing at most `room` CQEs (room > 0): one
// with MORE per buffer filled for a multishot, then the final one (EOF, an
// error, -ENOBUFS), or none while the op stays armed. With nothing to read
// (a spurious wake-up, or a multishot that drained the socket) or no room
// left the poll is submitted again. Returns the CQEs written.
uint32_t UringDriver::EmulateRecvs(Inflight& op, int32_t poll_res, uint32_t room) {
  const uint32_t id = op.id;
  uint32_t written = 0;
  for (;;) {
    if (written == room) break;
    int32_t res = poll_res;
    uint32_t flags = 0;
    if (!EmulateRecv(op, &res, &flags)) break;
    if (op.multishot && res > 0) {
      memory_.PushCqe(id, res, flags | L::kCqeFMore);
      written++;
      // A short receive drained the socket: wait for the next poll rather
      // than try a recv that answers EAGAIN (and, as the kernel's multishot
      // does, end with -ENOBUFS only when data comes with no buffer left).
      if (static_cast<uint32_t>(res) < op.len) break;
      continue;
    }
    op.id = 0;
    memory_.PushCqe(id, res, flags);
    return written + 1;
  }
  rearm_[rearm_count_++] = id & L::kSlotMask;  // at most one per slot
  return written;
}

// Polls again for the emulated RECVs that found nothing to read.
void UringDriver::SubmitRearms() {
  uint32_t done = 0;
  for (; done < rearm_count_; done++) {
    if (sqe_tail_ - LoadAcquire(sq_khead_) == sq_kentries_) {
      Enter(0, 0, nullptr);
      if (sqe_tail_ - LoadAcquire(sq_khead_) == sq_kentries_) break;
    }
    const Inflight& op = inflight_[rearm_[done]];
    const unsigned slot = sqe_tail_ & sq_kmask_;
    prep_poll_in(&sqes_[slot], op.fd);
    sqes_[slot].user_data = op.id;
    sqe_tail_++;
  }
  // Keep what did not fit, in order: CompletionsPending asks for a turn.
  uint32_t kept = 0;
  for (uint32_t i = done; i < rearm_count_; i++) rearm_[kept++] = rearm_[i];
  rearm_count_ = kept;
}

void UringDriver::Close() {
  if (closed_) return;
  closed_ = true;
  // Closing the ring makes the kernel cancel everything in flight; it holds
  // its own references to the files involved, so the owned fds can go after.
  if (ring_fd_ >= 0 && event_fd_ >= 0) {
    SysRegister(ring_fd_, IORING_UNREGISTER_EVENTFD, nullptr, 0);
  }
  if (buf_ring_ != nullptr) {
    // The ring's teardown below would drop it too; unregister first so the
    // kernel stops reading the memory before it is unmapped.
    io_uring_buf_reg reg{};
    reg.bgid = kBufferGroup;
    if (ring_fd_ >= 0) SysRegister(ring_fd_, IORING_UNREGISTER_PBUF_RING, &reg, 1);
    munmap(buf_ring_, buf_ring_size_);
    buf_ring_ = nullptr;
  }
  if (sqes_ != MAP_FAILED) munmap(sqes_, sqes_map_size_);
  if (ring_map_ != MAP_FAILED) munmap(ring_map_, ring_map_size_);
  sqes_ = static_cast<io_uring_sqe*>(MAP_FAILED);
  ring_map_ = MAP_FAILED;
  if (ring_fd_ >= 0) ::close(ring_fd_);
  if (event_fd_ >= 0) ::close(event_fd_);
  ring_fd_ = event_fd_ = -1;
  fds_.CloseAll();
}

// --- submission -------------------------------------------------------------

int32_t UringDriver::Prep(io_uring_sqe* k, SqeScratch* scratch, const Sqe& sqe) {
  uint8_t* base = memory_.base();
  switch (sqe.opcode) {
    case L::kOpNop:
      prep_nop(k);
      break;
    case L::kOpAccept:
      // Without kernel multishot the op completes after one connection,
      // without CQE_F_MORE: the core sees it finished and the API re-arms.
      prep_accept(k, sqe.fd, (sqe.flags & L::kSqeFMultishot) && multishot_accept_);
      break;
    case L::kOpConnect: {
      socklen_t len = DecodeAddress(base + sqe.addr, &scratch->addr);
      if (len == 0) return -EINVAL;  // record family neither 4 nor 6
      prep_connect(k, sqe.fd, &scratch->addr, len);
      break;
    }
    case L::kOpRecv:
      if ((sqe.flags & L::kSqeFBufferSelect) == 0) {
        prep_recv(k, sqe.fd, base + sqe.addr, sqe.len);
      } else if (pbuf_ring_) {
        prep_recv_select(k, sqe.fd, sqe.len, (sqe.flags & L::kSqeFMultishot) != 0);
      } else {
        prep_poll_in(k, sqe.fd);
      }
      break;
    case L::kOpSend:
      prep_send(k, sqe.fd, base + sqe.addr, sqe.len);
      break;
    case L::kOpRead:
      prep_read(k, sqe.fd, base + sqe.addr, sqe.len, sqe.arg);
      break;
    case L::kOpWrite:
      prep_write(k, sqe.fd, base + sqe.addr, sqe.len, sqe.arg);
      break;
    case L::kOpClose:
      prep_close(k, sqe.fd);
      break;
    case L::kOpShutdown:
      prep_shutdown(k, sqe.fd, static_cast<int>(sqe.aux));
      break;
    case L::kOpTimeout:
      scratch->ts.tv_sec = static_cast<int64_t>(sqe.arg / 1000000000u);
      scratch->ts.tv_nsec = static_cast<long long>(sqe.arg % 1000000000u);
      prep_timeout(k, &scratch->ts);
      break;
    case L::kOpCancel:
      prep_cancel(k, sqe.arg);
      break;
    default:
      return -EINVAL;  // CheckSqe let it through: cannot happen
  }
  k->user_data = sqe.id;
  return 0;
}

uint32_t UringDriver::TakeSqes() {
  uint32_t taken = 0;
  flush_written_ = 0;
  // Buffers first: a RECV in this batch may need one at once.
  TakeProvided();
  if (rearm_count_ > 0) SubmitRearms();
  for (uint32_t n = memory_.SqPending(); n > 0; n--) {
    const Sqe sqe = memory_.PeekSqe();
    int32_t res = CheckSqe(sqe, memory_, fds_);
    if (res == 0) {
      if (sqe_tail_ - LoadAcquire(sq_khead_) == sq_kentries_) {
        // Kernel SQ full: submit what it holds to make room.
        Enter(0, 0, nullptr);
        if (sqe_tail_ - LoadAcquire(sq_khead_) == sq_kentries_) break;
      }
      const unsigned slot = sqe_tail_ & sq_kmask_;
      res = Prep(&sqes_[slot], &scratch_[slot], sqe);
      if (res == 0) {
        sqe_tail_++;
        if (sqe.id != L::kInternalId) {
          const bool select = sqe.opcode == L::kOpRecv && (sqe.flags & L::kSqeFBufferSelect) != 0;
          const bool multishot = select && (sqe.flags & L::kSqeFMultishot) != 0;
          inflight_[sqe.id & L::kSlotMask] = Inflight{sqe.id, sqe.opcode, select, multishot, sqe.fd, sqe.len};
        }
        // The fd is gone for the core from here on, whatever close returns.
        if (sqe.opcode == L::kOpClose) fds_.Remove(sqe.fd);
      }
    }
    if (res != 0) {
      if (memory_.CqSpace() == 0) break;  // retried on the next flush
      memory_.PushCqe(sqe.id, res, 0);
      counters_.completed++;
      flush_written_++;
      self_completed_ = true;
    }
    memory_.ConsumeSqe();
    taken++;
  }
  memory_.PublishSqHead();
  counters_.submitted += taken;
  return taken;
}

// Publishes the local SQ tail and makes one io_uring_enter (more only when a
// kernel without SUBMIT_ALL stopped at a failing SQE). Returns the kernel's
// answer for the last call, or 0 if there was nothing to do.
int UringDriver::Enter(unsigned min_complete, unsigned flags,
                       const __kernel_timespec* ts) {
  StoreRelease(sq_ktail_, sqe_tail_);
  io_uring_getevents_arg arg{};
  const void* argp = nullptr;
  size_t arg_size = 0;
  if (ts != nullptr) {
    arg.ts = reinterpret_cast<uintptr_t>(ts);
    argp = &arg;
    arg_size = sizeof arg;
    flags |= IORING_ENTER_EXT_ARG;
  }
  int r = 0;
  for (;;) {
    const unsigned to_submit = sqe_tail_ - LoadAcquire(sq_khead_);
    if (to_submit == 0 && (flags & IORING_ENTER_GETEVENTS) == 0) return r;
    counters_.enters++;
    r = SysEnter(ring_fd_, to_submit, min_complete, flags, argp, arg_size);
    // -EBUSY/-EAGAIN: the kernel is short of CQ room or memory; what it did
    // not consume stays in its SQ for the next call. -ETIME/-EINTR: a wait
    // ended. Either way, nothing is lost.
    if (r <= 0 || static_cast<unsigned>(r) >= to_submit) return r;
    flags &= ~IORING_ENTER_GETEVENTS;  // the wait, if any, is over
    min_complete = 0;
  }
}

// --- completion -------------------------------------------------------------

bool UringDriver::NeedGetEvents() const {
  const unsigned sq_flags = LoadAcquire(sq_kflags_);
  if (sq_flags & IORING_SQ_CQ_OVERFLOW) return true;  // flush the backlog
  if ((setup_flags_ & IORING_SETUP_DEFER_TASKRUN) == 0) return false;
  // With TASKRUN_FLAG the kernel says when deferred completions wait for us.
  return (setup_flags_ & IORING_SETUP_TASKRUN_FLAG) == 0 ||
         (sq_flags & IORING_SQ_TASKRUN) != 0;
}

uint32_t UringDriver::Reap() {
  uint32_t space = memory_.CqSpace();
  unsigned head = *cq_khead_;
  const unsigned tail = LoadAcquire(cq_ktail_);
  uint32_t written = 0;
  for (; head != tail && written < space; head++) {
    const io_uring_cqe& cqe = cqes_[head & cq_kmask_];
    if (IsHostTag(cqe.user_data)) {
      HostCqe(cqe);
      continue;
    }
    const uint32_t id = static_cast<uint32_t>(cqe.user_data);
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    int32_t res = cqe.res;
    uint32_t flags = more ? L::kCqeFMore : 0;
    uint8_t opcode = L::kOpCancel;  // kInternalId: the core's own cancels
    if (id != L::kInternalId) {
      Inflight& op = inflight_[id & L::kSlotMask];
      opcode = op.id == id ? op.opcode : L::kOpCount;
      if (op.id == id && op.select) {
        if (!pbuf_ring_) {
          written += EmulateRecvs(op, res, space - written);
          continue;
        }
        flags |= SelectFlags(cqe.flags, &res);
      }
      if (!more && op.id == id) op.id = 0;
    }
    written++;
    if (opcode == L::kOpTimeout && res == -ETIME) {
      res = 0;  // the layout's TIMEOUT fires with 0
    } else if (opcode == L::kOpAccept && res >= 0 && !fds_.Add(res)) {
      // Past the table's capacity (RLIMIT_NOFILE raised after creation):
      // the driver could never let the core use it.
      ::close(res);
      res = -EMFILE;
    }
    memory_.PushCqe(id, res, flags);
  }
  StoreRelease(cq_khead_, head);
  counters_.completed += written;
  if (rearm_count_ > 0) {
    SubmitRearms();
    Enter(0, 0, nullptr);
  }
  return written;
}

void UringDriver::HostCqe(const io_uring_cqe& cqe) {
  if (cqe.user_data == kWakeTag) {
    // The caller (the loop glue) runs onWake once after this batch.
    ring_wakes_++;
    counters_.ring_wakes++;
    return;
  }
  if ((cqe.user_data & ~uint64_t{0xffffffff}) != kSentTag || cqe.res >= 0) return;
  // A MSG_RING this driver sent failed in the kernel (say, the target's CQ
  // could not take it): the eventfd still wakes that runtime, if it lives.
  WakePath path;
  percore::Wake(static_cast<int32_t>(cqe.user_data & 0x7fffffff), nullptr, &path);
  if (path == WakePath::kEventfd) counters_.wakes_eventfd++;
}

void UringDriver::DrainWakeFd() {
  uint64_t count;
  // Non-blocking; EAGAIN just means no notification was pending.
  ssize_t r = ::read(event_fd_, &count, sizeof count);
  (void)r;
}

// Called by Wake() (threads.cc) with the waker registry locked, on this
// driver's thread (the ring is SINGLE_ISSUER). Submits at once: the lock may
// be released only after the kernel consumed the SQE and so took its own
// reference to the target ring (see threads.cc). The SQE goes alone; the
// core's pending SQEs wait for the runtime's own flush.
int32_t UringDriver::PostWake(int ring_fd, int32_t token) {
  if (closed_) return -EBADF;
  if (sqe_tail_ - LoadAcquire(sq_khead_) == sq_kentries_) {
    Enter(0, 0, nullptr);
    if (sqe_tail_ - LoadAcquire(sq_khead_) == sq_kentries_) return -EBUSY;
  }
  const unsigned at = sqe_tail_;
  io_uring_sqe* k = &sqes_[at & sq_kmask_];
  prep_msg_ring(k, ring_fd, kWakeTag, 0);
  k->user_data = kSentTag | static_cast<uint32_t>(token);
  if (cqe_skip_) k->flags |= IOSQE_CQE_SKIP_SUCCESS;
  sqe_tail_++;
  Enter(0, 0, nullptr);
  // Consumed once the kernel's head has passed it.
  if (static_cast<int32_t>(LoadAcquire(sq_khead_) - (at + 1)) >= 0) return 0;
  // The kernel stopped before it (-EBUSY, -EAGAIN, or an older SQE failing
  // without SUBMIT_ALL): it must never be consumed once the lock is gone, so
  // it becomes a NOP in place (the kernel has not read it yet; only this
  // thread submits) and the caller wakes the eventfd instead.
  prep_nop(k);
  k->user_data = kSentTag;
  if (cqe_skip_) k->flags |= IOSQE_CQE_SKIP_SUCCESS;
  return -EAGAIN;
}

uint32_t UringDriver::Flush() {
  if (closed_) return 0;
  const uint32_t taken = TakeSqes();
  Enter(0, 0, nullptr);
  return taken;
}

uint32_t UringDriver::Wake() {
  if (closed_) return 0;
  // Drain first: a completion posted after this read signals again.
  DrainWakeFd();
  self_completed_ = false;
  TakeSqes();
  // One call both submits and, with DEFER_TASKRUN, runs the completions the
  // kernel deferred to this thread.
  Enter(0, NeedGetEvents() ? IORING_ENTER_GETEVENTS : 0, nullptr);
  const uint32_t written = flush_written_ + Reap();
  recheck_ = ring_wakes_ > 0;
  if (recheck_) {
    // A MSG_RING from another thread reaches a DEFER_TASKRUN ring as task
    // work, which signals the eventfd, and signals it again when this Enter
    // posts its CQE: drain that second signal here rather than pay a loop
    // round for it. What arrived in between is not lost: the kernel sets
    // IORING_SQ_TASKRUN (or posts a CQE) before it signals, and
    // CompletionsPending looks at both until the next Wake.
    DrainWakeFd();
  }
  return written;
}

uint32_t UringDriver::Poll(int32_t wait_ms) {
  if (closed_) return 0;
  DrainWakeFd();
  self_completed_ = false;
  TakeSqes();
  const uint32_t written = flush_written_;
  const bool ready = written > 0 || CqReady() > 0 || memory_.CqSpace() == 0;
  if (wait_ms == 0 || ready) {
    Enter(0, NeedGetEvents() ? IORING_ENTER_GETEVENTS : 0, nullptr);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = wait_ms / 1000;
    ts.tv_nsec = static_cast<long long>(wait_ms % 1000) * 1000000;
    Enter(1, IORING_ENTER_GETEVENTS, wait_ms > 0 ? &ts : nullptr);
  }
  return written + Reap();
}

bool UringDriver::CompletionsPending() const {
  if (closed_) return false;
  return self_completed_ || CqReady() > 0 || rearm_count_ > 0 ||
         (LoadAcquire(sq_kflags_) & IORING_SQ_CQ_OVERFLOW) != 0 ||
         (recheck_ && NeedGetEvents());
}

}  // namespace

void ProbeUring(UringProbe* out) {
  *out = UringProbe{};
  // The smallest ring with no setup flags: whatever refuses this (seccomp,
  // io_uring_disabled, no kernel support, memlock) refuses every ring.
  io_uring_params p{};
  const int fd = SysSetup(2, &p);
  if (fd < 0) {
    out->error = -fd;
    out->hint = SetupHint(-fd);
    return;
  }
  constexpr unsigned kProbeOps = 256;
  alignas(io_uring_probe) uint8_t probe_buf[sizeof(io_uring_probe) +
                                            kProbeOps * sizeof(io_uring_probe_op)] = {};
  auto* probe = reinterpret_cast<io_uring_probe*>(probe_buf);
  const int r = SysRegister(fd, IORING_REGISTER_PROBE, probe, kProbeOps);
  out->pbuf_ring = r >= 0 && CanRegisterBufRing(fd);
  ::close(fd);
  if (r < 0) {
    // IORING_REGISTER_PROBE arrived in 5.6, before several required ops.
    out->error = EOPNOTSUPP;
    out->hint = SetupHint(EOPNOTSUPP);
    std::strncpy(out->missing, "REGISTER_PROBE", sizeof out->missing - 1);
    return;
  }
  static constexpr struct {
    uint8_t op;
    const char* name;
  } kNamed[] = {
      {IORING_OP_NOP, "NOP"},          {IORING_OP_ACCEPT, "ACCEPT"},
      {IORING_OP_CONNECT, "CONNECT"},  {IORING_OP_RECV, "RECV"},
      {IORING_OP_SEND, "SEND"},        {IORING_OP_READ, "READ"},
      {IORING_OP_WRITE, "WRITE"},      {IORING_OP_CLOSE, "CLOSE"},
      {IORING_OP_SHUTDOWN, "SHUTDOWN"}, {IORING_OP_TIMEOUT, "TIMEOUT"},
      {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}};
  static_assert(sizeof kNamed / sizeof kNamed[0] ==
                sizeof kRequiredOps / sizeof kRequiredOps[0]);
  size_t used = 0;
  for (const auto& named : kNamed) {
    if (OpSupported(probe, named.op)) continue;
    const size_t len = std::strlen(named.name);
    if (used + len + 2 > sizeof out->missing) break;
    if (used > 0) out->missing[used++] = ' ';
    std::memcpy(out->missing + used, named.name, len);
    used += len;
  }
  out->msg_ring = OpSupported(probe, IORING_OP_MSG_RING);
  if (used > 0) {
    out->error = EOPNOTSUPP;
    out->hint = SetupHint(EOPNOTSUPP);
  }
}

std::unique_ptr<Driver> CreateUringDriver(const CoreMemory& memory,
                                          const UringOptions& options,
                                          UringSetupError* error) {
  auto driver = std::make_unique<UringDriver>(memory);
  const int err = driver->Setup(options);
  if (err != 0) {
    error->error = err;
    error->hint = SetupHint(err);
    return nullptr;  // ~UringDriver releases what Setup got
  }
  return driver;
}

}  // namespace percore
