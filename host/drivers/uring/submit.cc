// Submission: the core's SQEs, checked, into the kernel's SQ, and one
// io_uring_enter to hand them over.
#include <cerrno>

#include "drivers/op_facts.h"
#include "drivers/uring/uring_driver.h"
#include "files.h"

namespace percore {

namespace L = layout;

io_uring_sqe* UringDriver::GetSqe(SqeScratch** scratch) {
  if (sqe_tail_ - LoadAcquire(sq_khead_) == sq_kentries_) {
    Enter(0, 0, nullptr);  // full: submit what it holds to make room
    if (sqe_tail_ - LoadAcquire(sq_khead_) == sq_kentries_) return nullptr;
  }
  const unsigned slot = sqe_tail_ & sq_kmask_;
  PERCORE_ASSERT(slot < sq_kentries_, "a kernel SQ index is masked into the ring");
  if (scratch != nullptr) *scratch = &scratch_[slot];
  return &sqes_[slot];
}

int32_t UringDriver::Prep(io_uring_sqe* k, SqeScratch* scratch, const Sqe& sqe) {
  uint8_t* base = memory_.base();
  switch (sqe.opcode) {
    case L::kOpNop: prep_nop(k); break;
    case L::kOpAccept:
      // Without kernel multishot the op completes after one connection,
      // without CQE_F_MORE: the core sees it finished and the API re-arms.
      prep_accept(k, sqe.fd, IsMultishot(sqe) && multishot_accept_);
      break;
    case L::kOpConnect: {
      socklen_t len = DecodeAddress(base + sqe.addr, &scratch->addr);
      if (len == 0) return -EINVAL;  // record family neither 4 nor 6
      prep_connect(k, sqe.fd, &scratch->addr, len);
      break;
    }
    case L::kOpRecv:
      if (!IsBufferSelect(sqe)) {
        prep_recv(k, sqe.fd, base + sqe.addr, sqe.len);
      } else if (pbuf_ring_) {
        prep_recv_select(k, sqe.fd, sqe.len, IsMultishot(sqe));
      } else {
        prep_poll_in(k, sqe.fd);
      }
      break;
    case L::kOpSend: prep_send(k, sqe.fd, base + sqe.addr, sqe.len); break;
    case L::kOpSendmsg:
    case L::kOpRecvmsg: {
      int32_t error;
      msghdr* msg = msg_slots_->Prepare(sqe, memory_, fds_, &error);
      if (msg == nullptr) return error;  // nothing staged for it, or an fd no longer owned
      if (sqe.opcode == L::kOpSendmsg) {
        prep_sendmsg(k, sqe.fd, msg);
      } else {
        prep_recvmsg(k, sqe.fd, msg);
      }
      break;
    }
    // io_uring's SPLICE on a non-blocking socket answers EAGAIN rather than
    // wait (it cannot poll): poll first, the host splices (EmulateSplice).
    case L::kOpSpliceIn: prep_poll_in(k, sqe.fd); break;
    case L::kOpSpliceOut: prep_poll_out(k, sqe.fd); break;
    case L::kOpRead: prep_read(k, sqe.fd, base + sqe.addr, sqe.len, sqe.arg); break;
    case L::kOpWrite: prep_write(k, sqe.fd, base + sqe.addr, sqe.len, sqe.arg); break;
    case L::kOpClose: prep_close(k, sqe.fd); break;
    case L::kOpShutdown: prep_shutdown(k, sqe.fd, static_cast<int>(sqe.aux)); break;
    case L::kOpTimeout:
      scratch->ts.tv_sec = static_cast<int64_t>(sqe.arg / 1000000000u);
      scratch->ts.tv_nsec = static_cast<long long>(sqe.arg % 1000000000u);
      prep_timeout(k, &scratch->ts);
      break;
    case L::kOpCancel: prep_cancel(k, sqe.arg); break;
    case L::kOpOpenat:
      prep_openat(k, AT_FDCWD, reinterpret_cast<const char*>(base + sqe.addr), OpenFlags(sqe.aux),
                  static_cast<uint32_t>(sqe.arg));
      break;
    case L::kOpFsync:
      prep_fsync(k, sqe.fd, (sqe.aux & L::kFsyncFDatasync) != 0 ? IORING_FSYNC_DATASYNC : 0);
      break;
    case L::kOpRenameat:
    case L::kOpUnlinkat:
    case L::kOpMkdirat:
    case L::kOpSymlinkat:
    case L::kOpLinkat: PrepPathOp(k, base + sqe.addr, sqe); break;
    case L::kOpFallocate:
      prep_fallocate(k, sqe.fd, FallocMode(sqe.aux), sqe.arg, FallocLength(sqe));
      break;
    case L::kOpStatx:
      // "" with AT_EMPTY_PATH: the file sqe.fd is open on.
      prep_statx(k, sqe.fd, "", AT_EMPTY_PATH, kStatxMask, base + sqe.addr);
      break;
    default: return -EINVAL;  // CheckSqe let it through: cannot happen
  }
  k->user_data = sqe.id;
  return 0;
}

// A path operation, relative to the working directory; CheckSqe made sure
// `path` holds the op's C strings.
void UringDriver::PrepPathOp(io_uring_sqe* k, const uint8_t* path, const Sqe& sqe) {
  const char* first = reinterpret_cast<const char*>(path);
  switch (sqe.opcode) {
    case L::kOpRenameat: prep_renameat(k, AT_FDCWD, first, AT_FDCWD, SecondPath(path), 0); break;
    case L::kOpUnlinkat:
      prep_unlinkat(k, AT_FDCWD, first, (sqe.aux & L::kUnlinkFDir) != 0 ? AT_REMOVEDIR : 0);
      break;
    case L::kOpMkdirat: prep_mkdirat(k, AT_FDCWD, first, static_cast<uint32_t>(sqe.arg)); break;
    case L::kOpSymlinkat: prep_symlinkat(k, first, AT_FDCWD, SecondPath(path)); break;
    default: prep_linkat(k, AT_FDCWD, first, AT_FDCWD, SecondPath(path), 0); break;
  }
}

// Remembers what the reaper must know about an op (Inflight).
void UringDriver::RecordInflight(const Sqe& sqe) {
  if (sqe.id == L::kInternalId) return;  // the core's own cancels need nothing
  const uint32_t slot = sqe.id & L::kSlotMask;
  PERCORE_ASSERT(slot < memory_.op_capacity(), "CheckSqe bounds every id's slot");
  const bool select = IsBufferSelect(sqe);
  const bool splice = IsSpliceOp(sqe.opcode);
  inflight_[slot] = Inflight{.id = sqe.id,
                             .opcode = sqe.opcode,
                             .select = select,
                             .multishot = select && IsMultishot(sqe),
                             .fd = sqe.fd,
                             .len = sqe.len,
                             .splice = splice,
                             .pipe = splice ? static_cast<int32_t>(sqe.aux) : -1};
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
      SqeScratch* scratch;
      io_uring_sqe* k = GetSqe(&scratch);
      if (k == nullptr) break;  // the kernel SQ stays full: the rest waits
      res = Prep(k, scratch, sqe);
      if (res == 0) {
        sqe_tail_++;
        RecordInflight(sqe);
        // The fd is gone for the core from here on, whatever close returns;
        // the number stays claimed (not adoptable) until the CLOSE's CQE.
        if (sqe.opcode == L::kOpClose) {
          fds_.BeginClose(sqe.fd);
          DropEmulatedRecvs(sqe.fd);
        }
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
int UringDriver::Enter(unsigned min_complete, unsigned flags, const __kernel_timespec* ts) {
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

// Polls again for the emulated RECVs that found nothing to read.
void UringDriver::SubmitRearms() {
  uint32_t done = 0;
  for (; done < rearm_count_; done++) {
    io_uring_sqe* k = GetSqe();
    if (k == nullptr) break;
    const Inflight& op = inflight_[rearm_[done]];
    // Its fd was closed or handed off: a NOP brings its final CQE
    // (EmulateRecvs ends it), and nothing polls the number again.
    if (op.fd_gone) {
      prep_nop(k);
    } else if (FactsOf(op.opcode).write_side) {
      prep_poll_out(k, op.fd);  // a SPLICE_OUT
    } else {
      prep_poll_in(k, op.fd);
    }
    k->user_data = op.id;
    sqe_tail_++;
  }
  // Keep what did not fit, in order: CompletionsPending asks for a turn.
  uint32_t kept = 0;
  for (uint32_t i = done; i < rearm_count_; i++) rearm_[kept++] = rearm_[i];
  rearm_count_ = kept;
}

uint32_t UringDriver::Flush() {
  if (closed_) return 0;
  const uint32_t taken = TakeSqes();
  Enter(0, 0, nullptr);
  return taken;
}

}  // namespace percore
