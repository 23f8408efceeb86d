// Where every region lives. `layOutRegions` places them once, right after the
// core's static data, grows memory once to hold them, and never moves them: a
// pointer or view taken after init stays valid for the life of the instance.
//
// Order: the regions the host and JS see (header, SQ, CQ, DQ, address records,
// staging record, provide ring, arena), then the core-private tables (op records, buffer
// records, ready queue, batch, timer wheel). memory_end covers both.
//
// This is the bottom of the core: every table reads its base address here.
// The sizes of the core-private records belong to the modules that define
// those records (ops, buffers, queues, timers); init passes them down, so
// nothing here imports a table.
import {
  LAYOUT_MAGIC, LAYOUT_VERSION, HEADER_SIZE, SQE_SIZE, CQE_SIZE, DQE_SIZE, ADDR_RECORD_SIZE,
  H_MAGIC, H_VERSION, H_HEADER_SIZE, H_OP_CAPACITY, H_SQ_ENTRIES, H_SQ_MASK, H_CQ_ENTRIES,
  H_CQ_MASK, H_DQ_ENTRIES, H_ARENA, H_BUFFER_SIZE, H_BUFFER_COUNT, H_ADDR_RECORDS,
  H_ADDR_STAGING, H_MEMORY_END, H_DQ_CAPACITY, H_PROVIDE_ENTRIES, H_PROVIDE_MASK, H_PROVIDE_COUNT,
  PROVIDE_ENTRY_SIZE,
} from "./layout";
import { ENOMEM } from "./errno";

const PAGE_SIZE: u64 = 65536;
const CACHE_LINE: u64 = 64;
// The arena starts on a page (v4): a pool buffer whose size is a multiple of
// 512 or 4096 then meets O_DIRECT's memory alignment, which the file API checks.
const ARENA_ALIGN: u64 = 4096;
// Addresses are u32 in every record: the last region must end below 4 GiB.
const ADDRESS_LIMIT: u64 = 0x1_0000_0000;

export let initialized: bool = false;

// Shared regions (their addresses are also in the header).
export let headerBase: usize = 0;
export let opCapacity: u32 = 0;
export let sqBase: usize = 0;
export let sqMask: u32 = 0;
export let cqBase: usize = 0;
export let cqMask: u32 = 0;
export let dqBase: usize = 0;
export let dqCapacity: u32 = 0;
export let addrRecords: usize = 0;
export let addrStaging: usize = 0;
export let arena: usize = 0;
export let bufferSize: u32 = 0;
export let bufferCount: u32 = 0;
export let provideBase: usize = 0;
export let provideMask: u32 = 0;
export let provideCount: u32 = 0; // buffers [0, provideCount) are the recv set

// Core-private regions.
export let opTable: usize = 0;
export let bufferTable: usize = 0;
export let readyBase: usize = 0;
export let readyMask: u32 = 0;
export let batchBase: usize = 0;
export let wheelBase: usize = 0;
export let memoryEnd: usize = 0;

export function nextPowerOfTwo(value: u32): u32 {
  return value <= 1 ? 1 : <u32>1 << (32 - clz<u32>(value - 1));
}

function alignUp(value: u64, alignment: u64): u64 {
  return (value + alignment - 1) & ~(alignment - 1);
}

/// Places the regions for already validated sizes, grows memory once and
/// writes the header. Returns the header address, or -ENOMEM. Writes nothing
/// to memory unless it succeeds, so a failed init can be retried. The last
/// five sizes are those of the core-private records, from the modules that
/// own them (init passes them): an op record, a buffer record, a ready-queue
/// entry, a batch entry, and the whole timer wheel.
export function layOutRegions(
  capacity: u32, buffers: u32, perBuffer: u32, cqEntries: u32, provided: u32,
  opRecordSize: u32, bufferRecordSize: u32, readyEntrySize: u32, batchEntrySize: u32, wheelSize: u32,
): i32 {
  // One own SQE plus one cancel SQE per slot always fits (see queues.ts).
  const sqEntries = nextPowerOfTwo(capacity * 2);
  const cqCount = nextPowerOfTwo(max(cqEntries, capacity));
  // The DQ holds one reap's deliveries; the budget is capped at its capacity.
  const dqCount = cqCount;
  // The ready queue holds every final completion (at most one per slot) plus
  // as many MORE deliveries as the CQ holds: reap stops draining the CQ first.
  const readyCount = nextPowerOfTwo(capacity + cqCount);
  // Each recv-set buffer has at most one entry the host has not taken (see buffers.ts).
  const provideEntries = nextPowerOfTwo(provided);

  let cursor = alignUp(<u64>__heap_base, CACHE_LINE);
  const header = cursor; cursor += HEADER_SIZE;
  const sq = cursor; cursor += <u64>sqEntries * SQE_SIZE;
  const cq = cursor; cursor += <u64>cqCount * CQE_SIZE;
  const dq = cursor; cursor += <u64>dqCount * DQE_SIZE;
  const records = cursor; cursor += <u64>capacity * ADDR_RECORD_SIZE;
  const staging = cursor; cursor += ADDR_RECORD_SIZE;
  const provideRing = cursor; cursor += <u64>provideEntries * PROVIDE_ENTRY_SIZE;
  const pool = alignUp(cursor, ARENA_ALIGN); cursor = pool + <u64>buffers * perBuffer;
  const ops = alignUp(cursor, CACHE_LINE); cursor = ops + <u64>capacity * opRecordSize;
  const bufferRecords = cursor; cursor += <u64>buffers * bufferRecordSize;
  const ready = alignUp(cursor, 16); cursor = ready + <u64>readyCount * readyEntrySize;
  const batch = cursor; cursor += <u64>dqCount * batchEntrySize;
  const wheel = alignUp(cursor, 8); cursor = wheel + wheelSize;
  const end = cursor;
  if (end >= ADDRESS_LIMIT) return -ENOMEM;

  const pagesNeeded = <i32>((end + PAGE_SIZE - 1) / PAGE_SIZE);
  const pagesNow = memory.size();
  if (pagesNeeded > pagesNow && memory.grow(pagesNeeded - pagesNow) < 0) return -ENOMEM;

  // Grown pages are zero, but the imported memory's existing pages are
  // whatever the embedder left there: zero every region, so the same calls
  // always produce the same bytes. The arena is the exception that matters:
  // it is most of the memory (buffers x size: hundreds of MiB for a server),
  // and writing it would make every page resident at start. Only the part of
  // it below the old memory size can hold old bytes; the grown part is zero
  // by the Wasm spec and stays untouched until a buffer is used.
  const poolEnd = pool + <u64>buffers * perBuffer;
  const oldEnd = <u64>pagesNow * PAGE_SIZE;
  memory.fill(<usize>header, 0, <usize>(pool - header));
  if (oldEnd > pool) memory.fill(<usize>pool, 0, <usize>(min(oldEnd, poolEnd) - pool));
  memory.fill(<usize>poolEnd, 0, <usize>(end - poolEnd));

  headerBase = <usize>header;
  opCapacity = capacity;
  sqBase = <usize>sq; sqMask = sqEntries - 1;
  cqBase = <usize>cq; cqMask = cqCount - 1;
  dqBase = <usize>dq; dqCapacity = dqCount;
  addrRecords = <usize>records; addrStaging = <usize>staging;
  provideBase = <usize>provideRing; provideMask = provideEntries - 1; provideCount = provided;
  arena = <usize>pool; bufferSize = perBuffer; bufferCount = buffers;
  opTable = <usize>ops; bufferTable = <usize>bufferRecords;
  readyBase = <usize>ready; readyMask = readyCount - 1;
  batchBase = <usize>batch; wheelBase = <usize>wheel;
  memoryEnd = <usize>end;

  storeHeader(H_MAGIC, LAYOUT_MAGIC);
  storeHeader(H_VERSION, LAYOUT_VERSION);
  storeHeader(H_HEADER_SIZE, HEADER_SIZE);
  storeHeader(H_OP_CAPACITY, capacity);
  storeHeader(H_SQ_ENTRIES, <u32>sqBase);
  storeHeader(H_SQ_MASK, sqMask);
  storeHeader(H_CQ_ENTRIES, <u32>cqBase);
  storeHeader(H_CQ_MASK, cqMask);
  storeHeader(H_DQ_ENTRIES, <u32>dqBase);
  storeHeader(H_ARENA, <u32>arena);
  storeHeader(H_BUFFER_SIZE, bufferSize);
  storeHeader(H_BUFFER_COUNT, bufferCount);
  storeHeader(H_ADDR_RECORDS, <u32>addrRecords);
  storeHeader(H_ADDR_STAGING, <u32>addrStaging);
  storeHeader(H_MEMORY_END, <u32>memoryEnd);
  storeHeader(H_DQ_CAPACITY, dqCapacity);
  storeHeader(H_PROVIDE_ENTRIES, <u32>provideBase);
  storeHeader(H_PROVIDE_MASK, provideMask);
  storeHeader(H_PROVIDE_COUNT, provideCount);
  // sq_head/tail, cq_head/tail, provide head/tail, dq_count and ready start at zero (filled above).
  initialized = true;
  return <i32>headerBase;
}

/// Where byte `offset` of pool buffer `index` lives.
export function bufferAddress(index: u32, offset: u32): u32 {
  return <u32>(arena + <usize>index * bufferSize + offset);
}

export function loadHeader(field: u32): u32 {
  return load<u32>(headerBase + field);
}

export function storeHeader(field: u32, value: u32): void {
  store<u32>(headerBase + field, value);
}
