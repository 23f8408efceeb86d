// The op table: one fixed-size record per slot, core-private, laid out by init.
//
// An op id is (generation << SLOT_BITS) | slot. The generation is bumped each
// time the slot is freed, runs 1..GENERATION_LIMIT and is never 0, so ids are
// positive i32s (a submit returns either an id > 0 or a -errno < 0) and an id
// held past its op's end never names the slot's next op until the generation
// wraps. The free list is FIFO so that a slot waits as long as possible before
// reuse, which pushes that wrap out to (capacity * GENERATION_LIMIT) ops.
import { SLOT_BITS, SLOT_MASK } from "./layout";
import { opTable, opCapacity } from "./regions";
import { sqTaken } from "./queues";

export const OP_RECORD_SIZE: u32 = 64;
const F_STATE: u32 = 0; // u8, STATE_*
const F_FLAGS: u32 = 1; // u8, FLAG_*
const F_OPCODE: u32 = 2; // u8, OP_*
const F_COPY_PHASE: u32 = 3; // u8, COPY: which SQE is out (copy.ts)
const F_GENERATION: u32 = 4; // u16
const F_BUFFER: u32 = 8; // i32, pool buffer lent to the kernel, or NO_BUFFER
const F_SQ_INDEX: u32 = 12; // u32, free-running SQ index of the op's own SQE
const F_NEXT: u32 = 16; // u32, free list or timer list link
const F_PREV: u32 = 20; // u32, timer list link
const F_DEADLINE: u32 = 24; // u64, timer deadline in ms ticks
const F_LIST: u32 = 32; // u32, timer list holding the op
const F_WAITING: u32 = 36; // u32, ready-queue entries that name this op
const F_SCRATCH: u32 = 40; // u32, checkInvariants' tally
// A COPY (copy.ts) is never a timer, so its byte total shares the deadline's u64.
const F_COPY_TOTAL: u32 = F_DEADLINE; // u64, COPY: bytes written to `to` so far
const F_COPY_FROM: u32 = 44; // i32, COPY: the fd read from
const F_COPY_TO: u32 = 48; // i32, COPY: the fd written to
const F_COPY_FILLED: u32 = 52; // u32, COPY: bytes the last RECV put in the buffer
const F_COPY_SENT: u32 = 56; // u32, COPY: of those, bytes already written
const F_COPY_OPTIONS: u32 = 60; // u32, COPY: COPY_F_* flags

export const NIL: u32 = 0xffffffff;
export const NO_BUFFER: i32 = -1;
export const GENERATION_LIMIT: u32 = 0x7fff;

// States, as opState reports them.
export const STATE_FREE: u8 = 0;
export const STATE_QUEUED: u8 = 1; // SQE written, host has not taken it
export const STATE_SUBMITTED: u8 = 2; // host took the SQE; waiting for the final CQE
export const STATE_COMPLETED: u8 = 3; // final result in the ready queue
export const STATE_DELIVERED: u8 = 4; // in the current DQ batch; freed by the next reap
export const STATE_ARMED: u8 = 5; // a TIMER in the wheel (never in the SQ)

export const FLAG_ABANDONED: u8 = 1; // never deliver; free on the final completion
export const FLAG_CANCEL_REQUESTED: u8 = 2; // cancel() accepted once
export const FLAG_CANCELED_IN_QUEUE: u8 = 4; // own SQE rewritten to NOP: deliver -ECANCELED
export const FLAG_MULTISHOT: u8 = 8; // ACCEPT armed for many CQEs
export const FLAG_BUFFER_SELECT: u8 = 16; // RECV whose buffer the host picks from the recv set

let freeHead: u32 = NIL;
let freeTail: u32 = NIL;
let opsInUse: u32 = 0;

@inline function field(slot: u32, offset: u32): usize {
  return opTable + <usize>slot * OP_RECORD_SIZE + offset;
}

export function slotState(slot: u32): u8 { return load<u8>(field(slot, F_STATE)); }
export function setSlotState(slot: u32, state: u8): void { store<u8>(field(slot, F_STATE), state); }
export function slotFlags(slot: u32): u8 { return load<u8>(field(slot, F_FLAGS)); }
export function slotHas(slot: u32, flag: u8): bool { return (slotFlags(slot) & flag) != 0; }
export function slotMark(slot: u32, flag: u8): void { store<u8>(field(slot, F_FLAGS), slotFlags(slot) | flag); }
export function slotOpcode(slot: u32): u8 { return load<u8>(field(slot, F_OPCODE)); }
export function slotGeneration(slot: u32): u32 { return load<u16>(field(slot, F_GENERATION)); }
export function slotBuffer(slot: u32): i32 { return load<i32>(field(slot, F_BUFFER)); }
export function setSlotBuffer(slot: u32, buffer: i32): void { store<i32>(field(slot, F_BUFFER), buffer); }
export function slotSqIndex(slot: u32): u32 { return load<u32>(field(slot, F_SQ_INDEX)); }
export function setSlotSqIndex(slot: u32, index: u32): void { store<u32>(field(slot, F_SQ_INDEX), index); }
export function slotNext(slot: u32): u32 { return load<u32>(field(slot, F_NEXT)); }
export function setSlotNext(slot: u32, next: u32): void { store<u32>(field(slot, F_NEXT), next); }
export function slotPrev(slot: u32): u32 { return load<u32>(field(slot, F_PREV)); }
export function setSlotPrev(slot: u32, prev: u32): void { store<u32>(field(slot, F_PREV), prev); }
export function slotDeadline(slot: u32): u64 { return load<u64>(field(slot, F_DEADLINE)); }
export function setSlotDeadline(slot: u32, tick: u64): void { store<u64>(field(slot, F_DEADLINE), tick); }
export function slotList(slot: u32): u32 { return load<u32>(field(slot, F_LIST)); }
export function setSlotList(slot: u32, list: u32): void { store<u32>(field(slot, F_LIST), list); }
export function slotWaiting(slot: u32): u32 { return load<u32>(field(slot, F_WAITING)); }
export function setSlotWaiting(slot: u32, count: u32): void { store<u32>(field(slot, F_WAITING), count); }
export function slotScratch(slot: u32): u32 { return load<u32>(field(slot, F_SCRATCH)); }
export function setSlotScratch(slot: u32, value: u32): void { store<u32>(field(slot, F_SCRATCH), value); }

export function copyPhase(slot: u32): u8 { return load<u8>(field(slot, F_COPY_PHASE)); }
export function setCopyPhase(slot: u32, phase: u8): void { store<u8>(field(slot, F_COPY_PHASE), phase); }
export function copyTotal(slot: u32): u64 { return load<u64>(field(slot, F_COPY_TOTAL)); }
export function setCopyTotal(slot: u32, total: u64): void { store<u64>(field(slot, F_COPY_TOTAL), total); }
export function copyFrom(slot: u32): i32 { return load<i32>(field(slot, F_COPY_FROM)); }
export function copyTo(slot: u32): i32 { return load<i32>(field(slot, F_COPY_TO)); }
export function setCopyFds(slot: u32, from: i32, to: i32): void {
  store<i32>(field(slot, F_COPY_FROM), from);
  store<i32>(field(slot, F_COPY_TO), to);
}
export function copyFilled(slot: u32): u32 { return load<u32>(field(slot, F_COPY_FILLED)); }
export function setCopyFilled(slot: u32, bytes: u32): void { store<u32>(field(slot, F_COPY_FILLED), bytes); }
export function copySent(slot: u32): u32 { return load<u32>(field(slot, F_COPY_SENT)); }
export function setCopySent(slot: u32, bytes: u32): void { store<u32>(field(slot, F_COPY_SENT), bytes); }
export function copyOptions(slot: u32): u32 { return load<u32>(field(slot, F_COPY_OPTIONS)); }
export function setCopyOptions(slot: u32, options: u32): void { store<u32>(field(slot, F_COPY_OPTIONS), options); }

export function idOf(slot: u32): i32 {
  return <i32>((slotGeneration(slot) << SLOT_BITS) | slot);
}

/// The slot a live op id names, or -1 when the id is malformed, out of range,
/// of an older (or never issued) generation, or names a free slot.
export function resolveId(id: i32): i32 {
  if (id <= 0) return -1;
  const slot = <u32>id & SLOT_MASK;
  if (slot >= opCapacity) return -1;
  if (slotGeneration(slot) != (<u32>id >>> SLOT_BITS)) return -1;
  if (slotState(slot) == STATE_FREE) return -1;
  return <i32>slot;
}

/// The op's state now. A QUEUED op whose SQE the host has taken (sq_head moved
/// past it) is SUBMITTED; the record is updated the first time that is seen.
export function currentState(slot: u32): u8 {
  const state = slotState(slot);
  if (state == STATE_QUEUED && sqTaken(slotSqIndex(slot))) {
    setSlotState(slot, STATE_SUBMITTED);
    return STATE_SUBMITTED;
  }
  return state;
}

export function opsReset(): void {
  for (let slot: u32 = 0; slot < opCapacity; slot++) {
    store<u16>(field(slot, F_GENERATION), 1);
    setSlotState(slot, STATE_FREE);
    setSlotBuffer(slot, NO_BUFFER);
    setSlotList(slot, NIL);
    setSlotPrev(slot, NIL);
    setSlotNext(slot, slot + 1 < opCapacity ? slot + 1 : NIL);
  }
  freeHead = opCapacity > 0 ? 0 : NIL;
  freeTail = opCapacity > 0 ? opCapacity - 1 : NIL;
  opsInUse = 0;
}

/// Takes the oldest free slot for a new op, or returns -1 when the table is full.
export function opAcquire(opcode: u8, state: u8): i32 {
  const slot = freeHead;
  if (slot == NIL) return -1;
  assert(slotState(slot) == STATE_FREE);
  freeHead = slotNext(slot);
  if (freeHead == NIL) freeTail = NIL;
  store<u8>(field(slot, F_OPCODE), opcode);
  store<u8>(field(slot, F_FLAGS), 0);
  setSlotState(slot, state);
  setSlotBuffer(slot, NO_BUFFER);
  setSlotNext(slot, NIL);
  setSlotPrev(slot, NIL);
  setSlotList(slot, NIL);
  setSlotWaiting(slot, 0);
  opsInUse++;
  return <i32>slot;
}

/// Frees a slot whose op is over: bumps the generation (so its id goes stale)
/// and appends it to the free list. The caller has already settled its buffer.
export function opRelease(slot: u32): void {
  assert(slotState(slot) != STATE_FREE);
  assert(slotWaiting(slot) == 0); // no ready-queue entry may outlive its op
  assert(slotList(slot) == NIL); // nor a timer link
  const generation = slotGeneration(slot);
  store<u16>(field(slot, F_GENERATION), generation == GENERATION_LIMIT ? 1 : generation + 1);
  setSlotState(slot, STATE_FREE);
  store<u8>(field(slot, F_FLAGS), 0);
  setSlotBuffer(slot, NO_BUFFER);
  setSlotNext(slot, NIL);
  if (freeTail == NIL) freeHead = slot;
  else setSlotNext(freeTail, slot);
  freeTail = slot;
  assert(opsInUse > 0);
  opsInUse--;
}

export function opsInUseCount(): u32 { return opsInUse; }

/// Checks the free list; returns the number of free slots, or NIL if it is
/// broken (a non-free slot on it, a cycle, or a wrong tail).
export function freeListLength(): u32 {
  let length: u32 = 0;
  let last = NIL;
  for (let slot = freeHead; slot != NIL; slot = slotNext(slot)) {
    if (slot >= opCapacity || slotState(slot) != STATE_FREE || length >= opCapacity) return NIL;
    length++;
    last = slot;
  }
  return last == freeTail ? length : NIL;
}
