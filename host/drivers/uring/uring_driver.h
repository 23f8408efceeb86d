// The io_uring driver's class, private to drivers/uring/: its setup
// (setup.cc), submission (submit.cc), completion (reap.cc), the recv set's
// buffer selection (recv_select.cc) and cross-thread wakes (msg_ring.cc).
//
// Kernel user_data carries the op id alone, so a CANCEL can name its target
// exactly. What the reaper needs to know about an op (is its result an fd to
// record? is it an emulated buffer-select RECV?) is kept in a fixed table
// indexed by the id's slot, filled when the SQE is submitted and cleared by
// the op's final CQE. The core frees a slot only after that final CQE, so one
// table entry per slot is enough.
//
// Op ids fit 32 bits (the core's ids are positive i32s, INTERNAL_ID is
// 0xFFFFFFFF), so a user_data with any of its upper 32 bits set is the
// host's own: the cross-thread wakes of threads/wakers.h, never copied into
// the core.
#pragma once

#include <linux/io_uring.h>
#include <sys/mman.h>

#include <cstdint>
#include <memory>

#include "drivers/driver.h"
#include "drivers/recv_set.h"
#include "drivers/uring/prep.h"
#include "drivers/uring/syscalls.h"
#include "drivers/uring/uring.h"

namespace percore {

// --- host-made user_data (upper 32 bits non-zero: never an op id) ------------

// A wake another thread posted into this ring ("PRCW"); its res is 0.
constexpr uint64_t kWakeTag = 0x50524357ull << 32;
// A wake this driver sent ("PRCS"), the token in the low bits. Its own CQE
// comes only if it failed when IOSQE_CQE_SKIP_SUCCESS is available: then the
// wake is redone through the eventfd. (IORING_MSG_RING_CQE_SKIP is not the
// flag for this: it suppresses the *target's* CQE, for MSG_SEND_FD only.)
constexpr uint64_t kSentTag = 0x50524353ull << 32;
// The cancel of an emulated select RECV's POLL_ADD whose fd was closed or
// handed off ("PRCD"); its own CQE is ignored (the RECV's final CQE comes
// from the poll's).
constexpr uint64_t kDropTag = 0x50524344ull << 32;

inline bool IsHostTag(uint64_t user_data) { return (user_data >> 32) != 0; }

// What the reaper needs to know about a submitted op, by slot.
struct Inflight {
  uint32_t id = 0;  // 0: free (ids have a non-zero generation)
  uint8_t opcode = 0;
  bool select = false;     // a buffer-select RECV (without PBUF_RING: a POLL_ADD first)
  bool multishot = false;  // select: stays armed, one CQE with MORE per buffer filled
  int32_t fd = -1;         // select: the socket and the most to receive; CLOSE: the fd
  uint32_t len = 0;
  // SPLICE_IN/OUT: polled, then spliced by the host (io_uring's own SPLICE
  // answers EAGAIN on a non-blocking socket instead of waiting); `pipe` is
  // the pipe end.
  bool splice = false;
  int32_t pipe = -1;
  // select or splice, emulated: a CLOSE, closeFd or hand-off of fd was issued. The host
  // never calls recv on the number again (the kernel may hand it to another
  // socket as soon as the close runs); the op ends with -ECANCELED.
  bool fd_gone = false;
};

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
  void FdClosing(int32_t fd) override { DropEmulatedRecvs(fd); }
  int32_t Forget(int32_t fd) override {
    if (closed_ || !fds_.Contains(fd)) return -EBADF;
    DropEmulatedRecvs(fd);
    return Driver::Forget(fd);
  }

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
  // Setup's steps (setup.cc); each returns 0 or an errno that fails it.
  int OpenRing(uint32_t sq_entries, io_uring_params* p);
  int MapRings(const io_uring_params& p);
  int ProbeOps(const UringOptions& options, const io_uring_params& p);
  void AddFeatures(const io_uring_params& p);

  // The next free kernel SQE (and its scratch), submitting what the kernel SQ
  // holds once if it is full; null when it stays full.
  io_uring_sqe* GetSqe(SqeScratch** scratch = nullptr);
  uint32_t TakeSqes();
  void RecordInflight(const Sqe& sqe);
  int32_t Prep(io_uring_sqe* k, SqeScratch* scratch, const Sqe& sqe);
  void PrepPathOp(io_uring_sqe* k, const uint8_t* path, const Sqe& sqe);
  int Enter(unsigned min_complete, unsigned flags, const __kernel_timespec* ts);
  uint32_t Reap();
  void HostCqe(const io_uring_cqe& cqe);
  bool NeedGetEvents() const;
  uint32_t CqReady() const { return LoadAcquire(cq_ktail_) - *cq_khead_; }
  void DrainWakeFd();
  int SetupRecvSet(bool pbuf_ring);
  void TakeProvided();
  void AddToBufRing(uint32_t index);
  uint32_t SelectFlags(uint32_t kernel_flags, int32_t* res);
  bool EmulateRecv(const Inflight& op, int32_t* res, uint32_t* flags);
  uint32_t EmulateRecvs(Inflight& op, int32_t poll_res, uint32_t room);
  uint32_t EmulateSplice(Inflight& op, int32_t poll_res);
  void SubmitRearms();
  void DropEmulatedRecvs(int32_t fd);

  int ring_fd_ = -1;
  int event_fd_ = -1;
  bool closed_ = false;
  unsigned setup_flags_ = 0;
  bool multishot_accept_ = false;
  bool msg_ring_ = false;    // IORING_OP_MSG_RING probed and not turned off
  bool cqe_skip_ = false;    // IOSQE_CQE_SKIP_SUCCESS (IORING_FEAT_CQE_SKIP)
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
  // without it the host does, from pick_set_'s LIFO. Either way pick_set_
  // knows which buffers were provided and not yet named by a CQE.
  bool pbuf_ring_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_size_ = 0;
  uint32_t buf_ring_mask_ = 0;
  uint16_t buf_tail_ = 0;
  RecvPickSet pick_set_;
  // Emulated select RECVs whose poll found nothing to read: polled again.
  std::unique_ptr<uint32_t[]> rearm_;
  uint32_t rearm_count_ = 0;
};

}  // namespace percore
