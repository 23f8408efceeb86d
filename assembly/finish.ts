// An op's final result is known: finish() puts it in the ready queue behind
// the op's earlier deliveries, or settles an abandoned op that has none. Also
// the count of ready-queue entries that will be delivered (`ready` in the
// header), which every path that queues or forgets an entry keeps.
//
// Used by the reap (a CQE, a timer), by COPY (a relay that ends) and by the
// submits (a cancelled timer, a cancelled starved relay).
import { H_READY } from "./layout";
import { storeHeader } from "./regions";
import {
  FLAG_ABANDONED, NO_BUFFER, STATE_COMPLETED, idOf, opRelease, setSlotState, setSlotWaiting, slotBuffer, slotHas,
  slotWaiting,
} from "./ops";
import { bufferReclaim } from "./buffers";
import { readyPush } from "./queues";
import { countCompleted } from "./counters";

// Ready-queue entries that will be delivered (entries of abandoned ops will not).
let readyLive: u32 = 0;

export function finishReset(): void {
  readyLive = 0;
}

export function readyLiveCount(): u32 { return readyLive; }

/// The header's `ready` mirrors readyLive at every change, so JS can read it
/// after cancel and abandon as well as after reap.
function setReadyLive(count: u32): void {
  readyLive = count;
  storeHeader(H_READY, count);
}

/// The op's final result is known. An abandoned op with nothing left in the
/// ready queue is settled at once; otherwise the result queues up behind its
/// earlier deliveries (and an abandoned op is settled when it reaches the head).
export function finish(slot: u32, res: i32, flags: u32): void {
  countCompleted();
  setSlotState(slot, STATE_COMPLETED);
  if (slotHas(slot, FLAG_ABANDONED) && slotWaiting(slot) == 0) {
    settleAbandoned(slot);
    return;
  }
  queueDelivery(slot, res, flags);
}

/// One ready-queue entry for the op: its final result, or a MORE delivery.
export function queueDelivery(slot: u32, res: i32, flags: u32): void {
  readyPush(<u32>idOf(slot), res, flags);
  setSlotWaiting(slot, slotWaiting(slot) + 1);
  if (!slotHas(slot, FLAG_ABANDONED)) setReadyLive(readyLive + 1);
}

/// A ready-queue entry reached the DQ: one fewer to deliver.
export function deliveredOne(): void {
  setReadyLive(readyLive - 1);
}

/// An abandoned op's final completion: its buffer goes back to the pool.
export function settleAbandoned(slot: u32): void {
  const buffer = slotBuffer(slot);
  if (buffer != NO_BUFFER) bufferReclaim(<u32>buffer);
  opRelease(slot);
}

/// abandon(): its queued deliveries will be skipped.
export function forgetWaiting(slot: u32): void {
  setReadyLive(readyLive - slotWaiting(slot));
}
