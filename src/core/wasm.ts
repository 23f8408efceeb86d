// Loads the core (build/core/percore.wasm, built by `npm run build:core`) and
// gives each caller a fresh instance over its own memory. The module is
// compiled once per process; instances are cheap. No logic lives here: the
// core's semantics are in assembly/ and docs/ARCHITECTURE.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../package/root';

/** Every export of the core, as the Wasm module declares it. Ids are positive i32s; errors are -errno (Linux numbers). */
export interface CoreExports {
  /** WASI-reactor start function: call once, before anything else (createCore does). */
  _initialize(): void;
  /** Lays out every region once; the header address, or -EINVAL / -ENOMEM / -EALREADY.
   * Buffers [0, provided) form the recv set (0 when omitted; at most min(bufferCount, 32768)). */
  init(opCapacity: number, bufferCount: number, bufferSize: number, cqEntries: number, provided?: number): number;
  /** Entries in the layout agreement table. */
  layoutTableLength(): number;
  /** Agreement-table entry i as an exact unsigned number, or -EINVAL when i is out of range. */
  layoutTable(i: number): number;
  /** A pool buffer, now held by the program; its index, or -ENOBUFS. */
  bufAlloc(): number;
  /** Returns a program-held buffer to the pool: 0, -EINVAL (not held by the program), -EBUSY (lent to the kernel). */
  bufFree(index: number): number;
  /** 0 free, 1 program, 2 kernel, 3 provided (in the kernel's pick set), or -EINVAL for an index out of range. */
  bufOwner(index: number): number;
  /** A NOP through the ring; op id or -errno. */
  submitNop(): number;
  /** ACCEPT on a listener, multishot 0 or 1 (one delivery per connection, flag MORE while armed); op id or -errno. */
  submitAccept(fd: number, multishot: number): number;
  /** CONNECT to the address in the staging record (copied into the op's own record); op id or -errno. */
  submitConnect(fd: number): number;
  /** RECV into [offset, offset+len) of a program-held buffer, lent until delivery; op id or -errno. */
  submitRecv(fd: number, buf: number, offset: number, len: number): number;
  /** RECV of at most len bytes into a recv-set buffer picked when data arrives (SQE_F_BUFFER_SELECT); multishot 1: one MORE delivery per buffer filled, each naming its buffer, while armed; op id or -errno (-ENOBUFS: no recv set). */
  submitRecvSelect(fd: number, len: number, multishot?: number): number;
  /** SEND from [offset, offset+len) of a program-held buffer, lent until delivery; op id or -errno. */
  submitSend(fd: number, buf: number, offset: number, len: number): number;
  /** SENDMSG (v4): one datagram from [offset, offset+len) of a program-held buffer; to 1: to the
   * staging record's address (copied into the op's own record), 0: to the connected peer; op id or -errno. */
  submitSendMsg(fd: number, buf: number, offset: number, len: number, to: number): number;
  /** RECVMSG (v4): one datagram into [offset, offset+len); at delivery the op's address record
   * holds the sender and ADDR_MSG_FLAGS (MSGF_TRUNC: cut to fit); op id or -errno. */
  submitRecvMsg(fd: number, buf: number, offset: number, len: number, fds: number): number;
  /** SPLICE_IN (out 0: socket fd -> pipe write end) or SPLICE_OUT (out 1: pipe read end -> socket fd) of at most len bytes (v4); op id or -errno. */
  submitSplice(fd: number, pipe: number, len: number, out: number): number;
  /** READ at position (-1: current position) into a program-held buffer; op id or -errno. */
  submitRead(fd: number, buf: number, offset: number, len: number, position: number): number;
  /** WRITE at position (-1: current position) from a program-held buffer; op id or -errno. */
  submitWrite(fd: number, buf: number, offset: number, len: number, position: number): number;
  /** OPENAT (layout v4) of the NUL-terminated path in [offset, offset+len) of a program-held buffer (len counts
   * the NUL), lent until delivery; flags are OPEN_F_* bits, mode at most 0o7777. The result is the new fd.
   * Op id or -errno. */
  submitOpenat(buf: number, offset: number, len: number, flags: number, mode: number): number;
  /** FSYNC of an fd (datasync 1: fdatasync); op id or -errno. */
  submitFsync(fd: number, datasync: number): number;
  /** STATX of an fd into STATX_SIZE bytes at `offset` of a program-held buffer, lent until delivery; op id or -errno. */
  submitStatx(fd: number, buf: number, offset: number): number;
  /** A path operation (v4: OP_RENAMEAT, OP_UNLINKAT, OP_MKDIRAT, OP_SYMLINKAT, OP_LINKAT) on the C string(s)
   * in [offset, offset+len) of a program-held buffer, lent until delivery; flags: UNLINK_F_DIR for UNLINKAT;
   * mode: MKDIRAT's. Op id or -errno. */
  submitPathOp(opcode: number, buf: number, offset: number, len: number, flags: number, mode: number): number;
  /** FALLOCATE (v4) of [offset, offset+length) of an fd, mode FALLOC_F_* bits; op id or -errno. */
  submitFallocate(fd: number, mode: number, offset: number, length: number): number;
  /** CLOSE an fd; op id or -errno. */
  submitClose(fd: number): number;
  /** SHUTDOWN an fd, how 0 read / 1 write / 2 both; op id or -errno. */
  submitShutdown(fd: number, how: number): number;
  /** COPY (layout v3): relays `from` into `to` through program-held buffer `buf`, lent until the
   * single delivery: 0 at the end of `from`, or -errno. options: 1 = shut `to` down for writing
   * at the end. Op id or -errno. */
  submitCopy(from: number, to: number, buf: number, options: number): number;
  /** A live (or just delivered) COPY's progress: what 0 bytes written to `to`, 1 offset and 2 length
   * of the bytes received and not yet sent, 3 the phase (0 RECV, 1 SEND, 2 SHUTDOWN out); -ENOENT. */
  copyInfo(id: number, what: number): number;
  /** A kernel TIMEOUT of ms milliseconds (delivered as 0 when it fires); op id or -errno. */
  submitTimeout(ms: number): number;
  /** A timer in the core's wheel, due at ceil(nowMs + delayMs); op id or -errno. */
  timerStart(nowMs: number, delayMs: number): number;
  /** 1 cancel requested, 0 too late (already completed), -ENOENT (stale or unknown id). */
  cancel(id: number): number;
  /** 0: the op will never be delivered and its buffer returns to the pool; -ENOENT for a stale id. */
  abandon(id: number): number;
  /** Retires the previous batch, drains the CQ, fires timers; writes at most budget deliveries to the DQ and returns how many (or -EINVAL). */
  reap(nowMs: number, budget: number): number;
  /** -1 nothing pending, 0 a reap has work now, else ms until the earliest timer may be due. */
  nextTimeout(nowMs: number): number;
  /** 0 ops in use, 1 submitted total, 2 completed total, 3 buffers lent, 4 buffers held, 5 timers armed, 6 stale CQEs dropped, 7 buffers provided (in the kernel's pick set). */
  counter(k: number): number;
  /** The op's state (1 queued, 2 submitted, 3 completed, 4 delivered, 5 armed timer), or -ENOENT. */
  opState(id: number): number;
  /** 0, or the number of the first broken invariant (O(capacity), for tests). */
  checkInvariants(): number;
}

/** One core instance: its memory (imported by the module as env.memory) and its exports. */
export interface Core {
  memory: WebAssembly.Memory;
  exports: CoreExports;
}

const WASM_RELATIVE_PATH = path.join('build', 'core', 'percore.wasm');

let compiled: WebAssembly.Module | undefined;

/** Absolute path of the core's .wasm file. */
export function coreWasmPath(): string {
  return path.join(packageRoot(), WASM_RELATIVE_PATH);
}

/** The compiled core module, compiled on first use and cached for the process. */
export function coreModule(): WebAssembly.Module {
  if (compiled === undefined) {
    compiled = new WebAssembly.Module(fs.readFileSync(coreWasmPath()));
  }
  return compiled;
}

/** A fresh core instance over a new one-page memory, already `_initialize`d; call `exports.init` next. */
export function createCore(): Core {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(coreModule(), { env: { memory } });
  const exports = instance.exports as unknown as CoreExports;
  exports._initialize();
  return { memory, exports };
}
