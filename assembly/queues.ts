// The five rings: SQ (core -> host), CQ (host -> core), the core-private ready
// queue (results waiting to be delivered, in delivery order), the DQ
// (one reap's deliveries, core -> JS) with its private twin, the batch, and
// the provide ring (recv-set buffers put back in the kernel's pick set, core -> host).
//
// Why the SQ can never overflow with entries = 2 x op_capacity: an op writes
// its own SQE once, and a cancel SQE only after the host has taken the op's
// own SQE. The host takes SQEs in order, so by the time an op's final CQE
// arrives (and its slot can be reused) everything before its own SQE has been
// taken: at any moment a slot accounts for at most two untaken SQEs (its
// predecessor's cancel and its own SQE, or its own cancel).
import {
  SQE_SIZE, SQE_ID, SQE_OPCODE, SQE_FLAGS, SQE_FD, SQE_ADDR, SQE_LEN, SQE_AUX, SQE_ARG,
  CQE_SIZE, CQE_ID, CQE_RES, CQE_FLAGS, DQE_SIZE, DQE_ID, DQE_RES, DQE_FLAGS, DQE_OPCODE,
  H_SQ_HEAD, H_SQ_TAIL, H_CQ_HEAD, H_CQ_TAIL, OP_NOP, H_PROVIDE_HEAD, H_PROVIDE_TAIL,
  PROVIDE_ENTRY_SIZE,
} from "./layout";
import {
  sqBase, sqMask, cqBase, cqMask, dqBase, dqCapacity, readyBase, readyMask, batchBase,
  provideBase, provideMask, loadHeader, storeHeader,
} from "./regions";

export const NO_FD: i32 = -1; // the fd field of ops that take none
export const READY_ENTRY_SIZE: u32 = 16;
const R_ID: u32 = 0; // u32
const R_RES: u32 = 4; // i32
const R_FLAGS: u32 = 8; // u32
export const BATCH_ENTRY_SIZE: u32 = 4; // u32: slot finished by this delivery, or NIL

let sqTail: u32 = 0;
let cqHead: u32 = 0;
let readyHead: u32 = 0;
let readyTail: u32 = 0;
let provideTail: u32 = 0;

export function queuesReset(): void {
  sqTail = 0;
  cqHead = 0;
  readyHead = 0;
  readyTail = 0;
  provideTail = 0;
}

// ---- provide ring ----

export function provideHead(): u32 { return loadHeader(H_PROVIDE_HEAD); }
/// Entries written and not yet taken by the host (tail - head as the core sees it).
export function providePending(): u32 { return provideTail - provideHead(); }
export function provideTailCount(): u32 { return provideTail; }
export function provideAt(position: u32): u32 {
  return load<u32>(provideBase + <usize>((provideHead() + position) & provideMask) * PROVIDE_ENTRY_SIZE);
}

/// Publishes one recv-set buffer index for the host to put in the kernel's
/// pick set. Traps if the ring is full: that takes a host that named a buffer
/// in a CQE before taking its entry (see buffers.ts).
export function providePush(index: u32): void {
  assert(provideTail - provideHead() <= provideMask);
  store<u32>(provideBase + <usize>(provideTail & provideMask) * PROVIDE_ENTRY_SIZE, index);
  provideTail++;
  storeHeader(H_PROVIDE_TAIL, provideTail);
}

// ---- SQ ----

export function sqHead(): u32 { return loadHeader(H_SQ_HEAD); }
export function sqPending(): u32 { return sqTail - sqHead(); }

/// Whether the host has taken the SQE written at free-running index `index`.
export function sqTaken(index: u32): bool {
  return <i32>(index - sqHead()) < 0;
}

@inline function sqEntry(index: u32): usize {
  return sqBase + <usize>(index & sqMask) * SQE_SIZE;
}

/// Writes one SQE at the tail and publishes it; returns its free-running index.
export function sqPush(
  id: u32, opcode: u8, flags: u8, fd: i32, addr: u32, len: u32, aux: u32, arg: u64,
): u32 {
  const index = sqTail;
  assert(index - sqHead() <= sqMask); // room, by the argument above
  writeSqe(sqEntry(index), id, opcode, flags, fd, addr, len, aux, arg);
  sqTail = index + 1;
  storeHeader(H_SQ_TAIL, sqTail);
  return index;
}

/// Rewrites an SQE the host has not taken into a NOP for the same id, so the
/// op still completes exactly once, without touching its fd or buffer.
export function sqRewriteToNop(index: u32, id: u32): void {
  assert(!sqTaken(index) && index - sqHead() < sqTail - sqHead());
  const entry = sqEntry(index);
  assert(load<u32>(entry + SQE_ID) == id);
  writeSqe(entry, id, OP_NOP, 0, NO_FD, 0, 0, 0, 0);
}

/// The id stored in the SQE at free-running index `index`.
export function sqIdAt(index: u32): u32 { return load<u32>(sqEntry(index) + SQE_ID); }

function writeSqe(
  entry: usize, id: u32, opcode: u8, flags: u8, fd: i32, addr: u32, len: u32, aux: u32, arg: u64,
): void {
  store<u32>(entry + SQE_ID, id);
  store<u8>(entry + SQE_OPCODE, opcode);
  store<u8>(entry + SQE_FLAGS, flags);
  store<u16>(entry + SQE_FLAGS + 1, 0); // reserved
  store<i32>(entry + SQE_FD, fd);
  store<u32>(entry + SQE_ADDR, addr);
  store<u32>(entry + SQE_LEN, len);
  store<u32>(entry + SQE_AUX, aux);
  store<u64>(entry + SQE_ARG, arg);
}

// ---- CQ ----

/// CQEs written by the host and not yet read. Traps if the host published more
/// than the ring holds: its entries would already have overwritten unread ones.
export function cqAvailable(): u32 {
  const available = loadHeader(H_CQ_TAIL) - cqHead;
  assert(available <= cqMask + 1);
  return available;
}

/// cq_tail - cq_head as the core sees it, without trapping (for checkInvariants).
export function cqUnread(): u32 { return loadHeader(H_CQ_TAIL) - cqHead; }

@inline function cqEntry(): usize { return cqBase + <usize>(cqHead & cqMask) * CQE_SIZE; }
export function cqId(): u32 { return load<u32>(cqEntry() + CQE_ID); }
export function cqRes(): i32 { return load<i32>(cqEntry() + CQE_RES); }
export function cqFlags(): u32 { return load<u32>(cqEntry() + CQE_FLAGS); }

/// Releases the CQE at the head back to the host.
export function cqConsume(): void {
  cqHead++;
  storeHeader(H_CQ_HEAD, cqHead);
}

// ---- ready queue ----

export function readyLength(): u32 { return readyTail - readyHead; }
export function readyCapacity(): u32 { return readyMask + 1; }

@inline function readyEntry(index: u32): usize {
  return readyBase + <usize>(index & readyMask) * READY_ENTRY_SIZE;
}

export function readyPush(id: u32, res: i32, flags: u32): void {
  assert(readyLength() <= readyMask); // room: reap stops draining the CQ before this
  const entry = readyEntry(readyTail);
  store<u32>(entry + R_ID, id);
  store<i32>(entry + R_RES, res);
  store<u32>(entry + R_FLAGS, flags);
  readyTail++;
}

/// Entry `position` counted from the head (0 = next to deliver).
export function readyIdAt(position: u32): u32 { return load<u32>(readyEntry(readyHead + position) + R_ID); }
export function readyResAt(position: u32): i32 { return load<i32>(readyEntry(readyHead + position) + R_RES); }
export function readyFlagsAt(position: u32): u32 { return load<u32>(readyEntry(readyHead + position) + R_FLAGS); }

export function readyDrop(): void {
  assert(readyLength() > 0);
  readyHead++;
}

// ---- DQ and batch ----

export function dqWrite(index: u32, id: u32, res: i32, flags: u32, opcode: u32): void {
  assert(index < dqCapacity);
  const entry = dqBase + <usize>index * DQE_SIZE;
  store<u32>(entry + DQE_ID, id);
  store<i32>(entry + DQE_RES, res);
  store<u32>(entry + DQE_FLAGS, flags);
  store<u32>(entry + DQE_OPCODE, opcode);
}

/// The slot whose op ended with delivery `index` of the current batch (NIL for
/// a MORE delivery). Kept apart from the DQ, which JS may scribble on.
export function batchSlot(index: u32): u32 { return load<u32>(batchBase + <usize>index * BATCH_ENTRY_SIZE); }
export function setBatchSlot(index: u32, slot: u32): void {
  store<u32>(batchBase + <usize>index * BATCH_ENTRY_SIZE, slot);
}
