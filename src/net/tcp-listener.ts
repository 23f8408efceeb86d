/**
 * TCP listeners: bind, listen, and accept connections as `TcpStream`s. What
 * every listener shares (the armed multishot accept, its queue and back-off,
 * close) is `StreamListener`'s (src/net/listener.ts); this file is only TCP.
 *
 * ```ts
 * import { TcpListener } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:0');
 * console.log(listener.localAddress().port);
 * await listener.close();
 * ```
 */
import * as L from '../core/layout';
import { EEXIST } from '../errors/errno';
import { socketClosed, systemError } from '../errors/errors';
import { validateInteger } from '../errors/validate';
import { Runtime } from '../runtime/runtime';
import { type AddressInput, addressOf, resolveAddress, type SocketAddress } from './address';
import { StreamListener } from './listener';
import { TcpStream } from './tcp-stream';

/** Options of `TcpListener.bind`. */
export interface BindOptions {
  /** SO_REUSEPORT, so listeners on several threads share the port. Default
   * false: a port already taken is `EADDRINUSE`, rather than silently shared
   * with whatever holds it. Threads of one `start()` pass true (`ctx.bind`
   * does). */
  reusePort?: boolean;
  /** SO_REUSEADDR. Default true. */
  reuseAddr?: boolean;
  /** The kernel's accept queue length. Default 511, like node:net. */
  backlog?: number;
  /** IPV6_V6ONLY on an IPv6 listener: no IPv4-mapped connections. Default: the system's. */
  ipv6Only?: boolean;
  /** TCP Fast Open: the queue length of connections whose data came with the
   * SYN (TCP_FASTOPEN). Default: off. */
  fastOpen?: number;
  /** TCP_DEFER_ACCEPT: seconds a connection may wait for its first bytes
   * before the kernel hands it over (so an accept comes with data). Default: off. */
  deferAccept?: number;
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

/** A TCP listener: `accept()` or `for await (const stream of listener)`.
 * ```ts
 * const listener = await TcpListener.bind('127.0.0.1:8080');
 * for await (const stream of listener) handle(stream);
 * ```
 */
export class TcpListener extends StreamListener<TcpStream> {
  private constructor(rt: Runtime, fd: number) {
    super(rt, fd, 'TcpListener');
  }

  /** @internal */
  protected override wrap(fd: number): TcpStream {
    return new TcpStream(this.rt, fd);
  }

  /** Binds and listens. SO_REUSEADDR is on unless turned off; SO_REUSEPORT
   * only when asked for (`reusePort: true`).
   * Port 0 picks a free port: read it back with `localAddress()`. */
  // `override`: a class extending another inherits Function.prototype.bind as a static.
  static override async bind(address: AddressInput, options: BindOptions = {}): Promise<TcpListener> {
    const rt = options.runtime ?? Runtime.current();
    const backlog = options.backlog ?? 511;
    validateInteger(backlog, 'options.backlog', 0, 65535);
    if (options.fastOpen !== undefined) validateInteger(options.fastOpen, 'options.fastOpen', 0, 65535);
    if (options.deferAccept !== undefined) validateInteger(options.deferAccept, 'options.deferAccept', 0, 3600);
    const { ip, family, port } = await resolveAddress(address);
    rt.assertOpen();
    const host = rt.nativeDriver;
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
    res = host.setOption(fd, L.SOCKOPT_REUSEPORT, options.reusePort === true ? 1 : 0);
    if (res < 0) fail(res, 'setsockopt');
    for (const [value, option] of [
      [options.ipv6Only === undefined || family !== 6 ? undefined : options.ipv6Only ? 1 : 0, L.SOCKOPT_V6ONLY],
      [options.fastOpen, L.SOCKOPT_FASTOPEN],
      [options.deferAccept, L.SOCKOPT_DEFER_ACCEPT],
    ] as const) {
      if (value === undefined) continue;
      res = host.setOption(fd, option, value);
      if (res < 0) fail(res, 'setsockopt');
    }
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

  /** Serves on a listening socket this runtime was handed: one received in
   * a message (`recv(buf, { withFds: true })` on a Unix socket: already this
   * runtime's), or one from elsewhere in the process, adopted as
   * `TcpStream.adopt` adopts. The basis of zero-downtime upgrades: the old
   * process sends its listener, the new one serves on it.
   * ```ts
   * const name = `\0percore-doc-handoff-${process.pid}`;
   * const old = await TcpListener.bind('127.0.0.1:0');
   * const channel = await UnixSeqpacketListener.bind(name);
   * const sender = await UnixSeqpacketSocket.connect(name);
   * const receiver = await channel.accept();
   * await sender.send(Buffer.from('L'), { fds: [old.fd] });
   * const { fds } = await receiver.recv(Buffer.alloc(1), { withFds: true });
   * const handed = TcpListener.adopt(fds![0]);   // the same port, a descriptor of its own
   * await old.close();                           // the handed one still listens
   * console.log(handed.localAddress().port > 0); // true
   * await Promise.all([handed.close(), sender.close(), receiver.close(), channel.close()]);
   * ```
   * Throws a system error: `ENOTSOCK`, `EBADF`, `EINVAL` (not a stream
   * socket), `EBUSY` (another runtime owns it). */
  static adopt(fd: number, options: { runtime?: Runtime } = {}): TcpListener {
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    const rt = options.runtime ?? Runtime.current();
    rt.assertOpen();
    const res = rt.nativeDriver.adoptFd(fd);
    // -EEXIST: this runtime owns it already (a received descriptor).
    if (res < 0 && res !== -EEXIST) throw systemError(res, 'adopt');
    const listener = new TcpListener(rt, fd);
    listener.arm();
    return listener;
  }

  /** Reads a listener option back (`'fastOpen'`: the queue length, `'deferAccept'`: seconds as the kernel rounded them). */
  getOption(name: 'fastOpen' | 'deferAccept' | 'ipv6Only'): number {
    if (this.isClosing) throw socketClosed('TcpListener');
    const option = { fastOpen: L.SOCKOPT_FASTOPEN, deferAccept: L.SOCKOPT_DEFER_ACCEPT, ipv6Only: L.SOCKOPT_V6ONLY }[
      name
    ];
    const res = this.rt.nativeDriver.getOption(this.fd, option);
    if (res < 0) throw systemError(res, 'getsockopt');
    return res;
  }

  /** The bound address, e.g. `{ address: '127.0.0.1', family: 'IPv4', port: 40123 }`. */
  localAddress(): SocketAddress {
    if (this.isClosing) throw socketClosed('TcpListener');
    return addressOf(this.rt.nativeDriver.localAddress(this.fd), 'getsockname');
  }
}
