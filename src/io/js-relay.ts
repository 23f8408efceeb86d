// `copy()` between streams the core cannot relay itself (any rent stream that
// is not a descriptor of the runtime: a test double, a TLS layer, a buffered
// reader): the same loop in JavaScript, over the rent contract alone, with
// the same promise: nothing is lost when it ends early.
import type { PercoreError } from '../errors/errors';
import type { Runtime } from '../runtime/runtime';
import { EMPTY, withProgress } from './copy-progress';
import type { RentReader, RentWriter } from './rent';

/** The buffer size when no runtime lends one. */
const FALLBACK_BUFFER_SIZE = 16384;

/** What `relayInJs` needs beside the two streams. */
export interface JsRelayOptions {
  /** Shut `to` down for writing at the end of `from`. */
  end: boolean;
  signal: AbortSignal | undefined;
  /** A runtime to borrow a pool buffer from (no copy for a descriptor side), if any. */
  runtime: Runtime | undefined;
}

/** Reads `from` into one buffer and writes each read to `to` until `from`
 * ends; resolves with the bytes copied. Errors carry `bytesCopied` and
 * `unwritten`, and no `buffer` (the buffer is the relay's, not the program's). */
export async function relayInJs(from: RentReader, to: RentWriter, options: JsRelayOptions): Promise<number> {
  const { signal, runtime } = options;
  const pooled = takePoolBuffer(runtime);
  let buf = pooled ?? new Uint8Array(FALLBACK_BUFFER_SIZE);
  let copied = 0;
  try {
    for (;;) {
      let n: number;
      try {
        [n, buf] = await from.read(buf, { signal });
      } catch (err) {
        throw progress(err, copied, EMPTY);
      }
      if (n === 0) break;
      try {
        [, buf] = await to.writeAll(buf, n, { signal });
      } catch (err) {
        const written = (err as { bytesWritten?: number }).bytesWritten ?? 0;
        throw progress(err, copied + written, buf.slice(written, n));
      }
      copied += n;
    }
    if (options.end) {
      try {
        await to.shutdown();
      } catch (err) {
        throw progress(err, copied, EMPTY);
      }
    }
    return copied;
  } finally {
    if (pooled !== undefined && runtime !== undefined && !runtime.isClosed) runtime.release(pooled);
  }
}

function takePoolBuffer(runtime: Runtime | undefined): Uint8Array | undefined {
  if (runtime === undefined || runtime.isClosed) return undefined;
  try {
    return runtime.buffer();
  } catch {
    return undefined; // the pool is empty: a buffer of the relay's own does as well
  }
}

function progress(err: unknown, copied: number, unwritten: Uint8Array): unknown {
  if (typeof err !== 'object' || err === null) return err;
  const e = err as PercoreError;
  delete e.buffer;
  return withProgress(e, copied, unwritten);
}
