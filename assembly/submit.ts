// Every way an op starts (submit*, timerStart) and the two ways the program
// can give up on one (cancel, abandon). Each export validates all of its
// arguments before it takes a slot, so a refused call changes nothing.
import {
  ADDR_RECORD_SIZE, FSYNC_F_DATASYNC, INTERNAL_ID, OP_ACCEPT, OP_CANCEL, OP_CLOSE, OP_CONNECT, OP_FSYNC,
  OP_NOP, OP_OPENAT, OP_READ, OP_RECV, OP_RECVMSG, OP_SEND, OP_SENDMSG, OP_SHUTDOWN, OP_STATX, OP_TIMEOUT,
  OP_TIMER, OP_WRITE, SENDMSG_TO, MSG_FDS, OP_SPLICE_IN, OP_SPLICE_OUT,
  OP_LINKAT, OP_MKDIRAT, OP_RENAMEAT, OP_SYMLINKAT, OP_UNLINKAT, OPEN_F_ALL, OPEN_MODE_MAX, PATH_MAX_LEN,
  SQE_F_BUFFER_SELECT, SQE_F_MULTISHOT, STATX_SIZE, UNLINK_F_DIR, FALLOC_F_ALL, OP_FALLOCATE,
} from "./layout";
import { EBADF, ECANCELED, EINVAL, ENOBUFS, ENOENT, ENOSPC } from "./errno";
import { addrRecords, addrStaging, bufferAddress, bufferSize, initialized, provideCount } from "./regions";
import {
  FLAG_ABANDONED, FLAG_BUFFER_SELECT, FLAG_CANCEL_REQUESTED, FLAG_CANCELED_IN_QUEUE, FLAG_MULTISHOT, NO_BUFFER,
  STATE_ARMED, STATE_COMPLETED, STATE_DELIVERED, STATE_QUEUED, STATE_SUBMITTED, currentState,
  idOf, opAcquire, opRelease, resolveId, setSlotBuffer, setSlotSqIndex, slotHas, slotMark,
  slotOpcode, slotSqIndex,
} from "./ops";
import { bufferLend, checkLendable } from "./buffers";
import { NO_FD, sqPush, sqRewriteToNop } from "./queues";
import { isValidTime, tickOf, timerArm, timerDisarm, timersAdvance } from "./timers";
import { finish, forgetWaiting } from "./finish";
import { countCompleted, countSubmitted } from "./counters";
import { copyEndStarved, copyStarved } from "./copy";
import { takesPosition } from "./op-facts";

// Longest timer or kernel timeout: 2^32 - 1 ms (~49.7 days), well inside the
// wheel's range, and ms * 1e6 stays an exact integer of nanoseconds.
const MAX_DELAY_MS: f64 = 4294967295.0;
// READ/WRITE positions are exact integers up to 2^53 - 1; -1 means "current".
const MAX_POSITION: f64 = 9007199254740991.0;
const CURRENT_POSITION: u64 = 0xffffffffffffffff;

/// A slot for a new op in `state`, or -errno.
function admit(opcode: u8, state: u8): i32 {
  if (!initialized) return -EINVAL;
  const slot = opAcquire(opcode, state);
  return slot < 0 ? -ENOSPC : slot;
}

/// Writes the op's SQE, lends its buffer, and returns its id.
function issue(slot: u32, sqeFlags: u8, fd: i32, buffer: i32, addr: u32, len: u32, aux: u32, arg: u64): i32 {
  const id = idOf(slot);
  if (buffer != NO_BUFFER) {
    bufferLend(<u32>buffer);
    setSlotBuffer(slot, buffer);
  }
  setSlotSqIndex(slot, sqPush(<u32>id, slotOpcode(slot), sqeFlags, fd, addr, len, aux, arg));
  countSubmitted();
  return id;
}

/// An op whose SQE carries at most an fd and `aux`.
function submitSimple(opcode: u8, fd: i32, aux: u32, arg: u64): i32 {
  const slot = admit(opcode, STATE_QUEUED);
  if (slot < 0) return slot;
  return issue(<u32>slot, 0, fd, NO_BUFFER, 0, 0, aux, arg);
}

/// RECV, SEND, READ, WRITE, SENDMSG, RECVMSG: lend [offset, offset + len) of a
/// program-held buffer. `position` matters to READ and WRITE only; `aux`
/// SENDMSG_TO (SENDMSG only) copies the staging record into the op's own.
function submitWithBuffer(opcode: u8, fd: i32, buffer: i32, offset: i32, len: i32, position: f64, aux: u32 = 0): i32 {
  if (fd < 0) return -EBADF;
  const positioned = takesPosition(opcode);
  if (positioned && !isValidPosition(position)) return -EINVAL;
  const lendable = checkLendable(buffer, offset, len);
  if (lendable < 0) return lendable;
  const slot = admit(opcode, STATE_QUEUED);
  if (slot < 0) return slot;
  const addr = bufferAddress(<u32>buffer, <u32>offset);
  const arg = positioned ? (position == -1 ? CURRENT_POSITION : <u64>position) : 0;
  // The op's own record: the staging record is free for the next call while
  // the kernel still reads this one.
  if (opcode == OP_SENDMSG && (aux & ~MSG_FDS) == SENDMSG_TO) memory.copy(addrRecords + <usize>slot * ADDR_RECORD_SIZE, addrStaging, ADDR_RECORD_SIZE);
  return issue(<u32>slot, 0, fd, buffer, addr, <u32>len, aux, arg);
}

function isValidDelay(ms: f64): bool {
  return ms >= 0 && ms <= MAX_DELAY_MS; // false for NaN too
}

/// -1 (the current position) or an exact integer in [0, 2^53).
function isValidPosition(position: f64): bool {
  return position == -1 || (position >= 0 && position <= MAX_POSITION && floor<f64>(position) == position);
}

export function submitNop(): i32 {
  return submitSimple(OP_NOP, NO_FD, 0, 0);
}

export function submitAccept(fd: i32, multishot: i32): i32 {
  if (fd < 0) return -EBADF;
  if (multishot != 0 && multishot != 1) return -EINVAL;
  const slot = admit(OP_ACCEPT, STATE_QUEUED);
  if (slot < 0) return slot;
  if (multishot) slotMark(<u32>slot, FLAG_MULTISHOT);
  return issue(<u32>slot, multishot ? SQE_F_MULTISHOT : 0, fd, NO_BUFFER, 0, 0, 0, 0);
}

export function submitConnect(fd: i32): i32 {
  if (fd < 0) return -EBADF;
  const slot = admit(OP_CONNECT, STATE_QUEUED);
  if (slot < 0) return slot;
  // The op's own record: the staging record is free for the next set-up call
  // while the kernel still reads this one.
  const record = addrRecords + <usize>slot * ADDR_RECORD_SIZE;
  memory.copy(record, addrStaging, ADDR_RECORD_SIZE);
  return issue(<u32>slot, 0, fd, NO_BUFFER, <u32>record, ADDR_RECORD_SIZE, 0, 0);
}

export function submitRecv(fd: i32, buffer: i32, offset: i32, len: i32): i32 {
  return submitWithBuffer(OP_RECV, fd, buffer, offset, len, 0);
}

/// RECV of at most `len` bytes into a recv-set buffer the host picks when data
/// arrives: no buffer is lent until then. The final delivery carries
/// CQE_F_BUFFER and the buffer's index in its flags when bytes arrived; the
/// buffer is then the program's. -ENOBUFS when the runtime has no recv set.
/// `multishot` 1 (len must be the buffer size): the op stays armed, and each
/// buffer filled comes as a MORE delivery naming it (CQE_F_BUFFER), the
/// program's from that delivery on; the final delivery ends it.
export function submitRecvSelect(fd: i32, len: i32, multishot: i32): i32 {
  if (fd < 0) return -EBADF;
  if (len < 1 || <u32>len > bufferSize) return -EINVAL;
  // A multishot receives whole buffers (io_uring's takes no length for it).
  if (multishot != 0 && (multishot != 1 || <u32>len != bufferSize)) return -EINVAL;
  if (provideCount == 0) return -ENOBUFS;
  const slot = admit(OP_RECV, STATE_QUEUED);
  if (slot < 0) return slot;
  slotMark(<u32>slot, FLAG_BUFFER_SELECT);
  if (multishot) slotMark(<u32>slot, FLAG_MULTISHOT);
  const flags = SQE_F_BUFFER_SELECT | (multishot ? SQE_F_MULTISHOT : 0);
  return issue(<u32>slot, flags, fd, NO_BUFFER, 0, <u32>len, 0, 0);
}

export function submitSend(fd: i32, buffer: i32, offset: i32, len: i32): i32 {
  return submitWithBuffer(OP_SEND, fd, buffer, offset, len, 0);
}

/// SENDMSG (v4): one datagram from the buffer span. `to` 1 (SENDMSG_TO): to
/// the address in the staging record, copied into the op's own record (the
/// staging record is free again at once); 2 (SENDMSG_TO_NAME): to a Unix name
/// the API hands the host for this op before the flush; 0: to the connected peer.
export function submitSendMsg(fd: i32, buffer: i32, offset: i32, len: i32, to: i32): i32 {
  if ((to & ~(<i32>MSG_FDS)) < 0 || (to & ~(<i32>MSG_FDS)) > 2) return -EINVAL;
  return submitWithBuffer(OP_SENDMSG, fd, buffer, offset, len, 0, <u32>to);
}

/// RECVMSG (v4): one datagram into the buffer span. When it is delivered, the
/// op's address record holds the sender and ADDR_MSG_FLAGS says whether the
/// datagram was cut to fit (MSGF_TRUNC), as the host wrote them. `fds` 1
/// (MSG_FDS): descriptors sent with it are taken (the host owns them).
export function submitRecvMsg(fd: i32, buffer: i32, offset: i32, len: i32, fds: i32): i32 {
  if (fds != 0 && fds != 1) return -EINVAL;
  return submitWithBuffer(OP_RECVMSG, fd, buffer, offset, len, 0, fds ? MSG_FDS : 0);
}

/// SPLICE_IN / SPLICE_OUT (v4): at most `len` bytes between socket `fd` and
/// a pipe end (`pipe`), in the kernel: no buffer of the pool is involved.
/// `out` 0: socket -> pipe (its write end); 1: pipe (its read end) -> socket.
export function submitSplice(fd: i32, pipe: i32, len: i32, out: i32): i32 {
  if (fd < 0 || pipe < 0) return -EBADF;
  if (len < 1 || (out != 0 && out != 1)) return -EINVAL;
  const slot = admit(out ? OP_SPLICE_OUT : OP_SPLICE_IN, STATE_QUEUED);
  if (slot < 0) return slot;
  return issue(<u32>slot, 0, fd, NO_BUFFER, 0, <u32>len, <u32>pipe, 0);
}

export function submitRead(fd: i32, buffer: i32, offset: i32, len: i32, position: f64): i32 {
  return submitWithBuffer(OP_READ, fd, buffer, offset, len, position);
}

export function submitWrite(fd: i32, buffer: i32, offset: i32, len: i32, position: f64): i32 {
  return submitWithBuffer(OP_WRITE, fd, buffer, offset, len, position);
}

export function submitClose(fd: i32): i32 {
  if (fd < 0) return -EBADF;
  return submitSimple(OP_CLOSE, fd, 0, 0);
}

export function submitShutdown(fd: i32, how: i32): i32 {
  if (fd < 0) return -EBADF;
  if (how < 0 || how > 2) return -EINVAL;
  return submitSimple(OP_SHUTDOWN, fd, <u32>how, 0);
}

/// OPENAT of the NUL-terminated path in [offset, offset + len) of a
/// program-held buffer (len counts the NUL), lent until the delivery, whose
/// result is the new fd. `flags` are OPEN_F_* bits, `mode` at most 0o7777.
/// The core checks what it can see (the buffer, the numbers); the host checks
/// the bytes (the NUL) before the kernel reads them.
export function submitOpenat(buffer: i32, offset: i32, len: i32, flags: i32, mode: i32): i32 {
  if (flags < 0 || (<u32>flags & ~OPEN_F_ALL) != 0) return -EINVAL;
  if (mode < 0 || <u32>mode > OPEN_MODE_MAX || <u32>len > PATH_MAX_LEN) return -EINVAL;
  return submitLending(OP_OPENAT, NO_FD, buffer, offset, len, <u32>flags, <u64>mode);
}

/// FSYNC of `fd`: its data and metadata, or (datasync 1) what reading the
/// data back needs (fdatasync).
export function submitFsync(fd: i32, datasync: i32): i32 {
  if (fd < 0) return -EBADF;
  if (datasync != 0 && datasync != 1) return -EINVAL;
  return submitSimple(OP_FSYNC, fd, datasync ? FSYNC_F_DATASYNC : 0, 0);
}

/// STATX of `fd` into STATX_SIZE bytes at `offset` of a program-held buffer,
/// lent until the delivery.
export function submitStatx(fd: i32, buffer: i32, offset: i32): i32 {
  if (fd < 0) return -EBADF;
  return submitLending(OP_STATX, fd, buffer, offset, <i32>STATX_SIZE, 0, 0);
}

/// FALLOCATE of [offset, offset + length) of `fd`: allocate (mode 0), or
/// the FALLOC_F_* variants. Offset and length are exact integers below 2^53,
/// the length at least 1.
export function submitFallocate(fd: i32, mode: i32, offset: f64, length: f64): i32 {
  if (fd < 0) return -EBADF;
  if (mode < 0 || (<u32>mode & ~FALLOC_F_ALL) != 0) return -EINVAL;
  if (offset < 0 || !isValidPosition(offset) || length < 1 || !isValidPosition(length)) return -EINVAL;
  const slot = admit(OP_FALLOCATE, STATE_QUEUED);
  if (slot < 0) return slot;
  const len = <u64>length;
  return issue(<u32>slot, 0, fd, NO_BUFFER, <u32>(len >> 32), <u32>len, <u32>mode, <u64>offset);
}

/// A path operation (RENAMEAT, UNLINKAT, MKDIRAT, SYMLINKAT, LINKAT) on the
/// C string(s) in [offset, offset + len) of a program-held buffer, lent until
/// the delivery. `flags`: UNLINK_F_DIR for UNLINKAT, else 0; `mode`: MKDIRAT's,
/// else 0. The host checks the strings.
export function submitPathOp(opcode: i32, buffer: i32, offset: i32, len: i32, flags: i32, mode: i32): i32 {
  const op = <u8>opcode;
  if (opcode != op || !isPathOp(op)) return -EINVAL;
  if (flags != 0 && (op != OP_UNLINKAT || <u32>flags != UNLINK_F_DIR)) return -EINVAL;
  if (mode != 0 && (op != OP_MKDIRAT || mode < 0 || <u32>mode > OPEN_MODE_MAX)) return -EINVAL;
  if (<u32>len > 2 * PATH_MAX_LEN) return -EINVAL;
  return submitLending(op, NO_FD, buffer, offset, len, <u32>flags, <u64>mode);
}

function isPathOp(op: u8): bool {
  return op == OP_RENAMEAT || op == OP_UNLINKAT || op == OP_MKDIRAT || op == OP_SYMLINKAT || op == OP_LINKAT;
}

/// An op that lends [offset, offset + len) of a program-held buffer and
/// carries `aux` and `arg` (OPENAT, STATX).
function submitLending(opcode: u8, fd: i32, buffer: i32, offset: i32, len: i32, aux: u32, arg: u64): i32 {
  const lendable = checkLendable(buffer, offset, len);
  if (lendable < 0) return lendable;
  const slot = admit(opcode, STATE_QUEUED);
  if (slot < 0) return slot;
  return issue(<u32>slot, 0, fd, buffer, bufferAddress(<u32>buffer, <u32>offset), <u32>len, aux, arg);
}

export function submitTimeout(ms: f64): i32 {
  if (!isValidDelay(ms)) return -EINVAL;
  return submitSimple(OP_TIMEOUT, NO_FD, 0, <u64>nearest<f64>(ms * 1e6));
}

/// A timer in the core's wheel; it fires at the first reap whose now is at
/// least ceil(nowMs + delayMs) (1 ms granularity, never early).
export function timerStart(nowMs: f64, delayMs: f64): i32 {
  if (!isValidTime(nowMs) || !isValidDelay(delayMs)) return -EINVAL;
  const slot = admit(OP_TIMER, STATE_ARMED);
  if (slot < 0) return slot;
  // Bring the wheel up to now so the deadline is within one wheel range of it
  // (expired timers only move to the due list: they still fire in reap).
  timersAdvance(tickOf(nowMs));
  timerArm(<u32>slot, <u64>ceil<f64>(nowMs + delayMs));
  countSubmitted();
  return idOf(<u32>slot);
}

export function cancel(id: i32): i32 {
  const found = resolveId(id);
  if (found < 0) return -ENOENT;
  const slot = <u32>found;
  const state = currentState(slot);
  if (state == STATE_COMPLETED || state == STATE_DELIVERED) return 0;
  if (slotHas(slot, FLAG_CANCEL_REQUESTED)) return 1;
  slotMark(slot, FLAG_CANCEL_REQUESTED);
  if (state == STATE_ARMED) {
    timerDisarm(slot);
    finish(slot, -ECANCELED, 0);
  } else if (copyStarved(slot)) {
    // A relay waiting for a recv-set buffer has no SQE out to cancel.
    copyEndStarved(slot);
  } else if (state == STATE_QUEUED) {
    // The host has not seen the SQE: neutralize it in place. Its NOP
    // completion stands for the op and is delivered as -ECANCELED.
    slotMark(slot, FLAG_CANCELED_IN_QUEUE);
    sqRewriteToNop(slotSqIndex(slot), <u32>id);
  } else {
    assert(state == STATE_SUBMITTED);
    // The kernel has it: ask it to cancel. The op's own completion still
    // comes, -ECANCELED or its real result if it won the race.
    sqPush(INTERNAL_ID, OP_CANCEL, 0, NO_FD, 0, 0, 0, <u64><u32>id);
  }
  return 1;
}

export function abandon(id: i32): i32 {
  const found = resolveId(id);
  if (found < 0) return -ENOENT;
  const slot = <u32>found;
  const state = currentState(slot);
  // A delivered op is already the program's; abandoning twice is abandoning once.
  if (state == STATE_DELIVERED || slotHas(slot, FLAG_ABANDONED)) return 0;
  slotMark(slot, FLAG_ABANDONED);
  forgetWaiting(slot);
  if (state == STATE_ARMED) {
    // No completion will ever come for a timer: it ends here.
    timerDisarm(slot);
    countCompleted();
    opRelease(slot);
  } else if (copyStarved(slot)) {
    copyEndStarved(slot); // nor for a starved relay: settled as abandoned at once
  }
  return 0;
}
