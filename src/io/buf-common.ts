// What BufReader, BufWriter and the bridge share: where their buffer comes
// from (a pool buffer when the stream is a percore descriptor stream, so the
// kernel reads into it or sends from it with no copy; else a plain buffer)
// and the errors they raise.
import { codedError, type PercoreError } from '../errors/errors';
import type { Runtime } from '../runtime/runtime';
import { FdStream } from './fd-stream';

/** The default buffer size of a BufReader/BufWriter over a non-percore stream. */
export const DEFAULT_CAPACITY = 8192;

/** A buffer for `stream`: a pool buffer of its runtime when it is a descriptor
 * stream (or `runtime` is given) and `capacity` fits a pool buffer and one is
 * free; else a plain one. `runtime` is set when the buffer is the pool's. */
export function takeBuffer(
  stream: unknown,
  capacity: number | undefined,
  runtime: Runtime | undefined,
): { buf: Uint8Array; runtime: Runtime | undefined } {
  const rt = runtime ?? (stream instanceof FdStream ? stream.rt : undefined);
  if (rt !== undefined && !rt.isClosed && (capacity === undefined || capacity <= rt.bufferSize)) {
    try {
      return { buf: rt.buffer(capacity ?? rt.bufferSize), runtime: rt };
    } catch {
      // The pool is empty: a plain buffer does (the stream then copies through one of its own).
    }
  }
  return { buf: new Uint8Array(capacity ?? DEFAULT_CAPACITY), runtime: undefined };
}

/** Gives a buffer from `takeBuffer` back. */
export function giveBack(buf: Uint8Array, runtime: Runtime | undefined): void {
  if (runtime !== undefined && !runtime.isClosed) runtime.release(buf);
}

/** A line or frame longer than the reader's maximum. */
export function tooLong(what: 'line' | 'frame', max: number, length?: number): PercoreError {
  const err = codedError(
    what === 'line' ? 'ERR_PERCORE_LINE_TOO_LONG' : 'ERR_PERCORE_FRAME_TOO_LONG',
    length === undefined
      ? `no ${what} end within the maximum ${what} length (${max} bytes)`
      : `a ${what} of ${length} bytes is longer than the maximum (${max} bytes)`,
    RangeError,
  );
  return err;
}

/** A second call while one is pending on a reader or writer that allows one at a time. */
export function busy(what: string): PercoreError {
  return codedError(
    'ERR_PERCORE_BUSY',
    `${what}: another call is still pending on it; await it before the next (calls are not queued)`,
  );
}

/** The reader or writer was closed (or released its buffer). */
export function released(what: string): PercoreError {
  return codedError('ERR_SOCKET_CLOSED', `${what} is closed`);
}
