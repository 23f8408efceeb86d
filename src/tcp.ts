/**
 * TCP with rent-style I/O.
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
import * as L from './layout';
import { AddressInput, resolveAddress, SocketAddress } from './address';
import { ECANCELED, ENOBUFS } from './errno';
import {
  abortError, bufferInFlight, codedError, invalidArgType, PercoreError, runtimeClosed, socketClosed, systemError,
} from './errors';
import { CLOSED_RESULT, OpHandler, Runtime } from './runtime';
import { kCancel, Cancellable, cancelOnAbort } from './cancel';
import { validateInteger, validateSignal, validateUint8Array } from './validate';

/** Options of `TcpListener.bind`. */
export interface BindOptions {
  /** SO_REUSEPORT, so listeners on several threads share the port. Default true. */
  reusePort?: boolean;
  /** SO_REUSEADDR. Default true. */
  reuseAddr?: boolean;
  /** The kernel's accept queue length. Default 511, like node:net. */
  backlog?: number;
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
}

/** Options of `TcpStream.connect`. */
export interface ConnectOptions {
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
  /** Set TCP_NODELAY once connected. Default false. */
  noDelay?: boolean;
  /** Abort the connection attempt. */
  signal?: AbortSignal;
}

/** Options of a single read or write. */
export interface IoOptions {
  /** Abort the operation: it rejects with an `AbortError` carrying the buffer
   * (unless its result had already arrived, which it then resolves with). */
  signal?: AbortSignal;
}

/** A TCP listener: `accept()` or `for await (const stream of listener)`.
 * ```ts
 * const listener = await TcpListener.bind('127.0.0.1:8080');
 * for await (const stream of listener) handle(stream);
 * ```
 */
export class TcpListener implements AsyncIterable<TcpStream>, OpHandler {
  private acceptId = 0;
  private armed = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  private finishClose: (() => void) | undefined;
  private readonly accepted: number[] = [];
  private readonly waiters: { resolve: (s: TcpStream) => void; reject: (e: unknown) => void }[] = [];
  private failure: PercoreError | undefined;

  private constructor(private readonly rt: Runtime, readonly fd: number) {}

  /** Binds and listens. SO_REUSEPORT and SO_REUSEADDR are on unless turned off.
   * Port 0 picks a free port: read it back with `localAddress()`. */
  static async bind(address: AddressInput, options: BindOptions = {}): Promise<TcpListener> {
    const rt = options.runtime ?? Runtime.current();
    const backlog = options.backlog ?? 511;
    validateInteger(backlog, 'options.backlog', 0, 65535);
    const { ip, family, port } = await resolveAddress(address);
    rt.assertOpen();
    const host = rt.host;
    const fd = host.socket(family);
    if (fd < 0) throw systemError(fd, 'socket');
    const fail = (res: number, syscall: string): never => {
      host.closeFd(fd);
      const err = systemError(res, syscall, `${ip}:${port}`);
      err.address = ip;
      err.port = port;
      throw err;
    };
    let res = host.setOption(fd, L.SOCKOPT_REUSEADDR, options.reuseAddr === false ? 0 : 1);
    if (res < 0) fail(res, 'setsockopt');
    res = host.setOption(fd, L.SOCKOPT_REUSEPORT, options.reusePort === false ? 0 : 1);
    if (res < 0) fail(res, 'setsockopt');
    res = host.encodeAddress(ip, port, rt.stagingRecord);
    if (res < 0) fail(res, 'bind');
    res = host.bind(fd);
    if (res < 0) fail(res, 'bind');
    res = host.listen(fd, backlog);
    if (res < 0) fail(res, 'listen');
    const listener = new TcpListener(rt, fd);
    listener.arm();
    return listener;
  }

  /** The next connection. Rejects with `ERR_SOCKET_CLOSED` once the listener is closed. */
  accept(): Promise<TcpStream> {
    if (this.closing) return Promise.reject(socketClosed('TcpListener'));
    const fd = this.accepted.shift();
    if (fd !== undefined) {
      if (!this.armed) this.arm();
      return Promise.resolve(new TcpStream(this.rt, fd));
    }
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      if (!this.armed) this.arm();
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.armed) this.arm();
    });
  }

  /** Connections until the listener closes; the loop then ends. */
  async *[Symbol.asyncIterator](): AsyncIterator<TcpStream> {
    while (!this.closing) {
      try {
        yield await this.accept();
      } catch (err) {
        if ((err as PercoreError).code === 'ERR_SOCKET_CLOSED') return;
        throw err;
      }
    }
  }

  /** The bound address, e.g. `{ address: '127.0.0.1', family: 'IPv4', port: 40123 }`. */
  localAddress(): SocketAddress {
    if (this.closed !== undefined) throw socketClosed('TcpListener');
    return addressOf(this.rt.host.localAddress(this.fd), 'getsockname');
  }

  /** Stops accepting, closes connections accepted but not yet taken, and closes
   * the socket. Pending `accept()` calls reject with `ERR_SOCKET_CLOSED`. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    this.closed = new Promise((resolve) => { this.finishClose = resolve; });
    for (const fd of this.accepted.splice(0)) this.rt.host.closeFd(fd);
    for (const waiter of this.waiters.splice(0)) waiter.reject(socketClosed('TcpListener'));
    if (this.armed) this.rt.cancel(this.acceptId);
    else this.closeSocket();
    return this.closed;
  }

  /** @internal a delivery for the accept op. */
  complete(res: number, flags: number): void {
    if ((flags & L.CQE_F_MORE) === 0) this.armed = false;
    if (res === CLOSED_RESULT) {
      this.closing = true;
      for (const waiter of this.waiters.splice(0)) waiter.reject(runtimeClosed());
      this.finishClose?.();
      return;
    }
    if (res >= 0) {
      if (this.closing) this.rt.host.closeFd(res);
      else {
        const waiter = this.waiters.shift();
        if (waiter !== undefined) waiter.resolve(new TcpStream(this.rt, res));
        else this.accepted.push(res);
      }
    } else if (res !== -ECANCELED && !this.closing) {
      const err = systemError(res, 'accept');
      const waiter = this.waiters.shift();
      if (waiter !== undefined) waiter.reject(err);
      else this.failure = err;
      return; // re-armed by the next accept(), so a persistent error (EMFILE) cannot spin
    }
    if (this.armed) return;
    if (this.closing) this.closeSocket();
    else if (this.waiters.length > 0 || this.accepted.length < ACCEPT_QUEUE_LIMIT) {
      this.arm();
    }
  }

  private arm(): void {
    this.acceptId = this.rt.core.submitAccept(this.fd, 1);
    this.rt.track(this.acceptId, this, 'accept');
    this.armed = true;
  }

  private closeSocket(): void {
    submitCloseThen(this.rt, this.fd, this.finishClose!);
  }
}

/** Connections accepted ahead of the program before the listener stops asking the kernel for more. */
const ACCEPT_QUEUE_LIMIT = 256;

/** A TCP connection with rent-style reads and writes. */
export class TcpStream {
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

  /** @internal */
  constructor(/** @internal */ readonly rt: Runtime, readonly fd: number) {}

  /** @internal whether `close()` (or `detach()`) was called. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Connects to `address` (a name is looked up first).
   * ```ts
   * const stream = await TcpStream.connect('127.0.0.1:8080');
   * ```
   * Rejects with a system error such as `ECONNREFUSED`. */
  static async connect(address: AddressInput, options: ConnectOptions = {}): Promise<TcpStream> {
    validateSignal(options.signal, 'options.signal');
    const rt = options.runtime ?? Runtime.current();
    const { ip, family, port } = await resolveAddress(address);
    rt.assertOpen();
    if (options.signal?.aborted) throw abortError(options.signal.reason);
    const fd = rt.host.socket(family);
    if (fd < 0) throw systemError(fd, 'socket');
    try {
      let res = rt.host.encodeAddress(ip, port, rt.stagingRecord);
      if (res < 0) throw systemError(res, 'connect', `${ip}:${port}`);
      await new Promise<number>((resolve, reject) => {
        const op = new PlainOp(resolve, reject, 'connect', `${ip}:${port}`, options.signal);
        const id = rt.core.submitConnect(fd);
        rt.track(id, op, 'connect');
        op.watch(rt, id);
      });
      if (options.noDelay) {
        res = rt.host.setOption(fd, L.SOCKOPT_NODELAY, 1);
        if (res < 0) throw systemError(res, 'setsockopt');
      }
    } catch (err) {
      if (!rt.isClosed) rt.host.closeFd(fd);
      const e = err as PercoreError;
      if (e.syscall === 'connect') { e.address = ip; e.port = port; }
      throw err;
    }
    return new TcpStream(rt, fd);
  }

  /** Takes ownership of `fd`, a connected TCP socket handed over by another
   * thread (`stream.detach()` there, the number sent through a `Channel`):
   * this runtime's driver records it, and it is used like any stream.
   * ```ts
   * const stream = TcpStream.adopt(await handoff.recv());
   * ```
   * Throws a system error: `ENOTSOCK`, `EBADF` (not open), `EINVAL` (a socket
   * that is not a stream, e.g. UDP), `EEXIST` (this runtime owns it already). */
  static adopt(fd: number, options: { runtime?: Runtime } = {}): TcpStream {
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    const rt = options.runtime ?? Runtime.current();
    rt.assertOpen();
    const res = rt.host.adoptFd(fd);
    if (res < 0) throw systemError(res, 'adopt');
    return new TcpStream(rt, fd);
  }

  /** Gives the socket up without closing it and returns its fd, for another
   * thread to `TcpStream.adopt`. This stream is closed afterwards (its
   * methods reject with `ERR_SOCKET_CLOSED`), and the fd is the program's to
   * hand over: if nobody adopts it, nobody closes it.
   * ```ts
   * await handoff.send(stream.detach());
   * ```
   * Throws `ERR_PERCORE_BUSY` while an operation is in flight on the stream
   * (the kernel still uses the fd for it), `ERR_SOCKET_CLOSED` once closed. */
  detach(): number {
    if (this.closing) throw socketClosed('TcpStream');
    if (this.firstOp !== undefined || this.receiver?.holding) {
      throw codedError('ERR_PERCORE_BUSY', 'the stream has operations in flight or received buffers waiting for recv(): wait for them (or abort them) before detaching');
    }
    this.rt.assertOpen();
    const res = this.rt.host.forgetFd(this.fd);
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
   */
  read(buf: Uint8Array, options?: IoOptions): Promise<[number, Uint8Array]>;
  read(buf: Uint8Array, length: number, options?: IoOptions): Promise<[number, Uint8Array]>;
  read(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<[number, Uint8Array]> {
    return this.transfer(L.OP_RECV, buf, false, length, options);
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
   * Rejects with `ERR_PERCORE_NO_BUFFERS` when data arrived while every recv
   * buffer was held by the program or waiting on a stream (see
   * `RuntimeOptions.recvBuffers`; percore cannot tell whether the program will
   * release one, so it does not wait: release buffers and call `recv()` again,
   * no byte is lost), `ERR_SOCKET_CLOSED`, an `AbortError`, or a system error
   * such as `ECONNRESET`. */
  recv(options?: IoOptions): Promise<Uint8Array | null> {
    try {
      validateSignal(options?.signal, 'options.signal');
      if (this.closing) throw socketClosed('TcpStream');
      this.rt.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.copyingFrom) return Promise.reject(copyBusy('read'));
    const receiver = this.receiver ??= new Receiver(this.rt, this);
    return receiver.recv(options?.signal);
  }

  /** Writes some of the first `length` bytes (default `buf.length`) of `buf`,
   * at least one; resolves `[n, buf]`. */
  write(buf: Uint8Array, options?: IoOptions): Promise<[number, Uint8Array]>;
  write(buf: Uint8Array, length: number, options?: IoOptions): Promise<[number, Uint8Array]>;
  write(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<[number, Uint8Array]> {
    return this.transfer(L.OP_SEND, buf, false, length, options);
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
  writeAll(buf: Uint8Array, options?: IoOptions): Promise<[number, Uint8Array]>;
  writeAll(buf: Uint8Array, length: number, options?: IoOptions): Promise<[number, Uint8Array]>;
  writeAll(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<[number, Uint8Array]> {
    return this.transfer(L.OP_SEND, buf, true, length, options);
  }

  /** Fills the first `length` bytes (default all) of `buf`; resolves
   * `[length, buf]`. If the stream ends first it rejects with
   * `ERR_STREAM_PREMATURE_CLOSE`, `bytesRead` and the buffer. */
  readExact(buf: Uint8Array, options?: IoOptions): Promise<[number, Uint8Array]>;
  readExact(buf: Uint8Array, length: number, options?: IoOptions): Promise<[number, Uint8Array]>;
  readExact(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<[number, Uint8Array]> {
    return this.transfer(L.OP_RECV, buf, true, length, options);
  }

  /** Shuts down one or both directions (default: `'write'`, which sends FIN). */
  shutdown(how: 'read' | 'write' | 'both' = 'write'): Promise<void> {
    const code = how === 'read' ? 0 : how === 'write' ? 1 : how === 'both' ? 2 : -1;
    if (code < 0) {
      return Promise.reject(codedError('ERR_INVALID_ARG_VALUE',
        `The argument 'how' must be 'read', 'write' or 'both'. Received ${String(how)}`, TypeError));
    }
    if (this.closing) return Promise.reject(socketClosed('TcpStream'));
    return new Promise<void>((resolve, reject) => {
      const op = new PlainOp(() => resolve(), reject, 'shutdown');
      this.rt.track(this.rt.core.submitShutdown(this.fd, code), op, 'shutdown');
    });
  }

  /** Closes the stream. Operations in flight are cancelled first and reject with
   * `ERR_SOCKET_CLOSED` (with their buffers); the descriptor is closed only once
   * the kernel has let go of them, so it can never be reused under them. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    this.closed = new Promise((resolve) => { this.finishClose = resolve; });
    this.receiver?.close(socketClosed('TcpStream'));
    if (this.firstOp === undefined) this.closeSocket();
    else for (let op: StreamOp | undefined = this.firstOp; op !== undefined; op = op.next) op.cancel(socketClosed('TcpStream'));
    return this.closed;
  }

  /** Sets TCP_NODELAY (on by default when called with no argument). */
  setNoDelay(noDelay = true): void {
    if (this.closing) throw socketClosed('TcpStream');
    const res = this.rt.host.setOption(this.fd, L.SOCKOPT_NODELAY, noDelay ? 1 : 0);
    if (res < 0) throw systemError(res, 'setsockopt');
  }

  /** This end's address. */
  localAddress(): SocketAddress {
    if (this.closing) throw socketClosed('TcpStream');
    return addressOf(this.rt.host.localAddress(this.fd), 'getsockname');
  }

  /** The other end's address. */
  peerAddress(): SocketAddress {
    if (this.closing) throw socketClosed('TcpStream');
    return addressOf(this.rt.host.peerAddress(this.fd), 'getpeername');
  }

  /** @internal called by an operation once it is in flight. */
  started(op: StreamOp): void {
    op.next = this.firstOp;
    if (this.firstOp !== undefined) this.firstOp.prev = op;
    this.firstOp = op;
  }

  /** @internal called by an operation once its last delivery is in. */
  settled(op: StreamOp): void {
    if (op.prev !== undefined) op.prev.next = op.next;
    else this.firstOp = op.next;
    if (op.next !== undefined) op.next.prev = op.prev;
    op.prev = op.next = undefined;
    if (this.closing && this.firstOp === undefined && this.finishClose !== undefined) this.closeSocket();
  }

  private transfer(
    opcode: number, buf: Uint8Array, exact: boolean, lengthOrOptions: number | IoOptions | undefined, options: IoOptions | undefined,
  ): Promise<[number, Uint8Array]> {
    let limit: number;
    try {
      validateUint8Array(buf, 'buf');
      if (typeof lengthOrOptions === 'number') {
        validateInteger(lengthOrOptions, 'length', 0, buf.length);
        limit = lengthOrOptions;
      } else {
        if (lengthOrOptions !== undefined && options !== undefined) {
          throw invalidArgType('length', 'of type number', lengthOrOptions);
        }
        options = lengthOrOptions ?? options;
        limit = buf.length;
      }
      if (options !== undefined && (typeof options !== 'object' || options === null)) {
        throw invalidArgType('options', 'of type object', options);
      }
      validateSignal(options?.signal, 'options.signal');
      if (this.closing) throw withBuffer(socketClosed('TcpStream'), buf);
      if (opcode === L.OP_RECV ? this.copyingFrom : this.copyingTo) {
        throw withBuffer(copyBusy(opcode === L.OP_RECV ? 'read' : 'write'), buf);
      }
      this.rt.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    // One shared executor rather than a closure per call: the read and write
    // path allocates nothing it does not hand back.
    const promise = new Promise<[number, Uint8Array]>(captureSettlers) as Promise<[number, Uint8Array]> & Cancellable;
    const op = new TransferOp(this.rt, this, opcode, buf, limit, exact, settleResolve, settleReject, options?.signal);
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

// The settle functions of the promise being created, handed from the
// executor to the operation (Promise runs its executor synchronously).
let settleResolve: (v: unknown) => void;
let settleReject: (e: unknown) => void;
function captureSettlers<T>(resolve: (v: T) => void, reject: (e: unknown) => void): void {
  settleResolve = resolve as (v: unknown) => void;
  settleReject = reject;
}

/** Buffers that are not pool views but are rented by an operation in flight.
 * The kernel never sees them (a pool buffer stands in), but the operation owns
 * them until it resolves: a second operation on the same array is the same
 * mistake as reusing a lent pool buffer, and is refused the same way. */
const rentedArrays = new WeakSet<Uint8Array>();

/** @internal An operation in a stream's list of operations in flight, which `close()` cancels. */
export interface StreamOp {
  prev: StreamOp | undefined;
  next: StreamOp | undefined;
  /** Whether it takes bytes from the stream (`copy()` refuses to start beside one). */
  readonly reads: boolean;
  /** Whether it puts bytes into the stream. */
  readonly writes: boolean;
  cancel(reason: PercoreError): void;
}

/** The error for a read or write on a stream a `copy()` is reading or writing. */
function copyBusy(what: 'read' | 'write'): PercoreError {
  return codedError('ERR_PERCORE_BUSY',
    `a copy() is ${what === 'read' ? 'reading from' : 'writing to'} this stream: wait for it to end (or abort it) before you ${what} it yourself`);
}

/** Buffers a stream's receive fills ahead of `recv()` calls before it is paused. */
export const RECV_AHEAD = 4;

/** What a `recv()` settles with: a buffer, `null` at the end of the stream, or an error. */
type RecvResult = Uint8Array | null | PercoreError;

/** A stream's `recv()` side: one multishot buffer-select RECV, armed by the
 * first `recv()` and kept armed across calls, the results it delivered that no
 * `recv()` has taken yet (at most about RECV_AHEAD: the receive is cancelled
 * when that many wait, and armed again when a `recv()` finds none), and the
 * `recv()` calls waiting for one (only while none waits). */
class Receiver implements OpHandler, StreamOp {
  private id = 0;
  private armed = false;
  /** A cancel was asked for: too many results waiting, nobody waiting, or close. */
  private pausing = false;
  private closeReason: PercoreError | undefined;
  private readonly results: RecvResult[] = [];
  private readonly waiters: RecvWaiter[] = [];
  prev: StreamOp | undefined = undefined;
  next: StreamOp | undefined = undefined;
  readonly reads = true;
  readonly writes = false;

  constructor(private readonly rt: Runtime, private readonly stream: TcpStream) {}

  /** Whether the kernel or the queue holds something of the stream's. */
  get holding(): boolean {
    return this.armed || this.results.length > 0;
  }

  recv(signal: AbortSignal | undefined): Promise<Uint8Array | null> {
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    if (this.results.length > 0) {
      const result = this.results.shift()!;
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    }
    const promise = new Promise<Uint8Array | null>(captureSettlers) as Promise<Uint8Array | null> & Cancellable;
    const waiter = new RecvWaiter(this, settleResolve, settleReject, signal);
    promise[kCancel] = waiter;
    this.waiters.push(waiter);
    if (!this.armed) this.arm();
    return promise;
  }

  private arm(): void {
    const rt = this.rt;
    const id = rt.core.submitRecvSelect(this.stream.fd, rt.bufferSize, 1);
    try {
      rt.track(id, this, 'recv');
    } catch (err) {
      return this.fail(id === -ENOBUFS ? rt.noRecvBuffers() : err as PercoreError);
    }
    this.id = id;
    this.armed = true;
    this.pausing = false;
    this.stream.started(this);
  }

  /** Asks the kernel to stop the receive; its final delivery comes later. */
  private pause(): void {
    if (!this.armed || this.pausing) return;
    this.pausing = true;
    this.rt.cancel(this.id);
  }

  /** StreamOp: the stream closes. */
  cancel(reason: PercoreError): void {
    this.close(reason);
  }

  /** Rejects every waiting `recv()`, gives back every buffer received and not
   * taken, and stops the receive. */
  close(reason: PercoreError): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.fail(reason);
    for (const result of this.results.splice(0)) if (result instanceof Uint8Array) this.rt.release(result);
    this.pause();
  }

  /** A waiting `recv()` gave up (abort, timeout): with nobody else waiting,
   * the receive stops; what it already received waits for the next call. */
  forget(waiter: RecvWaiter): void {
    const at = this.waiters.indexOf(waiter);
    if (at >= 0) this.waiters.splice(at, 1);
    if (this.waiters.length === 0) this.pause();
  }

  complete(res: number, flags: number): void {
    const rt = this.rt;
    if (res > 0 && (flags & L.CQE_F_BUFFER) !== 0) {
      const buf = rt.poolView(flags >>> L.CQE_BUFFER_SHIFT, res);
      if (this.closeReason !== undefined) rt.release(buf);
      else this.deliver(buf);
    }
    if ((flags & L.CQE_F_MORE) !== 0) {
      if (this.results.length >= RECV_AHEAD) this.pause(); // backpressure
      return;
    }
    // The receive is over.
    this.armed = false;
    this.pausing = false;
    this.stream.settled(this);
    if (res > 0) {
      // data in the final delivery: taken above
    } else if (res === 0) {
      this.deliver(null);
    } else if (res === CLOSED_RESULT) {
      return this.fail(runtimeClosed());
    } else if (res === -ENOBUFS) {
      // Data came with no buffer to put it in: it stays in the socket.
      return this.fail(rt.noRecvBuffers());
    } else if (res !== -ECANCELED) {
      this.deliver(systemError(res, 'recv'));
    }
    if (this.waiters.length > 0 && this.closeReason === undefined && !rt.isClosed) this.arm();
  }

  private deliver(result: RecvResult): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      if (this.closeReason === undefined) this.results.push(result);
      return;
    }
    waiter.settle(result);
  }

  /** Rejects every waiting `recv()` with `err`. */
  private fail(err: PercoreError): void {
    for (const waiter of this.waiters.splice(0)) waiter.settle(err);
  }
}

/** One `recv()` waiting for its stream's receive. */
class RecvWaiter {
  private onAbort: (() => void) | undefined = undefined;
  private done = false;

  constructor(
    private readonly receiver: Receiver,
    private readonly resolve: (v: Uint8Array | null) => void,
    private readonly reject: (e: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal !== undefined) this.onAbort = cancelOnAbort(signal, this);
  }

  settle(result: RecvResult): void {
    if (this.done) return;
    this.done = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    if (result instanceof Error) this.reject(result);
    else this.resolve(result);
  }

  /** Gives up (abort, timeout): rejects with `reason`; no byte is lost. */
  cancel(reason: PercoreError): void {
    if (this.done) return;
    this.receiver.forget(this);
    this.settle(reason);
  }
}

/** One read or write, or a run of them for `readExact`/`writeAll`, as one handler. */
class TransferOp implements OpHandler {
  private id = 0;
  private done = 0;
  private bounce = -1;
  /** Where `buf` lies in the runtime's arena, or -1: not a pool view (a bounce buffer stands in). */
  private arenaOffset = -1;
  /** Whether `buf` is a non-pool array this operation holds in `rentedArrays`. */
  private rented = false;
  private reason: PercoreError | undefined;
  /** The signal's listener, made only when there is a signal (most calls have none). */
  private onAbort: (() => void) | undefined = undefined;
  /** @internal links in the stream's list of operations in flight. */
  prev: StreamOp | undefined = undefined;
  /** @internal */
  next: StreamOp | undefined = undefined;

  get reads(): boolean { return this.opcode === L.OP_RECV; }
  get writes(): boolean { return this.opcode !== L.OP_RECV; }

  constructor(
    private readonly rt: Runtime,
    private readonly stream: TcpStream,
    private readonly opcode: number,
    private readonly buf: Uint8Array,
    /** Bytes of `buf` to move, from its start. */
    private readonly limit: number,
    private readonly exact: boolean,
    private readonly resolve: (v: [number, Uint8Array]) => void,
    private readonly reject: (e: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  begin(): void {
    if (this.signal?.aborted) return this.reject(withBuffer(abortError(this.signal.reason), this.buf));
    if (this.limit === 0) return this.resolve([0, this.buf]);
    // A pool buffer's ownership is the core's to check; any other array is ours.
    this.arenaOffset = this.rt.arenaOffsetOf(this.buf);
    const pooled = this.arenaOffset >= 0;
    if (!pooled && rentedArrays.has(this.buf)) return this.reject(withBuffer(bufferInFlight(), this.buf));
    try {
      this.submit();
    } catch (err) {
      return this.reject(withBuffer(err as PercoreError, this.buf));
    }
    if (!pooled) {
      rentedArrays.add(this.buf);
      this.rented = true;
    }
    this.stream.started(this);
    if (this.signal !== undefined) {
      this.onAbort = cancelOnAbort(this.signal, this);
    }
  }

  /** Cancels the operation; it rejects with `reason` unless its result already arrived. */
  cancel(reason: PercoreError): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.rt.cancel(this.id);
  }

  complete(res: number): void {
    const rt = this.rt;
    if (this.bounce >= 0) {
      if (res > 0 && this.opcode === L.OP_RECV) rt.copyOut(this.bounce, this.buf, this.done, res);
      rt.unlend(this.bounce);
      this.bounce = -1;
    }
    if (res > 0) {
      this.done += res;
      if (this.exact && this.done < this.limit && this.reason === undefined && !rt.isClosed) {
        try {
          return this.submit();
        } catch (err) {
          return this.finish(undefined, err as PercoreError);
        }
      }
      return this.finish(this.done);
    }
    if (res === 0) {
      if (this.exact && this.opcode === L.OP_RECV) {
        const err = codedError('ERR_STREAM_PREMATURE_CLOSE', `the stream ended after ${this.done} of ${this.limit} bytes`);
        return this.finish(undefined, err);
      }
      return this.finish(this.done);
    }
    if (res === CLOSED_RESULT) return this.finish(undefined, runtimeClosed());
    if (res === -ECANCELED && this.reason !== undefined) return this.finish(undefined, this.reason);
    return this.finish(undefined, systemError(res, this.opcode === L.OP_RECV ? 'read' : 'write'));
  }

  private submit(): void {
    const rt = this.rt;
    const isRecv = this.opcode === L.OP_RECV;
    if (rt.lend(this.buf, this.arenaOffset, this.done, this.limit - this.done, !isRecv)) this.bounce = rt.lentIndex;
    const fd = this.stream.fd;
    const id = isRecv
      ? rt.core.submitRecv(fd, rt.lentIndex, rt.lentOffset, rt.lentLength)
      : rt.core.submitSend(fd, rt.lentIndex, rt.lentOffset, rt.lentLength);
    try {
      rt.track(id, this, isRecv ? 'read' : 'write');
    } catch (err) {
      if (this.bounce >= 0) { rt.unlend(this.bounce); this.bounce = -1; }
      throw err;
    }
    this.id = id;
  }

  private finish(n: number | undefined, err?: PercoreError): void {
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    if (this.rented) rentedArrays.delete(this.buf);
    this.stream.settled(this);
    if (err === undefined) return this.resolve([n!, this.buf]);
    if (this.exact) {
      if (this.opcode === L.OP_RECV) err.bytesRead = this.done;
      else (err as PercoreError & { bytesWritten?: number }).bytesWritten = this.done;
    }
    // A run that was cut short after moving some bytes still reports them.
    this.reject(withBuffer(err, this.buf));
  }
}

/** An operation with no buffer: connect, shutdown, close. */
class PlainOp implements OpHandler {
  private id = 0;
  private rt: Runtime | undefined;

  constructor(
    private readonly resolve: (res: number) => void,
    private readonly reject: (err: unknown) => void,
    private readonly syscall: string,
    private readonly detail?: string,
    private readonly signal?: AbortSignal,
  ) {}

  /** Lets `signal` cancel op `id`. */
  watch(rt: Runtime, id: number): void {
    this.rt = rt;
    this.id = id;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  complete(res: number): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (res >= 0) this.resolve(res);
    else if (res === CLOSED_RESULT) this.reject(runtimeClosed());
    else if (res === -ECANCELED && this.signal?.aborted) this.reject(abortError(this.signal.reason));
    else this.reject(systemError(res, this.syscall, this.detail));
  }

  private readonly onAbort = (): void => this.rt!.cancel(this.id);
}

/** Closes `fd` through the ring, then calls `finish` whatever the result: a
 * close that fails has still released the descriptor. A closed runtime has
 * already closed every fd it owned. */
function submitCloseThen(rt: Runtime, fd: number, finish: () => void): void {
  if (rt.isClosed) return finish();
  const op = new PlainOp(() => finish(), () => finish(), 'close');
  rt.track(rt.core.submitClose(fd), op, 'close');
}

function withBuffer(err: PercoreError, buf: Uint8Array): PercoreError {
  err.buffer = buf;
  return err;
}

function addressOf(result: SocketAddress | number, syscall: string): SocketAddress {
  if (typeof result === 'number') throw systemError(result, syscall);
  return result;
}
