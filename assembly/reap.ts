// One reap: retire the previous batch, drain the CQ, fire expired timers, and
// deliver at most `budget` results.
//
// Delivery order is one FIFO, the ready queue: what an earlier reap could not
// deliver within its budget (carry-over) comes first, then this reap's CQEs in
// the order the host wrote them, then the timers that expired, in deadline
// order. Nothing is ever reordered, so an op's MORE deliveries always precede
// its final one.
import {
  CQE_BUFFER_SHIFT, CQE_F_BUFFER, CQE_F_MORE, H_DQ_COUNT, INTERNAL_ID, OP_COPY, SLOT_BITS, SLOT_MASK,
} from "./layout";
import { ECANCELED, EINVAL } from "./errno";
import { dqCapacity, initialized, storeHeader } from "./regions";
import {
  FLAG_ABANDONED, FLAG_BUFFER_SELECT, FLAG_CANCELED_IN_QUEUE, FLAG_MULTISHOT, NIL, NO_BUFFER,
  STATE_COMPLETED, STATE_DELIVERED, STATE_SUBMITTED, currentState, opRelease, resolveId,
  setSlotState, setSlotWaiting, slotBuffer, slotGeneration, slotHas, slotOpcode, slotState, slotWaiting,
} from "./ops";
import { bufferHandBack, bufferReclaim } from "./buffers";
import {
  batchSlot, cqAvailable, cqConsume, cqFlags, cqId, cqRes, dqWrite, readyCapacity, readyDrop,
  readyFlagsAt, readyIdAt, readyLength, readyResAt, setBatchSlot,
} from "./queues";
import {
  NO_DEADLINE, isValidTime, tickOf, timerTakeDue, timersAdvance, timersArmed, timersNextTick,
} from "./timers";
import { countStale } from "./counters";
import { deliveredOne, finish, queueDelivery, settleAbandoned } from "./finish";
import { pickFinalBuffer, pickMoreBuffer } from "./select";
import { copyStep } from "./copy";
import { programResult } from "./op-facts";

let batchCount: u32 = 0;

export function reapReset(): void {
  batchCount = 0;
}

export function batchLength(): u32 { return batchCount; }

export function reap(nowMs: f64, budget: i32): i32 {
  if (!initialized || !isValidTime(nowMs) || budget < 1) return -EINVAL;
  retireBatch();
  drainCompletions();
  fireTimers(tickOf(nowMs));
  const delivered = deliver(min(<u32>budget, dqCapacity));
  storeHeader(H_DQ_COUNT, delivered);
  return <i32>delivered;
}

/// -1: nothing pending; 0: a reap would deliver (or settle) something now;
/// else the ms until the earliest timer may be due (rounded up).
export function nextTimeout(nowMs: f64): f64 {
  if (!initialized) return -1;
  if (!isValidTime(nowMs)) return -EINVAL;
  if (readyLength() > 0 || cqAvailable() > 0) return 0;
  const tick = timersNextTick();
  if (tick == NO_DEADLINE) return -1;
  const wait = <f64>tick - nowMs;
  return wait <= 0 ? 0 : ceil<f64>(wait);
}

/// The ops delivered by the previous reap are over: free their slots.
function retireBatch(): void {
  for (let index: u32 = 0; index < batchCount; index++) {
    const slot = batchSlot(index);
    if (slot == NIL) continue; // a MORE delivery: the op goes on
    assert(slotState(slot) == STATE_DELIVERED);
    opRelease(slot);
  }
  batchCount = 0;
  storeHeader(H_DQ_COUNT, 0);
}

function drainCompletions(): void {
  // Stop while the ready queue could not also take every armed timer's
  // completion: the rest stays in the CQ (the host sees a full CQ and waits).
  while (cqAvailable() > 0 && readyLength() + timersArmed() < readyCapacity()) {
    const id = cqId();
    const res = cqRes();
    const flags = cqFlags();
    cqConsume();
    if (id != INTERNAL_ID) complete(id, res, flags);
  }
}

function complete(id: u32, res: i32, flags: u32): void {
  const found = resolveId(<i32>id);
  // Only an op whose SQE the host took can complete; anything else (an old
  // generation, a duplicate, an id the host made up) must not touch a newer op.
  if (found < 0 || currentState(<u32>found) != STATE_SUBMITTED) {
    countStale();
    return;
  }
  const slot = <u32>found;
  if (slotHas(slot, FLAG_CANCELED_IN_QUEUE)) {
    finish(slot, -ECANCELED, 0); // the NOP that replaced the op's SQE came back
    return;
  }
  if (slotOpcode(slot) == OP_COPY) {
    copyStep(slot, res, flags); // writes the relay's next SQE, or finishes it
    return;
  }
  if ((flags & CQE_F_MORE) != 0 && slotHas(slot, FLAG_MULTISHOT)) {
    if (!slotHas(slot, FLAG_BUFFER_SELECT)) {
      if (!slotHas(slot, FLAG_ABANDONED)) queueDelivery(slot, res, CQE_F_MORE); // else nobody will read it
      return;
    }
    // A multishot buffer-select RECV: each MORE CQE carries its own buffer,
    // which stays the kernel's (named by this ready entry, not by the op)
    // until the entry is delivered, then it is the program's.
    const result = pickMoreBuffer(res, flags); // > 0: the buffer was picked
    if (result < 0) {
      if (!slotHas(slot, FLAG_ABANDONED)) queueDelivery(slot, result, CQE_F_MORE);
    } else if (slotHas(slot, FLAG_ABANDONED)) {
      bufferReclaim(flags >>> CQE_BUFFER_SHIFT); // nobody will read it
    } else {
      queueDelivery(slot, result, CQE_F_MORE | CQE_F_BUFFER | ((flags >>> CQE_BUFFER_SHIFT) << CQE_BUFFER_SHIFT));
    }
    return;
  }
  if (slotHas(slot, FLAG_BUFFER_SELECT)) {
    const result = pickFinalBuffer(slot, res, flags);
    const buffer = slotBuffer(slot);
    finish(slot, result, buffer == NO_BUFFER ? 0 : CQE_F_BUFFER | (<u32>buffer << CQE_BUFFER_SHIFT));
    return;
  }
  finish(slot, programResult(slotOpcode(slot), res), 0); // per-op facts: a TIMEOUT's -ETIME is 0
}

function fireTimers(now: u64): void {
  timersAdvance(now);
  for (let slot = timerTakeDue(); slot != NIL; slot = timerTakeDue()) finish(slot, 0, 0);
}

function deliver(budget: u32): u32 {
  let count: u32 = 0;
  while (count < budget && readyLength() > 0) {
    const id = readyIdAt(0);
    const res = readyResAt(0);
    const flags = readyFlagsAt(0);
    readyDrop();
    const slot = id & SLOT_MASK;
    assert(slotGeneration(slot) == id >>> SLOT_BITS); // an op outlives its queued entries
    setSlotWaiting(slot, slotWaiting(slot) - 1);
    const final = (flags & CQE_F_MORE) == 0;
    // A MORE entry naming a buffer (multishot buffer-select RECV) holds it.
    const moreBuffer = !final && (flags & CQE_F_BUFFER) != 0;
    if (slotHas(slot, FLAG_ABANDONED)) {
      if (moreBuffer) bufferReclaim(flags >>> CQE_BUFFER_SHIFT);
      if (final) settleAbandoned(slot);
      continue;
    }
    deliveredOne();
    dqWrite(count, id, res, flags, slotOpcode(slot));
    if (moreBuffer) bufferHandBack(flags >>> CQE_BUFFER_SHIFT);
    if (final) {
      assert(slotState(slot) == STATE_COMPLETED);
      const buffer = slotBuffer(slot);
      if (buffer != NO_BUFFER) bufferHandBack(<u32>buffer);
      setSlotState(slot, STATE_DELIVERED);
    }
    setBatchSlot(count, final ? slot : NIL);
    count++;
  }
  batchCount = count;
  return count;
}
