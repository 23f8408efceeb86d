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
 * from a plain array must fit in one (`bufferSize`, else `EMSGSIZE`), and a
 * receive into a plain array takes at most `bufferSize` bytes (a longer
 * datagram is reported `truncated`).
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
import { systemError } from '../errors/errors';
import { validateInteger, validateSignal } from '../errors/validate';
import { PlainOp } from '../io/plain-op';
import type { RentResult } from '../io/rent';
import { Runtime } from '../runtime/runtime';
import { type AddressInput, addressOf, resolveAddress, type SocketAddress } from './address';
import type { Destination } from './datagram-op';
import { type DatagramOptions, DatagramSocket } from './datagram-socket';
import { setNumericOption } from './socket-options';

export type { Datagram } from './datagram-op';
export type { DatagramOptions } from './datagram-socket';

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

/** A UDP socket (see the module docs). */
export class UdpSocket extends DatagramSocket<SocketAddress> {
  private constructor(rt: Runtime, fd: number) {
    super(rt, fd, 'UdpSocket');
  }

  /** Binds a socket to `address` (port 0: a free port, read back with
   * `localAddress()`). Rejects with a system error such as `EADDRINUSE`. */
  // `override`: a class extending another inherits Function.prototype.bind as a static.
  static override async bind(address: AddressInput, options: UdpBindOptions = {}): Promise<UdpSocket> {
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
    this.assertOpen();
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
    const to: Destination = {
      aux: L.SENDMSG_TO,
      before: (rt) => rt.nativeDriver.encodeAddress(ip, port, rt.stagingRecord),
      after: () => {},
    };
    const { n } = await this.start(false, buf, to, options);
    return [n, buf];
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
    this.assertOpen();
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
    this.assertOpen();
    return addressOf(this.rt.nativeDriver.localAddress(this.fd), 'getsockname');
  }

  /** The connected peer (`ENOTCONN` before `connect`). */
  peerAddress(): SocketAddress {
    this.assertOpen();
    return addressOf(this.rt.nativeDriver.peerAddress(this.fd), 'getpeername');
  }

  /** @internal the sender the host wrote into the op's record. */
  sender(_id: number, record: number): SocketAddress {
    const decoded = this.rt.nativeDriver.recordAddress(record);
    return typeof decoded === 'number' ? NO_ADDRESS : decoded;
  }

  private setOption(option: number, value: number): void {
    this.assertOpen();
    setNumericOption(this.rt, this.fd, option, value);
  }

  private membership(group: string, iface: string, join: boolean): void {
    this.assertOpen();
    const res = this.rt.nativeDriver.membership(this.fd, String(group), String(iface), join);
    if (res < 0) throw systemError(res, 'setsockopt', group);
  }
}

/** A sender the kernel did not name (never for UDP; the type needs one). */
const NO_ADDRESS: SocketAddress = Object.freeze({ address: '', family: 'IPv4', port: 0 });

const OPTION_NUMBERS = {
  broadcast: L.SOCKOPT_BROADCAST,
  ttl: L.SOCKOPT_TTL,
  multicastTTL: L.SOCKOPT_MULTICAST_TTL,
  multicastLoopback: L.SOCKOPT_MULTICAST_LOOP,
} as const;
