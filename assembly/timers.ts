// The timer wheel: hierarchical, as in tokio's time driver. Six levels of 64
// slots, one tick = 1 ms; a level-L slot spans 64^L ticks and the whole wheel
// 64^6 ticks (2^36 ms, ~2.2 years) ahead of `elapsed`, the wheel's own "now".
//
// Placement: a timer with deadline D > elapsed sits at the level of the
// highest bit where D and elapsed differ (6 bits per level), in slot
// (D >> 6L) & 63. So every level-L timer shares with `elapsed` all bits above
// level L, and lies in a later slot than elapsed's own, except at the top
// level, where a deadline in the next rotation lies in a slot at or before
// elapsed's (the top level is circular; nothing lies further than one rotation).
//
// Advancing to `now`: repeatedly take the earliest occupied slot (the lowest
// occupied level's next slot: levels never overlap in time), move `elapsed` to
// its start, and re-place each of its timers: those due (D == start) join the
// due list, the others drop to a lower level ("cascade"). Each timer cascades
// at most five times. Then elapsed = now.
//
// Timers are intrusive doubly linked lists through the op records (F_NEXT,
// F_PREV, F_LIST), so arming and cancelling are O(1) and nothing is allocated.
// Within a slot, lists keep insertion order and cascading keeps list order, so
// timers with the same deadline fire in the order they were started.
//
// The due list holds timers whose deadline is <= elapsed, in deadline order:
// expired by an advance, or started already due. reap moves them to the ready
// queue after the CQ's completions.
import { wheelBase } from "./regions";
import {
  NIL, STATE_ARMED, slotState, slotNext, setSlotNext, slotPrev, setSlotPrev, slotDeadline,
  setSlotDeadline, slotList, setSlotList,
} from "./ops";

const LEVELS: u32 = 6;
const SLOTS: u32 = 64;
const LEVEL_BITS: u64 = 6;
export const WHEEL_RANGE_TICKS: u64 = <u64>1 << (LEVEL_BITS * LEVELS);
export const NO_DEADLINE: u64 = 0xffffffffffffffff;
const DUE_LIST: u32 = LEVELS * SLOTS;
const LIST_COUNT: u32 = DUE_LIST + 1;
const LIST_RECORD_SIZE: u32 = 8; // u32 head, u32 tail
const OCCUPIED_BASE: u32 = LIST_COUNT * LIST_RECORD_SIZE; // one u64 bitmap per level
export const WHEEL_REGION_SIZE: u32 = OCCUPIED_BASE + LEVELS * 8;

// Times are ms as f64 from the caller's clock; beyond 2^52 ms a tick would
// no longer be an exact integer.
const MAX_TIME_MS: f64 = 4503599627370496.0;

let elapsed: u64 = 0; // ticks; every armed timer not in the due list is later
let armed: u32 = 0;

// ---- time ----

/// A caller's `now` the wheel can take: a finite ms count in [0, 2^52].
export function isValidTime(ms: f64): bool {
  return ms >= 0 && ms <= MAX_TIME_MS; // false for NaN too
}

/// The tick (1 ms) a caller's time falls in.
export function tickOf(ms: f64): u64 {
  return <u64>floor<f64>(ms);
}

// ---- lists ----

@inline function listHeadAddress(list: u32): usize { return wheelBase + <usize>list * LIST_RECORD_SIZE; }
function listHead(list: u32): u32 { return load<u32>(listHeadAddress(list)); }
function listTail(list: u32): u32 { return load<u32>(listHeadAddress(list) + 4); }
function setListHead(list: u32, slot: u32): void { store<u32>(listHeadAddress(list), slot); }
function setListTail(list: u32, slot: u32): void { store<u32>(listHeadAddress(list) + 4, slot); }

@inline function occupiedAddress(level: u32): usize { return wheelBase + OCCUPIED_BASE + <usize>level * 8; }
function occupied(level: u32): u64 { return load<u64>(occupiedAddress(level)); }
function setOccupied(level: u32, bits: u64): void { store<u64>(occupiedAddress(level), bits); }

function listAppend(list: u32, slot: u32): void {
  const tail = listTail(list);
  setSlotList(slot, list);
  setSlotNext(slot, NIL);
  setSlotPrev(slot, tail);
  if (tail == NIL) setListHead(list, slot);
  else setSlotNext(tail, slot);
  setListTail(list, slot);
  if (list != DUE_LIST) {
    const level = list / SLOTS;
    setOccupied(level, occupied(level) | (<u64>1 << (list % SLOTS)));
  }
}

function listUnlink(slot: u32): void {
  const list = slotList(slot);
  const prev = slotPrev(slot);
  const next = slotNext(slot);
  if (prev == NIL) setListHead(list, next);
  else setSlotNext(prev, next);
  if (next == NIL) setListTail(list, prev);
  else setSlotPrev(next, prev);
  setSlotList(slot, NIL);
  setSlotNext(slot, NIL);
  setSlotPrev(slot, NIL);
  if (list != DUE_LIST && listHead(list) == NIL) {
    const level = list / SLOTS;
    setOccupied(level, occupied(level) & ~(<u64>1 << (list % SLOTS)));
  }
}

/// Detaches a whole wheel slot's list and returns its first timer; the timers
/// keep their links to each other (the caller walks and re-places them).
function listTake(list: u32): u32 {
  const head = listHead(list);
  setListHead(list, NIL);
  setListTail(list, NIL);
  const level = list / SLOTS;
  setOccupied(level, occupied(level) & ~(<u64>1 << (list % SLOTS)));
  return head;
}

// ---- placement ----

function levelFor(deadline: u64): u32 {
  const differing = (elapsed ^ deadline) | (SLOTS - 1);
  const level = <u32>(63 - clz<u64>(differing)) / <u32>LEVEL_BITS;
  // A deadline less than one rotation ahead but across the top level's
  // boundary goes to the top level's (circular) next rotation.
  return min(level, LEVELS - 1);
}

function listFor(deadline: u64): u32 {
  if (deadline <= elapsed) return DUE_LIST;
  const level = levelFor(deadline);
  return level * SLOTS + <u32>((deadline >> (LEVEL_BITS * level)) & (SLOTS - 1));
}

/// The first tick of wheel list `list` at or after elapsed.
function listStart(list: u32): u64 {
  const level = list / SLOTS;
  const slotShift = LEVEL_BITS * level;
  const rotationShift = slotShift + LEVEL_BITS;
  const rotationStart = (elapsed >> rotationShift) << rotationShift;
  let start = rotationStart + (<u64>(list % SLOTS) << slotShift);
  if (start <= elapsed) start += <u64>1 << rotationShift; // the next rotation
  return start;
}

/// The earliest occupied wheel list, or NIL when the wheel (not counting the
/// due list) is empty.
function earliestList(): u32 {
  for (let level: u32 = 0; level < LEVELS; level++) {
    const bits = occupied(level);
    if (bits == 0) continue;
    const position = <u32>((elapsed >> (LEVEL_BITS * level)) & (SLOTS - 1));
    const later = position == SLOTS - 1 ? 0 : bits & (<u64>0xffffffffffffffff << (position + 1));
    // Below the top level everything lies ahead of elapsed in this rotation.
    assert(later != 0 || level == LEVELS - 1);
    return level * SLOTS + <u32>ctz<u64>(later != 0 ? later : bits);
  }
  return NIL;
}

// ---- the wheel's interface ----

export function timersReset(): void {
  for (let list: u32 = 0; list < LIST_COUNT; list++) {
    setListHead(list, NIL);
    setListTail(list, NIL);
  }
  for (let level: u32 = 0; level < LEVELS; level++) setOccupied(level, 0);
  elapsed = 0;
  armed = 0;
}

export function timersArmed(): u32 { return armed; }

/// Arms a timer for tick `deadline`. The caller advanced the wheel to its now
/// first, so the deadline is less than one wheel range ahead of elapsed.
export function timerArm(slot: u32, deadline: u64): void {
  assert(deadline <= elapsed || deadline - elapsed < WHEEL_RANGE_TICKS);
  setSlotDeadline(slot, deadline);
  listAppend(listFor(deadline), slot);
  armed++;
}

/// Takes an armed timer out of the wheel (or the due list): O(1).
export function timerDisarm(slot: u32): void {
  assert(slotList(slot) != NIL);
  listUnlink(slot);
  armed--;
}

/// Moves the wheel to tick `now`: every timer with deadline <= now ends up in
/// the due list, in deadline order. Time never runs backwards for the wheel.
export function timersAdvance(now: u64): void {
  for (let list = earliestList(); list != NIL; list = earliestList()) {
    const start = listStart(list);
    if (start > now) break;
    elapsed = start;
    let slot = listTake(list);
    while (slot != NIL) {
      const next = slotNext(slot);
      listAppend(listFor(slotDeadline(slot)), slot);
      slot = next;
    }
  }
  if (now > elapsed) elapsed = now;
}

/// The first due timer, taken out of the due list (it stays counted as armed
/// until the caller completes it), or NIL.
export function timerTakeDue(): u32 {
  const slot = listHead(DUE_LIST);
  if (slot != NIL) timerDisarm(slot);
  return slot;
}

/// The earliest tick at which a timer may be due: elapsed when some already
/// are, else the start of the earliest occupied slot (exact at level 0, a
/// lower bound above it: waking then cascades and asks again), or NO_DEADLINE.
export function timersNextTick(): u64 {
  if (listHead(DUE_LIST) != NIL) return elapsed;
  const list = earliestList();
  return list == NIL ? NO_DEADLINE : listStart(list);
}

/// Walks every list: links, list tags, occupied bits, placement, states.
/// Returns 0, or the number of the broken wheel invariant.
export function timersCheck(): u32 {
  let total: u32 = 0;
  for (let list: u32 = 0; list < LIST_COUNT; list++) {
    let prev = NIL;
    for (let slot = listHead(list); slot != NIL; slot = slotNext(slot)) {
      if (slotList(slot) != list || slotPrev(slot) != prev) return 1;
      if (slotState(slot) != STATE_ARMED) return 2;
      if (listFor(slotDeadline(slot)) != list) return 3;
      if (++total > armed) return 4;
      prev = slot;
    }
    if (listTail(list) != prev) return 1;
    if (list != DUE_LIST) {
      const bit = (occupied(list / SLOTS) >> (list % SLOTS)) & 1;
      if ((bit != 0) != (prev != NIL)) return 5;
    }
  }
  return total == armed ? 0 : 4;
}
