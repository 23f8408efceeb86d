// COPY: a relay from one socket to another that runs inside the core.
//
// A program that moves bytes from `from` to `to` (a proxy, an echo) would
// otherwise take two trips through JavaScript per buffer: a RECV delivered,
// a promise resolved, a SEND submitted, delivered, resolved, the next RECV
// submitted. A COPY is one op whose SQEs the core writes itself, from the
// reap that sees the previous one complete:
//
//   RECV(from, whole buffer) ──n > 0──► SEND(to, the n bytes) ──all sent──► RECV ...
//        │                                   │  └──short write──► SEND(the rest)
//        ├──0 (end of stream)──► SHUTDOWN(to, write) if COPY_F_END ──► done, 0
//        │                       else done, 0
//        └──error──► done, -errno        (SEND and SHUTDOWN errors likewise)
//
// The op is delivered once, when it ends. Its id never changes, so cancel()
// works on whichever SQE is out, and a cancel or abandon that arrives between
// two SQEs ends the relay at the next step: the core checks for one before it
// writes each SQE. One pool buffer is lent for the whole relay. Bytes it
// received but did not send when the relay ended (an error on `to`, a cancel
// between a RECV and its SEND) are still in it, at [sent, filled):
// copyInfo() tells the program where, so an ended relay loses no data.
//
// COPY_F_SELECT (with a recv set, layout v2): each RECV takes a recv-set
// buffer the host picks when data arrives, and the SEND that follows gives it
// back to the pick set, so a relay waiting for data holds no buffer at all.
// A RECV that finds the set empty (-ENOBUFS; its bytes stay in the socket)
// parks the relay on the starved list, with no SQE out, until a buffer is
// provided again: then it is re-armed, oldest first. A relay ends only on its
// own stream's events, never because the buffers ran out.
//
// The SQ bound of queues.ts still holds: a COPY writes its next SQE only from
// the CQE of its previous one, which the host had taken, so a slot never has
// more than its own SQE and one cancel SQE untaken.
//
// This file is the relay's logic and its exports; the SQEs it writes are in
// copy-sqes.ts and the starved list in copy-starved.ts, below the buffer pool
// (which wakes starved relays when it provides a buffer).
import { OP_COPY } from "./layout";
import { EBADF, ECANCELED, EINVAL, EIO, ENOBUFS, ENOENT, ENOSPC } from "./errno";
import { bufferSize, initialized, provideCount } from "./regions";
import {
  FLAG_ABANDONED, FLAG_CANCEL_REQUESTED, NO_BUFFER, STATE_QUEUED, copyFilled, copyOptions, copyPhase, copySent,
  copyTotal, idOf, opAcquire, resolveId, setCopyFds, setCopyFilled, setCopyOptions, setCopyPhase, setCopySent,
  setCopyTotal, setSlotBuffer, slotBuffer, slotHas, slotOpcode,
} from "./ops";
import { bufferLend, bufferReclaim, buffersProvided, checkLendable } from "./buffers";
import { countSubmitted } from "./counters";
import { finish } from "./finish";
import { pickFinalBuffer } from "./select";
import {
  COPY_F_END, COPY_F_SELECT, COPY_OPTIONS_MASK, PHASE_RECV, PHASE_SHUTDOWN, PHASE_STARVED, isSelect, pushRecv,
  pushSend, pushShutdown,
} from "./copy-sqes";
import { starve, unstarve } from "./copy-starved";

// copyInfo(id, what)
const INFO_TOTAL: i32 = 0; // bytes written to `to`
const INFO_UNSENT_OFFSET: i32 = 1; // where the bytes received but not sent start in the buffer
const INFO_UNSENT_LENGTH: i32 = 2; // how many there are
const INFO_PHASE: i32 = 3; // PHASE_*: which SQE was out last
const INFO_BUFFER: i32 = 4; // the pool buffer the relay holds (the program's once delivered), or -1

/// Starts a relay from `from` to `to` (they may be the same socket: an echo)
/// through program-held pool buffer `buffer`, which is lent until the relay's
/// delivery, or with COPY_F_SELECT through recv-set buffers (`buffer` must
/// then be -1). Returns the op id, or -EBADF, -EINVAL (bad buffer or
/// options), -EBUSY (buffer lent already), -ENOBUFS (COPY_F_SELECT with no
/// recv set), -ENOSPC (op table full).
export function submitCopy(from: i32, to: i32, buffer: i32, options: u32): i32 {
  if (!initialized) return -EINVAL;
  if (from < 0 || to < 0) return -EBADF;
  if ((options & ~COPY_OPTIONS_MASK) != 0) return -EINVAL;
  const select = (options & COPY_F_SELECT) != 0;
  if (select) {
    if (buffer != NO_BUFFER) return -EINVAL;
    if (provideCount == 0) return -ENOBUFS;
  } else {
    const lendable = checkLendable(buffer, 0, <i32>bufferSize);
    if (lendable < 0) return lendable;
  }
  const found = opAcquire(OP_COPY, STATE_QUEUED);
  if (found < 0) return -ENOSPC;
  const slot = <u32>found;
  if (!select) {
    bufferLend(<u32>buffer);
    setSlotBuffer(slot, buffer);
  }
  setCopyFds(slot, from, to);
  setCopyOptions(slot, options);
  setCopyTotal(slot, 0);
  setCopyFilled(slot, 0);
  setCopySent(slot, 0);
  countSubmitted();
  pushRecv(slot);
  return idOf(slot);
}

/// One SQE of the relay came back with `res` and CQE `flags`. Writes the next
/// SQE, or ends the relay with its delivery.
export function copyStep(slot: u32, res: i32, flags: u32): void {
  const phase = copyPhase(slot);
  if (phase == PHASE_RECV && isSelect(slot)) {
    res = pickFinalBuffer(slot, res, flags); // as any buffer-select RECV's final CQE
    if (res == -ENOBUFS) {
      // The data waits in the socket until a buffer comes back.
      if (stopRequested(slot)) return finish(slot, -ECANCELED, 0);
      // A buffer provided after the kernel found the set empty but before this
      // reap woke nobody (the RECV was still out): it is in the pick set by the
      // host's next flush, so receive again now. Starving here would wait for
      // another buffer to come back, which may never happen.
      if (buffersProvided() > 0) return pushRecv(slot);
      return starve(slot);
    }
  }
  if (res < 0) return finish(slot, res, 0);
  if (phase == PHASE_SHUTDOWN) return finish(slot, 0, 0);
  if (phase == PHASE_RECV) {
    if (res == 0) {
      // The whole stream was relayed: a stop asked for meanwhile comes too
      // late to matter, and the FIN is part of the result.
      if ((copyOptions(slot) & COPY_F_END) != 0) return pushShutdown(slot);
      return finish(slot, 0, 0);
    }
    if (<u32>res > bufferSize) return finish(slot, -EIO, 0); // a host bug: more than the SQE asked for
    setCopyFilled(slot, <u32>res);
    setCopySent(slot, 0);
  } else {
    const sent = copySent(slot);
    const filled = copyFilled(slot);
    // A SEND of n > 0 bytes that reports 0 or more than n would loop forever
    // or count bytes twice: neither comes from a correct host.
    if (res == 0 || <u32>res > filled - sent) return finish(slot, -EIO, 0);
    setCopySent(slot, sent + <u32>res);
    setCopyTotal(slot, copyTotal(slot) + <u64>res);
    if (isSelect(slot) && sent + <u32>res == filled) {
      // All of it is out: the buffer goes back to the pick set.
      bufferReclaim(<u32>slotBuffer(slot));
      setSlotBuffer(slot, NO_BUFFER);
    }
  }
  // The program asked to stop while this SQE was out: the relay ends here,
  // with any bytes received and not sent left in the buffer for it.
  if (stopRequested(slot)) return finish(slot, -ECANCELED, 0);
  if (copySent(slot) < copyFilled(slot)) pushSend(slot);
  else pushRecv(slot);
}

/// Where a relay stands, for the program to read while the op is live or in
/// the batch that delivered it: INFO_TOTAL, INFO_UNSENT_OFFSET,
/// INFO_UNSENT_LENGTH or INFO_PHASE (see above). -ENOENT for an id that names no live
/// relay, -EINVAL for an unknown `what`.
export function copyInfo(id: i32, what: i32): f64 {
  const found = resolveId(id);
  if (found < 0) return -ENOENT;
  const slot = <u32>found;
  if (slotOpcode(slot) != OP_COPY) return -ENOENT;
  switch (what) {
    case INFO_TOTAL: return <f64>copyTotal(slot);
    case INFO_UNSENT_OFFSET: return <f64>copySent(slot);
    case INFO_UNSENT_LENGTH: return <f64>(copyFilled(slot) - copySent(slot));
    case INFO_PHASE: return <f64>copyPhase(slot);
    case INFO_BUFFER: return <f64>slotBuffer(slot);
    default: return -EINVAL;
  }
}

/// Whether op `slot` is a relay parked on the starved list (no SQE out: a
/// cancel or abandon must end it here, since no completion will come).
export function copyStarved(slot: u32): bool {
  return slotOpcode(slot) == OP_COPY && copyPhase(slot) == PHASE_STARVED;
}

/// Ends a starved relay at once (cancel, abandon): -ECANCELED.
export function copyEndStarved(slot: u32): void {
  unstarve(slot);
  setCopyPhase(slot, PHASE_RECV);
  finish(slot, -ECANCELED, 0);
}

function stopRequested(slot: u32): bool {
  return slotHas(slot, FLAG_CANCEL_REQUESTED) || slotHas(slot, FLAG_ABANDONED);
}
