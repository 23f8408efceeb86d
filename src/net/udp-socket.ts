/**
 * UDP sockets: datagrams sent and received rent-style, IPv4 and IPv6.
 *
 * ## The model
 * A datagram goes out whole or not at all, and comes in whole or reported
 * cut. `sendTo(buf, address)` sends the bytes of `buf` as one datagram and
 * resolves `[n, buf]`; `recvFrom(buf)` resolves a `Datagram`: `n` bytes at
 * the start of `buf`, the sender's `address`, and `truncated`, true when the
 * datagram was longer than `buf` (the kernel drops the rest: it is reported,
 * never silent). As with streams, the buffer belongs to the operation until
 * it settles: a pool buffer (`runtime.buffer()`) is lent to the kernel as
 * it is, any other array goes through a pool buffer, so a datagram to send
 * from a plain array must fit in one (`bufferSize`, else `EMSGSIZE`).
 *
 * Each call is one SENDMSG or RECVMSG in the kernel (io_uring), or one
 * `sendmsg`/`recvmsg` when the socket is ready (epoll); several may be in
 * flight at once, and receives complete in the order they were issued.
 * `connect(address)` fixes the peer: `send`/`recv` then need no address,
 * and datagrams from anyone else are dropped by the kernel.
 *
 * ```ts
 * import { UdpSocket } from 'percore';
 * const server = await UdpSocket.bind('127.0.0.1:0');
 * const client = await UdpSocket.bind('127.0.0.1:0');
 * await client.sendTo(Buffer.from('ping'), server.localAddress());
 * const { n, buf, address } = await server.recvFrom(Buffer.alloc(1500));
 * await server.sendTo(buf.subarray(0, n), address);              // echo it back
 * const reply = await client.recvFrom(Buffer.alloc(1500));
 * console.log(Buffer.from(reply.buf.subarray(0, reply.n)).toString());   // ping
 * await Promise.all([client.close(), server.close()]);
 * ```
 */
import * as L from '../core/layout';
import { socketClosed, systemError } from '../errors/errors';
import { validateInteger, validateSignal, validateUint8Array } from '../errors/validate';
import { PlainOp, submitCloseThen } from '../io/plain-op';
import type { IoOptions, RentResult } from '../io/rent';
import { captureSettlers, settlers } from '../io/settlers';
import { Runtime } from '../runtime/runtime';
import { type AddressInput, addressOf, resolveAddress, type SocketAddress } from './address';
import { type Datagram, DatagramOp, type DatagramOwner, type Destination } from './datagram-op';
import { setNumericOption } from './socket-options';

export type { Datagram } from './datagram-op';

/** Options of `UdpSocket.bind`. */
export interface UdpBindOptions {
  /** SO_REUSEADDR (several sockets on one multicast port). Default false. */
  reuseAddr?: boolean;
  /** SO_REUSEPORT (the kernel spreads datagrams over the sockets). Default false. */
  reusePort?: boolean;
  /** IPV6_V6ONLY on an IPv6 socket: no IPv4-mapped traffic. Default: the system's. */
  ipv6Only?: boolean;
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
}

/** Options of one datagram operation. */
export interface DatagramOptions extends IoOptions {
  /** Bytes of `buf` to send, or room to receive into, from its start. Default `buf.length`. */
  length?: number;
}

/** A UDP socket (see the module docs). */
export class UdpSocket implements DatagramOwner {
  /** Per direction: the op running, then those waiting their turn. */
  private readonly receives: DatagramOp[] = [];
  private readonly sends: DatagramOp[] = [];
  private closing = false;
  private closed: Promise<void> | undefined;
  private finishClose: (() => void) | undefined;

  private constructor(
    /** @internal */ readonly rt: Runtime,
    readonly fd: number,
  ) {}

  /** Binds a socket to `address` (port 0: a free port, read back with
   * `localAddress()`). Rejects with a system error such as `EADDRINUSE`. */
  static async bind(address: AddressInput, options: UdpBindOptions = {}): Promise<UdpSocket> {
    const rt = options.runtime ?? Runtime.current();
    const { ip, family, port } = await resolveAddress(address);
    rt.assertOpen();
    const host = rt.nativeDriver;
    const fd = host.socket(family, 2);
    if (fd < 0) throw systemError(fd, 'socket');
    const settings: [number, boolean | undefined][] = [
      [L.SOCKOPT_REUSEADDR, options.reuseAddr],
      [L.SOCKOPT_REUSEPORT, options.reusePort],
      [L.SOCKOPT_V6ONLY, family === 6 ? options.ipv6Only : undefined],
    ];
    let res = 0;
    let syscall = 'setsockopt';
    for (const [option, on] of settings) {
      if (on !== undefined && res >= 0) res = host.setOption(fd, option, on ? 1 : 0);
    }
    if (res >= 0) {
      syscall = 'bind';
      res = host.encodeAddress(ip, port, rt.stagingRecord);
      if (res >= 0) res = host.bind(fd);
    }
    if (res < 0) {
      host.closeFd(fd);
      const err = systemError(res, syscall, `${ip}:${port}`);
      err.address = ip;
      err.port = port;
      throw err;
    }
    return new UdpSocket(rt, fd);
  }

  /** Fixes the peer: `send`/`recv` go to and come from `address` only. */
  async connect(address: AddressInput, options: { signal?: AbortSignal } = {}): Promise<void> {
    validateSignal(options.signal, 'options.signal');
    const { ip, port } = await resolveAddress(address);
    if (this.closing) throw socketClosed('UdpSocket');
    await new Promise<number>((resolve, reject) => {
      const op = new PlainOp({ syscall: 'connect', detail: `${ip}:${port}`, signal: options.signal }, resolve, reject);
      op.start(
        this.rt,
        (r) => r.nativeDriver.encodeAddress(ip, port, r.stagingRecord) || r.core.submitConnect(this.fd),
      );
    });
  }

  /** Sends the first `length` bytes of `buf` (default all) as one datagram
   * to `address`; resolves `[n, buf]`. */
  async sendTo(buf: Uint8Array, address: AddressInput, options?: DatagramOptions): Promise<RentResult> {
    const { ip, port } = await resolveAddress(address);
    const to: Destination = (rt) => rt.nativeDriver.encodeAddress(ip, port, rt.stagingRecord);
    const { n } = await this.start(false, buf, to, options);
    return [n, buf];
  }

  /** Sends one datagram to the connected peer (`connect`); resolves `[n, buf]`. */
  async send(buf: Uint8Array, options?: DatagramOptions): Promise<RentResult> {
    const { n } = await this.start(false, buf, undefined, options);
    return [n, buf];
  }

  /** Receives one datagram into the start of `buf`: `{ n, buf, address, truncated }`. */
  recvFrom(buf: Uint8Array, options?: DatagramOptions): Promise<Datagram> {
    return this.start(true, buf, undefined, options);
  }

  /** `recvFrom` on a connected socket (the address is the peer's). */
  recv(buf: Uint8Array, options?: DatagramOptions): Promise<Datagram> {
    return this.start(true, buf, undefined, options);
  }

  /** SO_BROADCAST: may send to a broadcast address. */
  setBroadcast(on: boolean): void {
    this.setOption(L.SOCKOPT_BROADCAST, on ? 1 : 0);
  }

  /** The unicast TTL (IPv6: hop limit), 1..255. */
  setTTL(ttl: number): void {
    validateInteger(ttl, 'ttl', 1, 255);
    this.setOption(L.SOCKOPT_TTL, ttl);
  }

  /** The multicast TTL (IPv6: hop limit), 0..255. */
  setMulticastTTL(ttl: number): void {
    validateInteger(ttl, 'ttl', 0, 255);
    this.setOption(L.SOCKOPT_MULTICAST_TTL, ttl);
  }

  /** Whether multicast datagrams this socket sends come back to it (default on). */
  setMulticastLoopback(on: boolean): void {
    this.setOption(L.SOCKOPT_MULTICAST_LOOP, on ? 1 : 0);
  }

  /** Reads back an option set above (`'broadcast'`, `'ttl'`, `'multicastTTL'`, `'multicastLoopback'`). */
  getOption(name: 'broadcast' | 'ttl' | 'multicastTTL' | 'multicastLoopback'): number {
    if (this.closing) throw socketClosed('UdpSocket');
    const res = this.rt.nativeDriver.getOption(this.fd, OPTION_NUMBERS[name]);
    if (res < 0) throw systemError(res, 'getsockopt');
    return res;
  }

  /** Joins multicast `group` on `iface` (IPv4: the interface's address; IPv6:
   * its name or index; default: the kernel's choice). */
  addMembership(group: string, iface = ''): void {
    this.membership(group, iface, true);
  }

  /** Leaves multicast `group`. */
  dropMembership(group: string, iface = ''): void {
    this.membership(group, iface, false);
  }

  localAddress(): SocketAddress {
    if (this.closing) throw socketClosed('UdpSocket');
    return addressOf(this.rt.nativeDriver.localAddress(this.fd), 'getsockname');
  }

  /** The connected peer (`ENOTCONN` before `connect`). */
  peerAddress(): SocketAddress {
    if (this.closing) throw socketClosed('UdpSocket');
    return addressOf(this.rt.nativeDriver.peerAddress(this.fd), 'getpeername');
  }

  /** Cancels the operations in flight (they reject with `ERR_SOCKET_CLOSED`
   * and their buffers) and closes the socket. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    this.closed = new Promise((resolve) => {
      this.finishClose = resolve;
    });
    // Those waiting first (they leave their queues at once), then those running.
    for (const lane of [this.receives, this.sends]) {
      for (const op of lane.slice(1).reverse()) op.cancel(socketClosed('UdpSocket'));
      lane[0]?.cancel(socketClosed('UdpSocket'));
    }
    if (this.receives.length === 0 && this.sends.length === 0) this.closeSocket();
    return this.closed;
  }

  /** @internal */
  admit(op: DatagramOp): boolean {
    const lane = op.receives ? this.receives : this.sends;
    lane.push(op);
    return lane.length === 1;
  }

  /** @internal */
  dequeue(op: DatagramOp): void {
    const lane = op.receives ? this.receives : this.sends;
    const at = lane.indexOf(op);
    if (at > 0) lane.splice(at, 1);
  }

  /** @internal */
  settled(op: DatagramOp): void {
    const lane = op.receives ? this.receives : this.sends;
    if (lane[0] === op) {
      lane.shift();
      if (this.closing) {
        if (this.receives.length === 0 && this.sends.length === 0) this.closeSocket();
      } else lane[0]?.run();
    } else this.dequeue(op);
  }

  private closeSocket(): void {
    if (this.finishClose === undefined) return; // closed already
    const finish = this.finishClose;
    this.finishClose = undefined;
    submitCloseThen(this.rt, this.fd, finish);
  }

  private start(receives: boolean, buf: Uint8Array, to: Destination, options?: DatagramOptions): Promise<Datagram> {
    try {
      validateUint8Array(buf, 'buf');
      validateSignal(options?.signal, 'options.signal');
      const length = options?.length ?? buf.length;
      validateInteger(length, 'options.length', 0, buf.length);
      if (this.closing) throw socketClosed('UdpSocket');
      const promise = new Promise<Datagram>(captureSettlers);
      new DatagramOp(this, receives, buf, length, to, options?.signal, settlers.resolve, settlers.reject).begin();
      return promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private setOption(option: number, value: number): void {
    if (this.closing) throw socketClosed('UdpSocket');
    setNumericOption(this.rt, this.fd, option, value);
  }

  private membership(group: string, iface: string, join: boolean): void {
    if (this.closing) throw socketClosed('UdpSocket');
    const res = this.rt.nativeDriver.membership(this.fd, String(group), String(iface), join);
    if (res < 0) throw systemError(res, 'setsockopt', group);
  }
}

const OPTION_NUMBERS = {
  broadcast: L.SOCKOPT_BROADCAST,
  ttl: L.SOCKOPT_TTL,
  multicastTTL: L.SOCKOPT_MULTICAST_TTL,
  multicastLoopback: L.SOCKOPT_MULTICAST_LOOP,
} as const;
