/**
 * A relay between two descriptor streams through a pipe, in the kernel
 * (`splice(2)`): the bytes never enter the runtime's memory nor JavaScript.
 * It alternates two operations (SPLICE_IN: socket → pipe, at most `chunk`
 * bytes, default 64 KiB; SPLICE_OUT: pipe → socket until the pipe is empty),
 * so at most one chunk is ever in flight. Both drivers wait for the socket's
 * readiness and then splice without blocking (io_uring's own SPLICE answers
 * EAGAIN on a non-blocking socket instead of waiting, so the io_uring driver
 * polls first, as for its emulated receives).
 *
 * The contract is `copy()`'s: it resolves with the bytes copied at the end
 * of `from` (shutting `to` down for writing with `end: true`); an error or
 * an abort rejects with `bytesCopied`, and bytes that left `from` but not
 * reached `to` are handed back in `unwritten`, never lost. An abort waits
 * for a chunk already taken from `from` to be written first. Close the
 * streams after the relay settles (abort it first), not while it runs.
 *
 * ```ts
 * import { spliceCopy, TcpListener, TcpStream } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:0');
 * const client = await TcpStream.connect(listener.localAddress());
 * const server = await listener.accept();
 * const echo = spliceCopy(server, server, { end: true });   // an echo in the kernel
 * await client.writeAll(Buffer.from('spliced'));
 * await client.shutdown('write');
 * const [n] = await client.readExact(Buffer.alloc(7));
 * console.log(n, await echo);   // 7 7
 * await Promise.all([client.close(), server.close(), listener.close()]);
 * ```
 */
import { readSync } from 'node:fs';
import { type PercoreError, systemError } from '../errors/errors';
import { validateInteger, validateSignal } from '../errors/validate';
import type { Runtime } from '../runtime/runtime';
import { checkCoreRelay } from './copy';
import type { FdStream } from './fd-stream';
import { PlainOp } from './plain-op';

/** Options of `spliceCopy`. */
export interface SpliceCopyOptions {
  /** At the end of `from`, shut `to` down for writing. Default false. */
  end?: boolean;
  /** Stop the relay (between chunks): rejects with an `AbortError` carrying `bytesCopied`. */
  signal?: AbortSignal;
  /** Bytes taken from `from` at most per step. Default 65536 (a pipe's default size). */
  chunk?: number;
}

/** Copies everything `from` sends into `to` through a pipe in the kernel (see the module docs). */
export async function spliceCopy(from: FdStream, to: FdStream, options: SpliceCopyOptions = {}): Promise<number> {
  validateSignal(options.signal, 'options.signal');
  const chunk = options.chunk ?? 65536;
  validateInteger(chunk, 'options.chunk', 1, 1 << 20);
  checkCoreRelay(from, to, 'spliceCopy()');
  const rt = from.rt;
  const pipe = rt.nativeDriver.pipe();
  if (typeof pipe === 'number') throw systemError(pipe, 'pipe');
  const [r, w] = pipe;
  from.copyingFrom = true;
  to.copyingTo = true;
  let copied = 0;
  let inPipe = 0;
  try {
    for (;;) {
      inPipe = await splice(rt, from.fd, w, chunk, 0, options.signal);
      if (inPipe === 0) break;
      while (inPipe > 0) {
        const m = await splice(rt, to.fd, r, inPipe, 1, undefined);
        inPipe -= m;
        copied += m;
      }
    }
    if (options.end) await to.shutdown('write');
    return copied;
  } catch (err) {
    const e = err as PercoreError & { bytesCopied?: number; unwritten?: Uint8Array };
    e.bytesCopied = copied;
    if (inPipe > 0 && !rt.isClosed) e.unwritten = drain(r, inPipe);
    throw e;
  } finally {
    from.copyingFrom = false;
    to.copyingTo = false;
    if (!rt.isClosed) {
      rt.nativeDriver.closeFd(r);
      rt.nativeDriver.closeFd(w);
    }
  }
}

/** One SPLICE_IN (out 0: socket → pipe) or SPLICE_OUT (out 1: pipe → socket). */
function splice(rt: Runtime, fd: number, pipe: number, len: number, out: 0 | 1, signal: AbortSignal | undefined) {
  return new Promise<number>((resolve, reject) => {
    new PlainOp({ syscall: 'splice', signal }, resolve, reject).start(rt, (r) =>
      r.core.submitSplice(fd, pipe, len, out),
    );
  });
}

/** The bytes still in the pipe (they left `from`, never reached `to`). */
function drain(r: number, n: number): Uint8Array {
  const out = Buffer.alloc(n);
  let got = 0;
  try {
    while (got < n) {
      const k = readSync(r, out, got, n - got, null);
      if (k <= 0) break;
      got += k;
    }
  } catch {
    // EAGAIN: nothing more in the pipe.
  }
  return out.subarray(0, got);
}
