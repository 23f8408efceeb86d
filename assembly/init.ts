// init: validate the sizes, lay the regions out once, reset every table.
import { MAX_OP_CAPACITY, MAX_PROVIDE_COUNT, LAYOUT_TABLE } from "./layout";
import { EALREADY, EINVAL } from "./errno";
import { initialized, layOutRegions } from "./regions";
import { OP_RECORD_SIZE, opsReset } from "./ops";
import { BUFFER_RECORD_SIZE, buffersReset } from "./buffers";
import { BATCH_ENTRY_SIZE, READY_ENTRY_SIZE, queuesReset } from "./queues";
import { WHEEL_REGION_SIZE, timersReset } from "./timers";
import { finishReset } from "./finish";
import { reapReset } from "./reap";
import { starvedReset } from "./copy-starved";
import { countersReset } from "./counters";

const BUFFER_ALIGNMENT: i32 = 64; // buffer_size is a multiple of a cache line
const MAX_BUFFER_COUNT: i32 = 1 << 20;
const MAX_BUFFER_SIZE: i32 = 1 << 24;
const MAX_CQ_ENTRIES: i32 = 1 << 16;

/// `provided` (0 when JS omits it) pool buffers, indices [0, provided), form the
/// recv set: the kernel picks one of them when data arrives for a RECV with
/// SQE_F_BUFFER_SELECT. They are never handed out by bufAlloc.
export function init(opCapacity: i32, bufferCount: i32, bufferSize: i32, cqEntries: i32, provided: i32): i32 {
  if (initialized) return -EALREADY;
  if (opCapacity < 1 || opCapacity > <i32>MAX_OP_CAPACITY) return -EINVAL;
  if (bufferCount < 0 || bufferCount > MAX_BUFFER_COUNT) return -EINVAL;
  if (bufferSize < BUFFER_ALIGNMENT || bufferSize > MAX_BUFFER_SIZE) return -EINVAL;
  if (bufferSize % BUFFER_ALIGNMENT != 0) return -EINVAL;
  if (cqEntries < 1 || cqEntries > MAX_CQ_ENTRIES) return -EINVAL;
  if (provided < 0 || provided > bufferCount || provided > <i32>MAX_PROVIDE_COUNT) return -EINVAL;
  const header = layOutRegions(
    <u32>opCapacity, <u32>bufferCount, <u32>bufferSize, <u32>cqEntries, <u32>provided,
    OP_RECORD_SIZE, BUFFER_RECORD_SIZE, READY_ENTRY_SIZE, BATCH_ENTRY_SIZE, WHEEL_REGION_SIZE,
  );
  if (header < 0) return header;
  opsReset();
  starvedReset(); // before buffersReset, whose provides would wake starved relays
  queuesReset(); // before buffersReset, which provides the recv set
  buffersReset();
  timersReset();
  finishReset();
  reapReset();
  countersReset();
  return header;
}

export function layoutTableLength(): i32 {
  return LAYOUT_TABLE.length;
}

/// Entry i of the agreement table as an exact unsigned number (an f64, so that
/// JS sees 0xffffffff rather than -1), or -EINVAL for an index out of range.
export function layoutTable(index: i32): f64 {
  if (index < 0 || index >= LAYOUT_TABLE.length) return -EINVAL;
  return <f64>unchecked(LAYOUT_TABLE[index]);
}
