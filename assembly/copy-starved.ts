// The starved list: COPY_F_SELECT relays whose RECV found the recv set empty
// (-ENOBUFS; the data waits in the socket). Such a relay is in flight with no
// SQE out (state SUBMITTED, PHASE_STARVED) until a recv-set buffer is provided
// again: then the oldest one receives again (wakeStarved, called by the buffer
// pool each time it provides one). FIFO, doubly linked through the op records'
// free-list/timer links (a live COPY uses neither), so a cancel takes one out
// in O(1).
import { OP_COPY } from "./layout";
import { opCapacity } from "./regions";
import {
  NIL, STATE_SUBMITTED, copyPhase, setCopyPhase, setSlotNext, setSlotPrev, setSlotState, slotNext, slotOpcode, slotPrev,
  slotState,
} from "./ops";
import { PHASE_STARVED, isSelect, pushRecv } from "./copy-sqes";

let starvedHead: u32 = NIL;
let starvedTail: u32 = NIL;

export function starvedReset(): void {
  starvedHead = NIL;
  starvedTail = NIL;
}

/// Parks a select relay until a recv-set buffer is provided (wakeStarved).
export function starve(slot: u32): void {
  setSlotState(slot, STATE_SUBMITTED); // in flight, with no SQE out
  setCopyPhase(slot, PHASE_STARVED);
  setSlotNext(slot, NIL);
  setSlotPrev(slot, starvedTail);
  if (starvedTail == NIL) starvedHead = slot;
  else setSlotNext(starvedTail, slot);
  starvedTail = slot;
}

/// Takes a relay off the starved list (woken, cancelled or abandoned).
export function unstarve(slot: u32): void {
  const prev = slotPrev(slot);
  const next = slotNext(slot);
  if (prev == NIL) starvedHead = next;
  else setSlotNext(prev, next);
  if (next == NIL) starvedTail = prev;
  else setSlotPrev(next, prev);
  setSlotNext(slot, NIL);
  setSlotPrev(slot, NIL);
}

/// A recv-set buffer was just provided: the oldest starved relay receives again.
export function wakeStarved(): void {
  const slot = starvedHead;
  if (slot == NIL) return;
  unstarve(slot);
  pushRecv(slot);
}

/// Walks the list (for checkInvariants): its length, or NIL when it is broken
/// (a link or the tail wrong, a cycle, or an op on it that is not a starved
/// COPY_F_SELECT relay).
export function starvedCheck(): u32 {
  let length: u32 = 0;
  let prev = NIL;
  for (let slot = starvedHead; slot != NIL; slot = slotNext(slot)) {
    if (slot >= opCapacity || length >= opCapacity || slotPrev(slot) != prev) return NIL;
    if (slotOpcode(slot) != OP_COPY || !isSelect(slot) || copyPhase(slot) != PHASE_STARVED) return NIL;
    if (slotState(slot) != STATE_SUBMITTED) return NIL;
    length++;
    prev = slot;
  }
  return prev == starvedTail ? length : NIL;
}
