// The buffer pool: bufferCount buffers of bufferSize bytes in the arena, each
// owned by exactly one party at a time.
//
//   FREE ──bufAlloc──► PROGRAM ──submit──► KERNEL ──final delivery──► PROGRAM
//     ▲                   │                  │
//     └─────bufFree───────┘                  └──abandoned op's final completion──► FREE
//
// The kernel writes into a KERNEL buffer at any time, so no other submit may
// name it and the program may not free it: ownership is the whole safety story
// of rent-style I/O. The free list is LIFO: the most recently used buffer is
// the one most likely still in cache.
//
// The recv set (layout v2): buffers [0, provideCount) are never FREE. They
// start PROVIDED, in the kernel's pick set, and take the other way round:
//
//   PROVIDED ──a buffer-select RECV's CQE names it──► KERNEL ──final delivery──► PROGRAM
//     ▲  ▲                                               │                        │
//     │  └──abandoned op, or a CQE with no data (EOF)────┘                        │
//     └────────────────────────────bufFree────────────────────────────────────────┘
//
// A multishot buffer-select RECV's MORE CQEs take the same way, each buffer
// named by its ready-queue entry rather than by the op until delivered.
//
// A PROGRAM recv-set buffer may be lent to SEND/RECV/… like any other. Each
// time one becomes PROVIDED its index is pushed on the provide ring, which the
// host drains into the kernel's buffer ring on its next flush. A buffer leaves
// PROVIDED only through a CQE naming it, which a correct host writes only after
// taking its entry, so the ring holds at most one entry per recv-set buffer.
import { bufferSize, bufferCount, bufferTable, provideCount } from "./regions";
import { EBUSY, EINVAL, ENOBUFS } from "./errno";
import { NIL } from "./ops";
import { providePush } from "./queues";
import { wakeStarved } from "./copy-starved";

export const BUFFER_RECORD_SIZE: u32 = 12;
const B_OWNER: u32 = 0; // u32, OWNER_*
const B_NEXT: u32 = 4; // u32, free list link
const B_SCRATCH: u32 = 8; // u32, checkInvariants' tally of ops naming the buffer

export const OWNER_FREE: u32 = 0;
export const OWNER_PROGRAM: u32 = 1;
export const OWNER_KERNEL: u32 = 2;
export const OWNER_PROVIDED: u32 = 3;

let freeHead: u32 = NIL;
let lentCount: u32 = 0;
let heldCount: u32 = 0;
let providedCount: u32 = 0;

@inline function record(index: u32, offset: u32): usize {
  return bufferTable + <usize>index * BUFFER_RECORD_SIZE + offset;
}

export function ownerOf(index: u32): u32 { return load<u32>(record(index, B_OWNER)); }
function setOwner(index: u32, owner: u32): void { store<u32>(record(index, B_OWNER), owner); }
function nextFree(index: u32): u32 { return load<u32>(record(index, B_NEXT)); }
function pushFree(index: u32): void {
  setOwner(index, OWNER_FREE);
  store<u32>(record(index, B_NEXT), freeHead);
  freeHead = index;
}
export function bufferScratch(index: u32): u32 { return load<u32>(record(index, B_SCRATCH)); }
export function setBufferScratch(index: u32, value: u32): void { store<u32>(record(index, B_SCRATCH), value); }

/// Into the kernel's pick set: the host learns it from the provide ring.
function provide(index: u32): void {
  setOwner(index, OWNER_PROVIDED);
  providedCount++;
  providePush(index);
  wakeStarved(); // a relay starved of recv-set buffers receives again (copy-starved.ts)
}

/// Where a buffer nobody uses goes: back to the pick set, or to the pool.
function giveBack(index: u32): void {
  if (index < provideCount) provide(index);
  else pushFree(index);
}

export function isRecvSetBuffer(index: u32): bool { return index < provideCount; }

export function buffersReset(): void {
  freeHead = NIL;
  lentCount = 0;
  heldCount = 0;
  providedCount = 0;
  // Pushed in reverse so that bufAlloc hands out the first pool buffer, then
  // the next, ... on a fresh pool. The recv set is provided in order.
  for (let index = bufferCount; index > provideCount; index--) pushFree(index - 1);
  for (let index: u32 = 0; index < provideCount; index++) provide(index);
}

export function bufAlloc(): i32 {
  const index = freeHead;
  if (index == NIL) return -ENOBUFS;
  assert(ownerOf(index) == OWNER_FREE);
  freeHead = nextFree(index);
  setOwner(index, OWNER_PROGRAM);
  heldCount++;
  return <i32>index;
}

export function bufFree(index: i32): i32 {
  if (<u32>index >= bufferCount) return -EINVAL;
  const owner = ownerOf(index);
  if (owner == OWNER_KERNEL) return -EBUSY;
  if (owner != OWNER_PROGRAM) return -EINVAL;
  giveBack(index);
  heldCount--;
  return 0;
}

export function bufOwner(index: i32): i32 {
  if (<u32>index >= bufferCount) return -EINVAL;
  return <i32>ownerOf(index);
}

/// 0 when [offset, offset + len) of buffer `index` may be lent to the kernel;
/// -EBUSY when the buffer is already lent; -EINVAL when it is free, out of
/// range, or the span is empty or runs past the buffer.
export function checkLendable(index: i32, offset: i32, len: i32): i32 {
  if (<u32>index >= bufferCount) return -EINVAL;
  const owner = ownerOf(index);
  if (owner == OWNER_KERNEL) return -EBUSY;
  if (owner != OWNER_PROGRAM) return -EINVAL;
  if (offset < 0 || len < 1 || <u64>offset + <u64>len > <u64>bufferSize) return -EINVAL;
  return 0;
}

/// PROGRAM -> KERNEL, on submit.
export function bufferLend(index: u32): void {
  assert(ownerOf(index) == OWNER_PROGRAM);
  setOwner(index, OWNER_KERNEL);
  heldCount--;
  lentCount++;
}

/// KERNEL -> PROGRAM, on the op's final delivery.
export function bufferHandBack(index: u32): void {
  assert(ownerOf(index) == OWNER_KERNEL);
  setOwner(index, OWNER_PROGRAM);
  lentCount--;
  heldCount++;
}

/// KERNEL -> FREE (or PROVIDED for the recv set), on an abandoned op's final
/// completion, or a buffer-select RECV's that carried no data: nobody will read it.
export function bufferReclaim(index: u32): void {
  assert(ownerOf(index) == OWNER_KERNEL);
  giveBack(index);
  lentCount--;
}

/// PROVIDED -> KERNEL: the host says the kernel picked `index` for an op. False,
/// changing nothing, when `index` is not a provided recv-set buffer (a host bug).
export function bufferPicked(index: u32): bool {
  if (index >= provideCount || ownerOf(index) != OWNER_PROVIDED) return false;
  setOwner(index, OWNER_KERNEL);
  providedCount--;
  lentCount++;
  return true;
}

export function buffersLent(): u32 { return lentCount; }
export function buffersHeld(): u32 { return heldCount; }
export function buffersProvided(): u32 { return providedCount; }

/// The free list's length, or NIL if it is broken (a non-free buffer on it, a cycle).
export function bufferFreeListLength(): u32 {
  let length: u32 = 0;
  for (let index = freeHead; index != NIL; index = nextFree(index)) {
    if (index >= bufferCount || ownerOf(index) != OWNER_FREE || length >= bufferCount) return NIL;
    length++;
  }
  return length;
}
