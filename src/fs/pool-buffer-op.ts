// An operation whose SQE points into a pool buffer the program fills or
// reads, not at a transfer's bytes: OPENAT reads a path from it, STATX writes
// a struct statx into it. The buffer is taken from the pool (waiting for one
// when the pool is empty: back-pressure, not an error), lent for the op and
// released once its result is in.
import * as L from '../core/layout';
import { ENAMETOOLONG } from '../errors/errno';
import { invalidArgType, type PercoreError, systemError } from '../errors/errors';
import { PlainOp } from '../io/plain-op';
import { type Cancellable, kCancel } from '../runtime/cancel';
import type { Runtime } from '../runtime/runtime';

/** What one such operation is. */
export interface PoolBufferOp<T> {
  /** The `syscall` of its system errors. */
  syscall: string;
  /** The path it is about (put on its errors, as Node does). */
  path?: string;
  /** A second path (rename, link, symlink), put on its errors as `dest`. */
  dest?: string;
  signal?: AbortSignal;
  /** Writes what the kernel reads into the buffer; returns the bytes used. */
  fill(buf: Uint8Array): number;
  /** Submits it: the core's answer (op id or -errno). */
  submit(rt: Runtime, index: number, len: number): number;
  /** Its value, from its result and the buffer, before the buffer goes back. */
  read(res: number, buf: Uint8Array): T;
}

/** Runs `op` on `rt`; rejects with its system error (with `path`). The
 * promise carries its canceller under `kCancel`, so `timeout()` cancels the
 * kernel operation (an OPENAT that wins the race still resolves with its fd:
 * nothing is left open behind the program's back). */
export function runWithPoolBuffer<T>(rt: Runtime, op: PoolBufferOp<T>): Promise<T> & Cancellable {
  const canceller = new Canceller(op.signal);
  const promise = run(rt, op, canceller) as Promise<T> & Cancellable;
  promise[kCancel] = canceller;
  return promise;
}

/** Cancels the buffer wait or the operation, whichever is under way. */
class Canceller {
  private op: PlainOp | undefined;
  /** Why it was cancelled, once it was. */
  reason: PercoreError | undefined;
  private readonly waiting = new AbortController();
  /** What the buffer wait listens to: the program's signal or a cancel. */
  readonly signal: AbortSignal;

  constructor(signal: AbortSignal | undefined) {
    this.signal = signal === undefined ? this.waiting.signal : AbortSignal.any([signal, this.waiting.signal]);
  }

  cancel(reason: PercoreError): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    if (this.op !== undefined) this.op.cancel(reason);
    else this.waiting.abort(reason);
  }

  /** The operation started: a cancel from now on goes to it. Throws the
   * reason of a cancel that came first. */
  started(op: PlainOp): void {
    if (this.reason !== undefined) throw this.reason;
    this.op = op;
  }
}

async function run<T>(rt: Runtime, op: PoolBufferOp<T>, canceller: Canceller): Promise<T> {
  let buf: Uint8Array;
  try {
    buf = await rt.acquireBuffer({ signal: canceller.signal });
  } catch (err) {
    // A timeout's cancel rejects with its own error, not the wait's AbortError.
    throw canceller.reason ?? err;
  }
  try {
    const len = op.fill(buf);
    const index = Math.floor(rt.arenaOffsetOf(buf) / rt.bufferSize);
    const res = await new Promise<number>((resolve, reject) => {
      const plain = new PlainOp({ syscall: op.syscall, detail: pathDetail(op), signal: op.signal }, resolve, reject);
      canceller.started(plain);
      plain.start(rt, (r) => op.submit(r, index, len));
    });
    return op.read(res, buf);
  } catch (err) {
    if (op.path !== undefined && typeof (err as { syscall?: unknown }).syscall === 'string') {
      (err as { path?: string }).path = op.path;
      if (op.dest !== undefined) (err as { dest?: string }).dest = op.dest;
    }
    throw err;
  } finally {
    rt.release(buf);
  }
}

/** Node's way of naming the paths in an error message: `'a'`, or `'a' -> 'b'`. */
function pathDetail(op: PoolBufferOp<unknown>): string | undefined {
  if (op.path === undefined) return undefined;
  return op.dest === undefined ? `'${op.path}'` : `'${op.path}' -> '${op.dest}'`;
}

/** The C strings of `paths`, back to back, for a pool buffer. Throws
 * `ERR_INVALID_ARG_TYPE` for a path with a NUL in it and `ENAMETOOLONG`
 * (with `path`) for one longer than `PATH_MAX_LEN` or paths that do not fit
 * in a pool buffer. */
export function pathBytes(rt: Runtime, syscall: string, paths: string[]): Buffer {
  paths.forEach((p, i) => {
    if (p.includes('\0')) throw invalidArgType(i === 0 ? 'path' : 'dest', 'a string without null bytes', p);
  });
  const bytes = Buffer.from(paths.map((p) => `${p}\0`).join(''));
  if (bytes.length > rt.bufferSize || paths.some((p) => Buffer.byteLength(p) >= L.PATH_MAX_LEN)) {
    const err = systemError(-ENAMETOOLONG, syscall, `'${paths[0]}'`);
    err.path = paths[0];
    throw err;
  }
  return bytes;
}
