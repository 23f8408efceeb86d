// Creating and tearing down an io_uring driver: the ring (the best setup
// flags this kernel takes), its mappings, the ops it has, the recv set.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "drivers/next_pow2.h"
#include "drivers/uring/buf_ring.h"
#include "drivers/uring/kernel_support.h"
#include "drivers/uring/uring_driver.h"

namespace percore {

int UringDriver::Setup(const UringOptions& options) {
  io_uring_params p{};
  int error = OpenRing(options.sq_entries, &p);
  if (error == 0) error = MapRings(p);
  if (error == 0) error = ProbeOps(options, p);
  if (error != 0) return error;

  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return errno;
  const int r = SysRegister(ring_fd_, IORING_REGISTER_EVENTFD, &event_fd_, 1);
  if (r < 0) return -r;
  AddFeatures(p);
  return 0;
}

// The ring, with the best flags this kernel accepts. 0 or an errno.
int UringDriver::OpenRing(uint32_t sq_entries, io_uring_params* p) {
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
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
          IORING_SETUP_SUBMIT_ALL | kCommon,
      // 5.19+: no IPI to interrupt the thread for task work.
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL | kCommon,
      IORING_SETUP_SUBMIT_ALL | kCommon,  // 5.18+
      kCommon,                            // 5.6+
  };
  int fd = -EINVAL;
  for (unsigned flags : kLadder) {
    *p = io_uring_params{};
    p->flags = flags;
    p->cq_entries = cq_entries;
    fd = SysSetup(sq_entries, p);
    if (fd != -EINVAL) break;
  }
  if (fd < 0) return -fd;
  ring_fd_ = fd;
  setup_flags_ = p->flags;
  constexpr unsigned kNeeded = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
  return (p->features & kNeeded) == kNeeded ? 0 : EOPNOTSUPP;
}

// One mapping for both rings (IORING_FEAT_SINGLE_MMAP), one for the SQEs.
int UringDriver::MapRings(const io_uring_params& p) {
  const size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  const size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  ring_map_size_ = sq_size > cq_size ? sq_size : cq_size;
  ring_map_ = mmap(nullptr, ring_map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                   ring_fd_, IORING_OFF_SQ_RING);
  if (ring_map_ == MAP_FAILED) return errno;
  sqes_map_size_ = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqes_map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                    ring_fd_, IORING_OFF_SQES);
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
  PERCORE_ASSERT(sq_kmask_ + 1 == sq_kentries_, "the kernel's SQ is a power of two");
  // The SQ index array maps ring slot i to SQE i, once and for all.
  auto* array = reinterpret_cast<unsigned*>(ring + p.sq_off.array);
  for (unsigned i = 0; i < sq_kentries_; i++) array[i] = i;
  sqe_tail_ = *sq_ktail_;

  scratch_ = std::make_unique<SqeScratch[]>(sq_kentries_);
  inflight_ = std::make_unique<Inflight[]>(memory_.op_capacity());
  return 0;
}

// Which ops this kernel has, and the recv set that follows from them.
int UringDriver::ProbeOps(const UringOptions& options, const io_uring_params& p) {
  OpProbe probe;
  if (!probe.Read(ring_fd_)) return EOPNOTSUPP;
  for (const RequiredOp& required : kRequiredOps) {
    if (!probe.Supported(required.op)) return EOPNOTSUPP;
  }
  // IORING_OP_SOCKET arrived in 5.19 together with multishot accept, which
  // has no probe bit of its own.
  multishot_accept_ = probe.Supported(IORING_OP_SOCKET);
  // Optional (5.18+): without it cross-thread wakes use the eventfd.
  msg_ring_ = options.msg_ring && probe.Supported(IORING_OP_MSG_RING);
  cqe_skip_ = (p.features & IORING_FEAT_CQE_SKIP) != 0;
  // Multishot RECV came in 6.0 with IORING_OP_SEND_ZC; a 5.19 kernel has
  // buffer rings without it, and gets the emulation, which has both.
  return SetupRecvSet(options.pbuf_ring && probe.Supported(IORING_OP_SEND_ZC));
}

void UringDriver::AddFeatures(const io_uring_params& p) {
  if (setup_flags_ & IORING_SETUP_SINGLE_ISSUER) features_.Add("single_issuer");
  if (setup_flags_ & IORING_SETUP_DEFER_TASKRUN) features_.Add("defer_taskrun");
  if (setup_flags_ & IORING_SETUP_COOP_TASKRUN) features_.Add("coop_taskrun");
  if (setup_flags_ & IORING_SETUP_TASKRUN_FLAG) features_.Add("taskrun_flag");
  if (setup_flags_ & IORING_SETUP_SUBMIT_ALL) features_.Add("submit_all");
  if (setup_flags_ & IORING_SETUP_CQSIZE) features_.Add("cqsize");
  if (multishot_accept_) features_.Add("multishot_accept");
  if (memory_.provide_count() > 0) {
    features_.Add(pbuf_ring_ ? "pbuf_ring" : "recv_select_emulated");
  }
  if (msg_ring_) features_.Add("msg_ring");
  if (cqe_skip_) features_.Add("cqe_skip");
  if (p.features & IORING_FEAT_FAST_POLL) features_.Add("fast_poll");
  features_.Add("nodrop");
  features_.Add("ext_arg");
}

// The recv set's pick set: a buffer ring in memory the host maps (page
// aligned, as the kernel requires), registered as kBufferGroup, with one
// entry per recv-set buffer at most (the provide ring's size). Refused by
// kernels before 5.19 (EINVAL), not tried before 6.0 (no multishot RECV),
// or turned off with the driver option `pbufRing: false` (tests,
// comparisons): then the host emulates buffer selection. Returns 0 or an
// errno that fails the setup (ENOMEM).
int UringDriver::SetupRecvSet(bool pbuf_ring) {
  const uint32_t count = memory_.provide_count();
  // Emulated ops polled again (select RECVs without a buffer ring, SPLICEs):
  // one entry per op slot at most.
  rearm_ = std::make_unique<uint32_t[]>(memory_.op_capacity());
  if (count == 0) return 0;
  if (pbuf_ring) {
    const uint32_t entries = NextPow2(count);
    buf_ring_size_ = PageAligned(entries * sizeof(io_uring_buf));
    void* ring =
        mmap(nullptr, buf_ring_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED) return ENOMEM;
    if (RegisterBufRing(ring_fd_, ring, entries) == 0) {
      buf_ring_ = static_cast<io_uring_buf_ring*>(ring);
      buf_ring_mask_ = entries - 1;
      buf_tail_ = 0;  // the kernel starts an empty ring at head 0
      pbuf_ring_ = true;
    } else {
      munmap(ring, buf_ring_size_);
    }
  }
  pick_set_.Init(count, /*host_picks=*/!pbuf_ring_);
  return 0;
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
    if (ring_fd_ >= 0) UnregisterBufRing(ring_fd_);
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
  // CLOSEs the kernel took and never answered: their numbers are closed or
  // about to be, so the claims held until their CQEs (submit.cc) go too.
  bool msg_in_flight = false;
  if (inflight_) {
    for (uint32_t slot = 0; slot < memory_.op_capacity(); slot++) {
      const Inflight& op = inflight_[slot];
      if (op.id != 0 && op.opcode == layout::kOpClose) fds_.EndClose(op.fd);
      msg_in_flight |=
          op.id != 0 && (op.opcode == layout::kOpRecvmsg || op.opcode == layout::kOpSendmsg);
    }
  }
  // The ring is torn down asynchronously: a RECVMSG the kernel is finishing
  // may still write a source address into its header. Those headers are
  // never freed then (a bounded leak, once per driver) rather than reused.
  if (msg_in_flight) (void)msg_slots_.release();
  fds_.CloseAll();
}

std::unique_ptr<Driver> CreateUringDriver(const CoreMemory& memory, const UringOptions& options,
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
