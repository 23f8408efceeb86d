// The core's memory as the simulation host sees it: the TypeScript twin of
// host/core_memory.{h,cc}. The header is checked once, at attach; every SQE
// is checked (`checkSqe`, the rules of docs/ARCHITECTURE.md "What the host
// checks before the kernel sees an SQE") before the simulated kernel sees it,
// and the ring counters are bounded on every read, so nothing the core
// writes can make the host loop or write outside its regions.
import * as L from '../core/layout';
import { EBADF, EFAULT, EINVAL } from '../errors/errno';
import { codedError } from '../errors/errors';

/** One submission entry, decoded. */
export interface Sqe {
  id: number;
  opcode: number;
  flags: number;
  fd: number;
  addr: number;
  len: number;
  aux: number;
  /** The u64 argument as a double (timeout ns and cancel ids fit 53 bits). */
  arg: number;
}

const isMask = (m: number): boolean => m >= 0 && (m & (m + 1)) === 0;

export class CoreView {
  readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  readonly opCapacity: number;
  private readonly sqBase: number;
  private readonly sqMask: number;
  private readonly cqBase: number;
  private readonly cqMask: number;
  readonly arena: number;
  readonly arenaEnd: number;
  readonly bufferSize: number;
  private readonly addrRecords: number;
  readonly addrStaging: number;
  private readonly provideBase: number;
  private readonly provideMask: number;
  readonly provideCount: number;
  readonly dqBase: number;
  private sqHead: number;
  private cqTail: number;
  private provideHead: number;

  /** Attaches to the header at `header`; throws ERR_PERCORE_LAYOUT_MISMATCH if it is not one this host speaks. */
  constructor(
    memory: Uint8Array,
    private readonly header: number,
  ) {
    this.u8 = memory;
    this.u32 = new Uint32Array(memory.buffer, memory.byteOffset, memory.byteLength >> 2);
    this.i32 = new Int32Array(memory.buffer, memory.byteOffset, memory.byteLength >> 2);
    if (header % 64 !== 0 || header + L.HEADER_SIZE > memory.byteLength) refuse(`header ${header} is out of bounds`);
    const h = (field: number): number => this.u32[(header + field) >> 2];
    if (h(L.H_MAGIC) !== L.LAYOUT_MAGIC) refuse(`bad magic 0x${h(L.H_MAGIC).toString(16)}`);
    if (h(L.H_VERSION) !== L.LAYOUT_VERSION)
      refuse(`the core speaks layout version ${h(L.H_VERSION)}, this host version ${L.LAYOUT_VERSION}`);
    if (h(L.H_HEADER_SIZE) !== L.HEADER_SIZE) refuse(`header size ${h(L.H_HEADER_SIZE)}`);
    this.opCapacity = h(L.H_OP_CAPACITY);
    if (this.opCapacity === 0 || this.opCapacity > L.MAX_OP_CAPACITY) refuse(`op capacity ${this.opCapacity}`);
    this.sqBase = h(L.H_SQ_ENTRIES);
    this.sqMask = h(L.H_SQ_MASK);
    this.cqBase = h(L.H_CQ_ENTRIES);
    this.cqMask = h(L.H_CQ_MASK);
    this.provideBase = h(L.H_PROVIDE_ENTRIES);
    this.provideMask = h(L.H_PROVIDE_MASK);
    this.provideCount = h(L.H_PROVIDE_COUNT);
    if (!isMask(this.sqMask) || !isMask(this.cqMask) || !isMask(this.provideMask)) refuse('a ring mask is not 2^n - 1');
    this.bufferSize = h(L.H_BUFFER_SIZE);
    if (this.bufferSize === 0 || this.bufferSize % 64 !== 0) refuse(`buffer size ${this.bufferSize}`);
    const bufferCount = h(L.H_BUFFER_COUNT);
    if (this.provideCount > Math.min(bufferCount, L.MAX_PROVIDE_COUNT) || this.provideCount > this.provideMask + 1)
      refuse(`recv set of ${this.provideCount} buffers`);
    const end = h(L.H_MEMORY_END);
    if (end > memory.byteLength) refuse(`memory_end ${end} is past the memory (${memory.byteLength})`);
    this.arena = h(L.H_ARENA);
    this.arenaEnd = this.arena + bufferCount * this.bufferSize;
    this.addrRecords = h(L.H_ADDR_RECORDS);
    this.addrStaging = h(L.H_ADDR_STAGING);
    this.dqBase = h(L.H_DQ_ENTRIES);
    const regions: Array<[string, number, number]> = [
      ['sq', this.sqBase, (this.sqMask + 1) * L.SQE_SIZE],
      ['cq', this.cqBase, (this.cqMask + 1) * L.CQE_SIZE],
      ['dq', this.dqBase, h(L.H_DQ_CAPACITY) * L.DQE_SIZE],
      ['arena', this.arena, bufferCount * this.bufferSize],
      ['address records', this.addrRecords, this.opCapacity * L.ADDR_RECORD_SIZE],
      ['staging record', this.addrStaging, L.ADDR_RECORD_SIZE],
      ['provide ring', this.provideBase, (this.provideMask + 1) * L.PROVIDE_ENTRY_SIZE],
    ];
    for (const [name, start, size] of regions) {
      if (start < header + L.HEADER_SIZE || start + size > end || start % 4 !== 0)
        refuse(`core ${name} region [${start}, +${size}) is outside [header, memory_end)`);
    }
    this.sqHead = h(L.H_SQ_HEAD);
    this.cqTail = h(L.H_CQ_TAIL);
    this.provideHead = h(L.H_PROVIDE_HEAD);
  }

  private load(field: number): number {
    return this.u32[(this.header + field) >> 2];
  }

  private store(field: number, v: number): void {
    this.u32[(this.header + field) >> 2] = v;
  }

  // ---- submission queue (core produces, host consumes) ----

  /** SQEs waiting, bounded by the ring (a corrupt tail reads as a full ring). */
  sqPending(): number {
    const n = (this.load(L.H_SQ_TAIL) - this.sqHead) >>> 0;
    return Math.min(n, this.sqMask + 1);
  }

  /** Takes the next SQE (valid only when sqPending() > 0); publish with `publishSqHead`. */
  takeSqe(into: Sqe): Sqe {
    const at = (this.sqBase + (this.sqHead & this.sqMask) * L.SQE_SIZE) >> 2;
    const u32 = this.u32;
    into.id = u32[at];
    const word = u32[at + 1];
    into.opcode = word & 0xff;
    into.flags = (word >>> 8) & 0xff;
    into.fd = this.i32[at + 2];
    into.addr = u32[at + 3];
    into.len = u32[at + 4];
    into.aux = u32[at + 5];
    into.arg = u32[at + 6] + u32[at + 7] * 0x100000000;
    this.sqHead = (this.sqHead + 1) >>> 0;
    return into;
  }

  publishSqHead(): void {
    this.store(L.H_SQ_HEAD, this.sqHead);
  }

  // ---- completion queue (host produces, core consumes) ----

  cqSpace(): number {
    const used = (this.cqTail - this.load(L.H_CQ_HEAD)) >>> 0;
    return used >= this.cqMask + 1 ? 0 : this.cqMask + 1 - used;
  }

  /** Writes one CQE; the caller checked cqSpace() > 0. */
  pushCqe(id: number, res: number, flags: number): void {
    if (this.cqSpace() === 0) throw new Error('percore sim: a CQE pushed into a full CQ (a host bug)');
    const at = (this.cqBase + (this.cqTail & this.cqMask) * L.CQE_SIZE) >> 2;
    this.u32[at] = id;
    this.i32[at + 1] = res;
    this.u32[at + 2] = flags;
    this.u32[at + 3] = 0;
    this.cqTail = (this.cqTail + 1) >>> 0;
    this.store(L.H_CQ_TAIL, this.cqTail);
  }

  // ---- provide ring (core produces recv-set indices, host consumes) ----

  /** Calls `take(index)` for each index the core provided (unchecked: the caller checks). */
  drainProvided(take: (index: number) => void): void {
    let n = Math.min((this.load(L.H_PROVIDE_TAIL) - this.provideHead) >>> 0, this.provideMask + 1);
    if (n === 0) return;
    for (; n > 0; n--) {
      take(this.u32[(this.provideBase + (this.provideHead & this.provideMask) * L.PROVIDE_ENTRY_SIZE) >> 2]);
      this.provideHead = (this.provideHead + 1) >>> 0;
    }
    this.store(L.H_PROVIDE_HEAD, this.provideHead);
  }

  bufferOffset(index: number): number {
    return this.arena + index * this.bufferSize;
  }

  inArena(addr: number, len: number): boolean {
    return addr >= this.arena && addr + len <= this.arenaEnd;
  }

  isOpAddrRecord(addr: number): boolean {
    return (
      addr >= this.addrRecords &&
      addr < this.addrRecords + this.opCapacity * L.ADDR_RECORD_SIZE &&
      (addr - this.addrRecords) % L.ADDR_RECORD_SIZE === 0
    );
  }

  isAddrRecord(addr: number): boolean {
    return addr === this.addrStaging || this.isOpAddrRecord(addr);
  }

  /** The deliveries of the core's current batch, for the trace: calls `each` per DQE. */
  forEachDelivery(each: (id: number, res: number, flags: number, opcode: number) => void): void {
    const n = this.load(L.H_DQ_COUNT);
    for (let i = 0, at = this.dqBase >> 2; i < n; i++, at += L.DQE_SIZE >> 2) {
      each(this.u32[at], this.i32[at + 1], this.u32[at + 2], this.u32[at + 3]);
    }
  }
}

function refuse(why: string): never {
  throw codedError('ERR_PERCORE_LAYOUT_MISMATCH', `percore sim host: the core's header is refused: ${why}`);
}

/**
 * The checks before the kernel sees an SQE (host/core_memory.cc `CheckSqe`):
 * 0 if it may run, else the negative errno to complete it with.
 */
export function checkSqe(sqe: Sqe, view: CoreView, owns: (fd: number) => boolean): number {
  if (sqe.id === L.INTERNAL_ID) {
    if (sqe.opcode !== L.OP_CANCEL) return -EINVAL;
  } else if ((sqe.id & L.SLOT_MASK) >= view.opCapacity || sqe.id >>> L.SLOT_BITS === 0) {
    return -EINVAL;
  }
  const selectMulti = L.SQE_F_MULTISHOT | L.SQE_F_BUFFER_SELECT;
  const allowed = sqe.opcode === L.OP_ACCEPT ? L.SQE_F_MULTISHOT : sqe.opcode === L.OP_RECV ? selectMulti : 0;
  if ((sqe.flags & ~allowed) !== 0) return -EINVAL;
  switch (sqe.opcode) {
    case L.OP_NOP:
    case L.OP_TIMEOUT:
    case L.OP_CANCEL:
      return 0;
    case L.OP_ACCEPT:
    case L.OP_CLOSE:
      return owns(sqe.fd) ? 0 : -EBADF;
    case L.OP_SHUTDOWN:
      if (!owns(sqe.fd)) return -EBADF;
      return sqe.aux <= 2 ? 0 : -EINVAL;
    case L.OP_CONNECT:
      if (!owns(sqe.fd)) return -EBADF;
      return view.isOpAddrRecord(sqe.addr) && sqe.len === L.ADDR_RECORD_SIZE ? 0 : -EFAULT;
    case L.OP_RECV:
      if ((sqe.flags & L.SQE_F_BUFFER_SELECT) !== 0) {
        if (!owns(sqe.fd)) return -EBADF;
        if (view.provideCount === 0) return -EINVAL;
        if (sqe.len === 0 || sqe.len > view.bufferSize) return -EINVAL;
        if ((sqe.flags & L.SQE_F_MULTISHOT) !== 0 && sqe.len !== view.bufferSize) return -EINVAL;
        return 0;
      }
      if ((sqe.flags & L.SQE_F_MULTISHOT) !== 0) return -EINVAL;
      return owns(sqe.fd) ? (view.inArena(sqe.addr, sqe.len) ? 0 : -EFAULT) : -EBADF;
    case L.OP_SEND:
    case L.OP_READ:
    case L.OP_WRITE:
      if (!owns(sqe.fd)) return -EBADF;
      return view.inArena(sqe.addr, sqe.len) ? 0 : -EFAULT;
    default:
      return -EINVAL;
  }
}
