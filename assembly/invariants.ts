// checkInvariants: an O(capacity) walk over every table, for tests. Each
// invariant has its own number so a failing property test names what broke.
import {
  CQE_BUFFER_SHIFT, CQE_F_BUFFER, CQE_F_MORE, H_DQ_COUNT, H_PROVIDE_TAIL, H_READY, OP_CANCEL, OP_COPY, OP_COUNT,
  OP_RECV, OP_TIMER, SLOT_BITS, SLOT_MASK,
} from "./layout";
import {
  bufferCount, cqMask, initialized, loadHeader, opCapacity, provideCount, provideMask, readyMask, sqMask,
} from "./regions";
import {
  FLAG_ABANDONED, FLAG_BUFFER_SELECT, FLAG_MULTISHOT, GENERATION_LIMIT, NIL, NO_BUFFER, STATE_ARMED, STATE_COMPLETED,
  STATE_DELIVERED, STATE_FREE, STATE_QUEUED, STATE_SUBMITTED, freeListLength, idOf, opsInUseCount,
  copyFilled, copyPhase, copySent, setSlotScratch, slotBuffer, slotGeneration, slotHas, slotOpcode, slotScratch,
  slotSqIndex, slotState, slotWaiting,
} from "./ops";
import {
  OWNER_FREE, OWNER_KERNEL, OWNER_PROGRAM, OWNER_PROVIDED, bufferFreeListLength, bufferScratch,
  buffersHeld, buffersLent, buffersProvided, ownerOf, setBufferScratch,
} from "./buffers";
import {
  batchSlot, cqUnread, provideAt, providePending, provideTailCount, readyFlagsAt, readyIdAt, readyLength, sqHead, sqIdAt,
  sqPending, sqTaken,
} from "./queues";
import { timersArmed, timersCheck } from "./timers";
import { readyLiveCount } from "./finish";
import { batchLength } from "./reap";
import { inFlight } from "./counters";
import { PHASE_RECV, PHASE_SEND, PHASE_SHUTDOWN, PHASE_STARVED, isSelect } from "./copy-sqes";
import { starvedCheck } from "./copy-starved";

// Slot scratch bits: named by the current batch; has a final ready entry.
const IN_BATCH: u32 = 0x80000000;
const HAS_FINAL: u32 = 0x40000000;
const COUNT_MASK: u32 = 0x3fffffff;

const INVARIANT_OP_FREE_LIST: i32 = 1;
const INVARIANT_OPS_IN_USE: i32 = 2;
const INVARIANT_GENERATION: i32 = 3;
const INVARIANT_OP_RECORD: i32 = 4;
const INVARIANT_TIMER_STATE: i32 = 5;
const INVARIANT_QUEUED_SQE: i32 = 6;
const INVARIANT_OP_BUFFER: i32 = 7;
const INVARIANT_ABANDONED_DELIVERED: i32 = 8;
const INVARIANT_KERNEL_BUFFER_OWNER: i32 = 9;
const INVARIANT_BUFFER_COUNTS: i32 = 10;
const INVARIANT_IN_FLIGHT: i32 = 11;
const INVARIANT_BATCH: i32 = 12;
const INVARIANT_READY_GENERATION: i32 = 13;
const INVARIANT_READY_STATE: i32 = 14;
const INVARIANT_READY_LIVE: i32 = 15;
const INVARIANT_ONE_FINAL: i32 = 16;
const INVARIANT_WAITING: i32 = 17;
const INVARIANT_READY_ROOM: i32 = 18;
const INVARIANT_RINGS: i32 = 19;
const INVARIANT_HEADER: i32 = 20;
const INVARIANT_ARMED_COUNT: i32 = 21;
const INVARIANT_BUFFER_SELECT: i32 = 22; // a buffer-select op is a RECV holding no buffer until its CQE
const INVARIANT_RECV_SET: i32 = 23; // recv-set buffers are never free, others never provided
const INVARIANT_PROVIDE_RING: i32 = 24; // each pending entry names a distinct provided buffer
const INVARIANT_DELIVERED_BUFFER: i32 = 25; // a delivery's buffer bits match its op's buffer
const INVARIANT_COPY_BUFFER: i32 = 26; // a relay holds its buffer exactly while it must (copyCheck)
const INVARIANT_STARVED: i32 = 27; // the starved list holds exactly the starved relays
const INVARIANT_WHEEL_BASE: i32 = 30; // + timersCheck()'s number (31..35)

export function checkInvariants(): i32 {
  if (!initialized) return 0;
  const free = freeListLength();
  if (free == NIL) return INVARIANT_OP_FREE_LIST;
  if (free + opsInUseCount() != opCapacity) return INVARIANT_OPS_IN_USE;
  if (sqPending() > sqMask + 1 || cqUnread() > cqMask + 1) return INVARIANT_RINGS;
  if (readyLength() + timersArmed() > readyMask + 1) return INVARIANT_READY_ROOM;
  if (providePending() > provideMask + 1 || loadHeader(H_PROVIDE_TAIL) != provideTailCount()) {
    return INVARIANT_RINGS;
  }

  for (let slot: u32 = 0; slot < opCapacity; slot++) setSlotScratch(slot, 0);
  for (let index: u32 = 0; index < bufferCount; index++) setBufferScratch(index, 0);

  // Ops, one by one; buffers lent by live ops are tallied.
  let flying: u64 = 0;
  let armed: u32 = 0;
  let delivered: u32 = 0;
  let starved: u32 = 0;
  for (let slot: u32 = 0; slot < opCapacity; slot++) {
    const generation = slotGeneration(slot);
    if (generation == 0 || generation > GENERATION_LIMIT) return INVARIANT_GENERATION;
    const state = slotState(slot);
    const buffer = slotBuffer(slot);
    if (state == STATE_FREE) {
      if (buffer != NO_BUFFER || slotWaiting(slot) != 0) return INVARIANT_OP_RECORD;
      continue;
    }
    const opcode = slotOpcode(slot);
    if (state > STATE_ARMED || opcode >= OP_COUNT || opcode == OP_CANCEL) return INVARIANT_OP_RECORD;
    if ((state == STATE_ARMED) != (opcode == OP_TIMER && state != STATE_COMPLETED && state != STATE_DELIVERED)) {
      return INVARIANT_TIMER_STATE;
    }
    if (state == STATE_QUEUED || state == STATE_SUBMITTED || state == STATE_ARMED) flying++;
    if (state == STATE_ARMED) armed++;
    if (state == STATE_QUEUED && !sqTaken(slotSqIndex(slot))) {
      if (sqIdAt(slotSqIndex(slot)) != <u32>idOf(slot)) return INVARIANT_QUEUED_SQE;
      if (slotSqIndex(slot) - sqHead() >= sqPending()) return INVARIANT_QUEUED_SQE;
    }
    if (state == STATE_DELIVERED) {
      delivered++;
      if (slotHas(slot, FLAG_ABANDONED)) return INVARIANT_ABANDONED_DELIVERED;
    }
    if (slotHas(slot, FLAG_BUFFER_SELECT)) {
      if (opcode != OP_RECV) return INVARIANT_BUFFER_SELECT;
      // The op's buffer is picked by its final CQE: none while queued or
      // submitted (a multishot's MORE CQEs name theirs in the ready queue).
      if ((state == STATE_QUEUED || state == STATE_SUBMITTED) && buffer != NO_BUFFER) return INVARIANT_BUFFER_SELECT;
      if (buffer != NO_BUFFER && <u32>buffer >= provideCount) return INVARIANT_BUFFER_SELECT;
    }
    if (opcode == OP_COPY) {
      if (!copyCheck(slot, state, buffer)) return INVARIANT_COPY_BUFFER;
      if (copyPhase(slot) == PHASE_STARVED) starved++;
    }
    // A delivered op's buffer is the program's again (it may even be free by
    // now); every other op's buffer is the kernel's, through this op alone.
    if (buffer != NO_BUFFER && state != STATE_DELIVERED) {
      if (<u32>buffer >= bufferCount) return INVARIANT_OP_BUFFER;
      setBufferScratch(buffer, bufferScratch(buffer) + 1);
    }
  }
  if (flying != inFlight()) return INVARIANT_IN_FLIGHT;
  if (starvedCheck() != starved) return INVARIANT_STARVED;
  if (armed != timersArmed()) return INVARIANT_ARMED_COUNT;
  // A multishot buffer-select RECV's MORE entry names a buffer it holds.
  for (let position: u32 = 0; position < readyLength(); position++) {
    const flags = readyFlagsAt(position);
    if ((flags & (CQE_F_MORE | CQE_F_BUFFER)) != (CQE_F_MORE | CQE_F_BUFFER)) continue;
    const index = flags >>> CQE_BUFFER_SHIFT;
    if (index >= provideCount) return INVARIANT_DELIVERED_BUFFER;
    setBufferScratch(index, bufferScratch(index) + 1);
  }

  // Buffers: KERNEL exactly when one live op or one MORE entry names it; counts match; the
  // recv set is never free and nothing else is ever provided.
  let lent: u32 = 0;
  let held: u32 = 0;
  let provided: u32 = 0;
  for (let index: u32 = 0; index < bufferCount; index++) {
    const owner = ownerOf(index);
    if ((owner == OWNER_KERNEL ? 1 : 0) != bufferScratch(index)) return INVARIANT_KERNEL_BUFFER_OWNER;
    if (owner > OWNER_PROVIDED) return INVARIANT_BUFFER_COUNTS;
    if (index < provideCount ? owner == OWNER_FREE : owner == OWNER_PROVIDED) return INVARIANT_RECV_SET;
    if (owner == OWNER_KERNEL) lent++;
    if (owner == OWNER_PROGRAM) held++;
    if (owner == OWNER_PROVIDED) provided++;
  }
  const freeBuffers = bufferFreeListLength();
  if (lent != buffersLent() || held != buffersHeld() || provided != buffersProvided() || freeBuffers == NIL ||
      lent + held + provided + freeBuffers != bufferCount) {
    return INVARIANT_BUFFER_COUNTS;
  }
  // The provide ring: entries the host has not taken name provided buffers, once each.
  for (let index: u32 = 0; index < bufferCount; index++) setBufferScratch(index, 0);
  for (let position: u32 = 0; position < providePending(); position++) {
    const index = provideAt(position);
    if (index >= provideCount || ownerOf(index) != OWNER_PROVIDED || bufferScratch(index) != 0) {
      return INVARIANT_PROVIDE_RING;
    }
    setBufferScratch(index, 1);
  }

  // The batch names every DELIVERED op, each once, and nothing else.
  let named: u32 = 0;
  for (let index: u32 = 0; index < batchLength(); index++) {
    const slot = batchSlot(index);
    if (slot == NIL) continue;
    if (slot >= opCapacity || slotState(slot) != STATE_DELIVERED || slotScratch(slot) != 0) return INVARIANT_BATCH;
    setSlotScratch(slot, IN_BATCH);
    named++;
  }
  if (named != delivered) return INVARIANT_BATCH;
  for (let slot: u32 = 0; slot < opCapacity; slot++) setSlotScratch(slot, 0);

  // The ready queue: current generations, states that can still deliver,
  // one final entry per COMPLETED op, per-op counts, the live count.
  let live: u32 = 0;
  for (let position: u32 = 0; position < readyLength(); position++) {
    const id = readyIdAt(position);
    const slot = id & SLOT_MASK;
    if (slot >= opCapacity || slotGeneration(slot) != id >>> SLOT_BITS) return INVARIANT_READY_GENERATION;
    const state = slotState(slot);
    const flags = readyFlagsAt(position);
    if ((flags & CQE_F_BUFFER) != 0) {
      // A buffer-select op's final entry names the buffer the op holds; a
      // MORE entry, only a multishot one's, names its own (counted above).
      if ((flags & CQE_F_MORE) != 0) {
        if (!slotHas(slot, FLAG_BUFFER_SELECT) || !slotHas(slot, FLAG_MULTISHOT)) return INVARIANT_DELIVERED_BUFFER;
      } else if (slotBuffer(slot) != <i32>(flags >>> CQE_BUFFER_SHIFT)) {
        return INVARIANT_DELIVERED_BUFFER;
      }
    } else if ((flags & CQE_F_MORE) == 0 && slotBuffer(slot) != NO_BUFFER && slotHas(slot, FLAG_BUFFER_SELECT)) {
      return INVARIANT_DELIVERED_BUFFER;
    }
    if ((flags & CQE_F_MORE) != 0) {
      if ((state != STATE_SUBMITTED && state != STATE_QUEUED) || !slotHas(slot, FLAG_MULTISHOT)) {
        // A MORE entry may also precede its op's own final entry.
        if (state != STATE_COMPLETED) return INVARIANT_READY_STATE;
      }
    } else {
      if (state != STATE_COMPLETED) return INVARIANT_READY_STATE;
      if ((slotScratch(slot) & HAS_FINAL) != 0) return INVARIANT_ONE_FINAL;
      setSlotScratch(slot, slotScratch(slot) | HAS_FINAL);
    }
    setSlotScratch(slot, slotScratch(slot) + 1);
    if (!slotHas(slot, FLAG_ABANDONED)) live++;
  }
  if (live != readyLiveCount()) return INVARIANT_READY_LIVE;
  for (let slot: u32 = 0; slot < opCapacity; slot++) {
    const tally = slotScratch(slot);
    if ((tally & COUNT_MASK) != slotWaiting(slot)) return INVARIANT_WAITING;
    if ((slotState(slot) == STATE_COMPLETED) != ((tally & HAS_FINAL) != 0)) return INVARIANT_ONE_FINAL;
  }

  if (loadHeader(H_READY) != readyLiveCount() || loadHeader(H_DQ_COUNT) != batchLength()) return INVARIANT_HEADER;

  const wheel = timersCheck();
  if (wheel != 0) return INVARIANT_WHEEL_BASE + <i32>wheel;
  return 0;
}

/// A COPY relay's buffer. Bytes received and not sent ([sent, filled)) are in
/// the buffer the relay holds, which stays the kernel's through the relay
/// until they are sent: a recv-set buffer with unsent bytes is never provided
/// (never in the pick set nor on the provide ring, whose entries are all
/// PROVIDED), or the kernel could receive into it while the relay sends from it.
/// A relay with its own buffer holds it from submit to delivery; a
/// COPY_F_SELECT relay holds one only between the RECV that filled it and
/// the SEND that empties it, so a select relay receiving or starved holds
/// none. A SEND is out only with bytes to send; a starved relay is SUBMITTED
/// with no SQE out, and only a select relay starves.
function copyCheck(slot: u32, state: u8, buffer: i32): bool {
  const filled = copyFilled(slot);
  const sent = copySent(slot);
  const phase = copyPhase(slot);
  if (sent > filled || phase > PHASE_STARVED) return false;
  if (state == STATE_DELIVERED) return true; // its buffer is the program's now
  const select = isSelect(slot);
  if (filled > sent && (buffer == NO_BUFFER || ownerOf(<u32>buffer) != OWNER_KERNEL)) return false;
  if (!select && buffer == NO_BUFFER) return false;
  if (state == STATE_COMPLETED) return phase != PHASE_STARVED;
  // In flight (QUEUED or SUBMITTED).
  if (phase == PHASE_SEND && filled == sent) return false;
  if (phase == PHASE_STARVED && (!select || state != STATE_SUBMITTED)) return false;
  if (select && (phase == PHASE_RECV || phase == PHASE_STARVED || phase == PHASE_SHUTDOWN) && buffer != NO_BUFFER) {
    return false;
  }
  return true;
}
