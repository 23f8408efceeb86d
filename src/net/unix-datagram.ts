/**
 * Unix datagram sockets (`SOCK_DGRAM`, what node:dgram lacks): messages
 * between processes of one machine, each sent whole or not at all, received
 * whole or reported cut (`truncated`), never reordered or lost on a local
 * socket (a full receiver makes the sender wait: back-pressure, not loss).
 * Same calls as `UdpSocket`, with Unix names for addresses (a path, or
 * `'\0name'` for an abstract one); a sender that did not bind is unnamed
 * (`''`) and cannot be answered.
 *
 * ```ts
 * import { UnixDatagramSocket } from 'percore';
 * const server = await UnixDatagramSocket.bind(`\0percore-doc-dgram-${process.pid}`);
 * const client = await UnixDatagramSocket.bind(`\0percore-doc-dgram-client-${process.pid}`);
 * await client.sendTo(Buffer.from('ping'), server.localName());
 * const { n, buf, address } = await server.recvFrom(Buffer.alloc(256));
 * await server.sendTo(buf, address, { length: n });            // back to the client's name
 * console.log((await client.recvFrom(Buffer.alloc(256))).n);   // 4
 * await Promise.all([client.close(), server.close()]);
 * ```
 */
import * as L from '../core/layout';
import { socketClosed } from '../errors/errors';
import type { RentResult } from '../io/rent';
import { Runtime } from '../runtime/runtime';
import type { Destination } from './datagram-op';
import { type DatagramOptions, DatagramSocket } from './datagram-socket';
import { connectUnix, DGRAM, encodeUnixName, openUnix, unixNameOf, unlinkBound } from './unix-name';

/** Options of `UnixDatagramSocket.bind` and `unbound`. */
export interface UnixDatagramOptions {
  /** Remove a stale socket file at the path first (see `UnixListener`). Default false. */
  unlinkStale?: boolean;
  /** The runtime to use. Default `Runtime.current()`. */
  runtime?: Runtime;
}

/** A Unix datagram socket (see the module docs). */
export class UnixDatagramSocket extends DatagramSocket<string> {
  private constructor(
    rt: Runtime,
    fd: number,
    /** The name it was bound to, if any. */
    readonly path: string | undefined,
  ) {
    super(rt, fd, 'UnixDatagramSocket');
  }

  /** A socket bound to `path` (`'\0name'`: abstract); `close()` unlinks its file. */
  // `override`: a class extending another inherits Function.prototype.bind as a static.
  static override async bind(path: string, options: UnixDatagramOptions = {}): Promise<UnixDatagramSocket> {
    const rt = options.runtime ?? Runtime.current();
    return new UnixDatagramSocket(rt, openUnix(rt, DGRAM, path, options), path);
  }

  /** A socket with no name: it can send (or `connect` and send), and receive
   * only from a peer it connected to; receivers see it as `''`. */
  static unbound(options: UnixDatagramOptions = {}): UnixDatagramSocket {
    const rt = options.runtime ?? Runtime.current();
    return new UnixDatagramSocket(rt, openUnix(rt, DGRAM, undefined, options), undefined);
  }

  /** Fixes the peer (at once: nothing to wait for on a Unix socket). */
  connect(path: string): void {
    this.assertOpen();
    connectUnix(this.rt, this.fd, path);
  }

  /** Sends the first `length` bytes of `buf` (default all) to the socket
   * bound to `path`; resolves `[n, buf]`. `ENOENT`/`ECONNREFUSED`: nobody
   * is bound there. */
  async sendTo(buf: Uint8Array, path: string, options?: DatagramOptions): Promise<RentResult> {
    const name = encodeUnixName(path);
    const to: Destination = {
      aux: L.SENDMSG_TO_NAME,
      before: () => 0,
      after: (rt, id) => void rt.nativeDriver.stageName(id, name),
    };
    const { n } = await this.start(false, buf, to, options);
    return [n, buf];
  }

  /** This socket's name (`''` if unbound). */
  localName(): string {
    if (this.isClosing) throw socketClosed('UnixDatagramSocket');
    return unixNameOf(this.rt.nativeDriver.unixLocalName(this.fd), 'getsockname');
  }

  /** The connected peer's name. */
  peerName(): string {
    if (this.isClosing) throw socketClosed('UnixDatagramSocket');
    return unixNameOf(this.rt.nativeDriver.unixPeerName(this.fd), 'getpeername');
  }

  /** @internal the sender's name, kept by the host for the op. */
  sender(id: number): string {
    const name = this.rt.nativeDriver.msgName(id);
    return typeof name === 'number' ? '' : unixNameOf(name, 'recvmsg');
  }

  /** @internal */
  protected override onClosed(): void {
    unlinkBound(this.path);
  }
}
