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
import { arena, bufferSize, bufferCount, bufferTable } from "./regions";
import { EBUSY, EINVAL, ENOBUFS } from "./errno";
import { NIL } from "./ops";

export const BUFFER_RECORD_SIZE: u32 = 12;
const B_OWNER: u32 = 0; // u32, OWNER_*
const B_NEXT: u32 = 4; // u32, free list link
const B_SCRATCH: u32 = 8; // u32, checkInvariants' tally of ops naming the buffer

export const OWNER_FREE: u32 = 0;
export const OWNER_PROGRAM: u32 = 1;
export const OWNER_KERNEL: u32 = 2;

let freeHead: u32 = NIL;
let lentCount: u32 = 0;
let heldCount: u32 = 0;

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

export function buffersReset(): void {
  freeHead = NIL;
  // Pushed in reverse so that bufAlloc hands out 0, 1, 2, ... on a fresh pool.
  for (let index = bufferCount; index > 0; index--) pushFree(index - 1);
  lentCount = 0;
  heldCount = 0;
}

export function bufferAlloc(): i32 {
  const index = freeHead;
  if (index == NIL) return -ENOBUFS;
  assert(ownerOf(index) == OWNER_FREE);
  freeHead = nextFree(index);
  setOwner(index, OWNER_PROGRAM);
  heldCount++;
  return <i32>index;
}

export function bufferFree(index: i32): i32 {
  if (<u32>index >= bufferCount) return -EINVAL;
  const owner = ownerOf(index);
  if (owner == OWNER_KERNEL) return -EBUSY;
  if (owner != OWNER_PROGRAM) return -EINVAL;
  pushFree(index);
  heldCount--;
  return 0;
}

export function bufferOwner(index: i32): i32 {
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

export function bufferAddress(index: u32, offset: u32): u32 {
  return <u32>(arena + <usize>index * bufferSize + offset);
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

/// KERNEL -> FREE, on an abandoned op's final completion: nobody will read it.
export function bufferReclaim(index: u32): void {
  assert(ownerOf(index) == OWNER_KERNEL);
  pushFree(index);
  lentCount--;
}

export function buffersLent(): u32 { return lentCount; }
export function buffersHeld(): u32 { return heldCount; }

/// The free list's length, or NIL if it is broken (a non-free buffer on it, a cycle).
export function bufferFreeListLength(): u32 {
  let length: u32 = 0;
  for (let index = freeHead; index != NIL; index = nextFree(index)) {
    if (index >= bufferCount || ownerOf(index) != OWNER_FREE || length >= bufferCount) return NIL;
    length++;
  }
  return length;
}
