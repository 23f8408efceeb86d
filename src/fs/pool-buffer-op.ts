// An operation whose SQE points into a pool buffer the program fills or
// reads, not at a transfer's bytes: OPENAT reads a path from it, STATX writes
// a struct statx into it. The buffer is taken from the pool (waiting for one
// when the pool is empty: back-pressure, not an error), lent for the op and
// released once its result is in.
import { PlainOp } from '../io/plain-op';
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

/** Runs `op` on `rt`; rejects with its system error (with `path`). */
export async function runWithPoolBuffer<T>(rt: Runtime, op: PoolBufferOp<T>): Promise<T> {
  const buf = await rt.acquireBuffer({ signal: op.signal });
  try {
    const len = op.fill(buf);
    const index = Math.floor(rt.arenaOffsetOf(buf) / rt.bufferSize);
    const res = await new Promise<number>((resolve, reject) => {
      const plain = new PlainOp({ syscall: op.syscall, detail: pathDetail(op), signal: op.signal }, resolve, reject);
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
