/**
 * TCP connections: how they are opened (`connect`, `adopt`, from a
 * `TcpListener`) and what only TCP has (`setNoDelay`, addresses). Reading and
 * writing are every stream's, in `FdStream` (src/io/fd-stream.ts).
 *
 * ```ts
 * import { TcpListener, TcpStream } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:0');
 * const client = await TcpStream.connect(listener.localAddress(), { noDelay: true });
 * const server = await listener.accept();
 * await client.writeAll(Buffer.from('hi'));
 * const [n] = await server.read(Buffer.alloc(16));   // n === 2
 * await Promise.all([client.close(), server.close(), listener.close()]);
 * ```
 */
import * as L from '../core/layout';
import { abortError, type PercoreError, socketClosed, systemError } from '../errors/errors';
import { validateInteger, validateSignal } from '../errors/validate';
import { FdStream } from '../io/fd-stream';
import { PlainOp } from '../io/plain-op';
import { type Cancellable, kCancel } from '../runtime/cancel';
import { Runtime } from '../runtime/runtime';
import { type AddressInput, addressOf, resolveAddress, type SocketAddress } from './address';
import {
  applyStreamOptions,
  readStreamOption,
  type StreamOptionName,
  type StreamSocketOptions,
} from './socket-options';

/** Options of `TcpStream.connect`. */
export interface ConnectOptions {
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
  /** Set TCP_NODELAY once connected. Default false. */
  noDelay?: boolean;
  /** TCP Fast Open (TCP_FASTOPEN_CONNECT): with a cookie from an earlier
   * connection to this server, the first write goes out with the SYN.
   * Default false. */
  fastOpen?: boolean;
  /** Abort the connection attempt. */
  signal?: AbortSignal;
}

/** A TCP connection with rent-style reads and writes. */
export class TcpStream extends FdStream {
  /** Connects to `address` (a name is looked up first).
   * ```ts
   * const stream = await TcpStream.connect(listener.localAddress());   // or '127.0.0.1:8080'
   * const other = await timeout(1000, TcpStream.connect(listener.localAddress()));   // at most 1 s
   * ```
   * Rejects with a system error such as `ECONNREFUSED`. `options.signal` and
   * `timeout()` cancel the attempt in the kernel and close its socket: it
   * rejects with the `AbortError` (or `TimeoutError`), unless the connection
   * was made first, which it then resolves with. */
  static connect(address: AddressInput, options: ConnectOptions = {}): Promise<TcpStream> {
    const attempt = new ConnectAttempt();
    const promise = attempt.run(address, options) as Promise<TcpStream> & Cancellable;
    promise[kCancel] = attempt;
    return promise;
  }

  /** Takes ownership of `fd`, a connected TCP socket handed over by another
   * thread (`stream.detach()` there, the number sent through a `Channel`):
   * this runtime's driver records it, and it is used like any stream.
   * ```ts
   * const stream = TcpStream.adopt(await handoff.recv());
   * ```
   * Throws a system error: `ENOTSOCK`, `EBADF` (not open), `EINVAL` (a socket
   * that is not a stream, e.g. UDP), `EEXIST` (this runtime owns it already),
   * `EBUSY` (another runtime, on any thread, owns it and did not detach it). */
  static adopt(fd: number, options: { runtime?: Runtime } = {}): TcpStream {
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    const rt = options.runtime ?? Runtime.current();
    rt.assertOpen();
    const res = rt.nativeDriver.adoptFd(fd);
    if (res < 0) throw systemError(res, 'adopt');
    return new TcpStream(rt, fd);
  }

  /** Sets TCP_NODELAY (on by default when called with no argument). */
  setNoDelay(noDelay = true): void {
    if (this.isClosing) throw socketClosed('TcpStream');
    const res = this.rt.nativeDriver.setOption(this.fd, L.SOCKOPT_NODELAY, noDelay ? 1 : 0);
    if (res < 0) throw systemError(res, 'setsockopt');
  }

  /** Sets socket options (see `StreamSocketOptions`): keep-alive and its
   * timings, linger, buffer sizes, no-delay. Throws the system error, or
   * `ERR_OUT_OF_RANGE` for a value the kernel would refuse.
   * ```ts
   * stream.setOptions({ keepAlive: { idle: 60, interval: 10, count: 5 }, linger: null });
   * console.log(stream.getOption('keepIdle'));   // 60
   * ```
   */
  setOptions(options: StreamSocketOptions): void {
    if (this.isClosing) throw socketClosed('TcpStream');
    applyStreamOptions(this.rt, this.fd, options);
  }

  /** Reads an option back: booleans for `noDelay`/`keepAlive`, seconds (or
   * null: off) for `linger`, numbers for the rest. */
  getOption(name: StreamOptionName): boolean | number | null {
    if (this.isClosing) throw socketClosed('TcpStream');
    return readStreamOption(this.rt, this.fd, name);
  }

  /** This end's address. */
  localAddress(): SocketAddress {
    if (this.isClosing) throw socketClosed('TcpStream');
    return addressOf(this.rt.nativeDriver.localAddress(this.fd), 'getsockname');
  }

  /** The other end's address. */
  peerAddress(): SocketAddress {
    if (this.isClosing) throw socketClosed('TcpStream');
    return addressOf(this.rt.nativeDriver.peerAddress(this.fd), 'getpeername');
  }
}

/** One `TcpStream.connect()`: cancellable while the name is looked up (it
 * then rejects as soon as that is done) and while the kernel connects. */
class ConnectAttempt {
  private op: PlainOp | undefined;
  private reason: PercoreError | undefined;

  cancel(reason: PercoreError): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.op?.cancel(reason);
  }

  async run(address: AddressInput, options: ConnectOptions): Promise<TcpStream> {
    validateSignal(options.signal, 'options.signal');
    const rt = options.runtime ?? Runtime.current();
    const { ip, family, port } = await resolveAddress(address);
    rt.assertOpen();
    if (options.signal?.aborted) throw abortError(options.signal.reason);
    if (this.reason !== undefined) throw this.reason;
    const fd = rt.nativeDriver.socket(family);
    if (fd < 0) throw systemError(fd, 'socket');
    try {
      let res = rt.nativeDriver.encodeAddress(ip, port, rt.stagingRecord);
      if (res < 0) throw systemError(res, 'connect', `${ip}:${port}`);
      if (options.fastOpen) {
        res = rt.nativeDriver.setOption(fd, L.SOCKOPT_FASTOPEN_CONNECT, 1);
        if (res < 0) throw systemError(res, 'setsockopt');
      }
      await new Promise<number>((resolve, reject) => {
        this.op = new PlainOp({ syscall: 'connect', detail: `${ip}:${port}`, signal: options.signal }, resolve, reject);
        // The staging record is shared: written again right before each submit,
        // in case the connect waited for an op slot behind another one.
        this.op.start(rt, (r) => r.nativeDriver.encodeAddress(ip, port, r.stagingRecord) || r.core.submitConnect(fd));
      });
      if (options.noDelay) {
        res = rt.nativeDriver.setOption(fd, L.SOCKOPT_NODELAY, 1);
        if (res < 0) throw systemError(res, 'setsockopt');
      }
    } catch (err) {
      // The kernel has let go of the socket (the connect completed, failed or
      // was cancelled): nobody else will close it.
      if (!rt.isClosed) rt.nativeDriver.closeFd(fd);
      const e = err as PercoreError;
      if (e.syscall === 'connect') {
        e.address = ip;
        e.port = port;
      }
      throw err;
    }
    return new TcpStream(rt, fd);
  }
}
