// A stand-in for the Wasm core, for testing the host alone: lays out a valid
// layout-v2 header and its regions inside a WebAssembly.Memory using the
// constants of src/layout.ts, writes SQEs and reads CQEs. It has no op table:
// tests choose ids and buffers themselves.
//
// Plain TypeScript with one import, so the worker and child-process tests can
// transpile it and run it outside jest.

import * as L from '../../src/core/layout';

export interface FakeCoreOptions {
  opCapacity?: number; // default 16
  cqEntries?: number; // default 64, a power of two
  bufferCount?: number; // default 8
  bufferSize?: number; // default 4096, a multiple of 64
  /** Buffers [0, provided) are the recv set (default 0); `provide` hands them to the host. */
  provided?: number;
}

export interface SqeInit {
  id: number;
  opcode: number;
  flags?: number;
  fd?: number;
  addr?: number;
  len?: number;
  aux?: number;
  /** READ/WRITE position (-1n: current), TIMEOUT ns, CANCEL target id. */
  arg?: bigint;
}

export interface Cqe {
  id: number;
  res: number;
  flags: number;
}

const PAGE = 65536;
const align64 = (n: number) => (n + 63) & ~63;
const nextPow2 = (n: number) => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};

export class FakeCore {
  readonly memory: WebAssembly.Memory;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly header = 1024; // past a pretend static-data area, 64-aligned
  readonly opCapacity: number;
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly bufferCount: number;
  readonly bufferSize: number;
  readonly sq: number;
  readonly cq: number;
  readonly dq: number;
  readonly arena: number;
  readonly addrRecords: number;
  readonly addrStaging: number;
  readonly memoryEnd: number;
  readonly provided: number;
  readonly provideEntries: number;
  readonly provideRing: number;

  constructor(options: FakeCoreOptions = {}) {
    this.opCapacity = options.opCapacity ?? 16;
    this.sqEntries = nextPow2(2 * this.opCapacity);
    this.cqEntries = options.cqEntries ?? 64;
    this.bufferCount = options.bufferCount ?? 8;
    this.bufferSize = options.bufferSize ?? 4096;
    const dqCapacity = 16;

    let at = this.header + L.HEADER_SIZE;
    const take = (size: number) => {
      const start = align64(at);
      at = start + size;
      return start;
    };
    this.sq = take(this.sqEntries * L.SQE_SIZE);
    this.cq = take(this.cqEntries * L.CQE_SIZE);
    this.dq = take(dqCapacity * L.DQE_SIZE);
    this.arena = take(this.bufferCount * this.bufferSize);
    this.addrRecords = take(this.opCapacity * L.ADDR_RECORD_SIZE);
    this.addrStaging = take(L.ADDR_RECORD_SIZE);
    this.provided = options.provided ?? 0;
    this.provideEntries = nextPow2(Math.max(1, this.provided));
    this.provideRing = take(this.provideEntries * L.PROVIDE_ENTRY_SIZE);
    this.memoryEnd = at;

    this.memory = new WebAssembly.Memory({ initial: Math.ceil(this.memoryEnd / PAGE) + 1 });
    this.bytes = new Uint8Array(this.memory.buffer);
    this.view = new DataView(this.memory.buffer);

    const h = (field: number, value: number) => this.setHeader(field, value);
    h(L.H_MAGIC, L.LAYOUT_MAGIC);
    h(L.H_VERSION, L.LAYOUT_VERSION);
    h(L.H_HEADER_SIZE, L.HEADER_SIZE);
    h(L.H_OP_CAPACITY, this.opCapacity);
    h(L.H_SQ_ENTRIES, this.sq);
    h(L.H_SQ_MASK, this.sqEntries - 1);
    h(L.H_CQ_ENTRIES, this.cq);
    h(L.H_CQ_MASK, this.cqEntries - 1);
    h(L.H_DQ_ENTRIES, this.dq);
    h(L.H_DQ_CAPACITY, dqCapacity);
    h(L.H_ARENA, this.arena);
    h(L.H_BUFFER_SIZE, this.bufferSize);
    h(L.H_BUFFER_COUNT, this.bufferCount);
    h(L.H_ADDR_RECORDS, this.addrRecords);
    h(L.H_ADDR_STAGING, this.addrStaging);
    h(L.H_MEMORY_END, this.memoryEnd);
    h(L.H_PROVIDE_ENTRIES, this.provideRing);
    h(L.H_PROVIDE_MASK, this.provideEntries - 1);
    h(L.H_PROVIDE_COUNT, this.provided);
  }

  /** Puts recv-set buffers in the host's pick set (the provide ring); the host
   * takes them at its next flush. */
  provide(...indices: number[]): void {
    let tail = this.getHeader(L.H_PROVIDE_TAIL);
    for (const index of indices) {
      this.view.setUint32(this.provideRing + (tail & (this.provideEntries - 1)) * L.PROVIDE_ENTRY_SIZE, index, true);
      tail = (tail + 1) >>> 0;
    }
    this.setHeader(L.H_PROVIDE_TAIL, tail);
  }

  getHeader(field: number): number {
    return this.view.getUint32(this.header + field, true);
  }

  setHeader(field: number, value: number): void {
    this.view.setUint32(this.header + field, value >>> 0, true);
  }

  /** An op id: generation << SLOT_BITS | slot (generation is never 0). */
  id(slot: number, generation = 1): number {
    return ((generation << L.SLOT_BITS) | slot) >>> 0;
  }

  /** Memory offset of pool buffer `index`. */
  buffer(index: number): number {
    return this.arena + index * this.bufferSize;
  }

  /** Memory offset of op slot `slot`'s address record. */
  addrRecord(slot: number): number {
    return this.addrRecords + slot * L.ADDR_RECORD_SIZE;
  }

  writeBuffer(index: number, data: Uint8Array | string): number {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.bytes.set(bytes, this.buffer(index));
    return bytes.length;
  }

  readBuffer(index: number, length: number): Uint8Array {
    const start = this.buffer(index);
    return this.bytes.slice(start, start + length);
  }

  sqFree(): number {
    return this.sqEntries - ((this.getHeader(L.H_SQ_TAIL) - this.getHeader(L.H_SQ_HEAD)) >>> 0);
  }

  /** Writes one SQE at sq_tail and publishes it. */
  submit(sqe: SqeInit): void {
    if (this.sqFree() === 0) throw new Error('fake core: SQ full');
    const tail = this.getHeader(L.H_SQ_TAIL);
    const at = this.sq + (tail & (this.sqEntries - 1)) * L.SQE_SIZE;
    this.bytes.fill(0, at, at + L.SQE_SIZE);
    this.view.setUint32(at + L.SQE_ID, sqe.id >>> 0, true);
    this.view.setUint8(at + L.SQE_OPCODE, sqe.opcode);
    this.view.setUint8(at + L.SQE_FLAGS, sqe.flags ?? 0);
    this.view.setInt32(at + L.SQE_FD, sqe.fd ?? -1, true);
    this.view.setUint32(at + L.SQE_ADDR, (sqe.addr ?? 0) >>> 0, true);
    this.view.setUint32(at + L.SQE_LEN, (sqe.len ?? 0) >>> 0, true);
    this.view.setUint32(at + L.SQE_AUX, (sqe.aux ?? 0) >>> 0, true);
    this.view.setBigUint64(at + L.SQE_ARG, BigInt.asUintN(64, sqe.arg ?? 0n), true);
    this.setHeader(L.H_SQ_TAIL, tail + 1);
  }

  /** CQEs written by the host and not yet taken. */
  cqPending(): number {
    return (this.getHeader(L.H_CQ_TAIL) - this.getHeader(L.H_CQ_HEAD)) >>> 0;
  }

  /** Takes every pending CQE (advances cq_head). */
  takeCqes(): Cqe[] {
    const out: Cqe[] = [];
    let head = this.getHeader(L.H_CQ_HEAD);
    const tail = this.getHeader(L.H_CQ_TAIL);
    while (head !== tail) {
      const at = this.cq + (head & (this.cqEntries - 1)) * L.CQE_SIZE;
      out.push({
        id: this.view.getUint32(at + L.CQE_ID, true),
        res: this.view.getInt32(at + L.CQE_RES, true),
        flags: this.view.getUint32(at + L.CQE_FLAGS, true),
      });
      head = (head + 1) >>> 0;
    }
    this.setHeader(L.H_CQ_HEAD, head);
    return out;
  }
}

/** The part of the driver `collect` needs (keeps this file free of src/host). */
export interface Pollable {
  poll(waitMs: number): number;
}

/**
 * Polls until `count` CQEs have arrived or `timeoutMs` passed; returns what
 * arrived (the caller asserts on the count).
 */
export function collect(driver: Pollable, core: FakeCore, count: number, timeoutMs = 3000): Cqe[] {
  const out: Cqe[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    driver.poll(Math.min(left, 100));
    out.push(...core.takeCqes());
  }
  return out;
}
