/**
 * A rent stream over a descriptor the runtime owns: the machinery every
 * stream transport shares (libuv's `stream.c` to each transport's file).
 *
 * ## The model
 * A read or a write takes the buffer you pass and gives it back with the
 * result: `const [n, buf] = await stream.read(buf)`. While the operation is in
 * flight the buffer belongs to it. A pool buffer (`runtime.buffer()`) is lent
 * to the kernel as it is, with no copy; any other `Uint8Array` goes through a
 * pool buffer, so the kernel never touches memory the program can free. An
 * operation that fails, is aborted or times out rejects with its buffer in
 * `err.buffer`, and an aborted read never loses bytes: they stay in the socket
 * for the next read, or, if they had already arrived, the read resolves with them.
 *
 * Operations keep their order, on every driver: one read and one write run
 * at a time, and a read (or write) issued while another is in flight waits
 * for it to settle, then goes to the kernel (node:net's semantics). So two
 * reads in flight take the stream's bytes in the order they were issued, and
 * two `writeAll`s never interleave. An operation waiting its turn can be
 * aborted or timed out like one in flight; `close()` rejects it.
 *
 * `FdStream` owns the reads, writes, `recv()`, shutdown, close and detach,
 * and the list of operations in flight that close cancels; a transport
 * (`TcpStream`, later Unix sockets) adds how it is opened and its options.
 *
 * ```ts
 * import { TcpListener, TcpStream } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:0');
 * const client = await TcpStream.connect(listener.localAddress());
 * const server = await listener.accept();
 * await client.writeAll(Buffer.from('hi'));
 * const [n, buf] = await server.read(Buffer.alloc(16));   // n === 2
 * await Promise.all([client.close(), server.close(), listener.close()]);
 * ```
 */
import * as L from '../core/layout';
import { abortError, codedError, type PercoreError, socketClosed, systemError } from '../errors/errors';
import { validateSignal } from '../errors/validate';
import { type Cancellable, kCancel } from '../runtime/cancel';
import type { Runtime } from '../runtime/runtime';
import { PlainOp, submitCloseThen } from './plain-op';
import { Receiver } from './receiver';
import type { IoOptions, RentResult, RentStream } from './rent';
import { captureSettlers } from './settlers';
import { type LaneOp, linkOp, type OpStream, type StreamOp, unlinkOp, withBuffer } from './stream-op';
import { READ, READ_EXACT, type TransferKind, TransferOp, WRITE, WRITE_ALL } from './transfer';
import { type TransferArgs, transferArgs } from './transfer-args';

/** A rent stream over a descriptor this runtime owns (see the module docs). */
export class FdStream implements RentStream, OpStream {
  private closing = false;
  private closed: Promise<void> | undefined;
  private finishClose: (() => void) | undefined;
  /** @internal operations in flight on this stream: an intrusive list, so
   * tracking them costs no allocation per operation. */
  firstOp: StreamOp | undefined = undefined;
  /** @internal what `recv()` uses: made on its first call. */
  receiver: Receiver | undefined = undefined;
  /** @internal a `copy()` reads this stream: reads of the program's are refused meanwhile. */
  copyingFrom = false;
  /** @internal a `copy()` writes this stream: writes of the program's are refused meanwhile. */
  copyingTo = false;
  // One read and one write run at a time; the rest wait in issue order, in a
  // list through the operations themselves (nothing allocated when only one
  // runs, the common case).
  private reading: LaneOp | undefined = undefined;
  private readWaitHead: LaneOp | undefined = undefined;
  private readWaitTail: LaneOp | undefined = undefined;
  private writing: LaneOp | undefined = undefined;
  private writeWaitHead: LaneOp | undefined = undefined;
  private writeWaitTail: LaneOp | undefined = undefined;

  /** @internal */
  constructor(
    /** @internal */ readonly rt: Runtime,
    readonly fd: number,
  ) {}

  /** @internal whether `close()` (or `detach()`) was called. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Gives the socket up without closing it and returns its fd, for another
   * thread to adopt (`TcpStream.adopt`). This stream is closed afterwards (its
   * methods reject with `ERR_SOCKET_CLOSED`), and the fd is the program's to
   * hand over: if nobody adopts it, nobody closes it.
   * ```ts
   * await handoff.send(stream.detach());
   * ```
   * Throws `ERR_PERCORE_BUSY` while an operation is in flight on the stream
   * (the kernel still uses the fd for it), `ERR_SOCKET_CLOSED` once closed. */
  detach(): number {
    if (this.closing) throw socketClosed(this.constructor.name);
    if (this.firstOp !== undefined || this.receiver?.holding) {
      throw codedError(
        'ERR_PERCORE_BUSY',
        'the stream has operations in flight or received buffers waiting for recv(): wait for them (or abort them) before detaching',
      );
    }
    this.rt.assertOpen();
    const res = this.rt.nativeDriver.forgetFd(this.fd);
    if (res < 0) throw systemError(res, 'detach');
    this.closing = true;
    this.closed = Promise.resolve();
    return this.fd;
  }

  /** Reads at most `length` bytes (default `buf.length`) into the start of
   * `buf`; resolves `[n, buf]`, with `n === 0` at the end of the stream.
   * ```ts
   * const [n, buf] = await stream.read(Buffer.alloc(4096));
   * ```
   * A read issued while another read (or `readExact`) is in flight waits for
   * it, so reads take the bytes in the order they were issued. Rejects with
   * `ERR_PERCORE_BUSY` while `recv()` is receiving on the stream (call
   * `stopRecv()` first) or a `copy()` reads it.
   */
  read(buf: Uint8Array, options?: IoOptions): Promise<RentResult>;
  read(buf: Uint8Array, length: number, options?: IoOptions): Promise<RentResult>;
  read(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.transfer(READ, buf, length, options);
  }

  /** Receives into a buffer the runtime picks from its recv set when data
   * arrives, so a connection waiting here holds no buffer; resolves with a view
   * of the bytes received (a pool buffer, now the program's), or `null` at the
   * end of the stream. Give the buffer back with `runtime.release(buf)`, after
   * passing it to `write`/`writeAll` if you like (it is a pool buffer like any
   * other). An aborted, failed or closed `recv()` holds no buffer and loses no
   * bytes: if they had already arrived it resolves with them.
   * ```ts
   * const rt = Runtime.current();
   * for (;;) {
   *   const buf = await stream.recv();
   *   if (buf === null) break;      // end of stream
   *   await stream.writeAll(buf);   // echo it
   *   rt.release(buf);              // back to the recv set
   * }
   * ```
   * The first `recv()` arms one multishot receive for the stream, which stays
   * armed across calls: data that arrives between them waits in up to
   * `RECV_AHEAD` (4) buffers, handed to the next calls in order; beyond that
   * the receive is paused (cancelled) until the program catches up, so a slow
   * reader never takes the whole recv set. Close releases buffers still
   * waiting; while a receive is armed or buffers wait, `detach()` is busy.
   * When data arrives while every recv buffer is held by the program or
   * waiting on a stream (see `RuntimeOptions.recvBuffers`), it waits for one
   * to be released (back-pressure; the data stays in the socket), as `copy()`
   * does. Rejects with `ERR_PERCORE_NO_BUFFERS` only when the runtime has no
   * recv set at all, `ERR_SOCKET_CLOSED`, an `AbortError`, or a system error
   * such as `ECONNRESET`; with `ERR_PERCORE_BUSY` while a `read()` is in flight
   * (a stream is read either with `read()` or with `recv()` at a time:
   * `stopRecv()` switches back). */
  recv(options?: IoOptions): Promise<Uint8Array | null> {
    try {
      validateSignal(options?.signal, 'options.signal');
      if (this.closing) throw socketClosed(this.constructor.name);
      this.rt.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.copyingFrom) return Promise.reject(copyBusy('read'));
    if (this.reading !== undefined) {
      return Promise.reject(
        codedError('ERR_PERCORE_BUSY', 'a read() is in flight on this stream: recv() waits until reads are done'),
      );
    }
    if (this.receiver === undefined) this.receiver = new Receiver(this.rt, this);
    return this.receiver.recv(options?.signal);
  }

  /** Stops `recv()`: disarms the stream's multishot receive and resolves once
   * the kernel has let go of it, with the buffers it had received ahead of the
   * program, in order. They are pool buffers, now the program's: use them
   * (they hold the next bytes of the stream) and `release` them, or just
   * release them to drop those bytes. A `recv()` still waiting rejects with
   * an `AbortError`. Afterwards `read()` and `copy()` take the stream's next
   * bytes, so a program can receive a header with `recv()` and relay the rest:
   * ```ts
   * const head = await stream.recv();
   * for (const buf of await stream.stopRecv()) {
   *   await upstream.writeAll(buf);   // received ahead: nothing is lost
   *   rt.release(buf);
   * }
   * await copy(stream, upstream);
   * ```
   * Resolves with `[]` when `recv()` was never called. An end of stream (or
   * error) that the receive had seen is not lost either: the socket reports it
   * again to the next read. Rejects with `ERR_SOCKET_CLOSED` once closed. */
  stopRecv(): Promise<Uint8Array[]> {
    if (this.closing) return Promise.reject(socketClosed(this.constructor.name));
    if (this.receiver === undefined) return Promise.resolve([]);
    return this.receiver.stop(abortError('stopRecv() was called'));
  }

  /** Writes some of the first `length` bytes (default `buf.length`) of `buf`,
   * at least one; resolves `[n, buf]`. A write issued while another write (or
   * `writeAll`) is in flight waits for it: writes go out in issue order and a
   * `writeAll`'s bytes are never interleaved with another's. */
  write(buf: Uint8Array, options?: IoOptions): Promise<RentResult>;
  write(buf: Uint8Array, length: number, options?: IoOptions): Promise<RentResult>;
  write(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.transfer(WRITE, buf, length, options);
  }

  /** Writes all of the first `length` bytes (default `buf.length`) of `buf`;
   * resolves `[length, buf]`, the whole buffer handed back. On failure the
   * error carries the buffer and `bytesWritten`. Passing the length rather
   * than `buf.subarray(0, n)` saves making a view per write:
   * ```ts
   * const [n, buf] = await stream.read(rt.buffer());
   * await stream.writeAll(buf, n); // echo what was read
   * ```
   */
  writeAll(buf: Uint8Array, options?: IoOptions): Promise<RentResult>;
  writeAll(buf: Uint8Array, length: number, options?: IoOptions): Promise<RentResult>;
  writeAll(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.transfer(WRITE_ALL, buf, length, options);
  }

  /** Fills the first `length` bytes (default all) of `buf`; resolves
   * `[length, buf]`. If the stream ends first it rejects with
   * `ERR_STREAM_PREMATURE_CLOSE`, `bytesRead` and the buffer. */
  readExact(buf: Uint8Array, options?: IoOptions): Promise<RentResult>;
  readExact(buf: Uint8Array, length: number, options?: IoOptions): Promise<RentResult>;
  readExact(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.transfer(READ_EXACT, buf, length, options);
  }

  /** Shuts down one or both directions (default: `'write'`, which sends FIN).
   * `options.signal` (and `timeout()`) cancel it: it then rejects with an
   * `AbortError` (or the `TimeoutError`) unless it had already completed. */
  shutdown(how: 'read' | 'write' | 'both' = 'write', options?: { signal?: AbortSignal }): Promise<void> {
    const code = how === 'read' ? 0 : how === 'write' ? 1 : how === 'both' ? 2 : -1;
    try {
      if (code < 0) {
        throw codedError(
          'ERR_INVALID_ARG_VALUE',
          `The argument 'how' must be 'read', 'write' or 'both'. Received ${String(how)}`,
          TypeError,
        );
      }
      validateSignal(options?.signal, 'options.signal');
      if (this.closing) throw socketClosed(this.constructor.name);
      if (options?.signal?.aborted) throw abortError(options.signal.reason);
      this.rt.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    let op!: PlainOp;
    // In the stream's list while it runs (or waits for an op slot), so that
    // close() cancels it and closes the fd only once it is over: it never
    // runs on a number the kernel may have handed to another socket.
    const link: StreamOp = {
      prev: undefined,
      next: undefined,
      reads: false,
      writes: false,
      cancel: (reason) => op.cancel(reason),
    };
    const promise = new Promise<void>((resolve, reject) => {
      const settle = (err?: unknown): void => {
        this.settled(link);
        if (err === undefined) resolve();
        else reject(err);
      };
      op = new PlainOp({ syscall: 'shutdown', signal: options?.signal }, () => settle(), settle);
      this.started(link);
      try {
        op.start(this.rt, (rt) => rt.core.submitShutdown(this.fd, code));
      } catch (err) {
        settle(err);
      }
    }) as Promise<void> & Cancellable;
    promise[kCancel] = op;
    return promise;
  }

  /** Closes the stream. Operations in flight are cancelled first and reject with
   * `ERR_SOCKET_CLOSED` (with their buffers); the descriptor is closed only once
   * the kernel has let go of them, so it can never be reused under them. It
   * takes no signal and needs no timeout: it never waits on the peer, only on
   * the kernel handing back cancelled operations. Calling it again returns
   * the same promise. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    this.closed = new Promise((resolve) => {
      this.finishClose = resolve;
    });
    this.receiver?.close(socketClosed(this.constructor.name));
    // Waiting operations first, so that settling the running ones cannot start them.
    this.rejectWaiting(() => socketClosed(this.constructor.name));
    if (this.firstOp === undefined) this.closeSocket();
    else
      for (let op: StreamOp | undefined = this.firstOp; op !== undefined; ) {
        // An op with nothing in the kernel (waiting for a slot or a buffer)
        // settles inside cancel() and leaves the list: take its next first.
        const next: StreamOp | undefined = op.next;
        op.cancel(socketClosed(this.constructor.name));
        op = next;
      }
    return this.closed;
  }

  /** @internal called by an operation once it is in flight. */
  started(op: StreamOp): void {
    linkOp(this, op);
  }

  /** @internal called by an operation once its last delivery is in. */
  settled(op: StreamOp): void {
    unlinkOp(this, op);
    if (op === this.reading) {
      const next = this.readWaitHead;
      this.reading = next;
      if (next !== undefined) {
        this.readWaitHead = next.waitNext;
        if (this.readWaitHead === undefined) this.readWaitTail = undefined;
        next.waitNext = undefined;
        next.run();
      }
    } else if (op === this.writing) {
      const next = this.writeWaitHead;
      this.writing = next;
      if (next !== undefined) {
        this.writeWaitHead = next.waitNext;
        if (this.writeWaitHead === undefined) this.writeWaitTail = undefined;
        next.waitNext = undefined;
        next.run();
      }
    }
    if (this.closing && this.firstOp === undefined && this.finishClose !== undefined) this.closeSocket();
  }

  /** @internal see `OpStream.admit`. */
  admit(op: LaneOp): boolean {
    if (op.reads) {
      if (this.reading === undefined) {
        this.reading = op;
        return true;
      }
      if (this.readWaitTail === undefined) this.readWaitHead = op;
      else this.readWaitTail.waitNext = op;
      this.readWaitTail = op;
      return false;
    }
    if (this.writing === undefined) {
      this.writing = op;
      return true;
    }
    if (this.writeWaitTail === undefined) this.writeWaitHead = op;
    else this.writeWaitTail.waitNext = op;
    this.writeWaitTail = op;
    return false;
  }

  /** @internal see `OpStream.dequeue`. */
  dequeue(op: LaneOp): void {
    const reads = op.reads;
    let prev: LaneOp | undefined;
    let at = reads ? this.readWaitHead : this.writeWaitHead;
    while (at !== undefined && at !== op) {
      prev = at;
      at = at.waitNext;
    }
    if (at === undefined) return;
    if (prev !== undefined) prev.waitNext = op.waitNext;
    else if (reads) this.readWaitHead = op.waitNext;
    else this.writeWaitHead = op.waitNext;
    if (reads ? this.readWaitTail === op : this.writeWaitTail === op) {
      if (reads) this.readWaitTail = prev;
      else this.writeWaitTail = prev;
    }
    op.waitNext = undefined;
  }

  /** Rejects every operation waiting for its turn with `reason` (close). */
  private rejectWaiting(reason: () => PercoreError): void {
    for (;;) {
      const op = this.readWaitHead ?? this.writeWaitHead;
      if (op === undefined) return;
      op.cancel(reason()); // takes itself out of its queue
    }
  }

  private transfer(
    kind: TransferKind,
    buf: Uint8Array,
    lengthOrOptions: number | IoOptions | undefined,
    options: IoOptions | undefined,
  ): Promise<RentResult> {
    let args: TransferArgs;
    try {
      args = transferArgs(buf, lengthOrOptions, options);
      if (this.closing) throw withBuffer(socketClosed(this.constructor.name), buf);
      if (kind.opcode === L.OP_RECV ? this.copyingFrom : this.copyingTo) {
        throw withBuffer(copyBusy(kind.syscall), buf);
      }
      if (kind.opcode === L.OP_RECV && this.receiver?.holding) throw withBuffer(recvBusy(), buf);
      this.rt.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    // One shared executor rather than a closure per call (settlers.ts).
    const promise = new Promise<RentResult>(captureSettlers) as Promise<RentResult> & Cancellable;
    const op = new TransferOp(this, kind, buf, args.limit, args.signal);
    promise[kCancel] = op;
    op.begin();
    return promise;
  }

  private closeSocket(): void {
    const finish = this.finishClose!;
    this.finishClose = undefined;
    submitCloseThen(this.rt, this.fd, finish);
  }
}

/** The error for a read on a stream whose `recv()` receive is armed or holds data. */
function recvBusy(): PercoreError {
  return codedError(
    'ERR_PERCORE_BUSY',
    'recv() is receiving on this stream (or holds data received ahead): take it with recv() or call stopRecv() before read()',
  );
}

/** The error for a read or write on a stream a `copy()` is reading or writing. */
function copyBusy(what: 'read' | 'write'): PercoreError {
  return codedError(
    'ERR_PERCORE_BUSY',
    `a copy() is ${what === 'read' ? 'reading from' : 'writing to'} this stream: wait for it to end (or abort it) before you ${what} it yourself`,
  );
}
